"""Data-parallel training on MPI: real ``mpiexec`` jobs on this machine.

K ranks must train the model one process trains with the same global batch
(float64, to 1e-10 relative: only the order of the gradient sums differs), in
both modes, with dropout and clipping; resume under the same K bit-identically
and under another K to the same run; leave a checkpoint any tool reads; and
end together, with one message, when one rank fails, is signalled or killed.

The tests skip, saying why, only when MPI cannot start here.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from charrnn.training.checkpoint import load as load_checkpoint
from charrnn.training.run import TrainingRun
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# Open MPI refuses root and more ranks than cores unless told; MPICH ignores these.
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",  # Open MPI 5
    "OMPI_MCA_rmaps_base_oversubscribe": "1",  # Open MPI 4
    "PYTHONUNBUFFERED": "1",
}


def _mpiexec() -> str | None:
    beside = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


def launch(n: int, *args: str, wait: bool = True, timeout: float = 120, module: str = "charrnn"):
    """``mpiexec -n n python -m mpi4py -m MODULE ARGS`` (or Popen when not waiting).

    ``module`` is ``charrnn``, or ``tests.fixture_cli`` for the test suite's own cells.
    """
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", "-m", module]
    cmd += [str(a) for a in args]
    threads = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
    env = {**{k: v for k, v in os.environ.items() if k not in threads}, **MPI_ENV}
    if module.startswith("tests."):
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    if not wait:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module", autouse=True)
def mpi_starts():
    skip_unless_mpi()


def skip_unless_mpi() -> None:
    """Skip, with the reason, unless a 2-rank Allreduce runs here."""
    if _mpiexec() is None:
        pytest.skip("no mpiexec: install the MPI extra (pip install 'charrnn[mpi]')")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed: pip install 'charrnn[mpi]'")
    code = (
        "from mpi4py import MPI; import numpy as np; a = np.ones(1); "
        "MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, a); assert a[0] == 2"
    )
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-c", code]
    try:
        r = subprocess.run(
            cmd, env={**os.environ, **MPI_ENV}, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.skip("MPI cannot start here: a 2-rank Allreduce did not finish in 60 s")
    if r.returncode != 0:
        pytest.skip(f"MPI cannot start here: {(r.stderr or r.stdout).strip()[-300:]}")


WORDS = [
    "ada",
    "bo",
    "cyrus",
    "dee",
    "eli",
    "fay",
    "gus",
    "hal",
    "ivy",
    "jo",
    "kai",
    "lou",
    "max",
    "ned",
    "oda",
    "pia",
    "quin",
    "rex",
    "sol",
    "tia",
    "uma",
    "vic",
]

# float64, two layers, dropout, weight drop, clipping: everything that must survive the split.
COMMON = [
    "--dtype",
    "float64",
    "--hidden",
    "12",
    "--layers",
    "2",
    "--dropout",
    "0.3",
    "--weight-drop",
    "0.2",
    "--lr",
    "0.02",
    "--schedule",
    "constant",
    "--log-every",
    "3",
    "--quiet",
]
CASES = {
    # 20 training words in batches of 9: every third batch holds 2, so at K=3 one
    # rank has no word in it (and still joins the Allreduce).
    "words": ["--mode", "words", "--batch-size", "9", "--clip-mode", "norm", "--clip", "0.5"],
    "text": [
        "--mode",
        "text",
        "--batch-size",
        "6",
        "--seq-len",
        "7",
        "--clip-mode",
        "value",
        "--clip",
        "0.05",
    ],
}


def args_for(mode: str, steps: int) -> list[str]:
    return [*COMMON, *CASES[mode], "--steps", str(steps)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text("\n".join(WORDS) + "\n")
    return path


def one_process(data: pathlib.Path, out: pathlib.Path, args: list[str]) -> None:
    from charrnn.cli import main

    assert main(["train", str(data), "--out", str(out), *args]) == 0


def params(run: pathlib.Path) -> dict[str, np.ndarray]:
    ckpt = load_checkpoint(run / "latest.npz")
    state = {f"opt/{k}": v for k, v in ckpt.optimizer_state.items()}
    if ckpt.h is not None:
        state["h"] = ckpt.h
    return {**ckpt.params, **state}


def assert_close(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rtol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        scale = max(np.abs(a[k]).max(), 1e-300)
        err = np.abs(a[k] - b[k]).max() / scale
        assert err <= rtol, f"{k}: relative difference {err:.2e}"


@pytest.mark.parametrize("mode", list(CASES))
def test_ranks_train_the_model_one_process_trains(mode, corpus, tmp_path, cli):
    one_process(corpus, tmp_path / "k1", args_for(mode, 9))
    reference = params(tmp_path / "k1")
    for k in (2, 3):
        r = launch(k, "train", corpus, "--out", tmp_path / f"k{k}", *args_for(mode, 9))
        assert r.returncode == 0, r.stderr
        got = params(tmp_path / f"k{k}")
        assert_close(reference, got, 1e-10)
    # The checkpoint K ranks wrote is like any other: it samples and evaluates.
    code, out, err = cli("sample", tmp_path / "k3", "-n", "3", "--max-len", "12")
    assert code == 0 and len(out.strip().splitlines()) >= 1, err
    code, out, err = cli("eval", tmp_path / "k3", corpus)
    assert code == 0 and "nats/char" in out
    lines = (tmp_path / "k3" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # rank 0 alone logs: steps 3, 6, 9


def test_resume_same_k_is_bit_identical_and_other_k_continues_the_run(corpus, tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert launch(2, "train", corpus, "--out", straight, *args_for("text", 9)).returncode == 0
    assert launch(2, "train", corpus, "--out", broken, *args_for("text", 4)).returncode == 0
    shutil.copytree(broken, tmp_path / "serial")
    r = launch(2, "train", corpus, "--out", broken, "--resume", "--steps", "9")
    assert r.returncode == 0, r.stderr
    # Rank 0 alone speaks; each rank has one BLAS thread.
    assert r.stderr.count("resuming a text-mode RNN") == 1
    assert "; 2 ranks × 1 BLAS thread" in r.stderr
    assert [line.split()[1] for line in r.stdout.splitlines()] == ["6/9", "9/9"]
    a, b = params(straight), params(broken)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # The same run, continued by one process: equal up to the order of sums.
    with TrainingRun({"steps": 9}, str(corpus), tmp_path / "serial", resume=True) as run:
        run.train()
    assert_close(a, params(tmp_path / "serial"), 1e-10)


@pytest.mark.long  # MPI's failure paths: make test-long
def test_bad_input_on_one_rank_gives_one_message_and_no_rank_waits(corpus, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    # Only rank 0 touches the run directory, so only rank 0 finds the problem.
    t0 = time.monotonic()
    r = launch(3, "train", corpus, "--out", blocker, "--steps", "5", timeout=60)
    assert r.returncode != 0
    assert r.stderr.count("is a file; give a directory") == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 60
    # Text needs a stream per rank: every rank says no, one message.
    r = launch(
        3,
        "train",
        corpus,
        "--out",
        tmp_path / "t",
        "--mode",
        "text",
        "--batch-size",
        "2",
        timeout=60,
    )
    assert r.returncode != 0 and r.stderr.count("fewer text streams than there are ranks") == 1
    assert not (tmp_path / "t").exists()  # nothing left behind


@pytest.mark.long  # MPI's failure paths: make test-long
def test_standard_input_under_mpi_is_refused_at_once(corpus, tmp_path):
    # mpirun gives standard input to rank 0 alone: the other ranks waited on theirs.
    r = launch(2, "train", "-", "--out", tmp_path / "r", "--steps", "5", timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("standard input (-) cannot be the data") == 1, r.stderr
    assert not (tmp_path / "r").exists()


def _rank_pids(out: pathlib.Path) -> dict[int, int]:
    """Rank -> pid of the processes training into ``out`` (from /proc)."""
    ranks = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(out).encode() not in cmd or b"charrnn" not in cmd:
            continue
        for var in env:
            if var.startswith((b"OMPI_COMM_WORLD_RANK=", b"PMI_RANK=")):
                ranks[int(var.split(b"=")[1])] = int(entry.name)
    return ranks


def _start_long_run(corpus: pathlib.Path, out: pathlib.Path):
    args = [*args_for("words", 100000), "--save-every", "20", "--log-every", "20"]
    job = launch(2, "train", corpus, "--out", out, *args, wait=False)
    deadline = time.monotonic() + 90
    while not (out / "latest.npz").exists() or len(_rank_pids(out)) < 2:
        if time.monotonic() > deadline or job.poll() is not None:
            job.kill()
            pytest.fail(f"the job did not start saving: {job.communicate()[1][-2000:]}")
        time.sleep(0.2)
    return job, _rank_pids(out)


@pytest.mark.long  # MPI's failure paths: make test-long
def test_sigterm_on_one_rank_saves_once_and_stops_every_rank(corpus, tmp_path):
    out = tmp_path / "run"
    job, ranks = _start_long_run(corpus, out)
    os.kill(ranks[1], signal.SIGTERM)
    try:
        _, err = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        pytest.fail("the ranks hung after a signal to one of them")
    assert job.returncode != 0
    assert err.count("interrupted at step") == 1, err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert load_checkpoint(out / "latest.npz").step == step < 100000


@pytest.mark.long  # MPI's failure paths: make test-long
def test_a_killed_rank_ends_the_job_with_the_last_checkpoint_intact(corpus, tmp_path):
    out = tmp_path / "run"
    job, ranks = _start_long_run(corpus, out)
    os.kill(ranks[1], signal.SIGKILL)
    t0 = time.monotonic()
    try:
        job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        pytest.fail("the job went on after one rank was killed")
    assert job.returncode != 0
    assert time.monotonic() - t0 < 30
    ckpt = load_checkpoint(out / "latest.npz")
    assert 0 < ckpt.step < 100000 and ckpt.step % 20 == 0


@pytest.mark.long
def test_ranks_share_one_time_budgeted_plan(corpus, tmp_path):
    """Catches ranks that plan on their own clocks: their learning rates, and so their
    models, would part (the drift check stops the job), or the plan would not be rank 0's."""
    import json
    import threading

    from charrnn.training.run import FunctionCallbacks

    words = ["--mode", "words", "--batch-size", "9", "--dtype", "float64", "--hidden", "12"]
    out = tmp_path / "k2"
    budget = ["--time-budget", "0.05", "--log-every", "50", "--quiet"]
    r = launch(2, "train", corpus, "--out", out, *words, *budget)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("plan: ") == 1  # rank 0 alone plans and says so
    plan = json.loads((out / "config.json").read_text())["plan"]
    ranks = load_checkpoint(out / "latest.npz")
    assert ranks.run.plan and ranks.step > 0
    # One process replaying the ranks' plan to the same step trains the same model.
    stop = threading.Event()

    def at_step(trainer):
        if trainer.step >= ranks.step:
            stop.set()

    given = {"mode": "words", "batch_size": 9, "dtype": "float64", "hidden": 12, "plan": plan}
    with TrainingRun(given, str(corpus), tmp_path / "k1") as run:
        run.train(FunctionCallbacks(step=at_step), stop=stop)
    assert_close(params(out), params(tmp_path / "k1"), 1e-10)
