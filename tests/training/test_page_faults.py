"""A training step in a fresh ``charrnn train`` process does not fault memory in anew.

When a step allocates its large temporaries afresh, glibc can hand them back
to the kernel on free, and every page of them then faults in again on the
next step: at (H=256, B=32, T=64) in text mode that was about 1,500 minor page
faults per step, and up to half the speed of the same engine in a
long-lived process. A step that reuses its workspaces faults almost nothing
once warm.

Nothing is timed: the kernel counts the faults, and the count is the same on
a quiet machine and on a busy one. The count of a whole run also holds its
start-up (imports, data, first allocations), so two runs that differ only in
their number of steps are compared: the difference is what the extra steps
cost.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

import charrnn

resource = pytest.importorskip("resource")

pytestmark = [pytest.mark.slow, pytest.mark.long]  # eight training processes

SHAPE = ["--hidden", "256", "--batch-size", "32", "--seq-len", "64", "--dtype", "float32"]
# Text at the speed issue's shape; words (batches of every length) with two layers and
# dropout, so the workspaces that grow with the batch length are guarded too.
CASES = {
    "text": ["--mode", "text", *SHAPE, "--val-fraction", "0"],
    "words": [
        "--hidden",
        "128",
        "--layers",
        "2",
        "--dropout",
        "0.2",
        "--batch-size",
        "64",
        "--val-fraction",
        "0",
    ],
    # A gated cell owns more temporaries (gates, their derivative factors, the LSTM's c):
    # all of them from the workspace too, in both modes.
    "lstm-text": [
        "--mode",
        "text",
        "--cell",
        "lstm",
        "--hidden",
        "128",
        "--batch-size",
        "32",
        "--seq-len",
        "64",
        "--val-fraction",
        "0",
    ],
    "gru-words": [
        "--cell",
        "gru",
        "--hidden",
        "128",
        "--layers",
        "2",
        "--dropout",
        "0.2",
        "--batch-size",
        "64",
        "--val-fraction",
        "0",
    ],
}
STEPS = (40, 200)  # two runs: they differ only by 160 steps, all past warm-up
LIMIT = 50  # minor page faults per step; a step that allocates its temporaries anew makes ~1,500
# glibc's allocator settings: a user's run has glibc's defaults, so the guard does too.
MALLOC_ENV = (
    "GLIBC_TUNABLES",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
    "MALLOC_ARENA_MAX",
)


def child_env() -> dict[str, str]:
    """This environment, less glibc's allocator settings, with the charrnn under test first
    on PYTHONPATH so that the child trains with the same package."""
    src = str(pathlib.Path(charrnn.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([src, path]) if path else src
    return env


def faults_of_run(case: str, steps: int, out: pathlib.Path) -> int:
    """Minor page faults of one ``charrnn train`` process of ``steps`` steps."""
    # --log-every and --save-every past the end: one log line and one checkpoint in every
    # run, whatever its length, so that the difference between two runs is training steps.
    argv = [
        sys.executable,
        "-m",
        "charrnn",
        "train",
        "@names",
        *CASES[case],
        "--steps",
        str(steps),
        "--log-every",
        str(10 * max(STEPS)),
        "--save-every",
        str(10 * max(STEPS)),
        "--quiet",
        "--out",
        str(out),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    assert proc.returncode == 0, proc.stderr
    return after - before


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_warm_training_step_faults_in_few_pages(tmp_path, case):
    short, long = STEPS
    per_step = (
        faults_of_run(case, long, tmp_path / "long")
        - faults_of_run(case, short, tmp_path / "short")
    ) / (long - short)
    assert per_step <= LIMIT, (
        f"{per_step:,.0f} minor page faults per training step (at most {LIMIT}): "
        "a step allocates large temporaries anew instead of reusing its workspaces"
    )
