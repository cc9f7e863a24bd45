"""Completions: exact best-first search equals exhaustive enumeration; beam search; constraints."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from charrnn.common.errors import CharRNNError
from charrnn.core.model import init_params
from charrnn.core.vocab import Vocab
from charrnn.generation.complete import complete
from charrnn.generation.constraints import log_softmax
from charrnn.generation.sample import score


@pytest.fixture(scope="module")
def small():
    """A random two-layer model over 'abc' whose distributions are far from uniform."""
    vocab = Vocab("abc")
    params = init_params(
        vocab.size, 8, np.random.default_rng(5), layers=2, init="scaled", dtype="float64"
    )
    return {k: 3 * v for k, v in params.items()}, vocab


def enumerate_words(params, vocab, prefix, max_len):
    """Every word prefix + (0..max_len letters), with log p(rest and end | prefix), best first."""
    words = [
        prefix + "".join(t) for n in range(max_len + 1) for t in itertools.product("abc", repeat=n)
    ]
    base = score(params, vocab, [prefix], mode="text")[0].logprob  # log p(prefix | '\n')
    scored = score(params, vocab, words, mode="words")
    return sorted(((s.logprob - base, s.text) for s in scored), reverse=True)


@pytest.mark.parametrize("prefix", ["", "a", "cb"])
def test_exact_search_equals_the_k_best_of_an_exhaustive_enumeration(small, prefix):
    params, vocab = small
    truth = enumerate_words(params, vocab, prefix, max_len=5)  # 364 words
    r = complete(params, vocab, prefix, k=12, max_len=5, allow_empty=True)
    assert r.method == "exact" and r.note == ""
    assert [c.text for c in r.items] == [t for _, t in truth[:12]]
    np.testing.assert_allclose(
        [c.logprob for c in r.items], [lp for lp, _ in truth[:12]], rtol=1e-9, atol=1e-9
    )
    # The bound prunes: far fewer steps than the 364 words' 1 + 3 + ... + 243 prefixes.
    assert r.expanded < 364


def test_no_empty_word_by_default_and_the_rest_renormalised(small):
    params, vocab = small
    truth = enumerate_words(params, vocab, "", max_len=5)
    p_empty = np.exp(dict((t, lp) for lp, t in truth)[""])
    assert p_empty > 1e-3  # the raw model does give the empty word a real share
    kept = [(lp - np.log1p(-p_empty), t) for lp, t in truth if t != ""]
    r = complete(params, vocab, "", k=12, max_len=5)
    assert [c.text for c in r.items] == [t for _, t in kept[:12]]
    np.testing.assert_allclose(
        [c.logprob for c in r.items], [lp for lp, _ in kept[:12]], rtol=1e-9, atol=1e-9
    )


def test_beam_search_wide_enough_is_exact_and_narrow_can_only_lose(small):
    params, vocab = small
    truth = enumerate_words(params, vocab, "a", max_len=4)
    wide = complete(params, vocab, "a", k=6, max_len=4, method="beam", beam=1000)
    assert wide.method == "beam"
    assert [c.text for c in wide.items] == [t for _, t in truth[:6]]
    narrow = complete(params, vocab, "a", k=6, max_len=4, method="beam", beam=1)
    best = dict((t, lp) for lp, t in truth)
    # Whatever beam search returns is real (its probability is the word's), never better.
    for c, (lp, _) in zip(narrow.items, truth, strict=False):
        assert c.logprob == pytest.approx(best[c.text]) and c.logprob <= lp + 1e-12


def test_exact_search_gives_way_to_beam_search_and_says_so(small):
    params, vocab = small
    r = complete(params, vocab, "", k=5, max_len=5, max_expansions=3)
    assert r.method == "beam" and "beam search" in r.note and len(r.items) == 5


@pytest.mark.parametrize("method", ["beam", "exact"])
def test_text_mode_continuations_of_a_length(small, method):
    params, vocab = small
    conts = ["".join(t) for t in itertools.product("\nabc", repeat=3)]
    base = score(params, vocab, ["b"], mode="text")[0].logprob
    scored = score(params, vocab, ["b" + c for c in conts], mode="text")
    truth = sorted(((s.logprob - base, s.text) for s in scored), reverse=True)
    r = complete(params, vocab, "b", k=5, max_len=3, mode="text", method=method, beam=64)
    assert r.method == method
    assert [c.text for c in r.items] == [t for _, t in truth[:5]]
    np.testing.assert_allclose([c.logprob for c in r.items], [lp for lp, _ in truth[:5]])


class NoLetter:
    """A constraint: never the letter ``c`` (a stand-in for a grammar mask)."""

    def __init__(self, vocab, letter):
        self.ix = vocab.stoi[letter]
        self.V = vocab.size

    def allowed(self, last, pos):
        m = np.ones((len(last), self.V), dtype=bool)
        m[:, self.ix] = False
        return m


def test_constraints_mask_and_renormalise(small):
    params, vocab = small
    r = complete(params, vocab, "a", k=400, max_len=4, constraints=[NoLetter(vocab, "c")])
    assert r.method == "exact"
    assert len(r.items) == 1 + 2 + 4 + 8 + 16  # every word without c, and only those
    assert all("c" not in c.text for c in r.items)
    # A word's probability is the product of its masked, renormalised steps.
    from charrnn.core.model import step, zero_state

    h = zero_state(params, 1)
    allowed = np.array([[c != "c" for c in vocab.itos]])
    logp = 0.0
    for read_ch, next_ch in zip("\nab", "ab\n", strict=True):
        h, logits = step(params, np.array([vocab.stoi[read_ch]]), h)
        if read_ch != "\n":  # the prefix's own letter is read, not generated
            logp += log_softmax(logits, allowed)[0, vocab.stoi[next_ch]]
    assert dict((c.text, c.logprob) for c in r.items)["ab"] == pytest.approx(logp)
    z = log_softmax(np.array([[0.0, 1.0, 2.0]]), np.array([[True, False, True]]))
    assert np.exp(z).sum() == pytest.approx(1.0) and z[0, 1] == -np.inf


def test_constraint_probabilities_sum_to_one_when_every_word_is_short(small):
    params, vocab = small

    # Allow only the end after 2 letters: every word has at most 2 letters, so the
    # completions cover the whole masked distribution.
    class AtMostTwo:
        def allowed(self, last, pos):
            m = np.ones((len(last), vocab.size), dtype=bool)
            if pos >= 2:
                m[:, :] = False
                m[:, vocab.boundary_id] = True
            return m

    r = complete(params, vocab, "b", k=100, max_len=10, constraints=[AtMostTwo()])
    assert len(r.items) == 1 + 3 + 9
    assert sum(c.prob for c in r.items) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prefix="a", k=0), "k must be"),
        (dict(prefix="a", max_len=0), "max_len must be"),
        (dict(prefix="az"), "not in the model's vocabulary"),
        (dict(prefix="a\nb"), "line break"),
        (dict(prefix="a", method="greedy"), "method must be"),
    ],
)
def test_bad_requests_are_clear_errors(small, kwargs, message):
    params, vocab = small
    with pytest.raises(CharRNNError, match=message):
        complete(params, vocab, **kwargs)


def test_cli_and_api_complete(cli, tmp_path):
    from charrnn import CharRNN

    run = tmp_path / "run"
    code, _, _ = cli("train", "@names", "--out", run, "--hidden", "16", "--steps", "30", "--quiet")
    assert code == 0
    code, out, err = cli("complete", run, "ma", "-k", "5", "--json")
    assert code == 0
    got = json.loads(out)
    model = CharRNN.load(run)
    api = model.complete("ma", 5)
    assert got["method"] == api.method == "exact"
    assert [c["text"] for c in got["completions"]] == [c.text for c in api.items]
    assert all(c["text"].startswith("ma") for c in got["completions"])
    code, out, err = cli("complete", run, "ma", "-k", "3")
    assert code == 0 and "exact" in err and len(out.splitlines()) == 3
    code, _, err = cli("complete", run, "m%")
    assert code == 2 and "vocabulary" in err and "Traceback" not in err
