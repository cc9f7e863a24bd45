"""jamo3 units in the core: the id layout, the three-hot input, the factored head.

Float64 gradient checks of every parameter (the new heads and the input columns
included), the per-character reference loop for every registered cell and rule,
the distribution summing to 1 over every character and syllable, and generation's
step agreeing with the batched forward.
"""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.core import jamo3
from charrnn.core.cells import cell_names
from charrnn.core.gradcheck import check, random_case
from charrnn.core.model import (
    backward,
    forward,
    init_params,
    param_specs,
    step,
    step_state,
    target_probs,
    zero_state,
)
from charrnn.core.vocab import (
    ALL_SYLLABLES,
    FINALS,
    INITIALS,
    MEDIALS,
    S_COUNT,
    Units,
    Vocab,
    decompose_hangul,
)

from .reference_sums import reference_sum

CELLS = cell_names()  # every registered cell, the test suite's own included
N = 4  # other characters of the random cases


def _case(seed: int, cell: str = "rnn", **kw):
    kw = {"V": N, "H": 5, "T": 5, "B": 3, **kw}
    return random_case(np.random.default_rng(seed), cell=cell, units="jamo3", **kw)


# ----------------------------------------------------------------------------- layout


def test_every_syllable_splits_into_the_jamo_unicode_gives_it():
    layout = jamo3.Layout(3)
    ids = np.arange(3 + S_COUNT)
    c0, syllable, l, v, t = layout.split(ids)
    assert not syllable[:3].any() and syllable[3:].all()
    assert (c0[:3] == ids[:3]).all() and (c0[3:] == 3 + l[3:]).all()
    jamo = [
        INITIALS[a] + MEDIALS[b] + (FINALS[c - 1] if c else "")
        for a, b, c in zip(l[3:], v[3:], t[3:], strict=True)
    ]
    assert jamo == [decompose_hangul(s) for s in ALL_SYLLABLES]
    assert (layout.syllable_id(l[3:], v[3:], t[3:]) == ids[3:]).all()
    c1, c2, c3 = layout.columns(ids)
    C = layout.n_columns
    assert (c2[:3] == C).all() and (c3[:3] == C).all() and (c3[3:][t[3:] == 0] == C).all()
    assert set(c1[3:]) == set(range(3, 3 + 19))
    assert set(c2[3:]) == set(range(3 + 19, 3 + 40))
    assert set(c3[3:]) - {C} == set(range(3 + 40, 3 + 67)) and C == 3 + 67


def test_the_vocabulary_holds_every_syllable_after_the_other_characters():
    units = Units("jamo3")
    vocab = Vocab.from_text("가격 abc 😀\n", units)
    assert vocab.itos[: vocab.n_other] == sorted("\n abc😀")
    assert vocab.itos[vocab.n_other :] == list(ALL_SYLLABLES)
    assert vocab.size == vocab.n_other + S_COUNT
    assert vocab.to_symbols("뷁") == "뷁" and not vocab.unknown("뷁 똠방각하")  # never seen
    ids = vocab.encode("a가😀힣")
    assert ids.tolist() == [
        vocab.stoi["a"],
        vocab.n_other,
        vocab.stoi["😀"],
        vocab.n_other + S_COUNT - 1,
    ]
    assert Vocab.from_json(vocab.to_json(), units) == vocab
    assert vocab.char_starts(ids).all() and not units.splits_chars
    specs = {s.name: s.shape for s in param_specs(vocab.size, 8, 1, "rnn", "jamo3")}
    assert specs["Wxh"] == (8, vocab.n_other + 67) and specs["Why"] == (vocab.n_other + 19, 8)
    assert {"Wvh", "Wyv", "Wtu", "Wyt", "bv", "byt"} <= specs.keys()


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("ragged", [True, False])
def test_every_parameter_matches_the_numerical_gradient(cell, ragged):
    # As in test_cells: the measure is per entry, and a ReLU cell's kink or an entry of
    # ~1e-7 fails 1e-6 though backward is right; these seeds have neither. (12 and 13
    # did, until the chained final head changed the draws: 13's LSTM then had an input
    # weight entry at 1.3e-6, in the cell, not the heads; seeds 14-17 all pass < 3e-7.)
    case = _case(14 + ragged, cell, ragged=ragged, carried_state=not ragged)
    errors = check(case)
    assert {"Wvh", "Wvl", "Wyv", "Wtu", "Wtv", "Wyt", "bv", "byv", "bt", "byt"} <= set(errors)
    for name, err in errors.items():
        assert err < 1e-6, f"d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("layers", [2])
def test_stacked_layers_and_dropout_match_the_numerical_gradient(layers):
    case = _case(3, "gru", layers=layers, dropout=0.3, H=4, T=4)
    for name, err in check(case).items():
        assert err < 1e-5, f"d{name}: relative error {err:.2e}"


