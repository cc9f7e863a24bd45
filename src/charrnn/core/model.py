"""The RNN language model: parameters, batched forward, backward (full BPTT or naive), loss.

Pure functions over arrays: no I/O, no printing. Shapes use B (batch),
T (time), H (hidden), V (vocabulary), L (layers)::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)     Wxh (H, V), Whh (H, H), bh (H,)
    y_t = Why h_t + by                          Why (V, H), by (V,)
    loss = -sum_t mask_t log softmax(y_t)[target_t]

The model is split at one seam. What every recurrent cell shares lives here:
the input projection ``pre_t = Wxh x_t + bh`` (a row gather for the one-hot
first layer, one matmul over all steps for deeper ones), dropout, the output
head and the loss. A **cell** (:class:`TanhCell`) owns only its recurrence:
forward over T steps from an initial state, its backward (full or naive), one
step for generation, its state's shape and its parameter specs.

With ``layers > 1`` the layers stack: layer l (counted from 1) reads the
output sequence of layer l-1 through ``Wxh<l> (H, H)`` and has its own
``Whh<l>``, ``bh<l>``; the first layer keeps the tutorial's names and ``Why``
reads the top layer. Dropout (inverted, training only) acts on every layer's
output sequence: between layers and before the output layer.

Every large temporary comes from a :class:`Workspace`. A training loop passes
the same one to every step, so in steady state a step allocates nothing large
(and the allocator has no reason to hand pages back to the kernel and fault
them in again); without one each call gets fresh arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import NUMPY, Backend

Params = dict[str, Any]
Grads = dict[str, Any]

PARAM_KINDS = ("input", "recurrent", "output", "bias")
MAX_LAYERS = 16


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its name, shape and kind.

    ``kind`` is ``input`` (reads the layer below), ``recurrent`` (reads the
    previous state), ``output`` (the head) or ``bias``. Initialisation, weight
    decay, checkpoint checks and the flat buffer's layout go by kind, never by
    the name.
    """

    name: str
    shape: tuple[int, ...]
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    @property
    def is_weight(self) -> bool:
        """Weight matrices decay; biases do not."""
        return self.kind != "bias"


@dataclass(frozen=True)
class LayerNames:
    """The names of one layer's parameters: input weight, recurrent weight, input bias."""

    input: str
    recurrent: str
    bias: str


