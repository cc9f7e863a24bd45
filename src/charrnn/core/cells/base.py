"""What every cell shares: parameter specs, layer names, the gradient window and the contract.

A **cell** owns one layer's recurrence and nothing else: the model
(:mod:`charrnn.core.model`) brings the input projection ``pre_t = Wx x_t + b``
of all its gates at once, dropout, the output head and the loss. What a cell
must provide is stated by :class:`Cell`; a new cell is one module with a class
that provides it, plus one :func:`charrnn.core.cells.register` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..workspace import Workspace

Params = dict[str, Any]
Grads = dict[str, Any]

PARAM_KINDS = ("input", "recurrent", "output", "bias")


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


def layer_suffix(layer: int) -> str:
    """What a layer's parameter names end with: nothing for the first, its number (from 2) after."""
    return "" if layer == 0 else str(layer + 1)


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


# One reference step's backward: d loss / d new state (S, 1) -> (d loss / d previous
# state (S, 1), this step's gradient of every parameter of the layer, seed-shaped).
ReferenceBack = Callable[[Any], tuple[Any, Grads]]


@runtime_checkable
class Cell(Protocol):
    """What a recurrent cell provides: the contract the model, training and the views rely on.

    Shapes: B batch, T time, H hidden, G = ``gates * H`` the width of the
    layer's input projection, S the width of one layer's state (H, or 2H for
    the LSTM's ``[h | c]``). ``xp`` is the backend's array namespace.

    Attributes
    ----------
    name : str
        The registry's name (``Config.cell``, the checkpoint's record of the cell).
    gates : int
        G / H: blocks of the stacked input projection.
    gate_names : tuple of str
        The gates :meth:`step` records for ``trace`` (empty for a cell without gates).
    """

    name: str
    gates: int
    gate_names: tuple[str, ...]

    def names(self, layer: int) -> LayerNames:
        """The names of layer ``layer``'s input weight, recurrent weight and input bias."""
        ...

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """Every parameter of layer ``layer``: input weight (G, n_in) first, then the rest."""
        ...

    def state_shape(self, batch: int, hidden: int) -> tuple[int, ...]:
        """One layer's state for ``batch`` sequences: (B, S)."""
        ...

    def output(self, state: Any) -> Any:
        """The part of a (B, S) state the next layer and the head read, (B, H): a view."""
        ...

    def initialise(self, params: Params, layers: int, forget_bias: float) -> None:
        """Set, in place, what does not start as :func:`~charrnn.core.model.init_params` drew it.

        The bias init: biases start at zero unless a cell says otherwise here
        (the LSTM's forget gate starts at ``forget_bias``, an argument only the
        LSTM reads); a cell whose weights have an init of their own sets them
        here too (an IRNN's identity recurrent matrix).
        """
        ...

    def input_weight(self, params: Params, layer: int) -> Any:
        """Layer ``layer``'s input weight (G, n_in): d pre / d input, all gates stacked.

        The learner's views read it: the gradient with respect to the layer's
        input is ``dpre @ input_weight``, whatever the cell.
        """
        ...

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps.

        Parameters
        ----------
        pre : array (T, B, G)
            Input projections, bias included; the cell may overwrite it.
        h0 : array (B, S)
            Initial state.

        Returns
        -------
        out : array (T, B, H)
            The output sequence.
        final : array (B, S)
            The last state.
        cache
            What :meth:`backward` needs.
        """
        ...

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
        """Back through the recurrence: full BPTT, a window of W steps, or the naive rule.

        Parameters
        ----------
        cache
            From :meth:`forward`.
        dout : array (T, B, H)
            d loss / d output sequence; the cell may overwrite it.
        dh0 : array (B, S)
            Zeros on entry; receives d loss / d initial state (zero for ``naive``).
        grads : dict
            Receives the gradient of every parameter of the layer but the input
            weight and ``names(layer).bias``, which the model derives from the return value.
        bptt : {"full", "naive"}
        window : int, optional
            With ``full``: each loss's gradient goes at most ``window`` steps
            back (see :class:`GradientWindow`); ``None`` is no limit.

        Returns
        -------
        dpre : array (T, B, G)
            d loss / d input projection.
        """
        ...

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
        """One step for generation: ``pre`` (B, G) with bias (may be overwritten), ``h`` -> ``out``.

        ``record``, when given, receives one ``{gate name: (B, H) copy}`` dict
        (nothing for a cell without gates).
        """
        ...

    def reference_step(
        self, params: Params, layer: int, x: Any, state: Any
    ) -> tuple[Any, ReferenceBack]:
        """One step of the per-character reference loop (:mod:`charrnn.core.reference`).

        Written as the tutorial writes its loop: one sequence, column vectors,
        float64, nothing shared with the batched engine, so it can check it.

        Parameters
        ----------
        params : dict
            Seed-shaped: biases as columns (see ``reference.column_params``).
        x : array (n_in, 1)
            The layer's input (a one-hot column for the first layer).
        state : array (S, 1)

        Returns
        -------
        new_state : array (S, 1)
        back : callable
            ``back(dstate)``, with ``dstate`` (S, 1) = d loss / d ``new_state``,
            returns ``(d loss / d state, {name: gradient})`` for this step, over
            every parameter of the layer.
        """
        ...


class CellBase:
    """Defaults of the contract that most cells share: no gates recorded, input weight by name."""

    gate_names: tuple[str, ...] = ()
    # Optional, outside the contract: the torch.nn module that computes the same
    # recurrence from the same parameters, which the tests use as an oracle when
    # torch is installed. None: no such module, no torch oracle for the cell.
    torch_module: str | None = None

    def names(self, layer: int) -> LayerNames:  # pragma: no cover - every cell names its own
        raise NotImplementedError

    def input_weight(self, params: Params, layer: int) -> Any:
        """Layer ``layer``'s input weight, (G, n_in)."""
        return params[self.names(layer).input]

    def initialise(self, params: Params, layers: int, forget_bias: float) -> None:
        """Biases start at zero and weights as drawn (``forget_bias`` is the LSTM's)."""


class HiddenStateCell(CellBase):
    """What the cells whose state is the hidden vector alone (tanh, GRU) share."""

    def state_shape(self, batch: int, hidden: int) -> tuple[int, ...]:
        """One layer's state: the hidden vector of every sequence."""
        return (batch, hidden)

    def output(self, state: Any) -> Any:
        """The part of a (B, S) state the next layer reads: all of it."""
        return state
