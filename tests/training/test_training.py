"""Training behaviour: loss falls, validation, early stop, NaN guard, progress output."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.training import checkpoint
from tests.conftest import shared_file


def test_loss_falls_on_a_tiny_corpus():
    words = ["anna", "bob", "carla", "dave", "emma", "frank", "gina", "hank"]
    m = CharRNN(hidden=32, steps=300, batch_size=8, lr=0.02, val_fraction=0, log_every=10)
    m.fit(words)
    assert m.history_[0].train_loss > 2.0
    assert m.evaluate(words).nats < 0.6  # memorised: far below log(V) = 2.8


def test_names_h128_trains_batched(tmp_path):
    """names.txt at H=128, B=64 through the batched engine: loss well below uniform."""
    names = shared_file("names.txt")
    m = CharRNN(hidden=128, batch_size=64, steps=200, init="scaled", random_state=0, log_every=100)
    m.fit(str(names))
    assert m.history_[-1].val_loss < 2.6  # uniform over 27 characters is 3.30


def test_shakespeare_text_mode_short_run():
    text = shared_file("tinyshakespeare.txt").read_text()[:200_000]
    m = CharRNN(
        mode="text", hidden=64, batch_size=32, seq_len=32, steps=100, init="scaled", log_every=50
    )
    m.fit(text=text)
    assert m.history_[-1].val_loss < 3.3  # uniform over 60+ characters is 4.1


def test_early_stopping_with_patience(cli, tmp_path):
    words = tmp_path / "w.txt"
    words.write_text("\n".join(f"w{i:03d}" for i in range(200)))
    run = tmp_path / "r"
    code, _, err = cli(
        "train",
        words,
        "--out",
        run,
        "--hidden",
        "32",
        "--steps",
        "5000",
        "--lr",
        "0.05",
        "--eval-every",
        "5",
        "--log-every",
        "5",
        "--patience",
        "2",
        "--val-fraction",
        "0.5",
    )
    assert code == 0, err
    assert "early stop" in err
    last = checkpoint.load(run / "latest.npz")
    best = checkpoint.load(run / "best.npz")
    assert last.step < 5000
    assert best.run.best_val == min(
        r["val_loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    )


def test_non_finite_loss_stops_with_a_message_and_keeps_the_checkpoint(cli, tmp_path):
    run = tmp_path / "r"
    flags = [
        "--hidden",
        "16",
        "--optimizer",
        "sgd",
        "--clip-mode",
        "none",
        "--quiet",
        "--save-every",
        "1",
        "--init",
        "scaled",
        "--reduction",
        "sum",
    ]
    code, _, err = cli("train", "@names", "--out", run, "--steps", "2", "--lr", "0.01", *flags)
    assert code == 0, err
    good = checkpoint.load(run / "latest.npz")
    code, _, err = cli(
        "train", "@names", "--out", run, "--steps", "500", "--lr", "1e38", "--resume", *flags
    )
    assert code == 2 and "non-finite" in err and "--lr" in err
    after = checkpoint.load(run / "latest.npz")  # still loads: only finite states were saved
    assert all(np.isfinite(v).all() for v in after.params.values())
    assert after.step >= good.step


def test_progress_bar_on_a_terminal(cli, tmp_path, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, out, err = cli(
        "train",
        "@vector",
        "--out",
        tmp_path / "r",
        "--steps",
        "30",
        "--hidden",
        "4",
        "--log-every",
        "10",
        "--batch-size",
        "1",
    )
    assert code == 0, err
    assert "30/30" in err and out == ""  # the bar, not log lines


def test_plain_log_lines_when_not_a_terminal(cli, tmp_path):
    code, out, err = cli(
        "train",
        "@vector",
        "--out",
        tmp_path / "r",
        "--steps",
        "30",
        "--hidden",
        "4",
        "--log-every",
        "10",
        "--batch-size",
        "1",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("step 10/30") and "chars/s" in lines[0]


def test_quiet_prints_nothing(cli, tmp_path):
    code, out, err = cli(
        "train", "@vector", "--out", tmp_path / "r", "--steps", "5", "--quiet", "--batch-size", "1"
    )
    assert (code, out, err) == (0, "", "")


def test_epochs_budget(tmp_path):
    words = [f"w{i}" for i in range(10)]
    m = CharRNN(hidden=4, batch_size=3, steps=None, epochs=2, val_fraction=0).fit(words)
    assert m.history_[-1].step == 8  # ceil(10 / 3) = 4 batches per pass


def test_tiny_text_with_a_one_character_tail_trains_without_validation():
    m = CharRNN(mode="text", hidden=4, seq_len=4, batch_size=2, steps=3, val_fraction=0.1)
    m.fit(text="abcdefghij")  # the held-out tail is the single character 'j'
    assert m.history_[-1].val_loss is None
