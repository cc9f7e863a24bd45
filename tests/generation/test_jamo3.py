"""jamo3 units in use: sampling factor by factor, exact top-k and greedy over whole
syllables, exact completions, and score, eval, trace and the page's reading agreeing."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from charrnn import CharRNN
from charrnn.core import jamo3
from charrnn.core.model import init_params, step_state, zero_state
from charrnn.core.vocab import S_COUNT, Units, Vocab
from charrnn.generation import syllables
from charrnn.generation.complete import complete
from charrnn.generation.sample import sample

LOOSE = re.compile("[\u1100-\u11ff]")  # a conjoining jamo outside a syllable
WORDS = "가격 가끔 가난 가능 가방 나무 노래 다리 바다 사과 하늘 학교 한글 강물 꽃잎 닭고기".split()


@pytest.fixture(scope="module")
def model() -> CharRNN:
    """A briefly trained jamo3 words model of @ko-words."""
    return CharRNN(units="jamo3", hidden=24, steps=40, random_state=0).fit("@ko-words")


def _peaked(seed: int, n_other: int = 4, H: int = 8, scale: float = 1.5):
    """Random float64 jamo3 parameters far from uniform, and a few states."""
    rng = np.random.default_rng(seed)
    params = init_params(n_other + S_COUNT, H, rng, init="scaled", dtype="float64", units="jamo3")
    params = {
        k: v * scale + (rng.standard_normal(v.shape) if v.ndim == 1 else 0)
        for k, v in params.items()
    }
    h = np.tanh(rng.standard_normal((5, H)) * 2)
    return params, h


# ----------------------------------------------------------------------------- sampling


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [1.0, 1.5, 2.0])
def test_ten_thousand_samples_are_whole_syllables(model, temperature):
    samples = model.sample(10_000, temperature=temperature, random_state=7, max_len=12)
    assert [s for s in samples if LOOSE.search(s)] == []
    assert all(s and set(s) <= set(model.vocab_.stoi) for s in samples)  # no empty word


def test_greedy_top_k_prefix_and_text_mode_samples_are_whole_syllables(model):
    for kw in ({"greedy": True}, {"top_k": 3}, {"prefix": "가", "temperature": 2.0}):
        out = model.sample(200, random_state=1, **kw)
        assert not [s for s in out if LOOSE.search(s)], kw
    assert all(s.startswith("가") for s in model.sample(20, prefix="가"))
    text = CharRNN(mode="text", units="jamo3", hidden=12, steps=20, seq_len=8).fit(
        [" ".join(WORDS * 4)]
    )
    assert not [s for s in text.sample(20, max_len=30, temperature=2.0) if LOOSE.search(s)]


def test_temperatures_past_float_range_are_greedy_for_every_draw(model):
    greedy = model.sample(5, greedy=True)
    for kw in ({}, {"top_k": 3}, {"prefix": "가"}):
        tiny = model.sample(5, temperature=5e-324, random_state=2, **kw)
        assert all(s and not LOOSE.search(s) for s in tiny), kw
        if not kw:
            assert tiny == greedy
    hot = model.sample(50, temperature=1e300, random_state=2, max_len=6)
    assert all(s and not LOOSE.search(s) for s in hot)


def test_drawing_factor_by_factor_follows_the_enumerated_distribution():
    """At temperature 1 the factor-by-factor draws are the model's own distribution; at
    another, each factor's tempered distribution (what the enumeration says at it)."""
    params, h = _peaked(0)
    rng = np.random.default_rng(1)
    state = np.repeat(h[:1], 100_000, axis=0)
    for temperature in (1.0, 1.6):
        p = np.exp(jamo3.log_probs(params, h[:1], temperature)[0])
        drawn = syllables.sample_factors(params, state, rng, temperature)
        freq = np.bincount(drawn, minlength=len(p)) / len(drawn)
        top = np.argsort(-p)[:20]
        sd = np.sqrt(p[top] * (1 - p[top]) / len(drawn))
        assert (np.abs(freq[top] - p[top]) < 5 * sd + 1e-4).all(), temperature
        # and nothing is drawn that the distribution says is (nearly) impossible
        assert freq[p < 1e-9].sum() == 0


