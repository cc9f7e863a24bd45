"""Truncated BPTT with a sliding window (``bptt_window``), checked against its definition.

The definition: the loss at step t sends gradient to the states at t, t-1, ...,
t-W and to nothing before. So (1) a loss more than W steps after the initial
state sends it no gradient, one within W steps sends it exactly full BPTT's;
(2) the windowed gradient of the summed loss is the numerical gradient of
``sum_t L_t``, each ``L_t`` computed from the state W+1 steps before it held
fixed; (3) the per-character loop that sends each loss back on its own agrees.
All of it runs for every registered cell: for the LSTM the state is ``[h | c]``,
so "reaches" means either half.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from charrnn import CharRNNError, Config
from charrnn.core.cells import cell_names
from charrnn.core.gradcheck import random_case, relative_error
from charrnn.core.model import backward, forward, get_cell
from charrnn.core.reference import cell_get_derivative, column_params
from charrnn.training.run import TrainingRun

CELLS = cell_names()  # every registered cell, the test suite's own included


def _grads(case, mask, **kw):
    _, cache = forward(case.params, case.inputs, case.targets, case.h0, mask)
    grads, dh0 = backward(case.params, cache, **kw)
    return {k: v.copy() for k, v in grads.items()}, dh0.copy()


def _states(case):
    """Every state of the one layer, (T+1, B, S): ``[h | c]`` for the LSTM.

    The final state of a forward over each prefix: what any cell returns, whatever its cache.
    """
    T = case.inputs.shape[0]
    states = [case.h0[0]]
    for t in range(1, T + 1):
        _, cache = forward(case.params, case.inputs[:t], case.targets[:t], case.h0, None)
        states.append(cache.final_state[0].copy())
    return np.stack(states)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("window", [1, 2, 4])
def test_a_loss_reaches_the_state_w_steps_back_and_no_further(window, cell):
    """One counted loss at step t: d loss / d initial state (the state before step 0).

    It is t+1 steps back: zero once t+1 > W, full BPTT's own value when t+1 <= W.
    """
    case = random_case(
        np.random.default_rng(3), T=7, B=3, ragged=False, carried_state=True, cell=cell
    )
    T = case.inputs.shape[0]
    for t in range(T):
        mask = np.zeros((T, 3))
        mask[t] = 1
        _, dh0_win = _grads(case, mask, window=window)
        _, dh0_full = _grads(case, mask)
        assert np.abs(dh0_full).max() > 1e-6  # the full gradient does reach it
        if t + 1 > window:
            assert np.all(dh0_win == 0), t
        else:
            np.testing.assert_allclose(dh0_win, dh0_full, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cell", CELLS)
def test_an_input_older_than_the_window_gets_no_gradient(cell):
    """A character read more than W steps before the only counted loss: its Wxh column is 0."""
    case = random_case(np.random.default_rng(4), V=9, T=8, B=1, ragged=False, cell=cell)
    Wx = get_cell(cell).names(0).input
    inputs = np.array([[1], [2], [3], [4], [5], [6], [7], [8]])  # each character once
    case = dataclasses.replace(case, inputs=inputs, mask=None)
    mask = np.zeros((8, 1))
    mask[7] = 1  # the loss at the last step reads characters 8, 7, ... back to 1
    for window in (2, 5):
        grads, _ = _grads(case, mask, window=window)
        within = inputs[7 - window :, 0]
        older = inputs[: 7 - window, 0]
        assert np.all(grads[Wx][:, older] == 0)
        assert np.all(np.abs(grads[Wx][:, within]).max(axis=0) > 0)


def _truncated_loss(case, params, window):
    """sum_t L_t, each from the state W+1 steps before it as a constant (the definition)."""
    states = _states(case)  # (T+1, B, S): states[s+1] is the state after step s
    T = case.inputs.shape[0]
    total = 0.0
    for t in range(T):
        start = max(0, t - window)
        mask = np.zeros((t + 1 - start, case.inputs.shape[1]))
        mask[-1] = 1
        loss, _ = forward(
            params,
            case.inputs[start : t + 1],
            case.targets[start : t + 1],
            states[start][None],
            mask,
        )
        total += loss
    return total


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("window", [0, 1, 3])
def test_windowed_gradient_is_the_numerical_gradient_of_the_truncated_loss(window, cell):
    case = random_case(
        np.random.default_rng(5), V=5, H=4, T=6, B=2, ragged=False, carried_state=True, cell=cell
    )
    grads, _ = _grads(case, None, window=window)
    eps = 1e-4
    for name in case.params:
        p = {k: v.copy() for k, v in case.params.items()}
        num = np.zeros_like(p[name])
        for i in np.ndindex(p[name].shape):
            old = p[name][i]
            p[name][i] = old + eps
            up = _truncated_loss(case, p, window)
            p[name][i] = old - eps
            down = _truncated_loss(case, p, window)
            p[name][i] = old
            num[i] = (up - down) / (2 * eps)
        assert relative_error(grads[name], num) < 1e-6, name


@pytest.mark.parametrize("cell", CELLS)
def test_window_zero_is_the_naive_rule_and_a_long_window_is_full_bptt(cell):
    case = random_case(np.random.default_rng(6), T=6, ragged=True, carried_state=True, cell=cell)
    naive, _ = _grads(case, case.mask, bptt="naive")
    full, dh0_full = _grads(case, case.mask)
    zero, _ = _grads(case, case.mask, window=0)
    for window in (6, 7, 1000):
        long, dh0_long = _grads(case, case.mask, window=window)
        for k in case.params:
            np.testing.assert_allclose(long[k], full[k], rtol=0, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(dh0_long, dh0_full, rtol=0, atol=1e-12)
    for k in case.params:
        np.testing.assert_allclose(zero[k], naive[k], rtol=0, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("window", [1, 2, 5])
def test_batched_window_matches_the_per_loss_reference_loop(window, cell):
    """Ragged batches: the ring of parts against each loss sent back on its own."""
    case = random_case(
        np.random.default_rng(40 + window),
        V=8,
        H=7,
        T=9,
        B=5,
        ragged=True,
        carried_state=True,
        cell=cell,
    )
    grads, _ = _grads(case, case.mask, window=window)
    cp = column_params(case.params)
    lengths = case.mask.sum(0)
    ref = {k: np.zeros_like(v) for k, v in case.params.items()}
    for b in range(5):
        n = int(lengths[b])
        _, g, _ = cell_get_derivative(
            cell,
            cp,
            case.inputs[:n, b].tolist(),
            case.targets[:n, b].tolist(),
            case.h0[0, b][:, None],
            window=window,
        )
        for k in ref:
            ref[k] += g[k].reshape(ref[k].shape)
    for k in case.params:
        np.testing.assert_allclose(grads[k], ref[k], rtol=0, atol=1e-12, err_msg=k)


def test_window_config_is_checked():
    Config(bptt_window=3)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(CharRNNError, match=r"^bptt_window must be a whole number"):
            Config(bptt_window=bad)
    with pytest.raises(CharRNNError, match="bptt='full' and layers=1"):
        Config(bptt_window=3, bptt="naive")
    with pytest.raises(CharRNNError, match="bptt='full' and layers=1"):
        Config(bptt_window=3, layers=2)


@pytest.mark.parametrize("cell", CELLS)
def test_a_training_run_uses_the_window(cell):
    """The window reaches the trainer: a run with W=1 differs from full BPTT, W=100 does not."""
    words = ["abcdefgh", "hgfedcba", "aceg", "bdfh"] * 4
    base = Config(
        hidden=8, steps=5, batch_size=4, val_fraction=0.0, dtype="float64", log_every=5, cell=cell
    )
    Wh = get_cell(cell).names(0).recurrent
    out = {}
    for w in (None, 1, 100):
        with TrainingRun(base.replace(bptt_window=w), words) as run:
            run.train()
            out[w] = run.trainer.host_params()
    assert np.abs(out[None][Wh] - out[1][Wh]).max() > 1e-6
    np.testing.assert_allclose(out[None][Wh], out[100][Wh], rtol=0, atol=1e-12)


def test_text_mode_takes_a_window_inside_its_chunks():
    text = "the cat sat on the mat and the dog sat on the log " * 4
    base = Config(
        mode="text",
        hidden=8,
        steps=4,
        batch_size=2,
        seq_len=10,
        val_fraction=0.0,
        dtype="float64",
        log_every=4,
    )
    out = {}
    for w in (None, 2, 10):
        with TrainingRun(base.replace(bptt_window=w), [text]) as run:
            run.train()
            out[w] = run.trainer.host_params()
    assert np.abs(out[None]["Whh"] - out[2]["Whh"]).max() > 1e-6
    np.testing.assert_allclose(out[None]["Whh"], out[10]["Whh"], rtol=0, atol=1e-12)
