"""The vanilla RNN: parameters, batched forward, backward (full BPTT or naive), loss.

Pure functions over arrays: no I/O, no printing. Shapes use B (batch),
T (time), H (hidden), V (vocabulary), L (layers)::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)     Wxh (H, V), Whh (H, H), bh (H,)
    y_t = Why h_t + by                          Why (V, H), by (V,)
    loss = -sum_t mask_t log softmax(y_t)[target_t]

With ``layers > 1`` the layers stack: layer l (counted from 1) reads the
output sequence of layer l-1 through ``Wxh<l> (H, H)`` and has its own
``Whh<l>``, ``bh<l>``; the first layer keeps the tutorial's names and ``Why``
reads the top layer. Dropout (inverted, training only) acts on every layer's
output sequence: between layers and before the output layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import NUMPY, Backend

Params = dict[str, Any]
Grads = dict[str, Any]


def layer_names(l: int) -> tuple[str, str, str]:
    """Names of ``(Wxh, Whh, bh)`` of layer ``l`` (0-based): the tutorial's for l=0."""
    suffix = "" if l == 0 else str(l + 1)
    return f"Wxh{suffix}", f"Whh{suffix}", f"bh{suffix}"


def param_names(layers: int = 1) -> tuple[str, ...]:
    """Every parameter name, weight matrices first, then biases.

    Keeping the matrices together lets weight decay act on one slice of the
    flat parameter buffer.
    """
    weights, biases = [], []
    for l in range(layers):
        wxh, whh, bh = layer_names(l)
        weights += [wxh, whh]
        biases.append(bh)
    return (*weights, "Why", *biases, "by")


PARAM_NAMES = param_names(1)  # ("Wxh", "Whh", "Why", "bh", "by")


def param_shapes(vocab_size: int, hidden: int, layers: int = 1) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter, in :func:`param_names` order."""
    H, V = hidden, vocab_size
    shapes: dict[str, tuple[int, ...]] = {}
    for name in param_names(layers):
        if name == "Why":
            shapes[name] = (V, H)
        elif name == "by":
            shapes[name] = (V,)
        elif name.startswith("bh"):
            shapes[name] = (H,)
        elif name == "Wxh":
            shapes[name] = (H, V)
        else:
            shapes[name] = (H, H)
    return shapes


def num_layers(params: Params) -> int:
    """L, read off the parameter names."""
    return sum(1 for k in params if k.startswith("Whh"))


def init_params(
    vocab_size: int,
    hidden: int,
    rng: np.random.Generator,
    *,
    layers: int = 1,
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
    layers : int
        Stacked RNN layers, L.
    init : {"normal", "scaled"}
        ``normal`` is the tutorial's ``randn * scale``. ``scaled`` draws input
        and output matrices from N(0, 1/H) and each ``Whh`` as a random
        orthogonal matrix, so signals neither vanish nor explode at large H.
    scale : float
        Standard deviation for ``normal``.
    dtype : str

    Returns
    -------
    dict
        Named as :func:`param_names`; for L=1 ``Wxh (H, V)``, ``Whh (H, H)``,
        ``Why (V, H)``, ``bh (H,)``, ``by (V,)``.
    """
    if init not in ("normal", "scaled"):
        raise ValueError(f"unknown init {init!r}")
    H = hidden
    shapes = param_shapes(vocab_size, hidden, layers)

    def draw(shape: tuple[int, ...], recurrent: bool) -> np.ndarray:
        if init == "normal":
            return rng.standard_normal(shape) * scale
        if recurrent:
            q, r = np.linalg.qr(rng.standard_normal(shape))
            return q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
        # One-hot inputs have fan-in 1 per column; a unit-variance column would
        # saturate tanh, so every input and output matrix uses 1/sqrt(H).
        return rng.standard_normal(shape) / np.sqrt(H)

    # Draw order: layer 1's Wxh, Whh, then Why, then deeper layers, so that a
    # one-layer model draws exactly what it always drew.
    drawn = {"Wxh": draw(shapes["Wxh"], False), "Whh": draw(shapes["Whh"], True)}
    drawn["Why"] = draw(shapes["Why"], False)
    for l in range(1, layers):
        wxh, whh, _ = layer_names(l)
        drawn[wxh] = draw(shapes[wxh], False)
        drawn[whh] = draw(shapes[whh], True)
    return {
        k: (drawn[k] if k in drawn else np.zeros(shapes[k])).astype(dtype)
        for k in param_names(layers)
    }


