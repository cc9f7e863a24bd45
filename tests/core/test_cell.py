"""The cell seam: step-by-step generation agrees with the batched forward, parameters are
described by specs, and workspaces change no result."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.core.model import (
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
