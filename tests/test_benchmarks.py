"""The benchmark scripts run end to end (a smoke test: no timing is asserted)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_bench_train_prints_engine_bound_and_floor():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--only", "100,32,64",
         "--no-torch", "--seconds", "0.05", "--repeats", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    row = next(line for line in lines if line.startswith("H=100 B=32 T=64") and "charrnn" in line)
    assert row.rstrip().endswith("%")  # the engine's share of the bound
    assert any("FLOP-limited bound (matmuls alone)" in line for line in lines)
    floor = next(line for line in lines if "recurrence element-wise calls" in line)
    assert "% of the bound" in floor
    rest = next(line for line in lines if "gather, softmax, dWxh, norm, Adam" in line)
    assert "% of the bound" in rest


def test_ab_engine_compares_a_revision_with_the_working_tree():
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab_engine.py"), "HEAD", "--shape", "16,4,8",
         "--seconds", "0.02", "--repeats", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "working tree / HEAD:" in proc.stdout and "over 2 rounds" in proc.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab_engine.py"), "no-such-revision"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode != 0 and "cannot read" in bad.stderr
