"""Recurrent cells: one module per cell, a typed contract (:class:`Cell`), one registry.

``rnn`` is the tutorial's tanh cell (:mod:`.tanh`), ``gru`` and ``lstm`` are
PyTorch's gated cells (:mod:`.gru`, :mod:`.lstm`). A new cell is a module with
a class that provides :class:`Cell`, plus one line::

    from charrnn.core.cells import register
    register("mine", MyCell())

after which ``Config(cell="mine")``, training, checkpoints, generation and the
page take it by name.
"""

from __future__ import annotations

from .base import (
    PARAM_KINDS,
    Cell,
    CellBase,
    GradientWindow,
    Grads,
    HiddenStateCell,
    LayerNames,
    Params,
    ParamSpec,
    layer_suffix,
)
from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .registry import CELL_NAMES, CellNames, cell_names, cell_of, get_cell, register
from .tanh import TANH, TanhCell

register("rnn", TANH)
register("gru", GRU)
register("lstm", LSTM)

__all__ = [
    "CELL_NAMES",
    "GRU",
    "LSTM",
    "PARAM_KINDS",
    "TANH",
    "Cell",
    "CellBase",
    "CellNames",
    "GRUCell",
    "GradientWindow",
    "Grads",
    "HiddenStateCell",
    "LSTMCell",
    "LayerNames",
    "ParamSpec",
    "Params",
    "TanhCell",
    "cell_names",
    "cell_of",
    "get_cell",
    "layer_suffix",
    "register",
]
