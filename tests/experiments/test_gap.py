"""``charrnn experiment gap``: the Wilson interval, the latch task, a small grid, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from charrnn import CharRNNError
from charrnn.cli import main
from charrnn.core.model import init_params
from charrnn.core.vocab import Vocab
from charrnn.experiments import gap
from charrnn.experiments.gap import (
    RULES,
    GapSettings,
    gradient_norms,
    latch_words,
    point_config,
    query_step,
    run_experiment,
    run_one,
    summarise,
    wilson_interval,
    window_for,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion",
# Statistics in Medicine 17, Table I, method 3 (score interval without continuity correction).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("successes,n,low,high", NEWCOMBE)
def test_wilson_interval_matches_published_values(successes, n, low, high):
    lo, hi = wilson_interval(successes, n)
    assert abs(lo - low) < 6e-5 and abs(hi - high) < 6e-5


def test_wilson_interval_edges_and_symmetry():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    lo, hi = wilson_interval(3, 10)
    lo2, hi2 = wilson_interval(7, 10)
    assert abs(lo - (1 - hi2)) < 1e-12 and abs(hi - (1 - lo2)) < 1e-12
    wide, narrow = wilson_interval(5, 10), wilson_interval(50, 100)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    for bad in ((11, 10), (-1, 10), (0, 0)):
        with pytest.raises(CharRNNError):
            wilson_interval(*bad)


def test_latch_words_put_the_key_at_the_query():
    s = GapSettings()
    words = latch_words(s, 5, 50, np.random.default_rng(0))
    for w in words:
        assert len(w) == 5 + 3 and w[0] == w[-1] and w[0] in s.keys
        assert set(w[1:6]) <= set(s.distractors) and w[6] == s.query
        read = "\n" + w
        assert read[query_step(5)] == s.query  # the model reads the query here ...
        assert (w + "\n")[query_step(5)] == w[0]  # ... and must then predict the key
    assert len({w[0] for w in words}) == len(s.keys)


def test_point_config_applies_the_rule():
    s = GapSettings()
    assert point_config(s, "rnn", 8, "naive", 0).bptt == "naive"
    cfg = point_config(s, "rnn", 8, "window", 0)
    assert cfg.bptt == "full" and cfg.bptt_window == 4 == window_for(8)
    assert point_config(s, "rnn", 8, "full", 3).bptt_window is None
    assert point_config(s, "rnn", 8, "full", 3).seed == 3
    assert all(window_for(k) < k + 1 for k in (1, 2, 3, 64))  # never reaches the key


def test_settings_are_checked():
    for bad in (
        dict(gaps=(0,)),
        dict(rules=("half",)),
        dict(cells=("lstm2",)),
        dict(seeds=0),
        dict(keys="a"),
        dict(keys="ab", distractors="bc"),
        dict(norm_gap=5),
        dict(threshold=0),
        dict(gaps=(100_000_000,), norm_gap=None),
        dict(hidden=100_000),
        dict(batch_size=10**9),
    ):
        with pytest.raises(CharRNNError):
            GapSettings(**bad)


def test_no_more_processes_than_tasks_or_cores(monkeypatch):
    asked = []

    class Pool:
        def __init__(self, max_workers):
            asked.append(max_workers)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, fn, tasks, chunksize=1):
            return map(fn, tasks)

    monkeypatch.setattr(gap, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(gap, "usable_cpus", lambda: 8)
    for seeds in (3, 1):  # 9 tasks (3 rules x 3 seeds) on 8 cores, then 3 tasks
        s = GapSettings(gaps=(1,), seeds=seeds, steps=2, words=20, test_words=10, norm_gap=None)
        assert len(gap.run_grid(s, jobs=100_000)) == 3 * seeds
    assert asked == [8, 3]


def test_gradient_norms_follow_the_chain_rule_by_hand():
    """For the tanh cell: dh_{t-j-1} = Whh^T ((1 - h_{t-j}^2) * dh_{t-j}), from Why^T dy."""
    s = GapSettings()
    vocab = Vocab("\n" + s.keys + s.distractors + s.query)
    params = init_params(
        vocab.size, 8, np.random.default_rng(1), init="normal", scale=0.6, dtype="float64"
    )
    words = latch_words(s, 3, 4, np.random.default_rng(2))
    got = gradient_norms(params, vocab, words, 3, "rnn")
    t = query_step(3)
    expected = np.zeros(t + 1)
    for w in words:
        ids = vocab.encode("\n" + w + "\n")
        hs = [np.zeros(8)]
        for x in ids[: t + 1]:
            hs.append(np.tanh(params["Wxh"][:, x] + params["Whh"] @ hs[-1] + params["bh"]))
        z = params["Why"] @ hs[-1] + params["by"]
        p = np.exp(z - z.max())
        p /= p.sum()
        p[ids[t + 1]] -= 1
        dh = params["Why"].T @ p
        for j in range(t + 1):
            expected[j] += np.linalg.norm(dh) / len(words)
            h = hs[t + 1 - j]  # the state j steps back
            dh = params["Whh"].T @ ((1 - h * h) * dh)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_a_small_grid_runs_in_seconds_and_is_reproducible():
    s = GapSettings(gaps=(1, 2), seeds=2, steps=120, words=200, test_words=100, norm_gap=2)
    points, runs, _ = run_experiment(s)
    assert [(p.gap, p.rule) for p in points] == [(k, r) for k in (1, 2) for r in s.rules]
    assert all(p.n == 2 and 0 <= p.low <= p.rate <= p.high <= 1 for p in points)
    full = {p.gap: p for p in points if p.rule == "full"}
    assert full[1].successes == 2  # a gap of one is learnt by full BPTT within the budget
    measured = [r for r in runs if r.norms_init is not None]
    assert {(r.gap, r.rule) for r in measured} == {(2, r) for r in s.rules}
    assert all(len(r.norms_init) == query_step(2) + 1 for r in measured)
    again = run_one(s, "rnn", 2, "window", 1)
    assert again == next(r for r in runs if (r.gap, r.rule, r.seed) == (2, "window", 1))
    assert summarise(s, runs) == points


def test_the_gated_cells_run_every_rule():
    """GRU and LSTM train under the window rule too, and their norms reach back to the key."""
    s = GapSettings(
        gaps=(2,), cells=("gru", "lstm"), seeds=1, steps=30, words=100, test_words=50, norm_gap=2
    )
    points, runs, _ = run_experiment(s)
    assert [(p.cell, p.rule) for p in points] == [(c, r) for c in s.cells for r in RULES]
    assert all(p.window == (window_for(2) if p.rule == "window" else None) for p in points)
    for r in runs:
        assert len(r.norms_init) == query_step(2) + 1 and np.all(np.isfinite(r.norms_trained))


@pytest.mark.slow
def test_processes_give_the_same_results():
    s = GapSettings(gaps=(1, 3), seeds=2, steps=40, words=200, test_words=100, norm_gap=None)
    assert run_experiment(s, jobs=2)[1] == run_experiment(s, jobs=1)[1]


def test_cli_prints_a_table_and_json(capsys):
    args = [
        "experiment",
        "gap",
        "--gaps",
        "1,2",
        "--seeds",
        "2",
        "--steps",
        "30",
        "--words",
        "200",
        "--test-words",
        "100",
        "--jobs",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "chance at the query 0.25" in out and "rnn      1 " in out and "full BPTT" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(p["gap"], p["rule"]) for p in data["points"]][:3] == [
        (1, "naive"),
        (1, "window"),
        (1, "full"),
    ]
    assert data["chance"] == 0.25 and data["settings"]["seeds"] == 2
    assert data["norms"] == []  # the norm gap (16) is not in this grid


@pytest.mark.slow
def test_cli_draws_both_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = [
        "experiment",
        "gap",
        "--gaps",
        "1,2",
        "--seeds",
        "1",
        "--steps",
        "20",
        "--words",
        "100",
        "--test-words",
        "50",
        "--norm-gap",
        "2",
        "--jobs",
        "1",
        "--quiet",
        "--png-dir",
        str(tmp_path),
    ]
    assert main(args) == 0
    for name in ("gap-success.png", "gap-norms.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gap-norms.png", "gap-success.png"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["experiment", "gap", "--rules", "full,half", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "rules must be among naive, window, full" in err and "Traceback" not in err
    (tmp_path / "afile").write_text("x")
    assert main(["experiment", "gap", "--png-dir", str(tmp_path / "afile"), "--quiet"]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
