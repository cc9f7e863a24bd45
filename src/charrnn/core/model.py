"""The RNN language model: parameters, batched forward, backward (full BPTT or naive), loss.

Pure functions over arrays: no I/O, no printing. Shapes use B (batch),
T (time), H (hidden), V (vocabulary), L (layers)::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)     Wxh (H, V), Whh (H, H), bh (H,)
    y_t = Why h_t + by                          Why (V, H), by (V,)
    loss = -sum_t mask_t log softmax(y_t)[target_t]

The model is split at one seam. What every recurrent cell shares lives here:
the input projection ``pre_t = Wxh x_t + bh`` (a row gather for the one-hot
first layer, one matmul over all steps for deeper ones), dropout, the output
head and the loss. A **cell** (:mod:`charrnn.core.cells`, its contract
:class:`~charrnn.core.cells.Cell`) owns only its recurrence: forward over T
steps from an initial state, its backward (full, windowed or naive), one step
for generation, its state's shape and its parameter specs.

Every function that needs the cell takes it (an object or its registered
name, as ``Config.cell`` records it); left out, it is
:func:`~charrnn.core.cells.cell_of` the parameters, a fallback that refuses to
guess when the parameters fit no cell or more than one.

With ``layers > 1`` the layers stack: layer l (counted from 1) reads the
output sequence of layer l-1 through ``Wxh<l> (H, H)`` and has its own
``Whh<l>``, ``bh<l>``; the first layer keeps the tutorial's names and ``Why``
reads the top layer. Dropout (inverted, training only) acts on every layer's
output sequence: between layers and before the output layer. Weight drop
(DropConnect on the recurrent weights, as in AWD-LSTM; training only) zeroes a
fraction of each layer's recurrent weight's entries for a whole step, the same
for every sequence of the batch: the recurrence then runs on ``Whh * M`` with
the multiplier ``M`` (0, or the inverse of the kept fraction), so
``dWhh = M * d(Whh * M)`` and every cell, compiled or not, runs unchanged.

In ``jamo3`` units (:mod:`charrnn.core.jamo3`) the first layer reads a Hangul
syllable as the sum of its jamo's input columns, and the head predicts it
factor by factor (initial, medial, final) with two small heads beside ``Why``;
the cells and the layers above the first are the same.

Every large temporary comes from a :class:`Workspace`. A training loop passes
the same one to every step, so in steady state a step allocates nothing large
(and the allocator has no reason to hand pages back to the kernel and fault
them in again); without one each call gets fresh arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import jamo3, kernels, masks
from .backend import NUMPY, Backend
from .cells import (
    CELL_NAMES,
    PARAM_KINDS,
    TANH,
    Cell,
    GradientWindow,
    Grads,
    LayerNames,
    Params,
    ParamSpec,
    cell_of,
    get_cell,
)
from .workspace import Workspace

# What callers import from here, though it lives in .cells and .workspace.
__all__ = [
    "CELL_NAMES",
    "MAX_LAYERS",
    "PARAM_KINDS",
    "PARAM_NAMES",
    "TANH",
    "Cache",
    "Cell",
    "GradientWindow",
    "Grads",
    "LayerNames",
    "ParamSpec",
    "Params",
    "Workspace",
    "backward",
    "cell_of",
    "flat_buffer",
    "forward",
    "get_cell",
    "hidden_size",
    "init_params",
    "num_layers",
    "param_names",
    "param_shapes",
    "param_specs",
    "step",
    "step_state",
    "target_probs",
    "zero_state",
]

MAX_LAYERS = 16


def param_specs(
    vocab_size: int,
    hidden: int,
    layers: int = 1,
    cell: str | Cell = TANH,
    units: str = "char",
) -> list[ParamSpec]:
    """Every parameter, weight matrices first, then biases.

    Keeping the matrices together lets weight decay act on one slice of the
    flat parameter buffer. Within each group: layer by layer, then the head.
    ``cell`` is a cell or its name. In ``jamo3`` units (``units``) the first
    layer reads C input columns and ``Why`` has N + 19 rows (see
    :class:`charrnn.core.jamo3.Layout`), and the medial and final heads follow.
    """
    V, H = vocab_size, hidden
    V_in = V_out = V
    head_weights: list[ParamSpec] = []
    head_biases: list[ParamSpec] = []
    if units == "jamo3":
        layout = jamo3.Layout.for_ids(V)
        V_in, V_out = layout.n_columns, layout.n_top
        head_weights, head_biases = jamo3.head_specs(H)
    cell = get_cell(cell)
    layer_specs = [s for l in range(layers) for s in cell.specs(l, V_in if l == 0 else H, H)]
    weights = [s for s in layer_specs if s.is_weight] + [ParamSpec("Why", (V_out, H), "output")]
    biases = [s for s in layer_specs if not s.is_weight] + [ParamSpec("by", (V_out,), "bias")]
    return weights + head_weights + biases + head_biases


def param_names(layers: int = 1) -> tuple[str, ...]:
    """Every parameter name in :func:`param_specs` order."""
    return tuple(s.name for s in param_specs(1, 1, layers))


PARAM_NAMES = param_names(1)  # ("Wxh", "Whh", "Why", "bh", "by")


def param_shapes(
    vocab_size: int, hidden: int, layers: int = 1, cell: str | Cell = TANH, units: str = "char"
) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter, in :func:`param_specs` order."""
    return {s.name: s.shape for s in param_specs(vocab_size, hidden, layers, cell, units)}


