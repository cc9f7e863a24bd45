"""The numbers behind the learner's page: probabilities, guesses, activations, influence,
for every registered cell (the views read a cell through its contract only)."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.common.errors import CharRNNError
from charrnn.core.cells import cell_names, get_cell
from charrnn.core.model import forward, init_params, num_layers, param_specs, zero_state
from charrnn.core.reference import column_params
from charrnn.core.vocab import Vocab
from charrnn.generation.sample import score
from charrnn.generation.trace import trace
from charrnn.generation.views import (
    MAX_TEXT,
    PROPERTIES,
    Reading,
    influence,
    properties_for,
    reach,
    read,
    state_gradients,
    text_properties,
    tracking_units,
)


@pytest.fixture(scope="module", params=cell_names())
def small(request):
    """A two-layer float64 model of each registered cell, weights large enough to matter."""
    vocab = Vocab('ab c"()')
    params = init_params(
        vocab.size,
        6,
        np.random.default_rng(3),
        layers=2,
        init="scaled",
        dtype="float64",
        cell=request.param,
    )
    # Doubled, but for the recurrent matrices: an orthogonal (or identity) one doubled
    # makes an unbounded cell (a ReLU RNN) blow up within the text.
    recurrent = {
        s.name for s in param_specs(vocab.size, 6, 2, request.param) if s.kind == "recurrent"
    }
    return {k: v if k in recurrent else 2 * v for k, v in params.items()}, vocab, request.param


def test_text_mode_probabilities_equal_score_and_guesses_equal_trace(small):
    params, vocab, cell = small
    text = 'ab (c"a b")\nba'
    r = read(params, vocab, text, mode="text", top=3, cell=cell)
    want = score(params, vocab, [text], mode="text")[0].char_nll
    np.testing.assert_allclose(-np.log(r.probs), want)
    steps = trace(params, vocab, text, mode="text", top=3)
    # trace's step t reads '\n' + text[:t] and guesses text[t]: token t-1's "next" guesses.
    for t in range(1, len(text)):
        assert [vocab.itos[i] for i in r.top_ids[t - 1]] == [c for c, _ in steps[t].top]
        np.testing.assert_allclose(r.top_probs[t - 1], [p for _, p in steps[t].top])
    # Activations: every layer's output after each character, as a plain forward gives them.
    ids = vocab.encode("\n" + text)[:, None]
    _, cache = forward(params, ids, ids, zero_state(params, 1, cell=cell), cell=cell)
    for l in range(2):
        assert r.activations[l].shape == (len(text), 6)  # the output h, not the whole state
        np.testing.assert_allclose(r.activations[l], cache.outs[l][1:, 0])


def test_words_mode_reads_every_word_afresh_and_shows_its_end(small):
    params, vocab, cell = small
    r = read(params, vocab, "ab\nc\nbba", mode="words", cell=cell)
    assert r.text == "ab\nc\nbba\n"  # the last word's end is added
    nll = np.concatenate([s.char_nll for s in score(params, vocab, ["ab", "c", "bba"])])
    np.testing.assert_allclose(-np.log(r.probs), nll)
    np.testing.assert_array_equal(r.word_start, [0, 0, 0, 3, 3, 5, 5, 5, 5])
    # After a word's end, the first-letter guesses; its state is the fresh one after '\n'.
    np.testing.assert_array_equal(r.top_ids[2], r.top_ids[4])
    np.testing.assert_allclose(r.activations[1][2], r.activations[1][8])
    # 'c' is read from a zero state: the same as reading "c" alone.
    alone = read(params, vocab, "c", mode="words", cell=cell)
    np.testing.assert_allclose(alone.activations[0][0], r.activations[0][3])


def test_spaces_separate_words_when_the_vocabulary_has_none():
    vocab = Vocab("abc")
    params = init_params(vocab.size, 4, np.random.default_rng(0), dtype="float64")
    a = read(params, vocab, "ab ca", mode="words")
    b = read(params, vocab, "ab\nca", mode="words")
    np.testing.assert_allclose(a.probs, b.probs)
    assert a.text == "ab ca\n"


def _numerical_influence(params, cell, vocab, seq_ids, target, eps=1e-6):
    """||d logit_target / d x_s|| for each one-hot input x_s, by central differences.

    The model is run by the cell's own per-character reference step, layer by
    layer, with the one-hot inputs made continuous: nothing of the batched
    engine or of the views' use of the input weight is in it.
    """
    c = get_cell(cell)
    cp = column_params(params)
    L, H, V = num_layers(params, c), params["Why"].shape[1], vocab.size
    S = c.state_shape(1, H)[1]
    xs0 = np.eye(V)[seq_ids]  # (T, V) one-hot, made continuous

    def logit(xs):
        states = [np.zeros((S, 1)) for _ in range(L)]
        for x in xs:
            below = x[:, None]
            for l in range(L):
                states[l], _ = c.reference_step(cp, l, below, states[l])
                below = c.output(states[l].T).T  # (H, 1)
        return (cp["Why"] @ below + cp["by"])[target, 0]

    out = []
    for s in range(len(xs0)):
        g = np.zeros(V)
        for v in range(V):
            up, down = xs0.copy(), xs0.copy()
            up[s, v] += eps
            down[s, v] -= eps
            g[v] = (logit(up) - logit(down)) / (2 * eps)
        out.append(np.linalg.norm(g))
    return np.array(out)


@pytest.mark.parametrize("window", [3, 8, 40])
def test_influence_is_the_gradient_norm_in_text_mode(small, window):
    """Against central differences: a view that used the wrong block of a stacked input
    weight (one gate's rows, or the tanh cell's names) would fail here."""
    params, vocab, cell = small
    text = 'ab (c"a b")\nbab'
    m = influence(params, vocab, text, mode="text", window=window, cell=cell)
    assert m.shape == (len(text), window)
    seq = vocab.encode("\n" + text)
    for i in (0, 4, 9, len(text) - 1):
        want = _numerical_influence(params, cell, vocab, seq[: i + 1], vocab.stoi[text[i]])
        n = min(i + 1, window)
        np.testing.assert_allclose(m[i, window - n :], want[-n:], rtol=1e-6, atol=1e-9)
        assert np.isnan(m[i, : window - n]).all()


def test_influence_stays_inside_the_word_in_words_mode(small):
    params, vocab, cell = small
    text = "abc\nba"
    m = influence(params, vocab, text, mode="words", window=6, cell=cell)
    r = read(params, vocab, text, mode="words", cell=cell)
    seq = vocab.encode("\n" + text.replace(" ", "\n"))
    for i in range(len(r.text)):
        w = int(r.word_start[i])
        target = r.ids[i]
        want = _numerical_influence(params, cell, vocab, seq[w : i + 1], target)
        n = i - w + 1
        np.testing.assert_allclose(m[i, 6 - n :], want, rtol=1e-6, atol=1e-9)
        assert np.isnan(m[i, : 6 - n]).all()
    part = influence(params, vocab, text, mode="words", window=6, tokens=[5], cell=cell)
    np.testing.assert_allclose(part[0], m[5], rtol=1e-12)


def test_the_views_find_the_cell_without_being_told(small):
    """Callers with parameters alone (no config) get the cell the parameters fit."""
    params, vocab, cell = small
    text = "ab\nc"
    np.testing.assert_array_equal(
        influence(params, vocab, text, window=4),
        influence(params, vocab, text, window=4, cell=cell),
    )
    np.testing.assert_array_equal(
        read(params, vocab, text).probs, read(params, vocab, text, cell=cell).probs
    )


def test_tracking_units_reads_a_model_of_every_cell(small):
    params, vocab, cell = small
    text = 'ab (c"a b")\nbab a" (ab)'
    r = read(params, vocab, text, mode="text", cell=cell)
    units = tracking_units(r, top=4)
    assert set(units) == set(text_properties(text))
    for found in units.values():
        for layer, unit, corr in found:
            assert 0 <= layer < 2 and 0 <= unit < 6 and -1 <= corr <= 1
    assert units["position in word"]  # varies over the text: some unit follows it


def test_bad_input_is_a_clear_error(small):
    params, vocab, _ = small
    with pytest.raises(CharRNNError, match="vocabulary"):
        read(params, vocab, "abz", mode="text")
    with pytest.raises(CharRNNError, match="at most"):
        read(params, vocab, "a" * (MAX_TEXT + 1), mode="text")
    with pytest.raises(CharRNNError, match="out of range"):
        influence(params, vocab, "ab", mode="text", tokens=[2])
    with pytest.raises(CharRNNError, match="window"):
        influence(params, vocab, "ab", mode="text", window=0)
    assert read(params, vocab, "", mode="text").probs.shape == (0,)


def test_text_properties():
    p = text_properties('say "hi (x y)" ok\nab')
    np.testing.assert_array_equal(p["position in word"][:5], [1, 2, 3, 0, 0])
    assert p["inside quotes"][4:14].all() and not p["inside quotes"][14:].any()
    assert p["inside brackets"][8:13].all() and not p["inside brackets"][13:].any()
    np.testing.assert_array_equal(np.flatnonzero(p["after a space"]), [4, 8, 11, 15])
    assert p["line length"][-1] == 2 and p["line length"][17] == 0


def test_only_properties_that_can_vary_are_offered():
    """A names model has no quotes, brackets or spaces; in words mode a line is one word."""
    assert list(properties_for(Vocab("abcxyz"), "words")) == ["position in word"]
    assert list(properties_for(Vocab('ab c"()'), "text")) == list(PROPERTIES)
    assert list(properties_for(Vocab("ab c[]"), "words")) == [
        "position in word",
        "inside brackets",
        "after a space",
    ]


def test_tracking_units_finds_a_unit_that_counts():
    text = "abc ab abcd a\nab"
    n = len(text)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-0.5, 0.5, (n, 5))
    pos = text_properties(text)["position in word"]
    acts[:, 3] = -0.2 * pos  # unit 3 counts letters, with a negative sign
    r = Reading(
        text,
        "text",
        np.zeros(n, int),
        np.ones(n),
        np.zeros((n, 1), int),
        np.ones((n, 1)),
        [rng.uniform(-1, 1, (n, 5)), acts],
    )
    best = tracking_units(r, top=3)
    assert best["position in word"][0][:2] == (1, 3)
    assert best["position in word"][0][2] == pytest.approx(-1.0)
    assert best["inside quotes"] == []  # no quotes: nothing to correlate with


def _log_p(params, seq, k, index, target, h0, cell):
    """log p(token index) from the state carried into step k (float64, no dropout)."""
    inputs = np.asarray(seq[k : index + 1])[:, None]
    targets = np.zeros_like(inputs)
    targets[-1, 0] = target
    mask = np.zeros(inputs.shape, dtype=bool)
    mask[-1, 0] = True
    loss, _ = forward(params, inputs, targets, h0, mask, cell=cell)
    return -loss


@pytest.mark.parametrize("j", [0, 1, 4])
def test_reach_is_the_gradient_of_log_p_with_respect_to_the_carried_state(small, j):
    """Central finite differences of log p, one state coordinate at a time, every cell."""
    params, vocab, cell = small
    text, index = "ab c(a)b", 7
    g = state_gradients(params, vocab, text, index, mode="text", window=8, cell=cell)
    ids = [vocab.stoi[c] for c in text]
    seq = [vocab.boundary_id, *ids]
    k = index - j  # the step whose carried state is differentiated
    h = zero_state(params, 1, cell=cell)
    if k > 0:
        _, cache = forward(
            params, np.asarray(seq[:k])[:, None], np.zeros((k, 1), int), h, cell=cell
        )
        h = np.array(cache.final_state)
    want = np.zeros(h.shape)  # (L, 1, S)
    eps = 1e-6
    for idx in np.ndindex(h.shape):
        up, down = h.copy(), h.copy()
        up[idx] += eps
        down[idx] -= eps
        lp = _log_p(params, seq, k, index, ids[index], up, cell)
        lm = _log_p(params, seq, k, index, ids[index], down, cell)
        want[idx] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(g[j], want[:, 0, :], rtol=1e-5, atol=1e-8)
    r = reach(params, vocab, text, index, mode="text", window=8, cell=cell)
    assert r.shape == (num_layers(params, cell), 8)
    np.testing.assert_allclose(r[:, j], np.linalg.norm(want[:, 0, :], axis=1), rtol=1e-5)
    assert np.isfinite(r).all()  # 8 steps back from token 7: the text's start, no further


def test_reach_stays_inside_the_word_and_refuses_a_bad_index(small):
    params, vocab, cell = small
    r = reach(params, vocab, "ab\nca(b", 6, mode="words", window=10, cell=cell)
    # Token 6 is the 4th letter of the word "ca(b": steps 3..6, then nothing.
    assert np.isfinite(r[:, :4]).all() and np.isnan(r[:, 4:]).all()
    with pytest.raises(CharRNNError, match="index must be between 0 and"):
        reach(params, vocab, "ab", 5, mode="text", cell=cell)
