"""The tutorial's own per-character loop, kept as the oracle for tests and benchmarks.

One sequence at a time, one-hot column vectors, dicts keyed by step, exactly
the structure of the seed's ``get_derivative`` (section 5, and section 4 when
``bptt="naive"``). Slow on purpose: it is the definition the batched engine
must agree with. Biases are (H, 1) and (V, 1) columns here, as in the seed.
Every registered cell runs through the same loop, :func:`cell_get_derivative`,
with the cell's own per-character step (``Cell.reference_step``: the gated
cells' is written gate by gate), so this module names no cell but the
tutorial's. The same loop runs ``jamo3`` units (:mod:`charrnn.core.jamo3`)
with their three-hot input column and their factored head, written here
character by character with one-hot column vectors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .cells import Cell, get_cell


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


def _softmax(y: np.ndarray) -> np.ndarray:
    return np.exp(y - np.max(y)) / np.sum(np.exp(y - np.max(y)))


# One step's head: (params, h (H, 1), target, grads) -> (loss, back), where back()
# adds the head's parameter gradients to grads and returns d loss / d h (H, 1).
Head = Callable[
    [dict[str, np.ndarray], np.ndarray, int, dict[str, np.ndarray]],
    tuple[float, Callable[[], np.ndarray]],
]


def _softmax_head(
    params: dict[str, np.ndarray], h: np.ndarray, target: int, grads: dict[str, np.ndarray]
) -> tuple[float, Callable[[], np.ndarray]]:
    """The seed's softmax output of one step, its loss and its backward."""
    Why, by = params["Why"], params["by"]
    p = _softmax(np.dot(Why, h) + by)

    def back() -> np.ndarray:
        dy = np.copy(p)
        dy[target] -= 1
        grads["Why"] += np.dot(dy, h.T)
        grads["by"] += dy
        return np.dot(Why.T, dy)

    return float(-np.log(p[target, 0])), back


def _jamo3_split(ix: int, n_other: int) -> tuple[int, int, int] | None:
    """A jamo3 id as (initial, medial, final), or None for another character."""
    if ix < n_other:
        return None
    l, rest = divmod(ix - n_other, 21 * 28)
    v, t = divmod(rest, 28)
    return l, v, t


def _jamo3_input(params: dict[str, np.ndarray], ix: int, n_columns: int) -> np.ndarray:
    """The input column of a character: one-hot, or its syllable's two or three jamo."""
    N = params["Why"].shape[0] - 19
    x = np.zeros((n_columns, 1))
    jamo = _jamo3_split(ix, N)
    if jamo is None:
        x[ix] = 1
    else:
        l, v, t = jamo
        x[N + l] = 1
        x[N + 19 + v] = 1
        if t:
            x[N + 40 + t - 1] = 1
    return x


def _jamo3_head(
    params: dict[str, np.ndarray], h: np.ndarray, target: int, grads: dict[str, np.ndarray]
) -> tuple[float, Callable[[], np.ndarray]]:
    """The factored head of one step: p(initial or character), p(medial), p(final)."""
    N = params["Why"].shape[0] - 19
    jamo = _jamo3_split(target, N)
    c0 = target if jamo is None else N + jamo[0]
    first_loss, first_back = _softmax_head(params, h, c0, grads)
    if jamo is None:
        return first_loss, first_back
    l, v, t = jamo
    el, ev = _onehot(l, 19), _onehot(v, 21)
    u = np.tanh(np.dot(params["Wvh"], h) + np.dot(params["Wvl"], el) + params["bv"])
    p1 = _softmax(np.dot(params["Wyv"], u) + params["byv"])
    w = np.tanh(np.dot(params["Wtu"], u) + np.dot(params["Wtv"], ev) + params["bt"])
    p2 = _softmax(np.dot(params["Wyt"], w) + params["byt"])
    loss = first_loss - float(np.log(p1[v, 0])) - float(np.log(p2[t, 0]))

    def back() -> np.ndarray:
        dh = first_back()
        dy2 = np.copy(p2)
        dy2[t] -= 1
        grads["Wyt"] += np.dot(dy2, w.T)
        grads["byt"] += dy2
        dw = (1 - w * w) * np.dot(params["Wyt"].T, dy2)
        grads["Wtu"] += np.dot(dw, u.T)
        grads["Wtv"] += np.dot(dw, ev.T)
        grads["bt"] += dw
        dy1 = np.copy(p1)
        dy1[v] -= 1
        grads["Wyv"] += np.dot(dy1, u.T)
        grads["byv"] += dy1
        du = (1 - u * u) * (np.dot(params["Wyv"].T, dy1) + np.dot(params["Wtu"].T, dw))
        grads["Wvh"] += np.dot(du, h.T)
        grads["Wvl"] += np.dot(du, el.T)
        grads["bv"] += du
        return dh + np.dot(params["Wvh"].T, du)

    return loss, back


