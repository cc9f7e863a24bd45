"""The tutorial's own per-character loop, kept as the oracle for tests and benchmarks.

One sequence at a time, one-hot column vectors, dicts keyed by step, exactly
the structure of the seed's ``get_derivative`` (section 5, and section 4 when
``bptt="naive"``). Slow on purpose: it is the definition the batched engine
must agree with. Biases are (H, 1) and (V, 1) columns here, as in the seed.
The gated cells have a loop each (:func:`gru_get_derivative`,
:func:`lstm_get_derivative`) in the same style, gate by gate.
"""

from __future__ import annotations

import numpy as np


def column_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The engine's parameters with biases reshaped to the seed's columns (float64)."""
    out = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    for k, v in out.items():
        if v.ndim == 1:  # every bias, of any cell
            out[k] = v.reshape(-1, 1)
    return out


def get_derivative(
    params: dict[str, np.ndarray],
    inputs: list[int],
    targets: list[int],
    hprev: np.ndarray,
    bptt: str = "full",
    window: int | None = None,
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Summed loss, gradients and last hidden state for one sequence.

    Parameters
    ----------
    params : dict
        Seed-shaped parameters (see :func:`column_params`).
    inputs, targets : list of int
    hprev : array (H, 1)
    bptt : {"full", "naive"}
    window : int, optional
        Truncated BPTT by its definition: each loss's gradient, on its own,
        goes back through ``window`` steps and stops (with ``bptt="full"``).

    Returns
    -------
    loss : float
        Summed cross-entropy in nats.
    grads : dict
        Same keys and shapes as ``params``; no clipping (the engine clips in its optimiser).
    h_last : array (H, 1)
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t] - np.max(ys[t])) / np.sum(np.exp(ys[t] - np.max(ys[t])))
        loss += -np.log(ps[t][targets[t], 0])

    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw) if bptt == "full" else np.zeros_like(dhraw)
    if window is not None:
        # Start again: every loss alone, back from step t to step t - window.
        dWxh, dWhh, dbh = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(bh)
        for t in range(len(inputs)):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dh = np.dot(Why.T, dy)
            for s in range(t, max(t - window, 0) - 1, -1):
                dhraw = (1 - hs[s] * hs[s]) * dh
                dbh += dhraw
                dWxh += np.dot(dhraw, xs[s].T)
                dWhh += np.dot(dhraw, hs[s - 1].T)
                dh = np.dot(Whh.T, dhraw)
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    return float(loss), grads, hs[len(inputs) - 1]


def reference_train_chars(
    params: dict[str, np.ndarray],
    data: np.ndarray,
    seq_len: int,
    steps: int,
    lr: float = 0.1,
) -> float:
    """min-char-rnn style training: one stream, ``seq_len`` chunks, Adagrad, clip 5.

    The baseline the benchmarks compare the batched engine to. Updates
    ``params`` in place and returns the last chunk's mean loss.
    """
    H = params["Whh"].shape[0]
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    hprev = np.zeros((H, 1))
    p = 0
    loss = 0.0
    for _ in range(steps):
        if p + seq_len + 1 > len(data):
            p, hprev = 0, np.zeros((H, 1))
        inputs = data[p : p + seq_len].tolist()
        targets = data[p + 1 : p + seq_len + 1].tolist()
        loss, grads, hprev = get_derivative(params, inputs, targets, hprev)
        for k, g in grads.items():
            np.clip(g, -5, 5, out=g)
            mem[k] += g * g
            params[k] -= lr * g / np.sqrt(mem[k] + 1e-8)
        p += seq_len
    return loss / seq_len


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _onehot(i: int, V: int) -> np.ndarray:
    x = np.zeros((V, 1))
    x[i] = 1
    return x


def _head(Why: np.ndarray, by: np.ndarray, h: np.ndarray, target: int) -> tuple[np.ndarray, float]:
    """The softmax output of one step and its loss, as the seed computes them."""
    y = np.dot(Why, h) + by
    p = np.exp(y - np.max(y)) / np.sum(np.exp(y - np.max(y)))
    return p, float(-np.log(p[target, 0]))


def gru_get_derivative(
    params: dict[str, np.ndarray],
    inputs: list[int],
    targets: list[int],
    hprev: np.ndarray,
    bptt: str = "full",
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """:func:`get_derivative` for a one-layer GRU (PyTorch's equations, gate by gate).

    ``params`` holds the engine's names as float64, biases as columns:
    ``Wxrzn (3H, V)``, ``Whrzn (3H, H)``, ``brzn (3H, 1)``, ``bhn (H, 1)``,
    ``Why``, ``by (V, 1)``. Each gate's block is cut out and used on its own,
    so the stacking of the engine is checked too. ``naive`` drops ``dhnext``.
    """
    Wx, Wh, b, bhn = (params[k] for k in ("Wxrzn", "Whrzn", "brzn", "bhn"))
    Why, by = params["Why"], params["by"]
    H, V = Wh.shape[1], Wx.shape[1]
    Wxr, Wxz, Wxn = Wx[:H], Wx[H : 2 * H], Wx[2 * H :]
    Whr, Whz, Whn = Wh[:H], Wh[H : 2 * H], Wh[2 * H :]
    br, bz, bn = b[:H], b[H : 2 * H], b[2 * H :]
    xs, hs, rs, zs, ns, hns, ps = {}, {}, {}, {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = _onehot(inputs[t], V)
        rs[t] = _sigmoid(np.dot(Wxr, xs[t]) + br + np.dot(Whr, hs[t - 1]))
        zs[t] = _sigmoid(np.dot(Wxz, xs[t]) + bz + np.dot(Whz, hs[t - 1]))
        hns[t] = np.dot(Whn, hs[t - 1]) + bhn
        ns[t] = np.tanh(np.dot(Wxn, xs[t]) + bn + rs[t] * hns[t])
        hs[t] = (1 - zs[t]) * ns[t] + zs[t] * hs[t - 1]
        ps[t], l = _head(Why, by, hs[t], targets[t])
        loss += l

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        grads["Why"] += np.dot(dy, hs[t].T)
        grads["by"] += dy
        dh = np.dot(Why.T, dy) + dhnext
        dn = dh * (1 - zs[t])
        dz = dh * (hs[t - 1] - ns[t])
        dnraw = dn * (1 - ns[t] ** 2)
        dr = dnraw * hns[t]
        dhn = dnraw * rs[t]
        drraw = dr * rs[t] * (1 - rs[t])
        dzraw = dz * zs[t] * (1 - zs[t])
        draw = np.concatenate([drraw, dzraw, dnraw])  # d of the input projection, (3H, 1)
        dgh = np.concatenate([drraw, dzraw, dhn])  # d of the recurrent projection
        grads["Wxrzn"] += np.dot(draw, xs[t].T)
        grads["brzn"] += draw
        grads["Whrzn"] += np.dot(dgh, hs[t - 1].T)
        grads["bhn"] += dhn
        dhprev = np.dot(Wh.T, dgh) + dh * zs[t]
        dhnext = dhprev if bptt == "full" else np.zeros_like(dhprev)
    return float(loss), grads, hs[len(inputs) - 1]


def lstm_get_derivative(
    params: dict[str, np.ndarray],
    inputs: list[int],
    targets: list[int],
    hprev: np.ndarray,
    cprev: np.ndarray,
    bptt: str = "full",
) -> tuple[float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`get_derivative` for a one-layer LSTM (PyTorch's gate order i, f, g, o).

    ``params``: ``Wxifgo (4H, V)``, ``Whifgo (4H, H)``, ``bifgo (4H, 1)``, ``Why``,
    ``by (V, 1)``. Returns the loss, the gradients and the last ``h`` and ``c``.
    ``naive`` drops ``dhnext`` and ``dcnext``.
    """
    Wx, Wh, b = (params[k] for k in ("Wxifgo", "Whifgo", "bifgo"))
    Why, by = params["Why"], params["by"]
    H, V = Wh.shape[1], Wx.shape[1]

    def block(k: int, a: np.ndarray) -> np.ndarray:
        return a[k * H : (k + 1) * H]

    xs, hs, cs, gates, ps = {}, {}, {}, {}, {}
    hs[-1], cs[-1] = np.copy(hprev), np.copy(cprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = _onehot(inputs[t], V)
        a = np.dot(Wx, xs[t]) + np.dot(Wh, hs[t - 1]) + b
        i, f = _sigmoid(block(0, a)), _sigmoid(block(1, a))
        g, o = np.tanh(block(2, a)), _sigmoid(block(3, a))
        cs[t] = f * cs[t - 1] + i * g
        hs[t] = o * np.tanh(cs[t])
        gates[t] = (i, f, g, o)
        ps[t], l = _head(Why, by, hs[t], targets[t])
        loss += l

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dhnext, dcnext = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    for t in reversed(range(len(inputs))):
        i, f, g, o = gates[t]
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        grads["Why"] += np.dot(dy, hs[t].T)
        grads["by"] += dy
        dh = np.dot(Why.T, dy) + dhnext
        do = dh * np.tanh(cs[t])
        dc = dcnext + dh * o * (1 - np.tanh(cs[t]) ** 2)
        di, df, dg = dc * g, dc * cs[t - 1], dc * i
        da = np.concatenate(
            [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)]
        )  # (4H, 1)
        grads["Wxifgo"] += np.dot(da, xs[t].T)
        grads["Whifgo"] += np.dot(da, hs[t - 1].T)
        grads["bifgo"] += da
        full = bptt == "full"
        dhnext = np.dot(Wh.T, da) if full else np.zeros_like(dh)
        dcnext = dc * f if full else np.zeros_like(dc)
    n = len(inputs)
    return float(loss), grads, hs[n - 1], cs[n - 1]
