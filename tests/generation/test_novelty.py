from __future__ import annotations

import collections
import math

import numpy as np
import pytest

from charrnn.core.model import init_params
from charrnn.core.vocab import Vocab
from charrnn.generation.novelty import memorisation, sample_new, word_probabilities
from charrnn.generation.sample import sample


def test_word_probabilities_are_the_sampling_frequencies(rng):
    # A random two-letter model: its short words are common enough to count.
    vocab = Vocab.from_text("ab")
    params = init_params(vocab.size, 6, rng, init="scaled", dtype="float64")
    params["by"][vocab.stoi["\n"]] = 1.0  # words end soon, so short ones recur
    n = 20000
    words = ["", "a", "b", "aa", "ab", "ba", "bb", "aba"]
    p = word_probabilities(params, vocab, words, chunk=3)  # chunks smaller than the list
    assert 0 < p.sum() < 1 and p[0] > 0.1
    # The raw model (allow_empty) draws each word with its probability; by default
    # the empty word is masked and the rest renormalised: p(word) / (1 - p(empty)).
    for allow_empty, expected in ((True, p), (False, np.r_[0.0, p[1:] / (1 - p[0])])):
        rng3 = np.random.default_rng(3)
        drawn = sample(params, vocab, n=n, mode="words", rng=rng3, allow_empty=allow_empty)
        counts = collections.Counter(drawn)
        freq = np.array([counts[w] / n for w in words])
        sigma = np.sqrt(expected * (1 - expected) / n)
        assert np.all(np.abs(freq - expected) <= 5 * sigma), (freq, expected)


def test_memorisation_scores_distinct_training_words_and_unseen_heldout(rng):
    vocab = Vocab.from_text("abc")
    params = init_params(vocab.size, 5, rng, init="scaled", dtype="float64")
    words = ["a", "b", "c", "ab"]
    p = dict(zip(words, word_probabilities(params, vocab, words), strict=True))
    # "a" is listed twice in training and also held out: counted once, and not as unseen.
    m = memorisation(params, vocab, ["a", "a", "b"], ["a", "c", "ab", "c"])
    assert m.n_train == 2
    assert m.training_p == pytest.approx(p["a"] + p["b"])
    assert sorted(m.unseen_p) == pytest.approx(sorted([p["c"], p["ab"]]))
    assert m.unmemorised_p == pytest.approx((p["c"] + p["ab"]) / 2 * 2)
    assert math.isnan(memorisation(params, vocab, ["a"], ["a"]).unmemorised_p)


class _Everything:
    def __contains__(self, word: object) -> bool:
        return True


def test_sample_new_keeps_drawing_until_enough_and_gives_up_at_the_cap(rng):
    vocab = Vocab.from_text("ab")
    params = init_params(vocab.size, 6, rng, init="scaled")
    params["by"][vocab.stoi["\n"]] = 2.0  # short words, so many repeat the "known" ones
    known = set(sample(params, vocab, n=200, mode="words", rng=np.random.default_rng(1)))
    words, drawn = sample_new(params, vocab, known, 100, rng=np.random.default_rng(2))
    assert len(words) == 100 and not any(w in known for w in words)
    assert drawn > 100  # some draws were known words, so it drew more than it kept
    words, drawn = sample_new(
        params, vocab, _Everything(), 5, rng=np.random.default_rng(2), max_draws=300
    )
    assert words == [] and drawn == 300