def cell_get_derivative(
    cell: str | Cell,
    params: dict[str, np.ndarray],
    inputs: list[int],
    targets: list[int],
    state: np.ndarray,
    bptt: str = "full",
    window: int | None = None,
    units: str = "char",
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """:func:`get_derivative` for a one-layer model of any registered cell.

    The loop is the seed's; each step is the cell's own
    :meth:`~charrnn.core.cells.Cell.reference_step` (column vectors, written
    apart from the batched engine), so a new cell brings its reference with it.

    Parameters
    ----------
    cell : str or cell
    params : dict
        Seed-shaped parameters (see :func:`column_params`).
    inputs, targets : list of int
    state : array (S, 1)
        The initial state (``[h; c]`` for the LSTM).
    bptt : {"full", "naive"}
        ``naive`` drops what each step sends to the step before.
    window : int, optional
        Truncated BPTT by its definition: each loss's gradient, on its own,
        goes back through ``window`` steps and stops (with ``bptt="full"``).
    units : str
        ``"jamo3"``: the three-hot input and the factored head; otherwise the
        seed's one-hot input and softmax.

    Returns
    -------
    loss : float
    grads : dict
        Same keys and shapes as ``params``.
    state : array (S, 1)
        The last state.
    """
    c = get_cell(cell)
    n_in = params[c.names(0).input].shape[1]
    head: Head = _jamo3_head if units == "jamo3" else _softmax_head

    def x_of(ix: int) -> np.ndarray:
        if units == "jamo3":
            return _jamo3_input(params, ix, n_in)
        return _onehot(ix, n_in)

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    states, backs, heads = {-1: np.copy(state)}, {}, {}
    loss = 0.0
    for t in range(len(inputs)):
        states[t], backs[t] = c.reference_step(params, 0, x_of(inputs[t]), states[t - 1])
        h = c.output(states[t].T).T  # (H, 1): what the head reads
        l, heads[t] = head(params, h, targets[t], grads)
        loss += l

    def d_state(t: int) -> np.ndarray:
        """d loss_t / d state_t: the head's gradient in the state's output part."""
        ds = np.zeros_like(states[t])
        c.output(ds.T)[...] = heads[t]().T  # a view: writes into ds
        return ds

    def add(g: dict[str, np.ndarray]) -> None:
        for k, v in g.items():
            grads[k] += v

    if window is None:
        dsnext = np.zeros_like(states[-1])
        for t in reversed(range(len(inputs))):
            dprev, g = backs[t](d_state(t) + dsnext)
            add(g)
            dsnext = dprev if bptt == "full" else np.zeros_like(dprev)
    else:
        for t in range(len(inputs)):  # every loss alone, back from step t to step t - window
            ds = d_state(t)
            for s in range(t, max(t - window, 0) - 1, -1):
                ds, g = backs[s](ds)
                add(g)
    return float(loss), grads, states[len(inputs) - 1]
