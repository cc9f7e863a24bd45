"""One training run (charrnn.training.run.TrainingRun) whichever door it is entered by.

The CLI and the API must give the same model for the same configuration and
seed; a run directory is locked while a process trains in it; crashes,
interruptions, closed pipes and time budgets leave a run that resumes exactly.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.common.errors import CharRNNError
from charrnn.training import checkpoint
from charrnn.training.trainer import make_batches

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "charrnn"


# ----------------------------------------------------------------------------- helpers


def _arrays(path):
    """Every array of a checkpoint (parameters, optimiser state, carried state) and its meta."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(z["meta"].tobytes())
    return arrays, meta


def _assert_same_arrays(a, b):
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _assert_same_params(a, b):
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _random_words(seed, n, letters="abcdefghij"):
    """Words with no structure to learn: a model overfits them quickly."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(letters), size=rng.integers(3, 8))) for _ in range(n)]


def _syllable_words(seed, n, extra=()):
    """Words with structure to learn, so that validation improves for a while."""
    rng = np.random.default_rng(seed)
    syllables = ["ba", "ko", "ri", "ne", "ta", "mu", *extra]
    return ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(n)]


def _text(seed, n):
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"]
    return " ".join(rng.choice(words, size=n)) + ".\n"


def _popen(*args, **kwargs):
    """``charrnn`` as a separate process, left running."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-m", "charrnn", *map(str, args)], env=env, text=True, **kwargs
    )


def _metrics(run):
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break  # a line being written
    return out


def _wait_for(proc, what, timeout=60.0):
    """Poll until ``what()`` is true; fail if the process ends first or it takes too long."""
    deadline = time.monotonic() + timeout
    while not what():
        if proc.poll() is not None:
            err = proc.stderr.read()
            pytest.fail(f"the training process ended early ({proc.returncode}): {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the training process did not get there in time")
        time.sleep(0.01)


