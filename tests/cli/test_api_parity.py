"""What the CLI does, the API does (issue 23, item 4): eval of a file and of the held-out
split, only-new sampling and the training words, streaming: each through ``CharRNN``,
and the CLI gives the same numbers."""

from __future__ import annotations

import json

import pytest

from charrnn import CharRNN
from charrnn.api import Evaluation
from charrnn.common.errors import CharRNNError

Q = ["--steps", "30", "--hidden", "8", "--quiet"]


@pytest.fixture(scope="module")
def words_run(tmp_path_factory):
    from charrnn.cli import main

    path = tmp_path_factory.mktemp("parity") / "words"
    assert main(["train", "@names", "--out", str(path), *Q]) == 0
    return path


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity-text")
    data = folder / "t.txt"
    data.write_text("the cat sat on the mat. " * 80)
    m = CharRNN(mode="text", hidden=8, seq_len=16, batch_size=4, steps=20, random_state=0)
    m.fit(str(data))
    return m, data


def test_evaluate_file_in_words_mode_matches_the_cli(words_run, cli, tmp_path):
    model = CharRNN.load(words_run)
    f = tmp_path / "w.txt"
    f.write_text("anna\nbob\ncarl!\n!!\n")
    with pytest.raises(CharRNNError, match="'!'"):
        model.evaluate_file(f)
    result = model.evaluate_file(f, unknown="skip")
    assert isinstance(result, Evaluation)
    assert result.skipped == {"!": 3} and result.dropped == 1 and result.size == 3
    assert result.split is None and result.source == str(f)
    assert result.loss.per_char == pytest.approx(model.evaluate(["anna", "bob", "carl"]).per_char)
    code, out, err = cli("eval", words_run, f, "--unknown", "skip", "--json")
    assert code == 0 and json.loads(out)["nats_per_char"] == pytest.approx(result.loss.per_char)
    assert "1 words had nothing left" in err


def test_evaluate_file_in_text_mode_streams_the_file(text_model):
    model, data = text_model
    result = model.evaluate_file(data)
    assert result.size == len(data.read_text())
    assert result.loss.per_char == pytest.approx(model.evaluate(data.read_text()).per_char)


def test_evaluate_heldout_is_the_runs_own_split(words_run, cli):
    model = CharRNN.load(words_run)
    result = model.evaluate_heldout()
    assert result.split == "held-out" and result.source == "@names" and result.size > 0
    code, out, _ = cli("eval", words_run, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["split"] == "held-out"
    assert shown["nats_per_char"] == pytest.approx(result.loss.per_char)


def test_evaluate_heldout_of_a_model_fit_in_memory_says_what_to_do():
    model = CharRNN(hidden=4, steps=2, random_state=0).fit(["anna", "bob", "carl"] * 5)
    with pytest.raises(CharRNNError, match="give the data to evaluate on"):
        model.evaluate_heldout()


def test_a_saved_model_keeps_its_data_record(words_run, tmp_path):
    model = CharRNN.load(words_run)
    model.save(tmp_path / "m.npz")
    again = CharRNN.load(tmp_path / "m.npz")
    assert again.run_.data == "@names"
    assert again.evaluate_heldout().loss.per_char == pytest.approx(
        model.evaluate_heldout().loss.per_char
    )


def test_training_words_and_sample_new(words_run, cli):
    model = CharRNN.load(words_run)
    known = model.training_words()
    assert known and all(isinstance(w, str) for w in known)
    new, drawn = model.sample_new(20, random_state=3)
    assert len(new) == 20 and drawn >= 20 and not set(new) & known
    # The CLI prints the same words for the same seed.
    code, out, _ = cli("sample", words_run, "-n", "20", "--only-new", "--seed", "3")
    assert code == 0 and out.split("\n")[:-1] == new
    with pytest.raises(CharRNNError, match="n must be between 1 and 100,000; got 200000"):
        model.sample_new(200_000)


def test_novelty_methods_refuse_a_text_model(text_model):
    model, _ = text_model
    with pytest.raises(CharRNNError, match="words-mode models only"):
        model.training_words()
    with pytest.raises(CharRNNError, match="words-mode models only"):
        model.sample_new(3)


def test_sample_streams_through_on_step(text_model):
    model, _ = text_model
    seen: list[list[str]] = []
    out = model.sample(1, max_len=30, random_state=1, on_step=seen.append)
    assert "".join(step[0] for step in seen) == out[0]


def test_unit_name_is_the_models_units(words_run):
    assert CharRNN.load(words_run).unit_name == "char"
    with pytest.raises(CharRNNError, match="not trained"):
        _ = CharRNN().unit_name


def test_trace_through_the_api_is_what_the_cli_prints(words_run, cli):
    model = CharRNN.load(words_run)
    steps = model.trace("anna", top=2)
    assert len(steps) == len("anna\n") and len(steps[0].top) == 2
    code, out, _ = cli("trace", words_run, "anna", "--top", "2")
    assert code == 0 and f"loss so far {steps[-1].running_loss:.4f} nats/char" in out
