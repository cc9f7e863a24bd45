"""The tutorial's own per-character loop, kept as the oracle for tests and benchmarks.

One sequence at a time, one-hot column vectors, dicts keyed by step, exactly
the structure of the seed's ``get_derivative`` (section 5, and section 4 when
``bptt="naive"``). Slow on purpose: it is the definition the batched engine
must agree with. Biases are (H, 1) and (V, 1) columns here, as in the seed.
"""

from __future__ import annotations

import numpy as np


def column_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The engine's parameters with biases reshaped to the seed's columns (float64)."""
    out = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    out["bh"] = out["bh"].reshape(-1, 1)
    out["by"] = out["by"].reshape(-1, 1)
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
