"""The benchmark scripts run end to end (a smoke test: no timing is asserted)."""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from charrnn.core import kernels

pytestmark = pytest.mark.slow  # each runs a benchmark script

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.long  # bench_train end to end (4 s); its pieces are tested here
def test_bench_train_prints_engine_bound_and_floor():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_train.py"),
            "--only",
            "100,32,64",
            "--no-torch",
            "--seconds",
            "0.05",
            "--repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    row = next(line for line in lines if line.startswith("H=100 B=32 T=64") and "charrnn" in line)
    assert row.rstrip().endswith("%")  # the engine's share of the bound
    assert any("FLOP-limited bound (matmuls alone)" in line for line in lines)
    floor = next(line for line in lines if "recurrence element-wise calls" in line)
    assert "% of the bound" in floor
    rest = next(line for line in lines if "gather, softmax, dWxh, norm, Adam" in line)
    assert "% of the bound" in rest
    # The CLI in a fresh process, in the same rounds: its row, its ratio to the in-process
    # engine and what its steps cost the kernel.
    cli = next(
        line for line in lines if line.startswith("H=100 B=32 T=64 ") and "(process)" in line
    )
    assert "charrnn train (process)" in cli and cli.rstrip().endswith("%")
    cost = next(line for line in lines if "charrnn train (process):" in line)
    assert "x charrnn in-process" in cost and "minor page faults" in cost
    # Where a step goes: every part, the step's share of the bound, and the part that
    # holds it back most.
    start = next(i for i, line in enumerate(lines) if "where a step of 'charrnn' goes" in line)
    parts = lines[start + 1 : start + 13]
    for name in ("recurrence forward", "recurrence backward", "softmax", "optimiser", "clipping"):
        assert any(line.strip().startswith(name) for line in parts), name
    assert any("% of the step (the bound); most time above its matmuls:" in x for x in parts)


@pytest.mark.long  # bench_train for a gated cell, floors and all (5 s)
def test_bench_train_gives_a_gated_cell_its_bound_and_floors():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_train.py"),
            "--only",
            "100,32,64",
            "--cell",
            "lstm",
            "--no-torch",
            "--seconds",
            "0.05",
            "--repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("cell: lstm (4 gates)") for line in lines)
    for what in ("recurrence element-wise calls", "gather, softmax, dWxh, norm, Adam"):
        assert "% of the bound" in next(line for line in lines if what in line)


@pytest.mark.parametrize("gates", [3, 4])
def test_the_gated_floor_makes_the_cells_own_calls(gates, monkeypatch):
    """The floor's forward step is the cell's recurrence: from the same h, c and input
    term it reaches the state the engine's generation step reaches."""
    from charrnn.core.model import get_cell

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench_train = importlib.import_module("bench_train")
    rng = np.random.default_rng(0)
    T, B, H = 3, 2, 4
    G = gates * H
    hs = rng.standard_normal((T + 1, B, H)).astype(np.float32) * 0.5
    pre = rng.standard_normal((T, B, G)).astype(np.float32)
    calls = bench_train.GatedCalls(gates, hs, pre, np.zeros((T, B, G), np.float32), rng)
    cell = get_cell("lstm" if gates == 4 else "gru")
    Wh = rng.standard_normal((G, H)).astype(np.float32) * 0.3
    params = {cell.names(0).recurrent: Wh}
    if gates == 4:
        scale = np.where((np.arange(G) // H) == 2, -2.0, -1.0).astype(np.float32)
        state = np.concatenate([hs[0], calls.c[0]], axis=1)
    else:
        scale = np.where(np.arange(G) < 2 * H, -1.0, 1.0).astype(np.float32)
        params[cell.candidate_bias(0)] = calls.bhn
        state = hs[0].copy()
    out = np.empty_like(state)
    cell.step(params, 0, pre[0].copy(), state, out, np)
    calls.pre[0] *= scale  # the engine's forward scales pre and Wh^T once per call
    calls.forward(0, (hs[0] @ Wh.T) * scale)
    np.testing.assert_allclose(hs[1], out[:, :H], rtol=1e-5, atol=1e-6)
    calls.backward(0, np.ones((B, H), np.float32))
    assert np.isfinite(calls.da[0]).all() and calls.da[0].any()
    run = bench_train.bound_engine(H, B, T, 5, elementwise=True, rest=True, gates=gates)
    assert run(2) == 2 * B * T


@pytest.mark.long  # CLI processes of bench_train in words mode (3 s)
def test_bench_train_runs_the_cli_on_names_in_words_mode():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_train.py"),
            "--only",
            "words",
            "--no-torch",
            "--seconds",
            "0.02",
            "--repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert any(
        line.startswith("names H=128 B=64") and "charrnn train (process)" in line
        for line in proc.stdout.splitlines()
    )


def test_bench_train_child_reports_the_rate_of_every_log_window():
    # The child that runs torch in a fresh process; charrnn's in-process engine takes the
    # same path where torch is not installed.
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_train.py"),
            "--process-child",
            "charrnn",
            "--mode",
            "text",
            "--shape",
            "16,4,8",
            "--steps",
            "7",
            "--log-every",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rates = json.loads(proc.stdout.strip().splitlines()[-1])["rates"]
    assert len(rates) == 3 and all(r > 0 for r in rates)  # windows of 3, 3 and 1 steps


def test_ab_engine_compares_a_revision_with_the_working_tree():
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "ab_engine.py"),
            "HEAD",
            "--shape",
            "16,4,8",
            "--seconds",
            "0.02",
            "--repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "working tree / HEAD:" in proc.stdout and "over 2 rounds" in proc.stdout
    gated = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "ab_engine.py"),
            "HEAD",
            "--shape",
            "16,4,8",
            "--cell",
            "lstm",
            "--seconds",
            "0.02",
            "--repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gated.returncode == 0, gated.stderr
    assert "T=8 L=1 lstm" in gated.stdout and "working tree / HEAD:" in gated.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab_engine.py"), "no-such-revision"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "cannot read" in bad.stderr


