"""The one registry of cells: the names ``Config.cell``, checkpoints, experiments and the page read.

A cell is registered once, under the name a config and a checkpoint record;
everything that needs a cell looks it up here by that name. The registry holds
no cell itself: :mod:`charrnn.core.cells` registers the built-in ones when it is
imported, and a test suite may register more (its own cell, with no edit here).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from .base import Cell, Params

_CELLS: dict[str, Cell] = {}


def register(name: str, cell: Cell) -> Cell:
    """Register ``cell`` under ``name`` (its ``name`` attribute must agree); returns it.

    Registering the same cell again under its name is allowed (a module imported
    twice); another cell under a taken name is an error.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"{cell!r} does not provide the cell contract (charrnn.core.cells.Cell)")
    if cell.name != name:
        raise ValueError(f"a cell registered as {name!r} must be called so; it is {cell.name!r}")
    if _CELLS.get(name, cell) is not cell:
        raise ValueError(f"a cell called {name!r} is already registered")
    _CELLS[name] = cell
    return cell


def cell_names() -> tuple[str, ...]:
    """Every registered cell's name, in the order they were registered."""
    return tuple(_CELLS)


def get_cell(cell: str | Cell) -> Cell:
    """The cell registered as ``cell``; a cell object is returned as is.

    Raises
    ------
    ValueError
        For a name no cell is registered under.
    """
    if not isinstance(cell, str):
        return cell
    try:
        return _CELLS[cell]
    except KeyError:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(_CELLS)}") from None


def cell_of(params: Params) -> Cell:
    """The cell whose parameters ``params`` holds: a fallback for callers that have no config.

    Prefer the cell by name (``Config.cell``, the checkpoint's record): this
    looks for the cell whose first layer's input, recurrent weight and input
    bias are all in ``params`` with the shapes its specs give them, and
    refuses to guess when no cell, or more than one, fits.

    Raises
    ------
    ValueError
        When no registered cell, or more than one, fits ``params``.
    """
    # The name lookup first (cheap, every step of a caller without a config), the
    # shapes only for the cells it leaves.
    named = [c for c in _CELLS.values() if c.names(0).recurrent in params]
    fits = [c for c in named if _fits(c, params)]
    if len(fits) != 1:
        which = (
            "no registered cell"
            if not fits
            else "more than one cell (" + ", ".join(c.name for c in fits) + ")"
        )
        raise ValueError(f"the parameters fit {which}: pass the cell by name")
    return fits[0]


def _fits(cell: Cell, params: Params) -> bool:
    # Every parameter the cell's first layer would have, with the right shape.
    head = params.get("Why")
    if head is None:
        return False
    H = head.shape[1]
    n_in = params.get(cell.names(0).input)
    if n_in is None or n_in.ndim != 2:
        return False
    specs = cell.specs(0, n_in.shape[1], H)
    return all(s.name in params and tuple(params[s.name].shape) == s.shape for s in specs)


class CellNames(Sequence[str]):
    """The registered names as a live sequence, for a ``choices`` that must not go stale.

    ``Config.cell``'s choices and the command line's ``--cell`` read it when
    they check a value, so a cell registered after import is a valid choice.
    """

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: Any) -> Any:
        return cell_names()[i]

    def __len__(self) -> int:
        return len(_CELLS)

    def __iter__(self) -> Iterator[str]:
        return iter(cell_names())

    def __contains__(self, name: object) -> bool:
        return name in _CELLS

    def __repr__(self) -> str:
        return repr(cell_names())


CELL_NAMES = CellNames()
