"""Every registered cell: the contract, float64 gradient checks, the per-character
reference loop (full, naive and windowed), step-by-step generation and workspaces; then
what is particular to the gated cells (saturation, names, the LSTM's forget bias).

The cell-generic tests run over the registry (``cell_names()``), so a cell registered
by the test suite (``tests/cells_fixture.py``) is checked by them unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from charrnn.core.cells import Cell, cell_names
from charrnn.core.gradcheck import (
    analytic_grads,
    check,
    numerical_grads,
    random_case,
    relative_error,
)
from charrnn.core.model import (
    Workspace,
    backward,
    cell_of,
    forward,
    get_cell,
    init_params,
    num_layers,
    param_specs,
    step,
    zero_state,
)

from .reference_sums import reference_sum

CELLS = cell_names()  # every registered cell, the test suite's own included
GATED = ["gru", "lstm"]  # the tests of what only these two cells have
MODES = {"words": (True, False), "text": (False, True), "both": (True, True)}


@pytest.mark.parametrize("cell", CELLS)
def test_a_cell_provides_the_contract(cell):
    c = get_cell(cell)
    assert isinstance(c, Cell) and c.name == cell and c.gates >= 1
    H, V = 3, 5
    specs = c.specs(0, V, H)
    assert specs[0] == type(specs[0])(c.names(0).input, (c.gates * H, V), "input")
    assert {c.names(0).recurrent, c.names(0).bias} <= {s.name for s in specs}
    assert {s.name for s in c.specs(1, H, H)}.isdisjoint(s.name for s in specs)
    state = np.zeros(c.state_shape(4, H))
    out = c.output(state)
    assert out.shape == (4, H) and np.shares_memory(out, state)  # a view, as the contract says
    params = init_params(V, H, np.random.default_rng(0), cell=cell)
    assert c.input_weight(params, 0) is params[c.names(0).input]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_full_bptt_matches_numerical_gradient(cell, layers, mode):
    ragged, carried = MODES[mode]
    # The measure is per entry: an entry of ~1e-7 (a deep LSTM layer has some) meets the
    # ~1e-12 rounding of the difference quotient and fails 1e-6 though backward is right,
    # so these seeds are ones whose gradients have no such entry.
    case = random_case(
        np.random.default_rng(60 + layers),
        H=5,
        T=4,
        layers=layers,
        ragged=ragged,
        carried_state=carried,
        cell=cell,
    )
    errors = check(case)
    assert set(errors) == {s.name for s in param_specs(7, 5, layers, cell)}
    for name, err in errors.items():
        assert err < 1e-6, f"{cell} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_dropout_matches_numerical_gradient(cell, layers):
    case = random_case(np.random.default_rng(11), H=6, T=4, layers=layers, dropout=0.3, cell=cell)
    _, cache = case.forward(case.params)
    assert all((d == 0).any() for d in cache.drops)
    for name, err in check(case).items():
        assert err < 1e-6, f"{cell} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_initial_state_gradient_matches_numerical(cell, layers):
    """dh0 is a gradient of the whole state: h, and c for the LSTM."""
    case = random_case(
        np.random.default_rng(3), H=4, ragged=False, carried_state=True, layers=layers, cell=cell
    )
    _, cache = forward(case.params, case.inputs, case.targets, case.h0, None)
    _, dh0 = backward(case.params, cache)
    assert dh0.shape == case.h0.shape
    eps = 1e-3
    num = np.zeros_like(case.h0)
    for i in np.ndindex(case.h0.shape):
        f = {}
        for k in (-2, -1, 1, 2):  # the fourth-order stencil of gradcheck.numerical_grads
            h = case.h0.copy()
            h[i] += k * eps
            f[k], _ = forward(case.params, case.inputs, case.targets, h, None)
        num[i] = (8 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12 * eps)
    assert relative_error(dh0, num) < 1e-6


@pytest.mark.parametrize("cell", GATED)
def test_gradcheck_detects_a_wrong_gated_backward(cell, monkeypatch):
    """The check can fail: a cache whose gates were tampered with gives wrong gradients."""
    import charrnn.core.gradcheck as gc
    import charrnn.core.model as model

    case = random_case(np.random.default_rng(0), cell=cell)
    real_backward = model.backward

    def broken(params, cache, **kw):
        cache.hs[0][1][..., :3] = 0.5  # part of the first gate block forgets its value
        return real_backward(params, cache, **kw)

    monkeypatch.setattr(gc, "backward", broken)
    assert max(gc.check(case).values()) > 1e-2


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("rule", ["full", "naive", "window 2"])
@pytest.mark.parametrize("seed", range(3))
def test_batched_engine_matches_reference_loop(cell, rule, seed):
    """Ragged batches with carried state, float64: loss, every gradient, final state to 1e-10."""
    bptt, window = ("full", 2) if rule == "window 2" else (rule, None)
    rng = np.random.default_rng(200 + seed)
    case = random_case(
        rng, V=11, H=9, T=8, B=6, ragged=bool(seed != 1), carried_state=True, cell=cell
    )
    loss, cache = forward(case.params, case.inputs, case.targets, case.h0, case.mask)
    final = cache.final_state.copy()
    grads, _ = backward(case.params, cache, bptt=bptt, window=window)
    ref_loss, ref_grads, ref_last = reference_sum(case, bptt, cell, window)
    assert abs(loss - ref_loss) < 1e-10 * max(1.0, abs(ref_loss))
    for k in case.params:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=0, atol=1e-10, err_msg=k)
    if case.mask is None:
        np.testing.assert_allclose(final[0], ref_last, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturated_gates_take_their_limits_silently(cell, dtype):
    """Pre-activations of +-1000 overflow e^-x: the gates must come out exactly 0 or 1,
    everything finite, with no warning, in training and in generation."""
    rng = np.random.default_rng(7)
    case = random_case(rng, V=5, H=4, T=6, B=3, ragged=False, carried_state=True, cell=cell)
    params = {k: v.astype(dtype) for k, v in case.params.items()}
    names = get_cell(cell).names(0)
    bias = params[names.bias]
    bias[:] = np.where(np.arange(bias.size) % 2 == 0, 1000.0, -1000.0)
    h0 = case.h0.astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss, cache = forward(params, case.inputs, case.targets, h0)
        grads, dh0 = backward(params, cache, bptt="full")
        assert np.isfinite(dh0).all()
        h, record = h0.copy(), []
        for t in range(case.inputs.shape[0]):
            h, _ = step(params, case.inputs[t], h, record=record)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_allclose(h, cache.final_state, rtol=0, atol=1e-6)
    for gates in record:
        for g in gates.values():
            assert set(np.unique(g)) <= {0.0, 1.0}, g
    if dtype == "float64":  # the per-character loop, overflowing by itself, agrees
        case.params[names.bias][:] = bias
        with np.errstate(over="ignore"):
            ref_loss, ref_grads, ref_last = reference_sum(case, "full", cell)
        assert abs(loss - ref_loss) < 1e-10 * abs(ref_loss)
        np.testing.assert_allclose(cache.final_state[0], ref_last, rtol=0, atol=1e-12)
        for k in params:
            np.testing.assert_allclose(grads[k], ref_grads[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_naive_rule_is_not_the_gradient(cell):
    """Dropping dhnext (and dcnext) leaves the head exact and the recurrence wrong."""
    case = random_case(np.random.default_rng(0), T=6, ragged=False, carried_state=False, cell=cell)
    num, naive = numerical_grads(case), analytic_grads(case, "naive")
    names = get_cell(cell).names(0)
    assert relative_error(naive["Why"], num["Why"]) < 1e-6
    assert relative_error(naive[names.recurrent], num[names.recurrent]) > 1e-2
    assert relative_error(naive[names.input], num[names.input]) > 1e-2


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_step_by_step_generation_equals_forward(cell, layers):
    rng = np.random.default_rng(layers)
    V, H, T, B = 7, 6, 9, 4
    params = init_params(V, H, rng, layers=layers, init="scaled", dtype="float64", cell=cell)
    for spec in param_specs(V, H, layers, cell):
        if not spec.is_weight:
            params[spec.name] = rng.standard_normal(spec.shape) * 0.3
    inputs = rng.integers(0, V, size=(T, B))
    h0 = np.tanh(rng.standard_normal((layers, *get_cell(cell).state_shape(B, H))))
    _, cache = forward(params, inputs, inputs, h0)
    logp = np.log(cache.probs).reshape(T, B, V)
    h, ws = h0.copy(), Workspace()
    for t in range(T):
        record = []
        h, logits = step(params, inputs[t], h, ws=ws, record=record)
        z = logits - logits.max(axis=1, keepdims=True)
        np.testing.assert_allclose(
            z - np.log(np.exp(z).sum(1, keepdims=True)), logp[t], rtol=0, atol=1e-10
        )
        out = get_cell(cell).output(h[-1])  # (B, H)
        np.testing.assert_allclose(out, cache.outs[-1][t], rtol=0, atol=1e-12)
        assert len(record) == layers
        assert set(record[0]) == set(get_cell(cell).gate_names)
        assert all(((g > 0) & (g < 1)).all() for r in record for g in r.values())
    np.testing.assert_allclose(h, cache.final_state, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_a_reused_workspace_gives_the_results_of_fresh_arrays(cell, dropout):
    rng = np.random.default_rng(5)
    V, H, B, L = 6, 5, 3, 2
    params = init_params(V, H, rng, layers=L, init="scaled", dtype="float64", cell=cell)
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
                cell=cell,
            )
            grads, dh0 = backward(params, cache, bptt="full", ws=w, cell=cell)
            results.append((loss, {k: g.copy() for k, g in grads.items()}, dh0.copy()))
        (la, ga, ha), (lb, gb, hb) = results
        assert la == lb
        for k in ga:
            np.testing.assert_array_equal(ga[k], gb[k])
        np.testing.assert_array_equal(ha, hb)


def test_parameter_names_shapes_and_kinds():
    gru = {s.name: (s.shape, s.kind) for s in param_specs(5, 3, 2, "gru")}
    assert gru == {
        "Wxrzn": ((9, 5), "input"),
        "Whrzn": ((9, 3), "recurrent"),
        "Wxrzn2": ((9, 3), "input"),
        "Whrzn2": ((9, 3), "recurrent"),
        "Why": ((5, 3), "output"),
        "brzn": ((9,), "bias"),
        "bhn": ((3,), "bias"),
        "brzn2": ((9,), "bias"),
        "bhn2": ((3,), "bias"),
        "by": ((5,), "bias"),
    }
    lstm = [s.name for s in param_specs(5, 3, 1, "lstm")]
    assert lstm == ["Wxifgo", "Whifgo", "Why", "bifgo", "by"]
    for cell in GATED:
        params = init_params(5, 3, np.random.default_rng(0), layers=2, cell=cell)
        assert cell_of(params) is get_cell(cell) and num_layers(params) == 2
    assert zero_state(init_params(5, 3, np.random.default_rng(0), cell="lstm"), 4).shape == (
        1,
        4,
        6,
    )
    with pytest.raises(ValueError, match="unknown cell"):
        get_cell("transformer")


@pytest.mark.parametrize("init", ["normal", "scaled"])
def test_lstm_forget_bias_and_orthogonal_gate_blocks(init):
    H = 4
    params = init_params(
        6,
        H,
        np.random.default_rng(1),
        layers=2,
        cell="lstm",
        init=init,
        forget_bias=1.0,
        dtype="float64",
    )
    for b in (params["bifgo"], params["bifgo2"]):
        np.testing.assert_array_equal(b[H : 2 * H], 1.0)
        np.testing.assert_array_equal(np.delete(b, np.s_[H : 2 * H]), 0.0)
    zero = init_params(6, H, np.random.default_rng(1), cell="lstm", forget_bias=0.0)
    assert not zero["bifgo"].any()
    if init == "scaled":
        for k in range(4):  # each gate's recurrent block is orthogonal on its own
            q = params["Whifgo"][k * H : (k + 1) * H]
            np.testing.assert_allclose(q @ q.T, np.eye(H), atol=1e-12)


def test_a_one_layer_tanh_model_draws_what_it_always_drew():
    """Generalising the initialisation for the gated cells changes nothing for the tanh cell."""
    rng = np.random.default_rng(3)
    params = init_params(5, 4, np.random.default_rng(3), init="scaled", dtype="float64")
    wxh = rng.standard_normal((4, 5)) / 2.0
    whh = rng.standard_normal((4, 4))
    q, r = np.linalg.qr(whh)
    np.testing.assert_array_equal(params["Wxh"], wxh)
    np.testing.assert_array_equal(params["Whh"], q * np.sign(np.diag(r)))
