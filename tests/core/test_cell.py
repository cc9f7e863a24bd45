"""The cell seam: step-by-step generation agrees with the batched forward, parameters are
described by specs, and workspaces change no result."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.core.model import (
    Workspace,
    backward,
    forward,
    init_params,
    param_specs,
    step,
    zero_state,
)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_step_by_step_generation_equals_forward(layers):
    rng = np.random.default_rng(layers)
    V, H, T, B = 7, 6, 9, 4
    params = init_params(V, H, rng, layers=layers, init="scaled", dtype="float64")
    for spec in param_specs(V, H, layers):
        if not spec.is_weight:
            params[spec.name] = rng.standard_normal(spec.shape) * 0.3
    inputs = rng.integers(0, V, size=(T, B))
    h0 = np.tanh(rng.standard_normal((layers, B, H)))
    _, cache = forward(params, inputs, inputs, h0)
    logp = np.log(cache.probs).reshape(T, B, V)
    h = h0.copy()
    for t in range(T):
        h, logits = step(params, inputs[t], h)
        z = logits - logits.max(axis=1, keepdims=True)
        np.testing.assert_allclose(
            z - np.log(np.exp(z).sum(1, keepdims=True)), logp[t], rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(h[-1], cache.outs[-1][t], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h, cache.final_state, rtol=0, atol=1e-12)


def test_specs_order_kinds_and_zero_state():
    specs = param_specs(5, 3, layers=2)
    assert [s.name for s in specs] == ["Wxh", "Whh", "Wxh2", "Whh2", "Why", "bh", "bh2", "by"]
    assert [s.kind for s in specs] == [
        "input",
        "recurrent",
        "input",
        "recurrent",
        "output",
        "bias",
        "bias",
        "bias",
    ]
    assert {s.name: s.shape for s in specs}["Wxh2"] == (3, 3)
    params = init_params(5, 3, np.random.default_rng(0), layers=2)
    assert zero_state(params, 4).shape == (2, 4, 3) and not zero_state(params, 4).any()
    assert all(not params[s.name].any() for s in specs if not s.is_weight)
    assert all(params[s.name].any() for s in specs if s.is_weight)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_a_reused_workspace_gives_the_results_of_fresh_arrays(dropout):
    """Batches of different lengths through one workspace, as words mode does."""
    rng = np.random.default_rng(5)
    V, H, B, L = 6, 5, 3, 2
    params = init_params(V, H, rng, layers=L, init="scaled", dtype="float64")
    ws = Workspace()
    for T in (4, 9, 2, 9):
        inputs = rng.integers(0, V, size=(T, B))
        targets = rng.integers(0, V, size=(T, B))
        mask = rng.random((T, B)) < 0.8
        results = []
        for w in (None, ws):
            loss, cache = forward(
                params,
                inputs,
                targets,
                zero_state(params, B),
                mask,
                dropout=dropout,
                rng=np.random.default_rng(T),
                ws=w,
            )
            grads, dh0 = backward(params, cache, bptt="full", ws=w)
            results.append((loss, {k: g.copy() for k, g in grads.items()}, dh0.copy()))
        (la, ga, ha), (lb, gb, hb) = results
        assert la == lb
        for k in ga:
            np.testing.assert_array_equal(ga[k], gb[k])
        np.testing.assert_array_equal(ha, hb)