def test_a_wrong_head_gradient_is_caught(monkeypatch):
    case = _case(5)
    real = jamo3.head_backward

    def broken(params, cache, h, coef, grads, dh, ws, xp):
        real(params, cache, h, coef, grads, dh, ws, xp)
        grads["Wtv"] *= 1.01

    monkeypatch.setattr(jamo3, "head_backward", broken)
    assert check(case)["Wtv"] > 1e-3


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("rule", ["full", "naive", "window 2"])
def test_batched_engine_matches_the_per_character_loop(cell, rule):
    """Ragged batches with carried state, float64: loss, every gradient, final state."""
    bptt, window = ("full", 2) if rule == "window 2" else (rule, None)
    case = _case(20, cell, H=6, T=7, B=5, carried_state=True)
    loss, cache = forward(case.params, case.inputs, case.targets, case.h0, case.mask, cell=cell)
    grads, _ = backward(case.params, cache, bptt=bptt, window=window, cell=cell)
    ref_loss, ref_grads, _ = reference_sum(case, bptt, cell, window, units="jamo3")
    assert abs(loss - ref_loss) < 1e-10 * max(1.0, abs(ref_loss))
    for k in case.params:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=0, atol=1e-10, err_msg=k)


def test_the_unpadded_final_state_matches_the_loop():
    case = _case(21, "lstm", ragged=False, carried_state=True)
    _, cache = forward(case.params, case.inputs, case.targets, case.h0, cell="lstm")
    _, _, ref_last = reference_sum(case, "full", "lstm", units="jamo3")
    np.testing.assert_allclose(cache.final_state[0], ref_last, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- distribution


def _model(seed: int, n_other: int = 5, H: int = 6, cell: str = "rnn"):
    rng = np.random.default_rng(seed)
    params = init_params(
        n_other + S_COUNT,
        H,
        rng,
        init="normal",
        scale=0.7,
        dtype="float64",
        cell=cell,
        units="jamo3",
    )
    for name, p in params.items():
        if p.ndim == 1:
            params[name] = rng.standard_normal(p.shape) * 0.5
    return params


@pytest.mark.parametrize("seed", range(3))
def test_all_characters_and_syllables_sum_to_one_for_a_random_state(seed):
    params = _model(seed)
    h = np.tanh(np.random.default_rng(seed).standard_normal((4, 6)) * 2)
    logp = jamo3.log_probs(params, h)
    assert logp.shape == (4, 5 + S_COUNT) and np.isfinite(logp).all()
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # each factor's own distribution sums to 1 too, and the syllables' marginal over
    # medials and finals is the initial's share of the first factor
    p0 = np.exp(jamo3._log_softmax(jamo3.top_logits(params, h)))
    by_initial = np.exp(logp[:, 5:]).reshape(4, 19, 21 * 28).sum(axis=2)
    np.testing.assert_allclose(by_initial, p0[:, 5:], rtol=1e-12)
    # tempered, the enumeration still normalises (each factor at that temperature)
    np.testing.assert_allclose(
        np.exp(jamo3.log_probs(params, h, temperature=1.7)).sum(axis=1), 1.0, atol=1e-12
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_step_forward_and_the_enumeration_agree(cell):
    """step's log-probabilities at the target are forward's per-position losses."""
    params = _model(4, cell=cell)
    rng = np.random.default_rng(9)
    T, B = 6, 3
    ids = np.where(rng.random((T + 1, B)) < 0.3, rng.integers(0, 5, (T + 1, B)), 0)
    ids = np.where(ids == 0, 5 + rng.integers(0, S_COUNT, (T + 1, B)), ids)
    inputs, targets = ids[:-1], ids[1:]
    h = zero_state(params, B, cell=cell)
    loss, cache = forward(params, inputs, targets, h, cell=cell)
    probs = target_probs(cache).reshape(T, B)
    np.testing.assert_allclose(-np.log(probs).sum(), loss, rtol=1e-12)
    for t in range(T):
        h_next, logp = step(params, inputs[t], h, cell=cell)
        np.testing.assert_allclose(logp[np.arange(B), targets[t]], np.log(probs[t]), rtol=1e-10)
        np.testing.assert_allclose(step_state(params, inputs[t], h, cell=cell), h_next)
        h = h_next
    np.testing.assert_allclose(h, cache.final_state, atol=1e-12)


def test_factors_multiply_to_the_syllable_probability():
    params = _model(6)
    h = np.tanh(np.random.default_rng(2).standard_normal((3, 6)))
    ids = np.array([2, 5 + ALL_SYLLABLES.index("값"), 5 + ALL_SYLLABLES.index("까")])
    shown = [
        ["character"],
        ["initial \u1100", "medial \u1161", "final \u11b9"],  # 값: ㄱ ㅏ ㅄ
        ["initial \u1101", "medial \u1161", "final"],  # 까: ㄲ ㅏ, no final
    ]
    logp = jamo3.log_probs(params, h)
    for row, factors in enumerate(jamo3.factor_probs(params, h, ids)):
        assert [f"{f} {j}".strip() for f, j, _ in factors] == shown[row]
        assert np.isclose(np.prod([p for *_, p in factors]), np.exp(logp[row, ids[row]]))
