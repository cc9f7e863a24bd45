"""What a new user hits in the first hour: empty samples, run-together text samples,
silent changes to the input, evaluating a run's own split, the API's footguns."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNN, CharRNNError
from charrnn.generation.constraints import NoEmptyWord, allowed_mask, apply
from charrnn.generation.novelty import sample_new
from charrnn.generation.sample import _pick

# ----------------------------------------------------------------------------- empty words


@pytest.fixture(scope="module")
def empty_prone():
    """A names model pushed to end a word right after the boundary about half the time."""
    m = CharRNN(hidden=16, steps=60, random_state=0).fit(["anna", "bob", "cleo", "dan"] * 20)
    params = {k: v.copy() for k, v in m.params_.items()}
    b = m.vocab_.boundary_id
    from charrnn.core.model import step, zero_state

    _, y = step(params, np.array([b]), zero_state(params, 1))
    z = y[0].astype(np.float64)
    logits0 = z - z.max()
    # Raise the boundary's bias so that it takes half the mass at the first step.
    others = np.log(np.exp(np.delete(logits0, b)).sum())
    params["by"][b] += others - logits0[b]
    m.params_ = params
    return m


def test_no_empty_word_masks_the_boundary_only_after_the_boundary_at_the_first_step():
    c = NoEmptyWord(vocab_size=4, boundary_id=0)
    last = np.array([0, 2, 0])
    ok = c.allowed(last, 0)
    assert ok.shape == (3, 4)
    assert ok.tolist() == [[False, True, True, True], [True] * 4, [False, True, True, True]]
    assert c.allowed(last, 1).all()  # later steps may end the word
    assert allowed_mask([], last, 0, 4) is None


def test_masked_distribution_is_renormalised(rng):
    logits = np.log(np.array([[0.5, 0.3, 0.2]] * 20000))
    mask = NoEmptyWord(3, 0).allowed(np.zeros(20000, dtype=int), 0)
    picks = _pick(apply(logits.copy(), mask), rng, 1.0, None, False)
    share = np.bincount(picks, minlength=3) / 20000
    np.testing.assert_allclose(share, [0.0, 0.6, 0.4], atol=0.015)


def test_words_sampling_gives_no_empty_word_unless_asked(empty_prone):
    m = empty_prone
    raw = m.sample(400, random_state=3, allow_empty=True)
    assert 100 < raw.count("") < 300  # the raw model does predict it (about half)
    assert "" not in m.sample(400, random_state=3)
    assert "" not in m.sample(5, greedy=True)
    assert m.sample(3, greedy=True, allow_empty=True) == ["", "", ""]
    # A prefix is never affected: its last character is not the boundary.
    assert m.sample(50, prefix="a", random_state=1) == m.sample(
        50, prefix="a", random_state=1, allow_empty=True
    )


def test_only_new_returns_no_empty_word(empty_prone):
    m = empty_prone
    words, _ = sample_new(m.params_, m.vocab_, {"anna"}, 200, rng=np.random.default_rng(0))
    assert len(words) == 200 and "" not in words
    raw, _ = sample_new(
        m.params_, m.vocab_, {"anna"}, 200, rng=np.random.default_rng(0), allow_empty=True
    )
    assert "" in raw


def test_cli_sample_gives_no_empty_word_and_says_how(empty_prone, tmp_path, cli, capsys):
    path = tmp_path / "m.npz"
    empty_prone.save(path)
    code, out, _ = cli("sample", path, "-n", "200", "--seed", "2")
    assert code == 0 and "" not in out.split("\n")[:-1]
    code, out, _ = cli("sample", path, "-n", "200", "--seed", "2", "--allow-empty")
    assert code == 0 and "" in out.split("\n")[:-1]
    with pytest.raises(SystemExit):
        cli("sample", "--help")
    assert "renormalised" in capsys.readouterr().out


# ----------------------------------------------------------------------------- text samples


def test_text_samples_are_headed_by_a_line_no_sample_can_contain(tmp_path, cli):
    from charrnn.cli.sample import separator_char

    text = "ab\n\ncd ─x\n\n" * 60  # blank lines and the usual rule character are data here
    m = CharRNN(mode="text", hidden=16, seq_len=16, batch_size=4, steps=40, random_state=0)
    m.fit(text=text)
    sep = separator_char(m.vocab_)
    assert sep not in m.vocab_.stoi and sep == "━"  # the first one after U+2500 not known
    m.save(tmp_path / "t.npz")
    code, out, _ = cli("sample", tmp_path / "t.npz", "-n", "3", "--max-len", "60", "--seed", "1")
    assert code == 0
    lines = out.split("\n")
    heads = [i for i, line in enumerate(lines) if line.startswith(sep)]
    assert [lines[i] for i in heads] == [f"{sep * 8} sample {k} of 3 {sep * 8}" for k in (1, 2, 3)]
    ends = [*heads[1:], len(lines) - 1]
    samples = ["\n".join(lines[a + 1 : b]) for a, b in zip(heads, ends, strict=True)]
    code, js, _ = cli(
        "sample", tmp_path / "t.npz", "-n", "3", "--max-len", "60", "--seed", "1", "--json"
    )
    import json

    assert samples == json.loads(js)["samples"]
    assert any("\n\n" in s for s in samples)  # a blank line inside a sample stays inside it


# ----------------------------------------------------------------------------- the API


def _random_words(seed, n):
    rng = np.random.default_rng(seed)
    letters = list("abcdefghij")
    return ["".join(rng.choice(letters, size=rng.integers(3, 8))) for _ in range(n)]


def test_fit_takes_a_file_as_data_and_literal_text_only_as_text(tmp_path):
    novel = tmp_path / "novel.txt"
    novel.write_text("It was the best of times, it was the worst of times.\n" * 30)
    hp = dict(mode="text", hidden=8, seq_len=8, batch_size=2, steps=2, random_state=0)
    # A str is the file, as on the command line: the vocabulary is the novel's.
    m = CharRNN(**hp).fit(str(novel))
    assert set(m.vocab_.itos) == set(novel.read_text())
    import pathlib

    assert CharRNN(**hp).fit(pathlib.Path(novel)).vocab_ == m.vocab_
    # Literal text is a keyword; naming a file there warns that the name is trained on.
    assert "I" in CharRNN(**hp).fit(text="It was the best of times\n" * 9).vocab_.stoi
    with pytest.warns(UserWarning, match="names a file"):
        CharRNN(**hp).fit(text=str(novel))
    with pytest.raises(CharRNNError, match=r"is not a file.*text="):
        CharRNN(**hp).fit("it was the best of times, it was the worst of times")
    with pytest.raises(CharRNNError, match="not both"):
        CharRNN(**hp).fit(str(novel), text="abc")
    with pytest.raises(CharRNNError, match="give data"):
        CharRNN(**hp).fit()


def test_fit_verbose_prints_the_log_and_on_event_true_stops(capsys):
    words = _random_words(0, 80)
    m = CharRNN(hidden=8, steps=60, log_every=10, random_state=0)
    m.fit(words)
    assert capsys.readouterr().out == ""  # quiet by default, as before
    m.fit(words, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [f"{s}/60" for s in range(10, 61, 10)]
    m.fit(words, on_event=lambda e: e.step >= 20)
    assert m.stop_reason_ == "stopped" and m.history_[-1].step == 20
    assert CharRNN.fit.__annotations__["on_event"].endswith("bool | None] | None")


def test_a_run_says_when_validation_rises_three_times_in_a_row(tmp_path, cli):
    from charrnn.training.run import RISING_EVALS, rising

    assert RISING_EVALS == 3
    assert rising([2.0, 1.5, 1.6, 1.7, 1.8]) and not rising([1.5, 1.6, 1.55, 1.7, 1.8])
    assert not rising([1.5, 1.6, 1.7])
    path = tmp_path / "words.txt"
    path.write_text("\n".join(_random_words(0, 60)) + "\n")
    flags = [
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
        "--schedule",
        "constant",
    ]
    code, out, err = cli("train", path, "--out", tmp_path / "r", *flags)
    assert code == 0, err
    notes = [line for line in err.splitlines() if "risen" in line]
    assert len(notes) == 1, err  # said once, while training
    vals = [float(line.split(" val ")[1].split()[0]) for line in out.splitlines()]
    best = min(range(len(vals)), key=vals.__getitem__)
    assert f"the best was {vals[best]:.4f} at step {10 * (best + 1)}" in notes[0]
    assert "--patience P" in notes[0] and "--schedule cosine" in notes[0] and "--lr" in notes[0]
    # The API says it too, in its own words, and keeps it in the run's notices.
    m = CharRNN(
        hidden=32,
        steps=200,
        lr=0.02,
        log_every=10,
        batch_size=8,
        val_fraction=0.25,
        schedule="constant",
        random_state=1,
    )
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        m.fit(str(path), verbose=True)
    assert "patience=P" in buf.getvalue() and "risen" in buf.getvalue()


# ----------------------------------------------------------------------------- the input


def test_unknown_character_hints_at_the_known_one():
    import unicodedata

    from charrnn.core.vocab import Units, Vocab

    v = Vocab("anbé")
    with pytest.raises(CharRNNError, match=r"'A' \(the model knows 'a'\)"):
        v.clean("Anna")
    with pytest.raises(CharRNNError, match=r"'É' \(the model knows 'é'\)"):
        v.clean("É")
    with pytest.raises(CharRNNError, match=r"'Ａ' \(the model knows 'a'\)"):
        v.clean("Ａ")  # full width: NFKC
    # Text is read as NFC by default, so decomposed input is simply known ...
    assert v.clean(unicodedata.normalize("NFD", "bé")) == "bé"
    # ... and a model that keeps text raw says which form would be known.
    raw = Vocab("anbé", Units(normalize="none"))
    with pytest.raises(CharRNNError, match="in Unicode NFC form the whole text is known"):
        raw.clean(unicodedata.normalize("NFD", "bé"))
    with pytest.raises(CharRNNError) as exc:
        v.clean("z")
    assert "knows" not in str(exc.value)  # no hint when nothing is close


@pytest.fixture(scope="module")
def lower_run(tmp_path_factory):
    from charrnn.cli import main

    d = tmp_path_factory.mktemp("lower")
    (d / "w.txt").write_text("\n".join([*_random_words(2, 60), "anna", "nina"]) + "\n")
    args = ["train", str(d / "w.txt"), "--out", str(d / "r"), "--hidden", "8", "--steps", "3"]
    assert main([*args, "--quiet"]) == 0
    return d


def test_unknown_skip_says_what_it_skipped(lower_run, cli):
    run = lower_run / "r"
    code, _, err = cli("score", run, "Anna")
    assert code == 2 and "'A' (the model knows 'a')" in err
    code, out, err = cli("score", run, "Anna", "--unknown", "skip")
    assert code == 0 and out.startswith("nna\t")
    assert "notice: skipped 'A'" in err and "'Anna' is read as 'nna'" in err
    code, out, err = cli("score", run, "anna", "--unknown", "skip")
    assert code == 0 and "notice" not in err  # nothing skipped, nothing said
    code, _, err = cli("sample", run, "--prefix", "Xa", "--unknown", "skip", "-n", "2")
    assert code == 0 and "skipped 'X'" in err and "the prefix is read as 'a'" in err
    code, _, err = cli("trace", run, "aZa", "--unknown", "skip")
    assert code == 0 and "skipped 'Z'" in err
    bad = lower_run / "bad.txt"
    bad.write_text("Anna\nannA\nZ\nnina\n")
    code, _, err = cli("eval", run, bad, "--unknown", "skip")
    assert code == 0 and "skipped 3 characters" in err and "'A' (2x), 'Z' (1x)" in err
    assert "1 words had nothing left" in err


def test_unknown_skip_in_text_eval_is_counted(tmp_path, cli):
    m = CharRNN(mode="text", hidden=8, seq_len=8, batch_size=2, steps=2).fit(text="abc ab\n" * 40)
    m.save(tmp_path / "t.npz")
    (tmp_path / "e.txt").write_text("abc XbY ab\n" * 10)
    code, _, err = cli("eval", tmp_path / "t.npz", tmp_path / "e.txt", "--unknown", "skip")
    assert code == 0 and "skipped 20 characters" in err and "'X' (10x), 'Y' (10x)" in err


# ----------------------------------------------------------------------------- eval RUN


@pytest.mark.parametrize("mode", ["words", "text"])
def test_eval_without_data_is_the_runs_own_held_out_split(tmp_path, cli, mode):
    import json

    from charrnn.training import checkpoint

    data = tmp_path / "d.txt"
    if mode == "words":
        data.write_text("\n".join(_random_words(4, 200)) + "\n")
    else:
        data.write_text(" ".join(_random_words(4, 400)) + "\n")
    run = tmp_path / "r"
    flags = [
        "--mode",
        mode,
        "--hidden",
        "16",
        "--seq-len",
        "16",
        "--steps",
        "30",
        "--log-every",
        "10",
        "--quiet",
    ]
    assert cli("train", data, "--out", run, *flags)[0] == 0
    best_val = checkpoint.load(run / "best.npz").run.best_val
    code, out, err = cli("eval", run, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["nats_per_char"] == pytest.approx(best_val, abs=1e-5) and d["split"] == "held-out"
    assert "held-out split of" in err
    # Not the whole file: evaluating all of it gives another figure.
    whole = json.loads(cli("eval", run, data, "--json")[1])
    assert whole["chars"] > d["chars"]
    # The data changed: refused, with what to do.
    data.write_text(data.read_text().replace("a", "b"))
    code, _, err = cli("eval", run)
    assert code == 2 and "not the data the run recorded" in err and "give the data" in err
    data.unlink()
    code, _, err = cli("eval", run)
    assert code == 2 and "data is gone" in err


def test_eval_without_data_explains_when_it_cannot(tmp_path, cli):
    m = CharRNN(hidden=8, steps=2).fit(_random_words(0, 30))
    m.save(tmp_path / "m.npz")
    code, _, err = cli("eval", tmp_path / "m.npz")
    assert code == 2 and "does not record the data" in err
    code, _, err = cli(
        "train",
        "@vector",
        "--out",
        tmp_path / "v",
        "--steps",
        "2",
        "--val-fraction",
        "0",
        "--quiet",
    )
    code, _, err = cli("eval", tmp_path / "v")
    assert code == 2 and "held nothing out" in err


def test_a_time_budgeted_log_line_shows_the_budget_as_time():
    from charrnn.training.trainer import LogEvent

    e = LogEvent(
        step=500,
        total_steps=100_000,
        epoch=2.5,
        train_loss=2.1,
        val_loss=2.2,
        chars_per_s=1e5,
        elapsed=4.93,
    )
    assert e.format(time_budget=15).startswith("step 500 of 100,000   4.9/15 s  epoch 2.50")
    assert e.format().startswith("step    500/100000")


def test_the_licence_is_an_spdx_string():
    import pathlib

    tomllib = pytest.importorskip("tomllib")
    root = pathlib.Path(__file__).resolve().parents[2]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"  # not the deprecated {text = ...} table
    build = " ".join(meta["build-system"]["requires"])
    assert "setuptools>=77" in build  # the first setuptools that reads the SPDX form