@dataclass
class Cache:
    """What :func:`backward` needs from :func:`forward`."""

    inputs: Any  # (T, B) int
    targets: Any  # (T, B) int
    weights: Any  # (T*B,) loss weight per position: mask, 0 on padding; None: all count
    hs: list[Any]  # per layer (T+1, B, H); hs[l][0] is layer l's initial state
    drops: list[Any]  # per layer (T, B, H) dropout multipliers, or None
    outs: list[Any]  # per layer (T, B, H): output sequence after dropout
    probs: Any  # (T*B, V) softmax outputs
    final_state: Any  # (L, B, H) every layer's last hidden state, to carry on


def forward(
    params: Params,
    inputs: Any,
    targets: Any,
    h0: Any,
    mask: Any = None,
    *,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    backend: Backend = NUMPY,
) -> tuple[float, Cache]:
    """Run the RNN over a batch and return the summed cross-entropy.

    Parameters
    ----------
    params : dict
    inputs, targets : int arrays (T, B)
    h0 : array (L, B, H), or (B, H) for one layer
        Initial hidden states (zeros for fresh sequences, carried in text mode).
    mask : array (T, B) or None
        1 where a target counts, 0 on padding. ``None`` counts everything.
    dropout : float
        Probability of zeroing a unit of each layer's output (training only).
    rng : numpy.random.Generator
        Draws the dropout masks; required when ``dropout > 0``.
    backend : Backend

    Returns
    -------
    loss_sum : float
        Sum over counted positions of ``-log p(target)``, in nats.
    cache : Cache
        Input to :func:`backward`; ``cache.final_state`` is (L, B, H).
    """
    xp = backend.xp
    L = num_layers(params)
    T, B = inputs.shape
    H = params["Whh"].shape[0]
    dtype = params["Whh"].dtype
    h0 = h0.reshape(L, B, H)
    hs_all, drops, outs = [], [], []
    below = None  # (T, B, H) output of the layer below
    for l in range(L):
        wxh, whh, bh = (params[k] for k in layer_names(l))
        if l == 0:
            # Wxh @ onehot(x) + bh is row x of (Wxh^T + bh): a gather, never a matmul.
            pre = (xp.ascontiguousarray(wxh.T) + bh)[inputs]  # (T, B, H)
        else:
            pre = (below.reshape(T * B, H) @ wxh.T).reshape(T, B, H)  # one matmul, all steps
            pre += bh
        hs = xp.empty((T + 1, B, H), dtype=dtype)  # (T+1, B, H)
        hs[0] = h0[l]
        # A contiguous transpose lets BLAS run its fastest (no-transpose) kernel;
        # np.dot costs less per call than np.matmul, which counts when B is small.
        WhhT = xp.ascontiguousarray(whh.T)
        for t in range(T):
            h = hs[t + 1]
            xp.dot(hs[t], WhhT, out=h)
            h += pre[t]
            xp.tanh(h, out=h)
        out = hs[1:]  # (T, B, H)
        drop = None
        if dropout > 0:
            keep = 1.0 - dropout
            u = backend.asarray(rng.random((T, B, H), dtype=np.float32))
            drop = ((u < keep) / keep).astype(dtype)  # inverted dropout: E[drop] = 1
            out = out * drop
        hs_all.append(hs)
        drops.append(drop)
        outs.append(out)
        below = out
    hflat = below.reshape(T * B, H)  # (T*B, H)
    logits = hflat @ params["Why"].T  # (T*B, V)
    logits += params["by"]
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
        weights = None
        loss_sum = float(nll.sum())
    else:
        weights = mask.reshape(-1).astype(dtype)
        loss_sum = float((nll * weights).sum())
    final = xp.empty((L, B, H), dtype=dtype)  # (L, B, H)
    for l, hs in enumerate(hs_all):
        final[l] = hs[-1]
    return loss_sum, Cache(inputs, targets, weights, hs_all, drops, outs, probs, final)


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
        One gradient per parameter, same names and shapes (``dWxh`` under "Wxh").
    dh0 : array (L, B, H)
        Gradient with respect to the initial states (zero for ``naive``).
    """
    if bptt not in ("full", "naive"):
        raise ValueError(f"unknown bptt rule {bptt!r}")
    xp = backend.xp
    inputs = cache.inputs
    T, B = inputs.shape
    L = len(cache.hs)
    H = params["Whh"].shape[0]
    dtype = params["Whh"].dtype
    if out is None:
        out = {k: xp.empty_like(v) for k, v in params.items()}
    rows = xp.arange(T * B)
    # dy = p - onehot(target), weighted: padding contributes nothing.
    dy = cache.probs  # (T*B, V), reused in place
    dy[rows, cache.targets.reshape(-1)] -= 1
    if cache.weights is None:
        dy *= scale
    else:
        dy *= (cache.weights * scale)[:, None]
    top = cache.outs[-1].reshape(T * B, H)  # (T*B, H)
    xp.matmul(dy.T, top, out=out["Why"])  # dWhy (V, H)
    dy.sum(axis=0, out=out["by"])  # dby (V,)
    dout = (dy @ params["Why"]).reshape(T, B, H)  # (T, B, H): d loss / d top output
    dh0 = xp.zeros((L, B, H), dtype=dtype)
    for l in range(L - 1, -1, -1):
        wxh, whh, bh = layer_names(l)
        hs = cache.hs[l]
        if cache.drops[l] is not None:
            dout *= cache.drops[l]  # through the dropout multiplier to the raw output
        dhraw = dout  # (T, B, H): becomes d loss / d pre-activation, in place
        dtanh = hs[1:] * hs[1:]  # (T, B, H): 1 - h^2 for all steps in one pass
        xp.subtract(1, dtanh, out=dtanh)
        if bptt == "full":
            Whh = params[whh]
            dhnext = dh0[l]
            for t in range(T - 1, -1, -1):
                d = dhraw[t]
                d += dhnext
                d *= dtanh[t]
                xp.dot(d, Whh, out=dhnext)
        else:
            dhraw *= dtanh
        dflat = dhraw.reshape(T * B, H)  # (T*B, H)
        xp.matmul(dflat.T, hs[:-1].reshape(T * B, H), out=out[whh])  # dWhh (H, H)
        dflat.sum(axis=0, out=out[bh])  # dbh (H,)
        if l == 0:
            dWxhT = xp.zeros((params[wxh].shape[1], H), dtype=dtype)  # (V, H)
            backend.scatter_add_rows(dWxhT, inputs.reshape(-1), dflat)
            out[wxh][...] = dWxhT.T
        else:
            below = cache.outs[l - 1].reshape(T * B, H)
            xp.matmul(dflat.T, below, out=out[wxh])  # dWxh<l> (H, H)
            dout = (dflat @ params[wxh]).reshape(T, B, H)  # to the layer below
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
    """One recurrence step for generation (no dropout).

    Parameters
    ----------
    x : int array (B,)
    h : array (L, B, H), or (B, H) for one layer

    Returns
    -------
    h_new : array shaped like ``h``
    logits : array (B, V)
    """
    xp = backend.xp
    L = num_layers(params)
    hl = h.reshape(L, *h.shape[-2:])
    new = []
    below = None
    for l in range(L):
        wxh, whh, bh = (params[k] for k in layer_names(l))
        pre = wxh.T[x] if l == 0 else below @ wxh.T
        below = xp.tanh(pre + hl[l] @ whh.T + bh)
        new.append(below)
    logits = below @ params["Why"].T + params["by"]
    h_new = new[0] if L == 1 else xp.stack(new)
    return h_new.reshape(h.shape), logits