def num_layers(params: Params, cell: str | Cell | None = None) -> int:
    """L: the number of layers whose parameters ``params`` holds (``cell``: the module notes)."""
    cell = get_cell(cell) if cell is not None else cell_of(params)
    for L in range(1, MAX_LAYERS + 1):
        if cell.names(L).recurrent not in params:
            return L
    return MAX_LAYERS


def hidden_size(params: Params) -> int:
    """H, read off the output head (V, H)."""
    return int(params["Why"].shape[1])


def zero_state(
    params: Params,
    batch: int,
    *,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    cell: str | Cell | None = None,
) -> Any:
    """The state every fresh sequence starts from: zeros, (L, B, S).

    S is the cell's state size: H for the tanh cell and the GRU, 2H for the
    LSTM (``[h | c]``). From ``ws`` when given (an array of the workspace), else
    a new array.
    """
    cell = get_cell(cell) if cell is not None else cell_of(params)
    L, H = num_layers(params, cell), hidden_size(params)
    shape = (L, *cell.state_shape(batch, H))
    if ws is not None:
        return ws.zeros("zero-state", shape, params["Why"].dtype)
    return backend.xp.zeros(shape, dtype=params["Why"].dtype)


def init_params(
    vocab_size: int,
    hidden: int,
    rng: np.random.Generator,
    *,
    layers: int = 1,
    init: str = "normal",
    scale: float = 0.01,
    dtype: str = "float32",
    cell: str | Cell = TANH,
    forget_bias: float = 1.0,
    units: str = "char",
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
        and output matrices from N(0, 1/H) and each recurrent matrix as a random
        orthogonal one, so signals neither vanish nor explode at large H.
    scale : float
        Standard deviation for ``normal``.
    dtype : str
    cell : str or cell
        A registered cell or its name: ``"rnn"`` (the tutorial's tanh cell),
        ``"gru"``, ``"lstm"``, ...
    forget_bias : float
        The LSTM's forget-gate bias at the start (see ``LSTMCell.initialise``).
    units : str
        The vocabulary's units: ``"jamo3"`` adds the medial and final heads
        (see :func:`param_specs`); any other gives the tutorial's parameters.

    Returns
    -------
    dict
        Named as :func:`param_names`; for L=1 ``Wxh (H, V)``, ``Whh (H, H)``,
        ``Why (V, H)``, ``bh (H,)``, ``by (V,)``. Biases start at zero and weights
        as drawn, but where the cell's ``initialise`` says otherwise (the LSTM's
        forget gate).
    """
    if init not in ("normal", "scaled"):
        raise ValueError(f"unknown init {init!r}")
    H = hidden
    cell = get_cell(cell)
    specs = param_specs(vocab_size, hidden, layers, cell, units)

    by_name = {s.name: s for s in specs}

    def draw(spec: ParamSpec) -> np.ndarray:
        if init == "normal":
            return rng.standard_normal(spec.shape) * scale
        if spec.kind == "recurrent":  # one orthogonal (H, H) block per gate
            blocks = []
            for _ in range(spec.shape[0] // H):
                q, r = np.linalg.qr(rng.standard_normal((H, H)))
                blocks.append(q * np.sign(np.diag(r)))  # Haar-distributed orthogonal matrix
            return np.concatenate(blocks)
        # One-hot inputs have fan-in 1 per column; a unit-variance column would
        # saturate tanh, so every input and output matrix uses 1/sqrt(H).
        return rng.standard_normal(spec.shape) / np.sqrt(H)

    # Draw order: layer 1's weights, then the head, then deeper layers, so that
    # a one-layer model draws exactly what it always drew; jamo3's heads last.
    per_layer = [[s.name for s in cell.specs(l, 1, H) if s.is_weight] for l in range(layers)]
    order = per_layer[0] + ["Why"] + [name for names in per_layer[1:] for name in names]
    order += [name for name in jamo3.HEAD_WEIGHTS if name in by_name]
    drawn = {name: draw(by_name[name]) for name in order}
    params = {
        s.name: (drawn[s.name] if s.is_weight else np.zeros(s.shape)).astype(dtype) for s in specs
    }
    cell.initialise(params, layers, forget_bias)  # the cell's own bias (and weight) init
    return params


@dataclass
class Cache:
    """What :func:`backward` needs from :func:`forward`."""

    inputs: Any  # (T, B) int
    targets: Any  # (T, B) int
    weights: Any  # (T*B,) loss weight per position: mask, 0 on padding; None: all count
    hs: list[Any]  # per layer, the cell's cache; the tanh cell's: states (T+1, B, H)
    drops: list[Any]  # per layer (T, B, H) dropout multipliers, or None
    outs: list[Any]  # per layer (T, B, H): output sequence after dropout
    probs: Any  # (T*B, V) softmax outputs; jamo3: the first factor's, (T*B, N + 19)
    final_state: Any  # (L, B, S) every layer's last state, to carry on
    nll: Any = None  # (T*B,) float64 -log p(target) at every position, padding too
    head: Any = None  # jamo3: the medial and final heads' HeadCache; None otherwise
    # Weight drop: per layer (recurrent weight as used, its multiplier), or None.
    dropped: list[Any] | None = None


def _dropout(
    out: Any,
    rate: float,
    rng: Any,
    ws: Workspace,
    layer: int,
    backend: Backend,
    per_sequence: bool = False,
) -> tuple[Any, Any]:
    """Inverted dropout of ``out`` (T, B, H): returns (dropped output, multipliers).

    ``per_sequence``: one mask per sequence, the same at every time step.
    """
    xp = backend.xp
    drop = ws.get(f"drop{layer}", out.shape, out.dtype)  # (T, B, H)
    dropped = ws.get(f"dropped{layer}", out.shape, out.dtype)  # (T, B, H)
    if isinstance(rng, np.random.Generator):
        u32 = ws.get("uniform", out.shape, np.float32)  # (T, B, H)
        if backend.name == "numpy" and not per_sequence:
            rng.random(dtype=np.float32, out=u32)
        else:
            draw = out.shape[1:] if per_sequence else out.shape  # (B, H) or (T, B, H)
            u32[...] = backend.asarray(rng.random(draw, dtype=np.float32))
        _multiplier(u32, 1.0 - rate, 1.0 / (1.0 - rate), drop, ws, xp)
    else:
        # Keyed by position (charrnn.core.masks), so data-parallel ranks draw what one
        # process would; a (T, B, H) view of a (B, T, H) host block of 16-bit draws.
        host = ws.get("mask-bits", (out.size,), np.uint16) if backend.name == "numpy" else None
        bits = rng.bits(out.shape, layer, host, per_sequence)
        return _apply_keyed_mask(out, bits, out.shape, rate, drop, dropped, ws, backend), drop
    xp.multiply(out, drop, out=dropped)
    return dropped, drop


def _apply_keyed_mask(
    x: Any,
    bits: Any,
    dims: tuple[int, int, int],
    rate: float,
    mult: Any,
    out: Any,
    ws: Workspace,
    backend: Backend,
) -> Any:
    """``mult`` from 16-bit draws at ``rate``, and ``out = x * mult``: returns ``out``.

    ``dims`` (T, B, H) is how the compiled kernel reads ``bits``: a (B, T, H) block
    under x's (T, B, H) (a layer's output), or one (1, 1, size) block (a weight).
    """
    bound, scale = masks.threshold(rate)
    fused = kernels.active(backend.xp)
    if fused is not None and kernels.fits(x.dtype, x, mult, out):
        adr = kernels.address  # bits: the block's start, element [0, 0, 0] of any view
        fused.fn("dropout", x.dtype)(*dims, adr(bits), bound, scale, adr(x), adr(mult), adr(out))
        return out
    _multiplier(backend.asarray(bits), bound, scale, mult, ws, backend.xp)
    backend.xp.multiply(x, mult, out=out)
    return out


def _multiplier(u: Any, bound: Any, scale: float, out: Any, ws: Workspace, xp: Any) -> Any:
    """Inverted-dropout multipliers into ``out``: ``scale`` where ``u < bound``, else 0."""
    kept = ws.get("kept", u.shape, bool)
    xp.less(u, bound, out=kept)
    xp.multiply(kept, scale, out=out)  # E[out] = 1: scale is 1 / P(u < bound)
    return out


def _weight_drop(
    W: Any, rate: float, rng: Any, ws: Workspace, layer: int, backend: Backend
) -> tuple[Any, Any]:
    """DropConnect on a recurrent weight (G, H): returns (weight as used, multipliers)."""
    xp = backend.xp
    mult = ws.get(f"wdrop{layer}", W.shape, W.dtype)  # (G, H)
    used = ws.get(f"wused{layer}", W.shape, W.dtype)  # (G, H)
    if isinstance(rng, np.random.Generator):
        host = ws.get("wdrop-uniform", W.shape, np.float32) if backend.name == "numpy" else None
        u32 = rng.random(W.shape, dtype=np.float32, out=host)
        _multiplier(backend.asarray(u32), 1.0 - rate, 1.0 / (1.0 - rate), mult, ws, xp)
    else:
        bits = rng.weight_bits(W.shape, layer)  # keyed by (seed, step, layer): same on every rank
        return _apply_keyed_mask(W, bits, (1, 1, W.size), rate, mult, used, ws, backend), mult
    xp.multiply(W, mult, out=used)
    return used, mult


def forward(
    params: Params,
    inputs: Any,
    targets: Any,
    h0: Any,
    mask: Any = None,
    *,
    dropout: float = 0.0,
    rng: Any = None,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    cell: str | Cell | None = None,
    weight_drop: float = 0.0,
    dropout_masks: str = "step",
) -> tuple[float, Cache]:
    """Run the RNN over a batch and return the summed cross-entropy.

    Parameters
    ----------
    params : dict
    inputs, targets : int arrays (T, B)
    h0 : array (L, B, S), or (B, S) for one layer
        Initial states (zeros for fresh sequences, carried in text mode); S is
        the cell's state size (see :func:`zero_state`).
    mask : array (T, B) or None
        1 where a target counts, 0 on padding. ``None`` counts everything.
    dropout : float
        Probability of zeroing a unit of each layer's output (training only).
    rng : numpy.random.Generator or charrnn.core.masks.KeyedBits
        Draws the dropout and weight-drop masks; required when either is on.
        Training passes a :class:`~charrnn.core.masks.KeyedBits` (masks keyed
        by step, layer and sequence position).
    backend : Backend
    ws : Workspace, optional
        Where the large temporaries live; the cache is made of its arrays, so it
        is valid until the next call with the same workspace. Fresh arrays if ``None``.
    cell : cell or str, optional
        The recurrence, or its registered name; ``None``: ``cell_of(params)``.
    weight_drop : float
        Probability of zeroing an entry of each layer's recurrent weight for
        this call (training only), one draw for the whole batch.
    dropout_masks : {"step", "sequence"}
        A fresh dropout mask at every time step, or one per sequence kept for
        all T steps (locked dropout).

    Returns
    -------
    loss_sum : float
        Sum over counted positions of ``-log p(target)``, in nats.
    cache : Cache
        Input to :func:`backward`; ``cache.final_state`` is (L, B, S).
    """
    if dropout_masks not in masks.DROPOUT_MASKS:
        raise ValueError(f"unknown dropout_masks {dropout_masks!r}; use {masks.DROPOUT_MASKS}")
    xp = backend.xp
    cell = get_cell(cell) if cell is not None else cell_of(params)
    ws = ws if ws is not None else Workspace(backend)
    L = num_layers(params, cell)
    T, B = inputs.shape
    H = hidden_size(params)
    V = params["Why"].shape[0]
    dtype = params["Why"].dtype
    S = cell.state_shape(B, H)[1]
    h0 = h0.reshape(L, B, S)
    layout = jamo3.Layout.of(params) if jamo3.is_jamo3(params) else None
    caches, drops, outs = [], [], []
    dropped: list[Any] | None = [] if weight_drop > 0 else None
    used = params
    final = ws.get("final", (L, B, S), dtype)  # (L, B, S)
    below: Any = None  # (T, B, H) output of the layer below
    for l in range(L):
        n = cell.names(l)
        W, b = params[n.input], params[n.bias]
        G = W.shape[0]  # gates * H
        pre = ws.get("pre", (T, B, G), dtype)  # (T, B, G)
        if l == 0 and layout is not None:
            jamo3.gather_input(W, b, inputs, pre, layout, ws, xp)  # (I1)-(I2): jamo3's columns
        elif l == 0:
            # Wxh @ onehot(x) + bh is row x of (Wxh^T + bh): a gather, never a matmul.
            table = ws.get("table", (W.shape[1], G), dtype)  # (V, G)
            xp.add(W.T, b, out=table)
            # mode="clip" lets take write straight into `pre` (ids are always in range).
            xp.take(table, inputs, axis=0, out=pre, mode="clip")
        else:
            xp.dot(below.reshape(T * B, H), W.T, out=pre.reshape(T * B, G))  # all steps at once
            pre += b
        if dropped is not None:
            Wd, mult = _weight_drop(params[n.recurrent], weight_drop, rng, ws, l, backend)
            used = {**used, n.recurrent: Wd}  # the cell reads the dropped weight
            dropped.append((Wd, mult))
        out, final[l], lcache = cell.forward(used, l, pre, h0[l], ws, xp)
        drop = None
        if dropout > 0:
            per_sequence = dropout_masks == "sequence"
            out, drop = _dropout(out, dropout, rng, ws, l, backend, per_sequence)
        caches.append(lcache)
        drops.append(drop)
        outs.append(out)
        below = out
    hflat = below.reshape(T * B, H)  # (T*B, H)
    logits = ws.get("logits", (T * B, V), dtype)  # (T*B, V)
    xp.dot(hflat, params["Why"].T, out=logits)
    tflat = targets.reshape(-1)
    head = None
    if layout is not None:
        # (O2)-(O3): the medial and final factors; the first is the softmax below (O1).
        nll_jamo, head = jamo3.head_forward(params, hflat, tflat, layout, ws, xp)
        tflat = head.c0
    probs, nll = _softmax_nll(logits, params["by"], tflat, ws, xp)  # (T*B, V), (T*B,)
    if head is not None:
        nll += nll_jamo  # (L): the whole syllable's loss
    if mask is None:
        weights = None
        loss_sum = float(nll.sum())
    else:
        weights = mask.reshape(-1).astype(dtype)
        loss_sum = float((nll * weights).sum())
    return loss_sum, Cache(
        inputs, targets, weights, caches, drops, outs, probs, final, nll, head, dropped
    )


def _softmax_nll(logits: Any, by: Any, targets: Any, ws: Workspace, xp: Any) -> tuple[Any, Any]:
    """Softmax of ``logits + by`` in place, and each row's ``-log p[target]`` in float64."""
    N, V = logits.shape
    fused = kernels.active(xp)
    if fused is not None and kernels.fits(logits.dtype, logits, by):
        # fused.c's softmax_nll: the lines below, one row at a time while it is in cache.
        idx = np.ascontiguousarray(targets, dtype=np.intp)
        nll = ws.get("nll", (N,), np.float64)  # (T*B,)
        adr = kernels.address
        bad = fused.fn("softmax_nll", logits.dtype)(N, V, adr(logits), adr(by), adr(idx), adr(nll))
        if bad:
            raise IndexError(f"{bad} targets outside the vocabulary of {V}")
        return logits, nll
    logits += by
    logits -= logits.max(axis=1, keepdims=True)
    rows = ws.arange(N)
    # log p[target] = z[target] - log sum exp z, taken before exp overwrites z:
    # a confident wrong guess costs a large finite loss, never log(0).
    z_target = logits[rows, targets].astype(xp.float64)  # (T*B,)
    probs = xp.exp(logits, out=logits)
    sums = probs.sum(axis=1)  # (T*B,)
    probs /= sums[:, None]
    nll = xp.log(sums.astype(xp.float64)) - z_target  # (T*B,) float64 for accuracy
    return probs, nll


