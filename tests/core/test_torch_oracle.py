"""PyTorch as an oracle: the same weights in ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` plus an
``nn.Linear`` head, one-hot inputs, float64; the loss, every gradient and the final state
agree to 1e-6 relative. Skipped without torch (``make test-torch`` installs it)."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.core.cells import cell_names
from charrnn.core.gradcheck import random_case
from charrnn.core.model import backward, forward, get_cell

torch = pytest.importorskip("torch")

ALL = slice(None)


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def _torch_model(cell, params, V, H, L):
    """torch's recurrent module and head holding ``params``, and the gradient pairs.

    Each pair is ``(name, our part, torch tensor, its part)``: the gradient of our
    parameter ``name`` (that part of it) equals the torch tensor's (that part of it).
    torch has an input and a recurrent bias per gate where only their sum matters, so both
    of its biases carry our bias's gradient (the GRU's candidate keeps its recurrent bias
    on its own: ``bhn``).
    """
    kind = get_cell(cell).torch_module
    kwargs = {"nonlinearity": "tanh"} if kind == "RNN" else {}
    rnn = getattr(torch.nn, kind)(V, H, num_layers=L, dtype=torch.float64, **kwargs)
    head = torch.nn.Linear(H, V, dtype=torch.float64)
    c = get_cell(cell)
    pairs = []
    with torch.no_grad():
        for l in range(L):
            n = c.names(l)
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}")
            b_ih, b_hh = getattr(rnn, f"bias_ih_l{l}"), getattr(rnn, f"bias_hh_l{l}")
            w_ih.copy_(torch.from_numpy(params[n.input]))
            w_hh.copy_(torch.from_numpy(params[n.recurrent]))
            b_ih.copy_(torch.from_numpy(params[n.bias]))
            b_hh.zero_()
            pairs += [
                (n.input, ALL, w_ih, ALL),
                (n.recurrent, ALL, w_hh, ALL),
                (n.bias, ALL, b_ih, ALL),
            ]
            if kind == "GRU":
                b_hh[2 * H :] = torch.from_numpy(params[c.candidate_bias(l)])
                rz = slice(0, 2 * H)
                pairs += [
                    (c.candidate_bias(l), ALL, b_hh, slice(2 * H, None)),
                    (n.bias, rz, b_hh, rz),
                ]
            else:
                pairs.append((n.bias, ALL, b_hh, ALL))
        head.weight.copy_(torch.from_numpy(params["Why"]))
        head.bias.copy_(torch.from_numpy(params["by"]))
    pairs += [("Why", ALL, head.weight, ALL), ("by", ALL, head.bias, ALL)]
    return rnn, head, pairs


@pytest.mark.parametrize("cell", cell_names())
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("ragged", [False, True], ids=["text", "words"])
def test_the_engine_agrees_with_torch(cell, layers, ragged):
    kind = getattr(get_cell(cell), "torch_module", None)
    if kind is None:  # a capability, not a name: a cell with no torch twin has no oracle here
        pytest.skip(f"the {cell} cell names no torch.nn module that computes it")
    V, H, T, B = 9, 7, 6, 4
    case = random_case(
        np.random.default_rng(layers + 10 * ragged),
        V=V,
        H=H,
        T=T,
        B=B,
        layers=layers,
        ragged=ragged,
        carried_state=True,
        cell=cell,
    )
    loss, cache = forward(case.params, case.inputs, case.targets, case.h0, case.mask)
    final = cache.final_state.copy()
    grads, _ = backward(case.params, cache)

    rnn, head, pairs = _torch_model(cell, case.params, V, H, layers)
    x = torch.nn.functional.one_hot(torch.from_numpy(case.inputs), V).to(torch.float64)
    h0 = torch.from_numpy(case.h0)
    state = (h0[..., :H].contiguous(), h0[..., H:].contiguous()) if kind == "LSTM" else h0
    out, last = rnn(x, state)  # out (T, B, H)
    logits = head(out).reshape(T * B, V)
    nll = torch.nn.functional.cross_entropy(
        logits, torch.from_numpy(case.targets.reshape(-1)), reduction="none"
    )
    mask = torch.ones(T * B, dtype=torch.float64)
    if case.mask is not None:
        mask = torch.from_numpy(case.mask.reshape(-1).astype(np.float64))
    t_loss = (nll * mask).sum()
    t_loss.backward()

    assert abs(loss - t_loss.item()) <= 1e-6 * abs(t_loss.item())
    assert {name for name, *_ in pairs} == set(grads)
    for name, ours, tensor, theirs in pairs:
        assert _rel(grads[name][ours], tensor.grad[theirs].numpy()) < 1e-6, (cell, name)
    # Padding runs through the recurrence in both (only its loss is masked): same final state.
    t_final = torch.cat(last, dim=-1) if kind == "LSTM" else last
    assert _rel(final, t_final.detach().numpy()) < 1e-6
