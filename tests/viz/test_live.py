"""Watching a run learn (``charrnn.viz.live``): read-only, whole lines and whole files only,
bounded answers, and the server's ``/api/live`` route."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.cli import main
from charrnn.core.cells import cell_names
from charrnn.training import checkpoint
from charrnn.viz import live
from charrnn.viz.live import TEMPERATURES, RunWatcher, is_run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small finished run per cell (words mode), trained on first use."""
    folder = tmp_path_factory.mktemp("live")
    made = {}

    def get(cell):
        if cell not in made:
            run = folder / cell
            args = ["train", "@names", "--out", str(run), "--hidden", "16", "--steps", "30"]
            assert main([*args, "--log-every", "10", "--cell", cell, "--quiet"]) == 0
            made[cell] = run
        return made[cell]

    return get


def records(run):
    with open(run / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("cell", cell_names())
def test_a_finished_run_gives_its_curves_and_samples(runs, cell):
    run = runs(cell)
    answer = RunWatcher(str(run)).poll(0.8)
    want = records(run)
    assert answer["train"] == [[r["step"], r["train_loss"]] for r in want]
    assert answer["val"] == [[r["step"], r["val_loss"]] for r in want if r["val_loss"] is not None]
    entry = answer["checkpoints"][0]  # newest first: the last step, its latest.npz
    assert entry["step"] == 30 and "latest" in entry["files"]
    assert sum("best" in e["files"] for e in answer["checkpoints"]) == 1
    model = CharRNN.load(run / "latest.npz")
    assert entry["samples"] == model.sample(n=8, temperature=0.8, random_state=30)
    assert entry["greedy"] == model.sample(n=1, greedy=True, random_state=30)[0]
    assert answer["model_step"] == checkpoint.load(run / "best.npz").step  # what load() gives
    assert answer["temperatures"] == list(TEMPERATURES)


def test_only_whole_lines_of_the_log_are_read(tmp_path):
    """A line cut mid-write waits for the next poll; a log rewritten is read from the start."""
    log = tmp_path / "metrics.jsonl"
    line = json.dumps({"step": 10, "train_loss": 2.5, "val_loss": None, "wall_time": 1.0})
    log.write_text(line + "\n" + line.replace("10", "20")[:17])  # the second line half-written
    w = RunWatcher(str(tmp_path))
    assert w.poll(1.0)["train"] == [[10, 2.5]]
    with open(log, "a") as f:
        f.write(line.replace("10", "20")[17:] + "\n")
    assert w.poll(1.0)["train"] == [[10, 2.5], [20, 2.5]]
    # A resume rewrites the log whole (a new file renamed over it): read again from the start.
    tmp = tmp_path / "new.jsonl"
    tmp.write_text(line + "\n" + line.replace("10", "15").replace("2.5", "2.25") + "\n")
    os.replace(tmp, log)
    assert w.poll(1.0)["train"] == [[10, 2.5], [15, 2.25]]
    # Lines that are not records (garbage, non-finite losses) are passed over.
    with open(log, "a") as f:
        f.write(
            '{"step": 16, "train_loss": NaN}\nnot json\n[1]\n{"step": 1e999, "train_loss": 1}\n'
        )
        f.write(line.replace("10", "30") + "\n")
    assert w.poll(1.0)["train"][-1] == [30, 2.5] and len(w.poll(1.0)["train"]) == 3


def test_answers_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(live, "MAX_READ", 1000)  # a big log is read over several polls
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for step in range(1, 5001):
            f.write(json.dumps({"step": step, "train_loss": 3.0 - step / 5000, "val_loss": None}))
            f.write("\n")
    w = RunWatcher(str(tmp_path))
    first = w.poll(1.0)["train"]
    assert 0 < len(first) < 30  # 1000 bytes: a few dozen lines
    for _ in range(500):
        answer = w.poll(1.0)
        if answer["last"]["step"] == 5000:
            break
    assert answer["last"]["step"] == 5000
    assert len(answer["train"]) == live.MAX_POINTS
    assert answer["train"][0][0] == 1 and answer["train"][-1][0] == 5000  # the whole span


def test_the_list_of_checkpoints_stays_spread_over_training(monkeypatch):
    monkeypatch.setattr(live, "MAX_ENTRIES", 5)
    w = RunWatcher("nowhere")
    for step in range(100, 2100, 100):
        w._add(live.Entry(step, 0.0, ["latest"], {}, ""))
    steps = [e.step for e in w.entries]
    assert len(steps) == 5 and steps[0] == 100 and steps[-1] == 2000
    assert max(np.diff(steps)) <= 2 * min(np.diff(steps)) + 100


def test_watching_takes_no_lock_and_writes_nothing(runs, monkeypatch):
    import fcntl

    run = runs("rnn")
    calls = []
    monkeypatch.setattr(fcntl, "flock", lambda *a: calls.append(a))
    monkeypatch.setattr(fcntl, "lockf", lambda *a: calls.append(a))
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    w = RunWatcher(str(run))
    for _ in range(3):
        w.poll(1.0)
    assert calls == []
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before


def test_a_trainer_writing_while_the_page_polls(runs, tmp_path):
    """A writer appends log lines in pieces and renames new checkpoints into place while
    polls run: every poll sees whole lines and whole checkpoints, and the last sees all."""
    src = runs("rnn")
    run = tmp_path / "run"
    run.mkdir()
    model = CharRNN.load(src)
    lines = [
        json.dumps({"step": s, "train_loss": 3 - s / 1000, "val_loss": None}) + "\n"
        for s in range(1, 401)
    ]
    done = threading.Event()

    def trainer():
        with open(run / "metrics.jsonl", "a") as f:
            for k, line in enumerate(lines):
                for part in (line[:7], line[7:]):  # a line in two writes: readers see halves
                    f.write(part)
                    f.flush()
                if k % 100 == 99:
                    model.params_["by"] += 0.01
                    model.save(run / "tmp.npz")  # written whole, then renamed (atomic)
                    os.replace(run / "tmp.npz", run / "latest.npz")
        done.set()

    w = RunWatcher(str(run))
    thread = threading.Thread(target=trainer)
    thread.start()
    seen = []
    while not done.is_set():
        answer = w.poll(1.0)
        steps = [p[0] for p in answer["train"]]
        assert steps == list(range(1, len(steps) + 1))  # whole lines, in order, none torn
        seen.append(len(steps))
    thread.join()
    answer = w.poll(1.0)
    assert [p[0] for p in answer["train"]] == list(range(1, 401))
    assert len(answer["checkpoints"]) >= 1
    assert seen == sorted(seen)


def test_is_run_dir(runs, tmp_path):
    assert is_run_dir(str(runs("rnn")))
    assert not is_run_dir(str(runs("rnn") / "best.npz")) and not is_run_dir(str(tmp_path))


def test_a_bad_temperature_is_refused(runs):
    from charrnn.common.errors import CharRNNError

    with pytest.raises(CharRNNError, match="temperature must be one of"):
        RunWatcher(str(runs("rnn"))).poll(0.7)


def test_the_live_route(runs, tmp_path):
    from charrnn.viz.server import make_server
    from tests.viz.test_serve import request

    run = tmp_path / "copy"
    shutil.copytree(runs("rnn"), run)
    srv = make_server(
        [CharRNN.load(run), CharRNN.load(run / "best.npz")],
        "127.0.0.1",
        0,
        runs=[str(run), None],
    )
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, _, d = request(srv, "POST", "/api/live", {"model": 0, "temperature": 1.2})
        assert status == 200 and d["checkpoints"][0]["step"] == 30
        status, _, d = request(srv, "POST", "/api/live", {"model": 1})
        assert status == 400 and "no run to watch" in d["error"]
        status, _, d = request(srv, "POST", "/api/live", {"model": 2})
        assert status == 400 and "model must be between 0 and 1" in d["error"]
        status, _, d = request(srv, "POST", "/api/live", {"temperature": 0.7})
        assert status == 400 and "temperature must be one of" in d["error"]
        # A newer model of the run: the server's other views read it from the next poll on.
        time.sleep(0.01)
        newer = CharRNN.load(run)
        newer.params_["by"] += 1.0
        newer.save(run / "best.npz")
        status, _, d = request(srv, "POST", "/api/live", {"model": 0})
        assert status == 200 and any("best" in e["files"] for e in d["checkpoints"])
        np.testing.assert_array_equal(srv.models[0].params_["by"], newer.params_["by"])
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_damaged_checkpoint_is_passed_over_until_it_changes(runs, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(runs("rnn"), run)
    (run / "latest.npz").write_bytes(b"PK\x03\x04 not a whole archive")
    (run / "best.npz").unlink()
    loads = []
    real = checkpoint.load
    monkeypatch.setattr(live.checkpoint, "load", lambda p: loads.append(p) or real(p))
    w = RunWatcher(str(run))
    assert w.poll(1.0)["checkpoints"] == [] and w.poll(1.0)["checkpoints"] == []
    assert len(loads) == 1  # not read again while it stays the same
    shutil.copy(runs("rnn") / "latest.npz", run / "tmp.npz")
    os.replace(run / "tmp.npz", run / "latest.npz")  # the trainer's next save
    assert w.poll(1.0)["checkpoints"][0]["step"] == 30