@pytest.mark.parametrize("k", [1, 3, 40, syllables.SEARCH_K + 1])
def test_top_k_is_exact_over_whole_syllables(k):
    """By the bounded search, and past SEARCH_K by ranking the enumeration."""
    for seed in range(3):
        params, h = _peaked(seed)
        logp = jamo3.log_probs(params, h)
        ids, lp = syllables.top_k(params, h, k)
        best = np.sort(logp, axis=1)[:, ::-1][:, :k]
        np.testing.assert_allclose(lp, best, rtol=1e-12)
        np.testing.assert_allclose(np.take_along_axis(logp, ids, axis=1), lp, rtol=1e-12)
    # a mask on the first factor: the boundary and an initial ruled out, renormalised
    mask0 = np.ones((len(h), 4 + 19), dtype=bool)
    mask0[:, [0, 4]] = False
    ids, lp = syllables.top_k(params, h, k, mask0)
    N = 4
    masked = logp.copy()
    masked[:, 0] = -np.inf
    masked[:, N : N + 588] = -np.inf  # every syllable of the first initial
    masked -= np.log(np.exp(masked).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(lp, np.sort(masked, axis=1)[:, ::-1][:, :k], rtol=1e-10)


def test_greedy_and_top_k_sampling_choose_among_the_exact_best():
    params, h = _peaked(5)
    logp = jamo3.log_probs(params, h)
    rng = np.random.default_rng(0)
    assert (syllables.draw(params, h, rng, greedy=True) == logp.argmax(axis=1)).all()
    top3 = np.argsort(-logp, axis=1)[:, :3]
    for _ in range(20):
        x = syllables.draw(params, h, rng, top=3, temperature=1.3)
        assert all(x[i] in top3[i] for i in range(len(h)))


def test_a_constraint_on_single_syllables_goes_through_the_enumeration(model):
    vocab = model.vocab_
    allowed = np.zeros(vocab.size, dtype=bool)
    allowed[[vocab.stoi[c] for c in "\n가나다라"]] = True

    class FourSyllables:
        def allowed(self, last, pos):
            return np.broadcast_to(allowed, (len(last), vocab.size)).copy()

    out = sample(model.params_, vocab, n=200, constraints=[FourSyllables()], temperature=2.0)
    assert out and all(s and set(s) <= set("가나다라") for s in out)


# ----------------------------------------------------------------------------- completions


def test_completions_are_exact_against_the_enumeration(model):
    """Every word of at most one character after the prefix, scored by brute force."""
    p, vocab = model.params_, model.vocab_
    b = vocab.boundary_id
    h = zero_state(p, 1, cell="rnn")
    x = np.array([b])
    for ix in vocab.encode("가"):
        h = step_state(p, x, h, cell="rnn")
        x = np.array([ix])
    h = step_state(p, x, h, cell="rnn")
    first = jamo3.log_probs(p, h[-1])[0]  # (V,) p(next | '\n가')
    every = np.arange(vocab.size)
    after = step_state(p, every, np.repeat(h, vocab.size, axis=1), cell="rnn")
    lp0 = jamo3.top_logits(p, after[-1])
    end = lp0[:, b] - np.log(np.exp(lp0 - lp0.max(1, keepdims=True)).sum(1)) - lp0.max(1)
    words = first + end  # p(c) p(end | c), for every c
    words[b] = first[b]  # the prefix alone: it ends at once
    best = np.argsort(-words)[:8]
    found = complete(p, vocab, "가", k=8, max_len=1, method="exact", cell="rnn")
    assert found.method == "exact"
    assert [c.text for c in found.items] == ["가" + ("" if i == b else vocab.itos[i]) for i in best]
    np.testing.assert_allclose([c.logprob for c in found.items], words[best], rtol=1e-6)


def test_longer_completions_are_scored_as_score_scores_them(model):
    found = model.complete("가", k=5, max_len=3)
    prefix = model.score_details(["가"])[0]
    prefix_lp = -sum(prefix.char_nll[:-1])  # p(가 | '\n') alone, not its end
    for c in found.items:
        whole = model.score_details([c.text])[0].logprob
        assert math.isclose(c.logprob, whole - prefix_lp, rel_tol=1e-5)


# ----------------------------------------------------------------------------- reading


def test_score_eval_trace_and_the_page_agree(model):
    words = ["가격", "사랑", "뷁"]  # the last: a syllable no training word holds
    scores = model.score_details(words)
    ev = model.evaluate(words)
    total = -sum(s.logprob for s in scores)
    chars = sum(len(w) + 1 for w in words)
    assert math.isclose(ev.nats, total / chars, rel_tol=1e-5) and ev.chars == ev.n_chars
    for w, s in zip(words, scores, strict=True):
        assert s.nats_per_char == s.nats_per_symbol and len(s.char_nll) == len(w) + 1
        steps = model.trace(w)
        np.testing.assert_allclose([-math.log(t.target_prob) for t in steps], s.char_nll, rtol=1e-5)
        for t in steps:
            if t.target_char != "\n":
                assert [f for f, *_ in t.factors] == ["initial", "medial", "final"]
                assert math.isclose(
                    math.prod(p for *_, p in t.factors), t.target_prob, rel_tol=1e-5
                )
        reading = model.read(w)
        np.testing.assert_allclose(reading.probs, np.exp(-np.array(s.char_nll)), rtol=1e-5)
        # the page's next-character guesses are the trace's (whole syllables, exact)
        assert [model.vocab_.itos[i] for i in reading.top_ids[0][:3]] == [
            c for c, _ in model.trace(w, top=3)[1].top
        ]


def test_jamo3_losses_are_per_character_already(tmp_path):
    m = CharRNN(units="jamo3", hidden=8, steps=4, log_every=2, random_state=0).fit(
        WORDS, out_dir=tmp_path / "run"
    )
    assert all(e.train_loss_per_char is None for e in m.history_)
    d = m.evaluate(WORDS).to_dict()
    assert d["nats_per_char"] == d["nats_per_symbol"] and d["chars"] == d["symbols"]
    again = CharRNN.load(tmp_path / "run")
    assert again.get_config().units == "jamo3" and again.vocab_ == m.vocab_
    assert {"Wvh", "Wyt"} <= set(again.params_)


def test_units_need_nfc_and_the_vocabulary_order_is_checked():
    from charrnn import CharRNNError

    with pytest.raises(CharRNNError, match="NFC"):
        Units("jamo3", "none")
    vocab = Vocab.from_text("가a\n", Units("jamo3"))
    with pytest.raises(CharRNNError, match="sorted"):
        Vocab.from_json(Vocab.from_text("가a\n").to_json(), Units("jamo3"))
    assert Vocab.from_json(vocab.to_json(), Units("jamo3")).n_other == 2


def test_a_mask_that_excludes_every_factors_best_falls_back_to_greedy():
    # At a temperature near 0 each factor keeps only its best before the mask; a mask
    # that forbids the syllable they make left nothing and drew id 0, a forbidden one.
    params, h = _peaked(3)
    V = params["by"].shape[0] - 19 + S_COUNT  # every id: the others and the syllables
    rng = np.random.default_rng(0)
    allowed = np.ones((len(h), V), dtype=bool)
    best = syllables.draw_enumerated(params, h, rng, allowed, greedy=True)
    allowed[np.arange(len(h)), best] = False
    allowed[:, 0] = False
    with np.errstate(all="raise"):
        drawn = syllables.draw_enumerated(params, h, rng, allowed, temperature=5e-324)
    assert allowed[np.arange(len(h)), drawn].all()
