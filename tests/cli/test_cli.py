"""The CLI contract: commands, flags, --json, save/load round trips."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.cli import build_parser
from tests.conftest import run_cli_process

QUICK = ["--hidden", "24", "--steps", "60", "--log-every", "20", "--quiet"]


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    from charrnn.cli import main

    run = tmp_path_factory.mktemp("runs") / "names"
    assert main(["train", "@names", "--out", str(run), *QUICK]) == 0
    return run


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"train", "sample", "eval", "score", "trace", "gradcheck", "demo"}
    for name, p in sub.choices.items():
        assert p.format_help().startswith("usage: charrnn " + name)


def test_help_runs_as_a_program():
    r = run_cli_process("train", "--help")
    assert r.returncode == 0 and "--clip-mode" in r.stdout and "--bptt" in r.stdout


def test_train_writes_a_run(names_run):
    files = {p.name for p in names_run.iterdir()}
    assert {"latest.npz", "best.npz", "metrics.jsonl", "config.json"} <= files
    log = [json.loads(line) for line in (names_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [20, 40, 60]
    assert all(r["val_loss"] is not None and r["chars_per_s"] > 0 for r in log)
    assert log[-1]["train_loss"] < log[0]["train_loss"]


def test_sample_json_and_text_agree(cli, names_run):
    code, out, _ = cli("sample", names_run, "-n", "7", "--seed", "4", "--json")
    assert code == 0
    samples = json.loads(out)["samples"]
    code, text, _ = cli("sample", names_run, "-n", "7", "--seed", "4")
    assert text.splitlines() == samples and len(samples) == 7


def test_eval_prints_nats_bits_perplexity(cli, names_run):
    code, out, _ = cli("eval", names_run, "@names", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["bits_per_char"] == pytest.approx(d["nats_per_char"] / np.log(2))
    assert d["perplexity"] == pytest.approx(np.exp(d["nats_per_char"]))
    code, out, _ = cli("eval", names_run, "@names")
    assert "nats/char" in out and "bits/char" in out and "perplexity" in out


def test_score_prints_each_word(cli, names_run):
    code, out, _ = cli("score", names_run, "anna", "bob")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("anna\t-") and lines[1].startswith("bob\t-")


def test_gradcheck_command(cli):
    code, out, _ = cli("gradcheck", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["ok"] is True
    assert all(v < 1e-6 for errs in d["max_relative_error"].values() for v in errs.values())


def test_saved_model_gives_identical_samples_and_losses(tmp_path):
    words = ["anna", "bob", "carla", "dave", "emma", "frank", "gina"] * 5
    m = CharRNN(hidden=16, steps=40, val_fraction=0).fit(words)
    path = tmp_path / "m.npz"
    m.save(path)
    m2 = CharRNN.load(path)
    assert m2.sample(20, random_state=3) == m.sample(20, random_state=3)
    assert m2.evaluate(words).nats == m.evaluate(words).nats
    assert list(m2.score_samples(words[:3])) == list(m.score_samples(words[:3]))
    for k in m.params_:
        np.testing.assert_array_equal(m.params_[k], m2.params_[k])


def test_cli_model_equals_api_model(cli, tmp_path):
    """The CLI is a thin layer: same config and seed, same parameters."""
    data = tmp_path / "w.txt"
    data.write_text("\n".join(["anna", "bob", "carla", "dave", "emma"] * 4))
    run = tmp_path / "run"
    code, _, err = cli(
        "train", data, "--out", run, "--hidden", "8", "--steps", "10", "--quiet", "--seed", "2"
    )
    assert code == 0, err
    m = CharRNN(hidden=8, steps=10, random_state=2).fit(str(data))
    loaded = CharRNN.load(run / "latest.npz")
    for k in m.params_:
        np.testing.assert_array_equal(m.params_[k], loaded.params_[k])


def test_text_mode_train_sample_eval(cli, tmp_path):
    data = tmp_path / "t.txt"
    data.write_text("to be or not to be, that is the question.\n" * 50)
    run = tmp_path / "run"
    code, _, err = cli(
        "train",
        data,
        "--out",
        run,
        "--mode",
        "text",
        "--hidden",
        "32",
        "--seq-len",
        "20",
        "--batch-size",
        "8",
        "--steps",
        "150",
        "--lr",
        "0.01",
        "--quiet",
    )
    assert code == 0, err
    code, out, _ = cli("sample", run, "--prefix", "to be", "--max-len", "40", "--json")
    assert all(s.startswith("to be") and len(s) == 45 for s in json.loads(out)["samples"])
    code, out, _ = cli("eval", run, data, "--json")
    assert json.loads(out)["nats_per_char"] < 1.5  # learned the repeated line


def test_text_sample_streams_one_sample(cli, tmp_path):
    data = tmp_path / "t.txt"
    data.write_text("abcabcabcabc " * 100)
    run = tmp_path / "run"
    code, _, err = cli(
        "train", data, "--out", run, "--mode", "text", "--hidden", "8", "--steps", "5", "--quiet"
    )
    assert code == 0, err
    code, out, _ = cli("sample", run, "-n", "1", "--max-len", "30", "--prefix", "ab")
    assert code == 0 and len(out) == 2 + 30 + 1


def test_builtin_corpus_then_sample_ten(cli, names_run):
    """`train @names` then `sample -n 10`: no file, no network, no ../shared needed."""
    code, out, _ = cli("sample", names_run, "-n", "10")
    assert code == 0 and len(out.splitlines()) == 10


@pytest.mark.long  # the whole demo: the tutorial over 10 seeds and a names model (7 s)
@pytest.mark.slow
def test_demo_prints_both_rules_side_by_side(cli):
    code, out, _ = cli("demo", "--seeds", "1", "--names-seconds", "1")
    assert code == 0
    assert "full BPTT p(r)" in out and "naive p(r)" in out
    assert "10 of 10 are 'vector'" in out
    assert "'v' leads to 'vector': full BPTT in 1 of 1 seeds" in out
    assert "samples (* = not in the training set)" in out
    # The names model's budget is time: its log shows seconds of it, not a step cap.
    assert re.search(r"step \d+ +\d+\.\d/1 s", out) and "/100000" not in out


def test_novelty_labels_samples_against_the_training_split(cli, names_run):
    from charrnn.data.files import load_corpus
    from charrnn.data.split import split_corpus
    from charrnn.training import checkpoint

    code, out, _ = cli("sample", names_run, "-n", "200", "--novelty", "--json")
    assert code == 0
    d = json.loads(out)
    cfg = checkpoint.load(names_run / "latest.npz").config
    train, _ = split_corpus(load_corpus("@names", "words"), "words", cfg.val_fraction, cfg.seed)
    expected = [s not in set(train) for s in d["samples"]]
    assert d["new"] == expected and d["new_share"] == sum(expected) / 200
    code, out, _ = cli("sample", names_run, "-n", "20", "--novelty")
    lines = out.splitlines()
    assert all(line.endswith(("\tnew", "\tin training set")) for line in lines[:20])
    assert lines[-1].startswith("# new: ")


@pytest.mark.parametrize("flag", ["--novelty", "--only-new"])
def test_novelty_is_for_words_mode(cli, tmp_path, flag):
    data = tmp_path / "t.txt"
    data.write_text("abcabc " * 50)
    run = tmp_path / "run"
    code, _, err = cli(
        "train", data, "--out", run, "--mode", "text", "--hidden", "4", "--steps", "2", "--quiet"
    )
    assert code == 0, err
    code, _, err = cli("sample", run, flag)
    assert code == 2 and "words-mode" in err and flag in err


def test_only_new_leaves_out_training_words(cli, names_run):
    from charrnn.generation.novelty import training_words
    from charrnn.training import checkpoint

    train = training_words(checkpoint.load(names_run / "latest.npz"))
    plain = cli("sample", names_run, "-n", "2000")[1].splitlines()
    assert any(w in train for w in plain)  # the filter has something to do
    code, out, _ = cli("sample", names_run, "-n", "300", "--only-new", "--json")
    assert code == 0
    samples = json.loads(out)["samples"]
    assert len(samples) == 300 and not any(w in train for w in samples)
    code, _, err = cli("sample", names_run, "--only-new", "--novelty")
    assert code == 2 and "choose one" in err
