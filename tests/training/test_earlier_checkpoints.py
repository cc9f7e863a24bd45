"""Checkpoints written by the package as it was before the layer folders (e4bde64) load
and resume bit-identically today: the same run, resumed here, ends where a run trained
here throughout ends.

The earlier package is extracted from git and imported beside this one, as
benchmarks/ab_engine.py does; without a git checkout holding that revision the test skips.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest

from charrnn.cli import main
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # extracts and imports a second package

BEFORE = "e4bde64"  # the last revision of the flat layout


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    git = ROOT / ".git"
    if not git.exists():
        pytest.skip("needs a git checkout")
    if subprocess.run(["git", "cat-file", "-e", BEFORE], cwd=ROOT).returncode != 0:
        pytest.skip(f"this clone does not hold {BEFORE}")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import ab_engine

        package = ab_engine.package_at(BEFORE, str(tmp_path_factory.mktemp("before")))
        import importlib

        cli = importlib.import_module(f"{package.__name__}.cli")
        # Its parser lists the built-in corpora of the package named "charrnn" (this one,
        # where they have moved); this test trains on a file of its own.
        cli.builtin_names = list
        yield cli.main
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
        for name in [m for m in sys.modules if m.split(".")[0] == "charrnn_at_rev"]:
            del sys.modules[name]


def quiet(run_main, args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return run_main([str(a) for a in args])


@pytest.mark.parametrize(
    "flags",
    [
        ["--cell", "rnn", "--layers", "2"],
        ["--cell", "gru", "--mode", "text", "--bptt-window", "3", "--ema", "0.9"],
        ["--cell", "lstm", "--mode", "text", "--bptt", "naive"],
        ["--cell", "gru", "--units", "jamo"],
    ],
    ids=["rnn-words", "gru-text-window-ema", "lstm-text-naive", "gru-jamo"],
)
# Dropout is not among them: its masks have been drawn as 16-bit integers since
# (charrnn.core.masks), so a dropout run written before resumes (the test below) but
# draws other masks than it would have, and ends elsewhere.
def test_a_run_written_before_resumes_bit_identically(before, tmp_path, flags):
    data = tmp_path / "d.txt"
    jamo = "--units" in flags
    words = (
        "가격 가끔 가난 가방 나무 노래 다리 바다" if jamo else "ada bo cyrus dee eli fay gus hal"
    )
    data.write_text("\n".join(words.split() * 3) + "\n", encoding="utf-8")
    common = [*flags, "--hidden", "6", "--batch-size", "3", "--seq-len", "5", "--seed", "2"]
    common += ["--schedule", "constant", "--val-fraction", "0.2", "--log-every", "2", "--quiet"]
    old, new = tmp_path / "old", tmp_path / "new"
    assert quiet(before, ["train", data, "--out", old, "--steps", "3", *common]) == 0
    # The numpy cells, as then: compiled kernels agree only to float32 rounding.
    here = [*common, "--kernels", "numpy"]
    assert quiet(main, ["train", data, "--out", old, "--steps", "6", "--resume", *here]) == 0
    assert quiet(main, ["train", data, "--out", new, "--steps", "6", *here]) == 0
    with np.load(old / "latest.npz") as a, np.load(new / "latest.npz") as b:
        assert set(a.files) == set(b.files)
        for k in set(a.files) - {"meta"}:  # meta holds the wall clock too
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_dropout_run_written_before_resumes(before, tmp_path):
    data = tmp_path / "d.txt"
    data.write_text("\n".join("ada bo cyrus dee eli fay gus hal".split() * 3) + "\n")
    common = ["--layers", "2", "--dropout", "0.2", "--hidden", "6"]
    common += ["--batch-size", "3", "--seed", "2", "--val-fraction", "0.2", "--quiet"]
    run = tmp_path / "old"
    assert quiet(before, ["train", data, "--out", run, "--steps", "3", *common]) == 0
    assert quiet(main, ["train", data, "--out", run, "--steps", "6", "--resume", *common]) == 0
    with np.load(run / "latest.npz") as z:
        params = [k for k in z.files if k.startswith("param/")]
        assert len(params) == 8 and all(np.isfinite(z[k]).all() for k in params)
    assert '"step": 6' in (run / "metrics.jsonl").read_text().splitlines()[-1]