class Workspace:
    """Named arrays reused from call to call.

    Each name holds one buffer that grows to the largest size asked of it; a
    request returns a view of its first elements in the shape asked for. So a
    words-mode batch of any length reuses the buffers of the longest one seen.
    Arrays a workspace hands out are overwritten by the next call that uses the
    same workspace: a caller keeps what it needs by copying it.

    Parameters
    ----------
    backend : Backend
    """

    def __init__(self, backend: Backend = NUMPY):
        self.xp = backend.xp
        self._buffers: dict[str, Any] = {}
        self._ranges: dict[int, Any] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """An uninitialised array of ``shape`` and ``dtype``, owned by the workspace."""
        return self._view(name, shape, dtype, self.xp.empty)

    def _view(self, name: str, shape: tuple[int, ...], dtype: Any, make: Any) -> Any:
        # The named buffer, made anew by `make` only when it is too small or of another type.
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < n or buf.dtype != np.dtype(dtype):
            buf = self._buffers[name] = make(n, dtype=dtype)
        return buf[:n].reshape(shape)

    def zeros(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """Like :meth:`get`, filled with zeros."""
        a = self.get(name, shape, dtype)
        a.fill(0)
        return a

    def clean(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """Like :meth:`get`, zeros when first made; the caller leaves it all zeros again.

        For sparse scratch (a one-hot matrix): resetting the few entries it set
        costs far less than clearing the whole array every call.
        """
        return self._view(name, shape, dtype, self.xp.zeros)

    def other(self, name: str, shape: tuple[int, ...], dtype: Any, avoid: Any) -> Any:
        """Like :meth:`get`, from one of two buffers: the one that does not hold ``avoid``.

        For a loop that computes its next state from the current one.
        """
        a = self.get(name + "-0", shape, dtype)
        return a if not self.xp.may_share_memory(a, avoid) else self.get(name + "-1", shape, dtype)

    def arange(self, n: int) -> Any:
        """``0 .. n-1`` as int64, computed once per length."""
        r = self._ranges.get(n)
        if r is None:
            r = self._ranges[n] = self.xp.arange(n)
        return r


class GradientWindow:
    """Sliding-window truncated BPTT, for any cell's backward loop.

    With a window of W steps, the loss at step t sends gradient to the states
    ``h_t, h_{t-1}, ..., h_{t-W}`` and no further: W hops back through the
    recurrence. ``W = 0`` is the tutorial's naive rule, an unbounded W is full
    BPTT. Unlike text mode's chunks of T (where the loss at a chunk's first
    step reaches nothing before it and the last one reaches T steps back),
    every loss gets the same reach.

    Each loss's gradient travels its own way back, so the window keeps one
    part per loss still inside it: ``parts`` (W+1, *shape), a ring in which
    the loss at step t takes the slot of the loss at t+W+1, whose gradient
    would otherwise go one hop too far. Every hop is linear in the gradient,
    so all parts travel in one call (one (W+1)·B-row matmul for the tanh cell).

    What a cell's backward loop over ``t = T-1, ..., 0`` must do, instead of
    adding one carried gradient to ``dout[t]``:

    1. ``d = window.arrive(t, dout[t])``: the loss at t enters the window;
       ``d`` (written into ``dout[t]``) is the total gradient w.r.t. the state
       at t from the losses that reach it. Use it for the parameter gradients
       exactly as full BPTT uses its ``dout[t] + dhnext``.
    2. Move every part one hop back, in place or into ``window.spare``,
       and call ``window.moved(result)``: the hop is the cell's own linear map
       from d loss / d state_t to d loss / d state_{t-1} (for the tanh cell
       ``g -> (g * (1 - h_t^2)) @ Whh``), applied to an array with a leading
       axis of W+1.

    After the loop, :meth:`total` is the windowed gradient w.r.t. the initial state.

    Parameters
    ----------
    window : int
        W >= 0.
    steps : int
        T: no gradient goes further back than the initial state, T hops from
        the last step, so a window of T or more keeps T+1 parts.
    shape : tuple
        Shape of the gradient w.r.t. one step's state, (B, H) for the tanh cell.
    dtype
    ws : Workspace
    xp : module
    """

    def __init__(
        self, window: int, steps: int, shape: tuple[int, ...], dtype: Any, ws: Workspace, xp: Any
    ):
        self.size = min(window, steps) + 1
        self.parts = ws.zeros("window-parts-0", (self.size, *shape), dtype)  # (W+1, B, H)
        self.spare = ws.get("window-parts-1", (self.size, *shape), dtype)  # (W+1, B, H)

    def arrive(self, t: int, dout_t: Any) -> Any:
        """The loss at step ``t`` enters; returns the windowed total, in ``dout_t``'s memory."""
        self.parts[t % self.size] = dout_t  # evicts the loss at t+W+1, now W+1 hops back
        return self.parts.sum(axis=0, out=dout_t)

    def moved(self, parts: Any) -> None:
        """Take ``parts`` (``self.parts`` or ``self.spare``) as the parts one step back."""
        if parts is self.spare:
            self.parts, self.spare = self.spare, self.parts

    def total(self, out: Any) -> Any:
        """After the loop, d loss / d initial state into ``out``."""
        self.parts[-1 % self.size] = 0  # the loss at step W arrived W+1 hops back: out
        return self.parts.sum(axis=0, out=out)


class HiddenStateCell:
    """What the cells whose state is the hidden vector alone (tanh, GRU) share."""

    def state_shape(self, batch: int, hidden: int) -> tuple[int, ...]:
        """One layer's state: the hidden vector of every sequence."""
        return (batch, hidden)

    def output(self, state: Any) -> Any:
        """The part of a (B, S) state the next layer reads: all of it."""
        return state

    def init_biases(self, params: Params, layers: int, forget_bias: float) -> None:
        """Biases start at zero (the forget-gate option is the LSTM's)."""


class TanhCell(HiddenStateCell):
    """The vanilla recurrence of the tutorial: ``h_t = tanh(pre_t + Whh h_{t-1})``.

    ``pre_t = Wxh x_t + bh`` arrives from the shared input projection. The
    state of a layer is its hidden vector, (B, H).
    """

    name = "tanh"
    gates = 1  # width of the input projection, in units of H

    def names(self, layer: int) -> LayerNames:
        """The tutorial's names for layer 0 (``Wxh, Whh, bh``), numbered from 2 after."""
        suffix = "" if layer == 0 else str(layer + 1)
        return LayerNames(f"Wxh{suffix}", f"Whh{suffix}", f"bh{suffix}")

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """The layer's parameters: input weight (H, n_in), recurrent (H, H), bias (H,)."""
        n, H = self.names(layer), hidden
        return [
            ParamSpec(n.input, (self.gates * H, n_in), "input"),
            ParamSpec(n.recurrent, (H, H), "recurrent"),
            ParamSpec(n.bias, (self.gates * H,), "bias"),
        ]

    @staticmethod
    def _recur(xp: Any, h_prev: Any, WhhT: Any, pre_t: Any, out: Any) -> None:
        # The one recurrence step, shared by forward and step. np.dot costs
        # less per call than np.matmul, which counts when B is small.
        xp.dot(h_prev, WhhT, out=out)
        out += pre_t
        xp.tanh(out, out=out)

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps.

        Parameters
        ----------
        pre : array (T, B, H)
            Input projections, bias included.
        h0 : array (B, H)
            Initial state.

        Returns
        -------
        out : array (T, B, H)
            The layer's output sequence (a view of ``cache``).
        final : array (B, H)
            The last state.
        cache : array (T+1, B, H)
            Every state, ``cache[0] = h0``: what :meth:`backward` needs.
        """
        T, B, H = pre.shape
        Whh = params[self.names(layer).recurrent]
        hs = ws.get(f"hs{layer}", (T + 1, B, H), Whh.dtype)  # (T+1, B, H)
        hs[0] = h0
        # A contiguous transpose lets BLAS run its fastest (no-transpose) kernel.
        WhhT = ws.get(f"WhhT{layer}", (H, H), Whh.dtype)
        WhhT[...] = Whh.T
        for t in range(T):
            self._recur(xp, hs[t], WhhT, pre[t], hs[t + 1])
        return hs[1:], hs[T], hs

    def backward(
        self,
        params: Params,
        layer: int,
        cache: Any,
        dout: Any,
        dh0: Any,
        grads: Grads,
        bptt: str,
        ws: Workspace,
        xp: Any,
        window: int | None = None,
    ) -> Any:
        """Back through the recurrence.

        Parameters
        ----------
        cache : array (T+1, B, H)
            From :meth:`forward`.
        dout : array (T, B, H)
            d loss / d output sequence; overwritten.
        dh0 : array (B, H)
            Zeros on entry; receives d loss / d initial state (stays zero for ``naive``).
        grads : dict
            Receives the recurrent weight's gradient (``dWhh``).
        window : int, optional
            With ``bptt="full"``, send each loss's gradient at most ``window``
            steps back (see :class:`GradientWindow`); ``None`` is no limit.

        Returns
        -------
        dpre : array (T, B, H)
            d loss / d input projection (``dhraw`` of the tutorial), in ``dout``'s memory.
        """
        hs = cache
        T, B, H = dout.shape
        n = self.names(layer)
        # 1 - h^2 for all steps in one pass, in the buffer of the forward's input
        # projections: spent by now, and reusing it keeps the step's working set small.
        dtanh = ws.get("pre", (T, B, H), hs.dtype)
        xp.multiply(hs[1:], hs[1:], out=dtanh)
        xp.subtract(1, dtanh, out=dtanh)
        dhraw = dout
        if bptt == "full" and window is not None:
            Whh = params[n.recurrent]
            win = GradientWindow(window, T, (B, H), hs.dtype, ws, xp)
            for t in range(T - 1, -1, -1):
                d = win.arrive(t, dhraw[t])
                d *= dtanh[t]
                win.parts *= dtanh[t]  # every part through tanh'(h_t) ...
                xp.dot(win.parts.reshape(-1, H), Whh, out=win.spare.reshape(-1, H))  # ... and Whh
                win.moved(win.spare)
            win.total(out=dh0)
        elif bptt == "full":
            Whh = params[n.recurrent]
            dhnext = dh0
            for t in range(T - 1, -1, -1):
                d = dhraw[t]
                d += dhnext
                d *= dtanh[t]
                xp.dot(d, Whh, out=dhnext)
        else:
            dhraw *= dtanh  # the tutorial's section 4: no dhnext
        # dWhh (H, H)
        xp.matmul(dhraw.reshape(T * B, H).T, hs[:-1].reshape(T * B, H), out=grads[n.recurrent])
        return dhraw

    def step(
        self,
        params: Params,
        layer: int,
        pre: Any,
        h: Any,
        out: Any,
        xp: Any,
        ws: Workspace | None = None,
        record: list[dict[str, Any]] | None = None,
    ) -> None:
        """One step for generation: ``pre`` (B, H) with bias, state ``h`` (B, H) -> ``out``.

        The tanh cell has no gates, so it adds nothing to ``record``.
        """
        self._recur(xp, h, params[self.names(layer).recurrent].T, pre, out)


TANH = TanhCell()

# A cell is TANH or one of the gated cells of charrnn.gated: any object with
# TanhCell's methods (names, specs, state_shape, output, init_biases, forward,
# backward, step).
Cell = Any
CELL_NAMES = ("rnn", "gru", "lstm")  # Config.cell's choices; "rnn" is the tutorial's tanh cell
_CELLS: dict[str, Cell] = {}


def get_cell(cell: str | Cell) -> Cell:
    """The cell called ``cell`` (one of :data:`CELL_NAMES`); a cell object is returned as is."""
    if not isinstance(cell, str):
        return cell
    if not _CELLS:
        from .gated import GRU, LSTM  # they build on this module's seam, so import late

        _CELLS.update(rnn=TANH, gru=GRU, lstm=LSTM)
    if cell not in _CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELL_NAMES)}")
    return _CELLS[cell]


def cell_name(cell: Cell) -> str:
    """The :data:`CELL_NAMES` name of a cell object."""
    return next(k for k in CELL_NAMES if get_cell(k) is cell)


def cell_of(params: Params) -> Cell:
    """The cell whose parameters ``params`` holds, told by its first recurrent weight's name."""
    for name in CELL_NAMES:
        cell = get_cell(name)
        if cell.names(0).recurrent in params:
            return cell
    raise ValueError("the parameters hold no recurrent weight of any cell")


def param_specs(
    vocab_size: int, hidden: int, layers: int = 1, cell: str | Cell = TANH
) -> list[ParamSpec]:
    """Every parameter, weight matrices first, then biases.

    Keeping the matrices together lets weight decay act on one slice of the
    flat parameter buffer. Within each group: layer by layer, then the head.
    ``cell`` is a cell or its name.
    """
    V, H = vocab_size, hidden
    cell = get_cell(cell)
    layer_specs = [s for l in range(layers) for s in cell.specs(l, V if l == 0 else H, H)]
    weights = [s for s in layer_specs if s.is_weight] + [ParamSpec("Why", (V, H), "output")]
    biases = [s for s in layer_specs if not s.is_weight] + [ParamSpec("by", (V,), "bias")]
    return weights + biases


def param_names(layers: int = 1) -> tuple[str, ...]:
    """Every parameter name in :func:`param_specs` order."""
    return tuple(s.name for s in param_specs(1, 1, layers))


PARAM_NAMES = param_names(1)  # ("Wxh", "Whh", "Why", "bh", "by")


def param_shapes(
    vocab_size: int, hidden: int, layers: int = 1, cell: str | Cell = TANH
) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter, in :func:`param_specs` order."""
    return {s.name: s.shape for s in param_specs(vocab_size, hidden, layers, cell)}


def num_layers(params: Params) -> int:
    """L: the number of layers whose parameters ``params`` holds."""
    cell = cell_of(params)
    for L in range(1, MAX_LAYERS + 1):
        if cell.names(L).recurrent not in params:
            return L
    return MAX_LAYERS


def hidden_size(params: Params) -> int:
    """H, read off the output head (V, H)."""
    return int(params["Why"].shape[1])


def zero_state(
    params: Params, batch: int, *, backend: Backend = NUMPY, ws: Workspace | None = None
) -> Any:
    """The state every fresh sequence starts from: zeros, (L, B, S).

    S is the cell's state size: H for the tanh cell and the GRU, 2H for the
    LSTM (``[h | c]``). From ``ws`` when given (an array of the workspace), else
    a new array.
    """
    L, H = num_layers(params), hidden_size(params)
    shape = (L, *cell_of(params).state_shape(batch, H))
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
        ``"rnn"`` (the tutorial's tanh cell), ``"gru"`` or ``"lstm"``.
    forget_bias : float
        The LSTM's forget-gate bias at the start (see ``LSTMCell.init_biases``).

    Returns
    -------
    dict
        Named as :func:`param_names`; for L=1 ``Wxh (H, V)``, ``Whh (H, H)``,
        ``Why (V, H)``, ``bh (H,)``, ``by (V,)``. Biases start at zero (but
        the LSTM's forget gate's).
    """
    if init not in ("normal", "scaled"):
        raise ValueError(f"unknown init {init!r}")
    H = hidden
    cell = get_cell(cell)
    specs = param_specs(vocab_size, hidden, layers, cell)

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
    # a one-layer model draws exactly what it always drew.
    per_layer = [[s.name for s in cell.specs(l, 1, H) if s.is_weight] for l in range(layers)]
    order = per_layer[0] + ["Why"] + [name for names in per_layer[1:] for name in names]
    drawn = {name: draw(by_name[name]) for name in order}
    params = {
        s.name: (drawn[s.name] if s.is_weight else np.zeros(s.shape)).astype(dtype) for s in specs
    }
    cell.init_biases(params, layers, forget_bias)
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
    probs: Any  # (T*B, V) softmax outputs
    final_state: Any  # (L, B, S) every layer's last state, to carry on


def _dropout(
    out: Any, rate: float, rng: Any, ws: Workspace, layer: int, backend: Backend
) -> tuple[Any, Any]:
    """Inverted dropout of ``out`` (T, B, H): returns (dropped output, multipliers)."""
    xp = backend.xp
    keep = 1.0 - rate
    if not isinstance(rng, np.random.Generator):
        # Keyed by position (charrnn.masks), so data-parallel ranks draw what one
        # process would; a (T, B, H) view of a (B, T, H) host block.
        host = ws.get("uniform-keyed", (out.size,), np.float32) if backend.name == "numpy" else None
        u32 = backend.asarray(rng.uniform(out.shape, layer, host))
    else:
        u32 = ws.get("uniform", out.shape, np.float32)
        if backend.name == "numpy":
            rng.random(dtype=np.float32, out=u32)
        else:
            u32[...] = backend.asarray(rng.random(out.shape, dtype=np.float32))
    kept = ws.get("kept", out.shape, bool)
    xp.less(u32, keep, out=kept)
    drop = ws.get(f"drop{layer}", out.shape, out.dtype)
    xp.multiply(kept, 1.0 / keep, out=drop)  # E[drop] = 1
    dropped = ws.get(f"dropped{layer}", out.shape, out.dtype)
    xp.multiply(out, drop, out=dropped)
    return dropped, drop


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
    cell: Cell | None = None,
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
    rng : numpy.random.Generator or charrnn.masks.KeyedUniform
        Draws the dropout masks; required when ``dropout > 0``. Training passes
        a :class:`~charrnn.masks.KeyedUniform` (masks keyed by sequence position).
    backend : Backend
    ws : Workspace, optional
        Where the large temporaries live; the cache is made of its arrays, so it
        is valid until the next call with the same workspace. Fresh arrays if ``None``.
    cell : cell, optional
        The recurrence; ``None`` reads it off the parameters' names.

    Returns
    -------
    loss_sum : float
        Sum over counted positions of ``-log p(target)``, in nats.
    cache : Cache
        Input to :func:`backward`; ``cache.final_state`` is (L, B, S).
    """
    xp = backend.xp
    cell = cell if cell is not None else cell_of(params)
    ws = ws if ws is not None else Workspace(backend)
    L = num_layers(params)
    T, B = inputs.shape
    H = hidden_size(params)
    V = params["Why"].shape[0]
    dtype = params["Why"].dtype
    S = cell.state_shape(B, H)[1]
    h0 = h0.reshape(L, B, S)
    caches, drops, outs = [], [], []
    final = ws.get("final", (L, B, S), dtype)  # (L, B, S)
    below = None  # (T, B, H) output of the layer below
    for l in range(L):
        n = cell.names(l)
        W, b = params[n.input], params[n.bias]
        G = W.shape[0]  # gates * H
        pre = ws.get("pre", (T, B, G), dtype)  # (T, B, G)
        if l == 0:
            # Wxh @ onehot(x) + bh is row x of (Wxh^T + bh): a gather, never a matmul.
            table = ws.get("table", (W.shape[1], G), dtype)  # (V, G)
            xp.add(W.T, b, out=table)
            # mode="clip" lets take write straight into `pre` (ids are always in range).
            xp.take(table, inputs, axis=0, out=pre, mode="clip")
        else:
            xp.dot(below.reshape(T * B, H), W.T, out=pre.reshape(T * B, G))  # all steps at once
            pre += b
        out, final[l], lcache = cell.forward(params, l, pre, h0[l], ws, xp)
        drop = None
        if dropout > 0:
            out, drop = _dropout(out, dropout, rng, ws, l, backend)  # type: ignore[arg-type]
        caches.append(lcache)
        drops.append(drop)
        outs.append(out)
        below = out
    hflat = below.reshape(T * B, H)  # (T*B, H)
    logits = ws.get("logits", (T * B, V), dtype)  # (T*B, V)
    xp.dot(hflat, params["Why"].T, out=logits)
    logits += params["by"]
    logits -= logits.max(axis=1, keepdims=True)
    tflat = targets.reshape(-1)
    rows = ws.arange(T * B)
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
    return loss_sum, Cache(inputs, targets, weights, caches, drops, outs, probs, final)


def backward(
    params: Params,
    cache: Cache,
    *,
    scale: float = 1.0,
    bptt: str = "full",
    out: Grads | None = None,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    cell: Cell | None = None,
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
    cell : cell, optional
        The recurrence; ``None`` reads it off the parameters' names.
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
    cell = cell if cell is not None else cell_of(params)
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
    dy[rows, cache.targets.reshape(-1)] -= 1
    if cache.weights is None:
        dy *= scale
    else:
        dy *= (cache.weights * scale)[:, None]
    top = cache.outs[-1].reshape(T * B, H)  # (T*B, H)
    xp.matmul(dy.T, top, out=out["Why"])  # dWhy (V, H)
    dy.sum(axis=0, out=out["by"])  # dby (V,)
    dout = ws.get("dout0", (T, B, H), dtype)  # (T, B, H): d loss / d top output
    xp.dot(dy, params["Why"], out=dout.reshape(T * B, H))
    dh0 = ws.zeros("dh0", (L, *cell.state_shape(B, H)), dtype)  # (L, B, S)
    for l in range(L - 1, -1, -1):
        n = cell.names(l)
        if cache.drops[l] is not None:
            dout *= cache.drops[l]  # through the dropout multiplier to the raw output
        dpre = cell.backward(params, l, cache.hs[l], dout, dh0[l], out, bptt, ws, xp, window)
        G = dpre.shape[2]
        dflat = dpre.reshape(T * B, G)  # (T*B, G)
        dflat.sum(axis=0, out=out[n.bias])  # dbh (G,)
        if l == 0:
            backend.onehot_grad(inputs.reshape(-1), dflat, out[n.input], ws)  # dWxh (G, V)
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


def step(
    params: Params,
    x: Any,
    h: Any,
    *,
    backend: Backend = NUMPY,
    cell: Cell | None = None,
    ws: Workspace | None = None,
    record: list[dict[str, Any]] | None = None,
) -> tuple[Any, Any]:
    """One recurrence step for generation (no dropout), through the cell's own step.

    Parameters
    ----------
    x : int array (B,)
    h : array (L, B, S), or (B, S) for one layer
    cell : cell, optional
        The recurrence; ``None`` reads it off the parameters' names.
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
    """
    xp = backend.xp
    ws = ws if ws is not None else Workspace(backend)
    cell = cell if cell is not None else cell_of(params)
    L, H = num_layers(params), hidden_size(params)
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
        if l == 0:
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
    logits = ws.get("step-logits", (B, params["Why"].shape[0]), dtype)  # (B, V)
    xp.dot(below, params["Why"].T, out=logits)
    logits += params["by"]
    return h_new.reshape(h.shape), logits
