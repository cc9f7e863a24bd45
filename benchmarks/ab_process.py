"""A/B of what users run: fresh ``charrnn train`` processes, a git revision vs the working tree.

    python benchmarks/ab_process.py REV -- DATA [train flags...]
    python benchmarks/ab_process.py 75c81a6 -- ../shared/data/tinyshakespeare.txt \\
        --preset shakespeare --steps 300 --val-fraction 0

``src/charrnn`` at REV is extracted to a temporary folder; each round starts one
``charrnn train`` process from it and one from the working tree (same flags,
``--log-every`` and ``--quiet`` added, a fresh ``--out`` each), in turns, so a
slow spell of the machine hits both. A process's rate is the median chars/s of
its log windows after the first (its own timing: start-up, data encoding and
exit are not in it); the speed-up is the median of per-round ratios. Minor page
faults are the whole process's (``getrusage`` of the child), start-up included.
Where ``benchmarks/ab_engine.py`` compares two engines warm in one process,
this compares them as a user meets them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import resource  # POSIX only, as is this benchmark
import statistics
import subprocess
import sys
import tarfile
import tempfile

from common import out, summary

ROOT = pathlib.Path(__file__).resolve().parent.parent


def extract(rev: str, folder: str) -> str:
    """``src/charrnn`` at ``rev`` under ``folder``; returns the folder to put on PYTHONPATH."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev, "src/charrnn"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"cannot read src/charrnn at {rev!r}: {exc}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(folder, **safe)
    return os.path.join(folder, "src")


def train_process(src: str, argv: list[str], log_every: int) -> tuple[float, int]:
    """One fresh ``charrnn train`` process importing the package under ``src``.

    Returns its median chars/s over the log windows after the first, and its
    minor page faults.
    """
    env = {**os.environ, "PYTHONPATH": src}
    with tempfile.TemporaryDirectory() as run:
        cmd = [
            sys.executable,
            "-m",
            "charrnn",
            "train",
            *argv,
            "--log-every",
            str(log_every),
            "--quiet",
            "--out",
            run,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as f:
            rates = [json.loads(line)["chars_per_s"] for line in f]
    return statistics.median(rates[1:] or rates), faults


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", help="git revision to compare the working tree with, e.g. HEAD")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--log-every", type=int, default=50, help="steps per timed window")
    ap.epilog = "After --: DATA and the charrnn train flags."
    ours, sep, argv = (
        (sys.argv[1 : sys.argv.index("--")], "--", sys.argv[sys.argv.index("--") + 1 :])
        if "--" in sys.argv
        else (sys.argv[1:], "", [])
    )
    args = ap.parse_args(ours)
    if not sep or not argv:
        ap.error("give DATA and the charrnn train flags after --")
    with tempfile.TemporaryDirectory() as folder:
        sides = {args.rev: extract(args.rev, folder), "working tree": str(ROOT / "src")}
        rates: dict[str, list[float]] = {k: [] for k in sides}
        faults: dict[str, list[int]] = {k: [] for k in sides}
        for _ in range(args.rounds):
            for name, src in sides.items():
                r, f = train_process(src, argv, args.log_every)
                rates[name].append(r)
                faults[name].append(f)
    out(f"charrnn train {' '.join(argv)}: {args.rounds} rounds of fresh processes")
    for name in sides:
        out(
            f"  {name:14} chars/s {summary(rates[name])}   minor page faults per process "
            f"{statistics.median(faults[name]):,.0f}"
        )
    ratios = [a / b for a, b in zip(rates["working tree"], rates[args.rev], strict=True)]
    out(
        f"  working tree / {args.rev}: {statistics.median(ratios):.3f} "
        f"[{min(ratios):.3f}-{max(ratios):.3f}] over {args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
