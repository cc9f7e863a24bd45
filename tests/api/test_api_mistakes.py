"""The Python API's mistakes are CharRNNErrors that say what to give, like the CLI's."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNN, CharRNNError

WORDS = ["anna", "bob", "carl", "dora"] * 3


@pytest.fixture(scope="module")
def model():
    return CharRNN(hidden=4, steps=2, random_state=0).fit(WORDS)


@pytest.mark.parametrize(
    "data, match",
    [
        (5, "got int"),
        (["an\udcffna", "bob"], "half of a surrogate pair"),
    ],
)
def test_data_that_is_not_text_is_named(data, match):
    with pytest.raises(CharRNNError, match=match):
        CharRNN(hidden=4, steps=2).fit(data)


def test_any_iterable_of_strings_is_data():
    a = CharRNN(hidden=4, steps=2, random_state=0).fit(w for w in WORDS)
    b = CharRNN(hidden=4, steps=2, random_state=0).fit(WORDS)
    assert all(np.array_equal(a.params_[k], b.params_[k]) for k in a.params_)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": "3"}, "n must be a whole number"),
        ({"n": 2, "top_k": 2.5}, "top_k must be a whole number"),
        ({"n": 2, "max_len": 3.0}, "max_len must be a whole number"),
        ({"n": 2, "temperature": "hot"}, "temperature must be a number"),
        ({"n": 2, "random_state": -1}, "random_state must be"),
        ({"n": 2, "random_state": 1.5}, "random_state must be"),
    ],
)
def test_sampling_arguments_of_the_wrong_kind(model, kwargs, match):
    with pytest.raises(CharRNNError, match=match):
        model.sample(**kwargs)


def test_a_generator_a_seed_sequence_or_none_draws_the_samples(model):
    four = model.sample(3, random_state=4)
    assert model.sample(3, random_state=np.random.default_rng(4)) == four
    assert model.sample(3, random_state=np.random.SeedSequence(4)) == four
    assert model.sample(3, random_state=np.int64(4)) == four
    assert len(model.sample(3, random_state=None)) == 3


def test_numpy_scalars_and_strings_in_the_config_save_as_json(tmp_path):
    m = CharRNN(hidden=np.int32(4), steps=2, cell=np.str_("gru"), dropout=np.float64(0.1))
    m.fit(WORDS)
    assert type(m.config_.hidden) is int and type(m.config_.dropout) is float
    m.save(tmp_path / "m.npz")
    assert CharRNN.load(tmp_path / "m.npz").config_ == m.config_


def test_saving_into_a_folder_or_a_missing_one(model, tmp_path):
    with pytest.raises(CharRNNError, match="is a folder"):
        model.save(tmp_path)
    with pytest.raises(CharRNNError, match="does not exist"):
        model.save(tmp_path / "no" / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_influence_of_nothing(model):
    with pytest.raises(CharRNNError, match="needs a text"):
        model.influence("")