def backward(
    params: Params,
    cache: Cache,
    *,
    scale: float = 1.0,
    bptt: str = "full",
    out: Grads | None = None,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    cell: str | Cell | None = None,
    window: int | None = None,
) -> tuple[Grads, Any]:
    """Gradients of ``scale * loss_sum`` with respect to every parameter.

    Parameters
    ----------
    params : dict
    cache : Cache
        From :func:`forward`; its arrays are overwritten.
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
    ws : Workspace, optional
        Scratch space (the one the forward used is fine); fresh arrays if ``None``.
    cell : cell or str, optional
        The recurrence, or its registered name; ``None``: ``cell_of(params)``.
    window : int, optional
        Sliding-window truncation of full BPTT: the loss at step t sends
        gradient to the states at t, t-1, ..., t-window and no further (see
        :class:`GradientWindow`; 0 gives the naive rule). One layer only: in a
        stack a loss would reach a further ``window`` steps in every layer below.
        ``None``: no limit.

    Returns
    -------
    grads : dict
        One gradient per parameter, same names and shapes (``dWxh`` under "Wxh").
    dh0 : array (L, B, S)
        Gradient with respect to the initial states (zero for ``naive``); an
        array of ``ws``.
    """
    cell = get_cell(cell) if cell is not None else cell_of(params)
    if bptt not in ("full", "naive"):
        raise ValueError(f"unknown bptt rule {bptt!r}")
    if window is not None and (bptt != "full" or window < 0 or len(cache.hs) != 1):
        raise ValueError("a gradient window needs bptt='full', window >= 0 and one layer")
    xp = backend.xp
    ws = ws if ws is not None else Workspace(backend)
    inputs = cache.inputs
    T, B = inputs.shape
    L = len(cache.hs)
    H = hidden_size(params)
    dtype = params["Why"].dtype
    if out is None:
        out = {k: xp.empty_like(v) for k, v in params.items()}
    rows = ws.arange(T * B)
    # dy = p - onehot(target), weighted: padding contributes nothing.
    dy = cache.probs  # (T*B, V), reused in place
    head = cache.head
    dy[rows, cache.targets.reshape(-1) if head is None else head.c0] -= 1
    if cache.weights is None:
        dy *= scale
    else:
        dy *= (cache.weights * scale)[:, None]
    top = cache.outs[-1].reshape(T * B, H)  # (T*B, H)
    xp.matmul(dy.T, top, out=out["Why"])  # dWhy (V, H)
    dy.sum(axis=0, out=out["by"])  # dby (V,)
    dout = ws.get("dout0", (T, B, H), dtype)  # (T, B, H): d loss / d top output
    xp.dot(dy, params["Why"], out=dout.reshape(T * B, H))
    if head is not None:  # (D2)-(D3): the medial and final heads add to d loss / d top output
        coef = (
            xp.full(T * B, scale, dtype=dtype) if cache.weights is None else cache.weights * scale
        )
        jamo3.head_backward(params, head, top, coef, out, dout.reshape(T * B, H), ws, xp)
    dh0 = ws.zeros("dh0", (L, *cell.state_shape(B, H)), dtype)  # (L, B, S)
    for l in range(L - 1, -1, -1):
        n = cell.names(l)
        if cache.drops[l] is not None:
            dout *= cache.drops[l]  # through the dropout multiplier to the raw output
        used = params
        if cache.dropped is not None:
            used = {**params, n.recurrent: cache.dropped[l][0]}  # what the forward ran
        dpre = cell.backward(used, l, cache.hs[l], dout, dh0[l], out, bptt, ws, xp, window)
        if cache.dropped is not None:
            out[n.recurrent] *= cache.dropped[l][1]  # dWhh = M * d(Whh * M)
        G = dpre.shape[2]
        dflat = dpre.reshape(T * B, G)  # (T*B, G)
        if l == 0 and head is None:  # dWxh (G, V) and dbh (G,)
            backend.onehot_grad(inputs.reshape(-1), dflat, out[n.input], ws, bias=out[n.bias])
            continue
        dflat.sum(axis=0, out=out[n.bias])  # dbh (G,)
        if l == 0:
            layout = jamo3.Layout.of(params)
            jamo3.input_grad(backend, inputs.reshape(-1), dflat, out[n.input], layout, ws)  # (D4)
        else:
            below = cache.outs[l - 1].reshape(T * B, H)
            xp.matmul(dflat.T, below, out=out[n.input])  # dWxh<l> (G, H)
            # Two buffers in turn: this layer's dpre still lives in the other one.
            dout = ws.get(f"dout{(L - l) % 2}", (T, B, H), dtype)
            xp.dot(dflat, params[n.input], out=dout.reshape(T * B, H))  # to the layer below
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