def _end(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


# The endless runs of the subprocess tests: far more steps than they ever take.
ENDLESS = ["--hidden", "16", "--steps", "100000000"]


# ----------------------------------------------------------------------------- 1: both doors


@pytest.fixture
def overfit_words(tmp_path):
    """A file of structureless words: validation loss falls, then rises (best != latest)."""
    path = tmp_path / "words.txt"
    path.write_text("\n".join(_random_words(0, 60)) + "\n")
    return path


OVERFIT = dict(hidden=32, steps=200, lr=0.02, log_every=10, batch_size=8, val_fraction=0.25)
OVERFIT_FLAGS = [
    "--hidden",
    "32",
    "--steps",
    "200",
    "--lr",
    "0.02",
    "--log-every",
    "10",
    "--batch-size",
    "8",
    "--val-fraction",
    "0.25",
    "--seed",
    "1",
    "--quiet",
]


def test_cli_and_api_write_the_same_run_in_words_mode(cli, tmp_path, overfit_words):
    """Catches a door that builds its config, split or trainer differently, or saves
    best.npz at another moment than the other door (the validation loss rises late, so
    best and latest are different models here)."""
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = cli("train", overfit_words, "--out", a, *OVERFIT_FLAGS)
    assert code == 0, err
    CharRNN(**OVERFIT, random_state=1).fit(str(overfit_words), out_dir=b)
    for name in ("best.npz", "latest.npz"):
        arrays_a, meta_a = _arrays(a / name)
        arrays_b, meta_b = _arrays(b / name)
        assert meta_a["step"] == meta_b["step"] and meta_a["config"] == meta_b["config"]
        _assert_same_arrays(arrays_a, arrays_b)
    best, latest = checkpoint.load(a / "best.npz"), checkpoint.load(a / "latest.npz")
    assert best.step < latest.step == 200  # the comparison of best.npz is not a second latest
    assert not np.array_equal(best.params["Why"], latest.params["Why"])


def test_cli_and_api_write_the_same_run_in_text_mode(cli, tmp_path):
    """Catches a text-mode door that differs (token cache vs. text in memory, split of the
    tail, carried state), for the file through both doors and for the text given in memory."""
    text = _text(0, 400)
    data = tmp_path / "t.txt"
    data.write_text(text)
    hp = dict(mode="text", hidden=16, seq_len=10, batch_size=4, steps=40, log_every=10)
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = cli(
        "train",
        data,
        "--out",
        a,
        "--mode",
        "text",
        "--hidden",
        "16",
        "--seq-len",
        "10",
        "--batch-size",
        "4",
        "--steps",
        "40",
        "--log-every",
        "10",
        "--seed",
        "5",
        "--quiet",
    )
    assert code == 0, err
    CharRNN(**hp, random_state=5).fit(data, out_dir=b)
    for name in ("best.npz", "latest.npz"):
        arrays_a, meta_a = _arrays(a / name)
        arrays_b, _ = _arrays(b / name)
        assert meta_a["step"] == 40 or name == "best.npz"
        assert "state/h" in arrays_a or name == "best.npz"
        _assert_same_arrays(arrays_a, arrays_b)
    in_memory = CharRNN(**hp, random_state=5).fit(text=text)
    _assert_same_params(in_memory.params_, checkpoint.load(a / "best.npz").params)


def test_fit_keeps_the_best_model_not_the_last_step(tmp_path, overfit_words):
    """Catches params_ taken from the last step (or from latest.npz) instead of the best
    validated model, with and without a run directory, and a load that disagrees with fit."""
    run = tmp_path / "run"
    model = CharRNN(**OVERFIT, random_state=1).fit(str(overfit_words), out_dir=run)
    vals = [e.val_loss for e in model.history_]
    assert min(vals) < vals[-1]  # the loss rose late: the last step is not the best
    best = checkpoint.load(run / "best.npz")
    assert best.step == model.history_[int(np.argmin(vals))].step
    _assert_same_params(model.params_, CharRNN.load(run).params_)
    _assert_same_params(model.params_, best.params)
    latest = checkpoint.load(run / "latest.npz").params
    assert not np.array_equal(model.params_["Whh"], latest["Whh"])
    in_memory = CharRNN(**OVERFIT, random_state=1).fit(str(overfit_words))
    _assert_same_params(in_memory.params_, best.params)


# ----------------------------------------------------------------------------- 2: resume via API


def _fit_stopped(hp, data, out, at):
    """fit() with a stop Event set by the event of step ``at``; the run ends a step later."""
    stop = threading.Event()

    def on_event(event):
        if event.step >= at:
            stop.set()

    model = CharRNN(**hp).fit(data, out_dir=out, on_event=on_event, stop=stop)
    return model


@pytest.mark.parametrize("mode", ["words", "text"])
def test_resume_through_the_api_is_bit_identical(tmp_path, mode):
    """Catches a resume that loses the optimiser state, the raw parameters behind the
    moving average, the dropout masks' step, the batch order's position or the carried
    hidden state: any of them changes latest.npz against an uninterrupted run."""
    common = dict(hidden=16, steps=40, log_every=5, dropout=0.2, ema=0.9, random_state=3)
    if mode == "words":
        hp = dict(common, batch_size=8)
        data = _random_words(1, 60)
    else:
        hp = dict(common, mode="text", batch_size=4, seq_len=8)
        data = [_text(1, 150)]  # 16 chunks a pass: 40 steps cross passes
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    CharRNN(**hp).fit(data, out_dir=whole)
    stopped = _fit_stopped(hp, data, cut, at=10)
    assert stopped.stop_reason_ == "stopped"
    at_stop = checkpoint.load(cut / "latest.npz")
    assert at_stop.step == 11 and at_stop.batch_pos > 0  # mid-run, and not at a pass's start
    resumed = CharRNN(**hp).fit(data, out_dir=cut, resume=True)
    assert resumed.stop_reason_ == "done"
    a, meta_a = _arrays(whole / "latest.npz")
    b, meta_b = _arrays(cut / "latest.npz")
    assert any(k.startswith("train/") for k in a) and any(k.startswith("optim/") for k in a)
    assert ("state/h" in a) == (mode == "text")
    for key in ("step", "epoch", "batch_pos", "optimizer"):
        assert meta_a[key] == meta_b[key], key
    assert meta_a["step"] == 40
    _assert_same_arrays(a, b)
    # The run state too: a stop off the validation cadence must not count a validation
    # an unbroken run never made (best model, patience).
    for key in ("best_val", "bad_evals"):
        assert meta_a["run"][key] == meta_b["run"][key], key
    best_a, best_meta_a = _arrays(whole / "best.npz")
    best_b, best_meta_b = _arrays(cut / "best.npz")
    assert best_meta_a["step"] == best_meta_b["step"]
    _assert_same_arrays(best_a, best_b)


def test_a_stop_off_the_validation_cadence_counts_no_validation(tmp_path):
    """Catches a run that validates (and counts for patience and best.npz) the step it was
    stopped at: its resume would early-stop one validation sooner than an unbroken run."""
    hp = dict(OVERFIT, patience=3, random_state=1)
    words = _random_words(0, 60)
    whole = CharRNN(**hp).fit(words, out_dir=tmp_path / "whole")
    assert whole.stop_reason_ == "patience"
    stopped = _fit_stopped(hp, words, tmp_path / "cut", at=40)  # ends at step 41
    assert stopped.stop_reason_ == "stopped"
    assert checkpoint.load(tmp_path / "cut" / "latest.npz").step == 41
    resumed = CharRNN(**hp).fit(words, out_dir=tmp_path / "cut", resume=True)
    assert resumed.stop_reason_ == "patience"
    for name in ("latest.npz", "best.npz"):
        a, meta_a = _arrays(tmp_path / "whole" / name)
        b, meta_b = _arrays(tmp_path / "cut" / name)
        assert (meta_a["step"], meta_a["run"]["best_val"], meta_a["run"]["bad_evals"]) == (
            meta_b["step"],
            meta_b["run"]["best_val"],
            meta_b["run"]["bad_evals"],
        ), name
        _assert_same_arrays(a, b)


# ----------------------------------------------------------------------------- 3: the lock


def test_a_live_run_locks_its_directory_until_it_dies(cli, tmp_path):
    """Catches a lock that is missing (a second run mixes its files into the live one),
    taken after files are changed (--force deleting the live run's files), naming the
    wrong process, or outliving a killed process (a resume blocked forever)."""
    run = tmp_path / "run"
    proc = _popen(
        "train",
        "@names",
        "--out",
        run,
        *ENDLESS,
        "--log-every",
        "5",
        "--save-every",
        "5",
        "--eval-every",
        "100000000",
        "--quiet",
    )
    try:
        _wait_for(proc, lambda: (run / "metrics.jsonl").is_file())
        config = (run / "config.json").read_bytes()
        in_use = f"in use by process {proc.pid}"
        other = ["--hidden", "8", "--steps", "3", "--quiet"]
        for extra in (["--resume"], ["--force"], []):
            code, _, err = cli("train", "@vector", "--out", run, *other, *extra)
            assert code == 2 and in_use in err, (extra, err)
            code, _, err = cli("train", "@names", "--out", run, "--quiet", *extra)
            assert code == 2 and in_use in err, (extra, err)
        for kwargs in ({}, {"force": True}, {"resume": True}):
            with pytest.raises(CharRNNError, match=in_use):
                CharRNN(hidden=8, steps=3).fit("@vector", out_dir=run, **kwargs)
        assert proc.poll() is None  # the live run went on undisturbed
        assert (run / "config.json").read_bytes() == config
        assert (run / ".lock").read_text() == str(proc.pid)
        latest = checkpoint.load(run / "latest.npz")
        assert latest.config.hidden == 16 and "z" in latest.vocab.itos
        steps = [r["step"] for r in _metrics(run)]
        assert steps == list(range(5, 5 * len(steps) + 1, 5))
    finally:
        proc.send_signal(signal.SIGKILL)
        _end(proc)
    at = checkpoint.load(run / "latest.npz").step
    code, _, err = cli("train", "@names", "--out", run, "--resume", "--steps", at + 5, "--quiet")
    assert code == 0, err
    assert checkpoint.load(run / "latest.npz").step == at + 5


def test_resume_of_a_live_run_before_its_first_save_names_the_process(cli, tmp_path):
    """Catches a resume refused with advice that is wrong while another process trains."""
    run = tmp_path / "run"
    proc = _popen(
        "train",
        "@vector",
        "--out",
        run,
        *ENDLESS,
        "--log-every",
        "5",
        "--save-every",
        "100000000",
        "--val-fraction",
        "0",
        "--quiet",
    )
    try:
        _wait_for(proc, lambda: (run / "metrics.jsonl").is_file())
        code, _, err = cli("train", "@vector", "--out", run, "--resume", "--quiet")
        assert code == 2 and f"in use by process {proc.pid}" in err, err
    finally:
        _end(proc)


# ----------------------------------------------------------------------------- 4: crash


def test_a_resume_after_kill_cuts_the_log_back_to_the_checkpoint(cli, tmp_path):
    """Catches a resume that keeps the records a killed run logged after its last save:
    the repeated steps would then be logged twice."""
    run = tmp_path / "run"
    proc = _popen(
        "train",
        "@names",
        "--out",
        run,
        *ENDLESS,
        "--log-every",
        "2",
        "--save-every",
        "200",
        "--eval-every",
        "100000000",
        "--quiet",
    )

    def past_a_save():
        log = _metrics(run)
        return bool(log) and log[-1]["step"] > 200 and 20 <= log[-1]["step"] % 200 <= 150

    try:
        _wait_for(proc, past_a_save)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _end(proc)
    saved = checkpoint.load(run / "latest.npz").step
    before = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    logged = [r["step"] for r in _metrics(run)]
    assert saved % 200 == 0 and max(logged) > saved  # the log is ahead of the checkpoint
    end = max(logged) + 10
    code, _, err = cli("train", "@names", "--out", run, "--resume", "--steps", end, "--quiet")
    assert code == 0, err
    after = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    steps = [json.loads(line)["step"] for line in after]
    assert all(a < b for a, b in itertools.pairwise(steps)), steps
    assert steps[-1] == end
    kept = [line for line in before if json.loads(line)["step"] <= saved]
    assert after[: len(kept)] == kept  # the records up to the checkpoint are the old ones


class _Crash(Exception):
    """Ends a run the way kill -9 would: no final save, the log ahead of latest.npz."""


def _crash_at(step):
    def on_event(event):
        if event.step == step:
            raise _Crash

    return on_event


def test_a_crash_resumed_run_early_stops_where_an_uninterrupted_one_does(tmp_path):
    """Catches run state in latest.npz that lags behind the log records it keeps."""
    hp = dict(OVERFIT, patience=3, random_state=1)
    words = _random_words(0, 60)
    whole = CharRNN(**hp).fit(words, out_dir=tmp_path / "whole")
    assert whole.stop_reason_ == "patience"
    cut = tmp_path / "cut"
    with pytest.raises(_Crash):  # dies right after logging step 50, a save step
        CharRNN(**hp).fit(words, out_dir=cut, on_event=_crash_at(50))
    # The save of step 50 comes after its event: the log is ahead of the checkpoint.
    assert checkpoint.load(cut / "latest.npz").step < 50
    resumed = CharRNN(**hp).fit(words, out_dir=cut, resume=True)
    assert resumed.stop_reason_ == "patience"
    a = checkpoint.load(tmp_path / "whole" / "latest.npz")
    b = checkpoint.load(cut / "latest.npz")
    assert (b.step, b.run.best_val, b.run.bad_evals) == (a.step, a.run.best_val, a.run.bad_evals)


def test_wall_time_keeps_increasing_across_a_crash_and_resume(tmp_path):
    """Catches a resumed clock that starts earlier than the last record it keeps."""
    # Validation of half of @names takes far longer than one step of one word.
    hp = dict(hidden=16, batch_size=1, steps=20, log_every=1, eval_every=10, val_fraction=0.5)
    run = tmp_path / "run"
    with pytest.raises(_Crash):
        CharRNN(**hp).fit("@names", out_dir=run, on_event=_crash_at(15))
    assert checkpoint.load(run / "latest.npz").step == 10
    CharRNN(**hp).fit("@names", out_dir=run, resume=True)
    log = _metrics(run)
    assert [r["step"] for r in log] == list(range(1, 21))
    walls = [r["wall_time"] for r in log]
    assert all(a < b for a, b in itertools.pairwise(walls)), walls


# ----------------------------------------------------------------------------- 5: settings


def test_log_settings_and_wall_clock_survive_an_interrupted_resume(tmp_path):
    """Catches a resume that forgets --log-every / --eval-every (back to the defaults)
    or restarts the wall clock at 0."""
    run = tmp_path / "run"
    flags = ["--log-every", "7", "--eval-every", "14"]
    proc = _popen("train", "@names", "--out", run, *ENDLESS, *flags, "--quiet")
    try:
        _wait_for(proc, lambda: len(_metrics(run)) >= 3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert "interrupted at step" in proc.stderr.read()
    finally:
        _end(proc)
    first = checkpoint.load(run / "latest.npz")
    n_before = len(_metrics(run))

    # Only --resume: the log settings come from the saved run.
    proc = _popen("train", "@names", "--out", run, "--resume")
    try:
        _wait_for(proc, lambda: len(_metrics(run)) >= n_before + 3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        _end(proc)
    second = checkpoint.load(run / "latest.npz")
    assert (second.config.log_every, second.config.eval_every) == (7, 14)
    assert second.step > first.step and second.run.elapsed > first.run.elapsed

    log = _metrics(run)
    resumed = [r for r in log if r["step"] > first.step]
    regular = resumed[:-1]  # the last record is where the interrupt ended the run
    assert len(regular) >= 2
    assert all(r["step"] % 7 == 0 for r in regular)
    gaps = [b["step"] - a["step"] for a, b in itertools.pairwise(regular)]
    assert gaps == [7] * len(gaps)
    assert all((r["val_loss"] is not None) == (r["step"] % 14 == 0) for r in regular)
    walls = [r["wall_time"] for r in log]
    assert all(a < b for a, b in itertools.pairwise(walls)), walls
    assert resumed[0]["wall_time"] > first.run.elapsed


# ----------------------------------------------------------------------------- 6: stdout


def test_training_goes_on_when_stdout_is_closed(tmp_path):
    """Catches a run that dies (BrokenPipeError, exit 1, no final save) when the reader of
    its log lines goes away, as in ``charrnn train ... | head -1``."""
    run = tmp_path / "run"
    steps = 1500  # about 90 kB of log lines: more than a pipe holds
    proc = _popen(
        "train",
        "@vector",
        "--out",
        run,
        "--hidden",
        "8",
        "--steps",
        steps,
        "--log-every",
        "1",
        "--val-fraction",
        "0",
        "--save-every",
        "500",
        stdout=subprocess.PIPE,
    )
    try:
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        assert proc.stdout.readline().startswith("step")
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0, err
    finally:
        _end(proc)
    assert "stdout was closed" in err and "Traceback" not in err
    assert checkpoint.load(run / "latest.npz").step == steps
    assert [r["step"] for r in _metrics(run)] == list(range(1, steps + 1))


# ----------------------------------------------------------------------------- 7: time budget


def test_time_budget_stops_the_cli_run_and_saves(cli, tmp_path):
    """Catches a time budget that is ignored (the run would never end), ends the run
    with an error status, or skips the final saves."""
    run = tmp_path / "run"
    code, _, err = cli(
        "train",
        "@names",
        "--out",
        run,
        "--hidden",
        "8",
        "--steps",
        "100000000",
        "--time-budget",
        "0.01",
        "--log-every",
        "50",
        "--quiet",
    )
    assert code == 0, err
    assert "plan:" in err or "time budget" in err
    latest = checkpoint.load(run / "latest.npz")
    assert 0 < latest.step < 100000000
    assert latest.run.elapsed >= 0.5 * 0.01 * 60  # planned to fill the budget
    assert (run / "best.npz").is_file()
    assert _metrics(run)[-1]["step"] == latest.step


def test_time_budget_through_the_api_sets_stop_reason():
    """Catches the constructor's or fit()'s time_budget not reaching the run."""
    words = _random_words(2, 30)
    # The budget plans the steps (done) or the clock ends them first (time): either way
    # far fewer than the cap.
    m = CharRNN(hidden=8, steps=100000000, time_budget=0.005, val_fraction=0).fit(words)
    assert m.stop_reason_ in ("done", "time") and m.history_[-1].step < 100000
    with pytest.warns(DeprecationWarning, match="set time_budget in the constructor"):
        m = CharRNN(hidden=8, steps=100000000, val_fraction=0).fit(words, time_budget=0.005)
    assert m.stop_reason_ in ("done", "time") and m.config_.time_budget == 0.005  # still works


# ----------------------------------------------------------------------------- 8: data checks


@pytest.mark.parametrize("mode", ["words", "text"])
@pytest.mark.parametrize("kind", ["binary", "empty", "blank"])
def test_bad_data_leaves_no_directory_behind(cli, tmp_path, mode, kind):
    """Catches a run directory made (or a lock file written) before the data is checked."""
    data = tmp_path / "data.txt"
    data.write_bytes({"binary": b"ab\x00\x01\x02cd\n" * 20, "empty": b"", "blank": b"\n \n"}[kind])
    out = tmp_path / "new" / "run"
    code, _, err = cli("train", data, "--out", out, "--mode", mode, "--steps", "2", "--quiet")
    assert code == 2 and "Traceback" not in err
    with pytest.raises(CharRNNError):
        CharRNN(mode=mode, steps=2).fit(data, out_dir=out)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("mode", ["words", "text"])
def test_resume_with_other_data_is_refused_and_changes_nothing(cli, tmp_path, mode):
    """Catches a resume that trains on other data with the same characters (the
    vocabulary check alone cannot see it), or that touches the run before refusing."""
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    if mode == "words":
        one.write_text("\n".join(_random_words(3, 40)) + "\n")
        two.write_text("\n".join(_random_words(4, 40)) + "\n")
    else:
        one.write_text(_text(3, 200))
        two.write_text(_text(4, 200))
    run = tmp_path / "run"
    flags = ["--mode", mode, "--hidden", "8", "--seq-len", "8", "--log-every", "2", "--quiet"]
    assert cli("train", one, "--out", run, "--steps", "4", *flags)[0] == 0
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    code, _, err = cli("train", two, "--out", run, "--steps", "8", "--resume", *flags)
    assert code == 2 and "same data" in err
    with pytest.raises(CharRNNError, match="same data"):
        CharRNN(mode=mode, hidden=8, seq_len=8, log_every=2, steps=8).fit(
            two, out_dir=run, resume=True
        )
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == files
    code, _, err = cli("train", one, "--out", run, "--steps", "8", "--resume", *flags)
    assert code == 0, err  # the refusals released the lock


# ----------------------------------------------------------------------------- 9: val_data


@pytest.mark.parametrize("mode", ["words", "text"])
def test_held_out_data_given_apart_is_what_is_validated(tmp_path, mode):
    """Catches val_data ignored (a share of data held out instead), mixed into training,
    or validated on anything else; and a vocabulary that misses its characters."""
    if mode == "words":
        train = _syllable_words(5, 60)
        val = [*_syllable_words(6, 20), "zu"]  # 'z' only in the held-out words
        hp = dict(hidden=16, batch_size=8)
    else:
        train, val = _text(5, 300), _text(6, 80) + "zz\n"
        hp = dict(mode="text", hidden=16, batch_size=4, seq_len=10)
    run = tmp_path / "run"
    model = CharRNN(**hp, steps=30, lr=0.005, log_every=10, random_state=2)
    if mode == "words":
        model.fit(train, val_data=val, out_dir=run)
    else:
        model.fit(text=train, val_text=val, out_dir=run)
    vals = [e.val_loss for e in model.history_]
    assert len(vals) == 3 and vals[-1] == min(vals)  # the final model is the best one
    assert vals[-1] == model.evaluate(val).nats
    assert "z" in model.vocab_.itos
    written = json.loads((run / "config.json").read_text())
    whole = make_batches(model.config_, model.vocab_, train).n_targets
    assert written["train_chars_per_pass"] == whole  # nothing of train was held out


# ----------------------------------------------------------------------------- 10: one door


def test_only_the_training_run_builds_a_trainer():
    """Catches a second place that trains around TrainingRun (its checks, lock and resume)."""
    pattern = re.compile(r"\bTrainer\(")
    found = {
        (path.name, line.strip())
        for path in SRC.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if pattern.search(line)
    }
    assert {name for name, _ in found} <= {"run.py", "train.py"}, found
    assert any(name == "run.py" for name, _ in found)
    assert all(line.startswith("class Trainer") for name, line in found if name == "train.py")