def test_ab_engine_imports_the_whole_package_at_the_revision(tmp_path, monkeypatch):
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    ab_engine = importlib.import_module("ab_engine")
    try:
        package = ab_engine.package_at("HEAD", str(tmp_path))
        folder = tmp_path / "src" / "charrnn"
        assert package.__name__ == "charrnn_at_rev"
        # Every module the engine uses comes from the extracted folder, the model included:
        # the package's relative imports resolve inside it, not in the working tree.
        for name in ab_engine.PARTS:
            module = ab_engine.part(package, name)
            assert folder in pathlib.Path(module.__file__).parents
        model = sys.modules["charrnn_at_rev.core.model"]
        assert folder in pathlib.Path(model.__file__).parents
        trainer = pathlib.Path(ab_engine.part(package, "trainer").__file__)
        head = subprocess.run(
            ["git", "show", f"HEAD:{trainer.relative_to(tmp_path).as_posix()}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert trainer.read_text(encoding="utf-8") == head
        # A revision of the flat layout before the layer folders still serves as a baseline.
        flat_rev = "e4bde64"
        if subprocess.run(["git", "cat-file", "-e", flat_rev], cwd=ROOT).returncode == 0:
            for name in [m for m in sys.modules if m.split(".")[0] == "charrnn_at_rev"]:
                del sys.modules[name]
            flat = ab_engine.package_at(flat_rev, str(tmp_path / "flat"))
            assert ab_engine.part(flat, "trainer").__name__ == "charrnn_at_rev.train"
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "charrnn_at_rev"]:
            del sys.modules[name]


def test_ab_process_compares_fresh_train_processes():
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "ab_process.py"),
            "HEAD",
            "--rounds",
            "1",
            "--log-every",
            "2",
            "--",
            "@vector",
            "--hidden",
            "8",
            "--steps",
            "6",
            "--val-fraction",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "working tree / HEAD:" in proc.stdout and "over 1 rounds" in proc.stdout
    assert proc.stdout.count("minor page faults per process") == 2


@pytest.mark.long  # MPI jobs at several rank counts (5 s)
def test_bench_scale_compares_ranks_with_threads_and_models_a_cluster():
    pytest.importorskip("mpi4py")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_scale.py"),
            "--only",
            "100,32,64",
            "--seconds",
            "0.05",
            "--repeats",
            "1",
            "--ranks",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if "needs MPI" in proc.stderr:
        pytest.skip("no mpiexec: install the MPI extra (pip install 'charrnn[mpi]')")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for engine in ("1x2", "2x1", "1x1"):
        assert any(line.startswith("H=100 B=32 T=64") and f" {engine} " in line for line in lines)
    ratio = next(line for line in lines if "2x1 / 1x2" in line)
    assert "efficiency" in ratio and "target >= 1.3x" in ratio
    assert any(line.startswith("K=2 here: latency") for line in lines)
    model = [line for line in lines if line.startswith("H=100 B=32 T=64") and "strong" in line]
    assert len(model) == 2  # one per cluster link


def test_bench_kernels_times_every_cell_under_each_choice():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_kernels.py"),
            "--shape",
            "16,2,4",
            "--rounds",
            "1",
            "--number",
            "1",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("kernels: ")
    assert any(line.startswith("BLAS: ") and "threads 1" in line for line in lines)
    built = kernels.library()[0] is not None
    for cell in ("rnn", "gru", "lstm"):
        assert any(line.split()[:2] == [cell, "numpy"] for line in lines)
        assert any(line.split()[:2] == [cell, "matmuls"] for line in lines)
        # The step kernel alone, where the kernels are built (and only there).
        assert any(line.split()[:2] == [cell, "kernel"] for line in lines) == built


def test_bench_big_data_reports_peak_memory_and_deletes_what_it_wrote(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_big_data.py"),
            "--mb",
            "3",
            "--small-mb",
            "0.5",
            "--files",
            "3",
            "--steps",
            "3",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = {
        line.split()[0]: line.split()
        for line in lines
        if line.split()[:1] in (["small"], ["large"])
    }
    assert float(rows["large"][1].replace(",", "")) == 3  # MB of text, as asked
    assert float(rows["large"][3].replace(",", "")) > 10  # a peak RSS was read (MB)
    assert any(line.startswith("peak RSS grows") for line in lines)
    assert list(tmp_path.iterdir()) == []  # corpus and runs are gone


@pytest.mark.long  # a one-row orientation table and one small configuration's breakdown
def test_orientation_and_step_parts_scripts_print_their_tables():
    def run(*args):
        proc = subprocess.run(
            [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    # Few calls: the table's form is tested here, its figures are the benchmark's job.
    rows = run(ROOT / "benchmarks" / "bench_orientation.py", "--calls", "20", "--shape", "32,256,4")
    assert sum(line.startswith("(32, 256, 4)") and line.count("x)") == 2 for line in rows) == 1
    assert not any(line.startswith("(64, 512, 4)") for line in rows)  # only the shape asked
    parts = run(ROOT / "benchmarks" / "step_parts.py", "--cell", "gru", "--shape", "32,8,16")
    assert any(line.startswith("recurrence forward") for line in parts)
    assert any("% of the step (the bound)" in line for line in parts)