def step_state(
    params: Params,
    x: Any,
    h: Any,
    *,
    backend: Backend = NUMPY,
    cell: str | Cell | None = None,
    ws: Workspace | None = None,
    record: list[dict[str, Any]] | None = None,
) -> Any:
    """One recurrence step for generation (no dropout): the new state alone, no head.

    Parameters as :func:`step`; returns ``h_new``, shaped like ``h``.
    """
    xp = backend.xp
    ws = ws if ws is not None else Workspace(backend)
    cell = get_cell(cell) if cell is not None else cell_of(params)
    L, H = num_layers(params, cell), hidden_size(params)
    B = x.shape[0]
    dtype = params["Why"].dtype
    S = cell.state_shape(B, H)[1]
    hl = h.reshape(L, B, S)
    h_new = ws.other("step-h", (L, B, S), dtype, hl)  # (L, B, S)
    below = None
    for l in range(L):
        n = cell.names(l)
        W, b = params[n.input], params[n.bias]
        pre = ws.get("step-pre", (B, W.shape[0]), dtype)  # (B, G), as forward's projection
        if l == 0 and jamo3.is_jamo3(params):
            pre[...] = jamo3.step_input(W, b, x, jamo3.Layout.of(params), xp)  # (I1)-(I2)
            b = 0
        elif l == 0:
            if W.T.flags.c_contiguous:  # the sampler lays Wxh out so: a row gather
                xp.take(W.T, x, axis=0, out=pre, mode="clip")
            else:  # take would copy all of W.T first; this copies B columns
                pre[...] = W[:, x].T
        else:
            xp.dot(below, W.T, out=pre)
        pre += b
        gates: list[dict[str, Any]] | None = [] if record is not None else None
        cell.step(params, l, pre, hl[l], h_new[l], xp, ws, gates)
        if record is not None:
            record.append(gates[0] if gates else {})
        below = cell.output(h_new[l])
    return h_new.reshape(h.shape)


