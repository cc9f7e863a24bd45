from __future__ import annotations

import numpy as np
import pytest

from charrnn import CharRNNError, Vocab


def test_order_is_sorted_and_boundary_always_present():
    v1 = Vocab.from_text("vector")
    v2 = Vocab.from_text("rotcev")
    assert v1.itos == v2.itos == ["\n", "c", "e", "o", "r", "t", "v"]
    assert v1.boundary_id == 0


def test_unicode_code_points_round_trip():
    text = "한국어 café 🙂\nñ"
    v = Vocab.from_text(text)
    ids = v.encode(text)
    assert len(ids) == len(text)  # one id per code point
    assert v.decode(ids) == text
    assert "🙂" in v.stoi and "한" in v.stoi


def test_vectorised_encode_matches_per_character_lookup(rng):
    v = Vocab.from_text("abcdefghij\n xyz")
    text = "".join(rng.choice(list("abcdefghij\n xyz"), size=5000))
    np.testing.assert_array_equal(v.encode(text), [v.stoi[c] for c in text])


def test_unknown_characters_are_named_or_skipped():
    v = Vocab.from_text("abc")
    with pytest.raises(CharRNNError, match="'z'") as e:
        v.encode("abz")
    assert "unknown='skip'" in str(e.value) and e.value.params == ("unknown",)
    assert v.clean("azbz", "skip") == "ab"


def test_json_round_trip_and_bad_json():
    v = Vocab.from_text("héllo")
    assert Vocab.from_json(v.to_json()) == v
    with pytest.raises(CharRNNError):
        Vocab.from_json('["b", "a"]')
    with pytest.raises(CharRNNError):
        Vocab.from_json("not json")


def test_one_hot_is_the_tutorial_column():
    v = Vocab.from_text("vector")
    x = v.one_hot(v.stoi["v"])
    assert x.shape == (v.size, 1) and x.sum() == 1 and x[v.stoi["v"], 0] == 1
