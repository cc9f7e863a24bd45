"""The vanilla RNN: parameters, batched forward, backward (full BPTT or naive), loss.

Pure functions over arrays: no I/O, no printing. Shapes use B (batch),
T (time), H (hidden), V (vocabulary)::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)     Wxh (H, V), Whh (H, H), bh (H,)
    y_t = Why h_t + by                          Why (V, H), by (V,)
    L   = -sum_t mask_t log softmax(y_t)[target_t]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import NUMPY, Backend

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")

Params = dict[str, Any]
Grads = dict[str, Any]


def init_params(
    vocab_size: int,
    hidden: int,
    rng: np.random.Generator,
    *,
    init: str = "normal",
    scale: float = 0.01,
    dtype: str = "float32",
) -> Params:
    """Draw fresh parameters.

    Parameters
    ----------
    vocab_size, hidden : int
        V and H.
    rng : numpy.random.Generator
        The only source of randomness.
    init : {"normal", "scaled"}
        ``normal`` is the tutorial's ``randn * scale``. ``scaled`` draws
        ``Wxh`` and ``Why`` from N(0, 1/fan_in) and ``Whh`` as a random
        orthogonal matrix, so signals neither vanish nor explode at large H.
    scale : float
        Standard deviation for ``normal``.
    dtype : str

    Returns
    -------
    dict
        ``Wxh (H, V)``, ``Whh (H, H)``, ``Why (V, H)``, ``bh (H,)``, ``by (V,)``.
    """
    H, V = hidden, vocab_size
    if init == "normal":
        Wxh = rng.standard_normal((H, V)) * scale
        Whh = rng.standard_normal((H, H)) * scale
        Why = rng.standard_normal((V, H)) * scale
    elif init == "scaled":
        # One-hot inputs have fan-in 1 per column; a unit-variance column would
        # saturate tanh, so Wxh uses the same 1/sqrt(H) as the recurrence.
        Wxh = rng.standard_normal((H, V)) / np.sqrt(H)
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        Whh = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
        Why = rng.standard_normal((V, H)) / np.sqrt(H)
    else:
        raise ValueError(f"unknown init {init!r}")
    params = {"Wxh": Wxh, "Whh": Whh, "Why": Why, "bh": np.zeros(H), "by": np.zeros(V)}
    return {k: v.astype(dtype) for k, v in params.items()}


@dataclass
class Cache:
    """What :func:`backward` needs from :func:`forward`."""

    inputs: Any  # (T, B) int
    targets: Any  # (T, B) int
    weights: Any  # (T*B,) loss weight per position: mask, 0 on padding
    hs: Any  # (T+1, B, H); hs[0] is the initial state
    probs: Any  # (T*B, V) softmax outputs


def forward(
    params: Params,
    inputs: Any,
    targets: Any,
    h0: Any,
    mask: Any = None,
    *,
    backend: Backend = NUMPY,
) -> tuple[float, Cache]:
    """Run the RNN over a batch and return the summed cross-entropy.

    Parameters
    ----------
    params : dict
    inputs, targets : int arrays (T, B)
    h0 : array (B, H)
        Initial hidden state (zeros for fresh sequences, carried in text mode).
    mask : array (T, B) or None
        1 where a target counts, 0 on padding. ``None`` counts everything.
    backend : Backend

    Returns
    -------
    loss_sum : float
        Sum over counted positions of ``-log p(target)``, in nats.
    cache : Cache
        Input to :func:`backward`; ``cache.hs[-1]`` is the final state (B, H).
    """
    xp = backend.xp
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    T, B = inputs.shape
    H = Whh.shape[0]
    hs = xp.empty((T + 1, B, H), dtype=Whh.dtype)  # (T+1, B, H)
    hs[0] = h0
    # Wxh @ onehot(x) is column x of Wxh: a gather, never a matmul.
    pre = xp.ascontiguousarray(Wxh.T)[inputs]  # (T, B, H)
    pre += bh
    # A contiguous transpose lets BLAS run its fastest (no-transpose) kernel.
    WhhT = xp.ascontiguousarray(Whh.T)
    for t in range(T):
        h = hs[t + 1]
        xp.matmul(hs[t], WhhT, out=h)
        h += pre[t]
        xp.tanh(h, out=h)
    hflat = hs[1:].reshape(T * B, H)  # (T*B, H)
    logits = hflat @ Why.T  # (T*B, V)
    logits += by
    logits -= logits.max(axis=1, keepdims=True)
    tflat = targets.reshape(-1)
    rows = xp.arange(T * B)
    # log p[target] = z[target] - log sum exp z, taken before exp overwrites z:
    # a confident wrong guess costs a large finite loss, never log(0).
    z_target = logits[rows, tflat].astype(xp.float64)  # (T*B,)
    probs = xp.exp(logits, out=logits)
    sums = probs.sum(axis=1)  # (T*B,)
    probs /= sums[:, None]
    nll = xp.log(sums.astype(xp.float64)) - z_target  # (T*B,) float64 for accuracy
    if mask is None:
        weights = xp.ones(T * B, dtype=Whh.dtype)
        loss_sum = float(nll.sum())
    else:
        weights = mask.reshape(-1).astype(Whh.dtype)
        loss_sum = float((nll * weights).sum())
    return loss_sum, Cache(inputs, targets, weights, hs, probs)


def backward(
    params: Params,
    cache: Cache,
    *,
    scale: float = 1.0,
    bptt: str = "full",
    out: Grads | None = None,
    backend: Backend = NUMPY,
) -> tuple[Grads, Any]:
    """Gradients of ``scale * loss_sum`` with respect to every parameter.

    Parameters
    ----------
    params : dict
    cache : Cache
        From :func:`forward`; its ``probs`` are overwritten.
    scale : float
        ``1 / n_targets`` for the mean loss, ``1`` for the summed loss.
    bptt : {"full", "naive"}
        ``full`` carries ``dhnext = Whh^T dhraw`` to the previous step (true
        gradient). ``naive`` drops it: each step only sees its own loss (the
        tutorial's section 4 rule, not a gradient of anything).
    out : dict, optional
        Arrays shaped like the parameters to write the gradients into
        (preallocated buffers, e.g. views of one flat array); new ones if ``None``.
    backend : Backend

    Returns
    -------
    grads : dict
        ``dWxh, dWhh, dWhy, dbh, dby`` with the shapes of the parameters.
    dh0 : array (B, H)
        Gradient with respect to the initial state (zero for ``naive``).
    """
    xp = backend.xp
    Whh, Why = params["Whh"], params["Why"]
    hs, inputs = cache.hs, cache.inputs
    T, B = inputs.shape
    H = Whh.shape[0]
    if out is None:
        out = {k: xp.empty_like(params[k]) for k in PARAM_NAMES}
    rows = xp.arange(T * B)
    # dy = p - onehot(target), weighted: padding contributes nothing.
    dy = cache.probs  # (T*B, V), reused in place
    dy[rows, cache.targets.reshape(-1)] -= 1
    dy *= (cache.weights * scale)[:, None]
    hflat = hs[1:].reshape(T * B, H)  # (T*B, H)
    xp.matmul(dy.T, hflat, out=out["Why"])  # dWhy (V, H)
    dy.sum(axis=0, out=out["by"])  # dby (V,)
    dhraw = (dy @ Why).reshape(T, B, H)  # (T, B, H): dh from the outputs, becomes dhraw
    dtanh = hs[1:] * hs[1:]  # (T, B, H): 1 - h^2 for all steps in one pass
    xp.subtract(1, dtanh, out=dtanh)
    if bptt == "full":
        dhnext = xp.zeros((B, H), dtype=Whh.dtype)
        for t in range(T - 1, -1, -1):
            d = dhraw[t]
            d += dhnext
            d *= dtanh[t]
            xp.matmul(d, Whh, out=dhnext)
        dh0 = dhnext
    elif bptt == "naive":
        dhraw *= dtanh
        dh0 = xp.zeros((B, H), dtype=Whh.dtype)
    else:
        raise ValueError(f"unknown bptt rule {bptt!r}")
    dflat = dhraw.reshape(T * B, H)  # (T*B, H)
    xp.matmul(dflat.T, hs[:-1].reshape(T * B, H), out=out["Whh"])  # dWhh (H, H)
    dflat.sum(axis=0, out=out["bh"])  # dbh (H,)
    dWxhT = xp.zeros((params["Wxh"].shape[1], H), dtype=Whh.dtype)  # (V, H)
    backend.scatter_add_rows(dWxhT, inputs.reshape(-1), dflat)
    out["Wxh"][...] = dWxhT.T
    return out, dh0


def flat_buffer(arrays: Params, *, backend: Backend = NUMPY) -> tuple[Any, Params]:
    """Copy ``arrays`` into one contiguous buffer; return it and a dict of views into it.

    The optimiser, clipping and finiteness checks then make a handful of calls
    on one array instead of a handful per parameter, which matters for small models.
    """
    xp = backend.xp
    first = next(iter(arrays.values()))
    flat = xp.empty(sum(a.size for a in arrays.values()), dtype=first.dtype)
    views, offset = {}, 0
    for k, a in arrays.items():
        views[k] = flat[offset : offset + a.size].reshape(a.shape)
        views[k][...] = a
        offset += a.size
    return flat, views


def step(params: Params, x: Any, h: Any, *, backend: Backend = NUMPY) -> tuple[Any, Any]:
    """One recurrence step for generation.

    Parameters
    ----------
    x : int array (B,)
    h : array (B, H)

    Returns
    -------
    h_new : array (B, H)
    logits : array (B, V)
    """
    xp = backend.xp
    h_new = xp.tanh(params["Wxh"].T[x] + h @ params["Whh"].T + params["bh"])
    logits = h_new @ params["Why"].T + params["by"]
    return h_new, logits