def step(
    params: Params,
    x: Any,
    h: Any,
    *,
    backend: Backend = NUMPY,
    cell: str | Cell | None = None,
    ws: Workspace | None = None,
    record: list[dict[str, Any]] | None = None,
) -> tuple[Any, Any]:
    """One recurrence step for generation (no dropout), through the cell's own step.

    Parameters
    ----------
    x : int array (B,)
    h : array (L, B, S), or (B, S) for one layer
    cell : cell or str, optional
        The recurrence, or its registered name; ``None``: ``cell_of(params)``.
    ws : Workspace, optional
        Where the new state and the logits go; a generation loop passes the same
        one every step (the new state never overwrites ``h``). Fresh arrays if ``None``.
    record : list, optional
        Receives one dict per layer of the gates' values, ``{gate name: (B, H)}``
        (empty for the tanh cell), for ``trace``.

    Returns
    -------
    h_new : array shaped like ``h``
    logits : array (B, V)
        In ``jamo3`` units, the log-probabilities of every character and syllable
        (float64, :func:`charrnn.core.jamo3.log_probs`): logits whose softmax is the
        factored distribution.
    """
    ws = ws if ws is not None else Workspace(backend)
    cell = get_cell(cell) if cell is not None else cell_of(params)
    h_new = step_state(params, x, h, backend=backend, cell=cell, ws=ws, record=record)
    L, H = num_layers(params, cell), hidden_size(params)
    S = cell.state_shape(x.shape[0], H)[1]
    below = cell.output(h_new.reshape(L, x.shape[0], S)[-1])  # (B, H) the top layer's output
    if jamo3.is_jamo3(params):
        return h_new, jamo3.log_probs(params, backend.asnumpy(below))
    logits = ws.get("step-logits", (x.shape[0], params["Why"].shape[0]), params["Why"].dtype)
    backend.xp.dot(below, params["Why"].T, out=logits)  # (B, V)
    logits += params["by"]
    return h_new, logits


def target_probs(cache: Cache) -> Any:
    """p(target) at every position of a forward, (T*B,) float64.

    The softmax's own entry where there is one table of probabilities; in
    ``jamo3`` units, the product of the target's factors.
    """
    if cache.head is not None:
        return np.exp(-np.asarray(cache.nll))
    T, B = cache.targets.shape
    return cache.probs[np.arange(T * B), cache.targets.reshape(-1)].astype(np.float64)
