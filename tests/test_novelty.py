from __future__ import annotations

import collections

import numpy as np

from charrnn.model import init_params
from charrnn.novelty import word_probabilities
from charrnn.sample import sample
from charrnn.vocab import Vocab


def test_word_probabilities_are_the_sampling_frequencies(rng):
    # A random two-letter model: its short words are common enough to count.
    vocab = Vocab.from_text("ab")
    params = init_params(vocab.size, 6, rng, init="scaled", dtype="float64")
    params["by"][vocab.stoi["\n"]] = 1.0  # words end soon, so short ones recur
    n = 20000
    drawn = sample(params, vocab, n=n, mode="words", rng=np.random.default_rng(3))
    counts = collections.Counter(drawn)
    words = ["", "a", "b", "aa", "ab", "ba", "bb", "aba"]
    p = word_probabilities(params, vocab, words, chunk=3)  # chunks smaller than the list
    assert 0 < p.sum() < 1
    freq = np.array([counts[w] / n for w in words])
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 5 * sigma), (freq, p)
