"""Constraints on generation: which symbols may come next.

A constraint is any object with ``allowed(last, pos) -> (n, V) bool array``:
``last`` (n,) holds the id of the symbol each of n sequences read last and
``pos`` is how many symbols have been generated after the prefix. Sampling,
greedy decoding and completions apply the AND of every active constraint to
the next-symbol probabilities and renormalise, so the mask is part of the
distribution they draw from (and of any probability they report).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Constraint(Protocol):
    """What generation asks of a constraint."""

    def allowed(self, last: np.ndarray, pos: int) -> np.ndarray:
        """Bool (n, V): True where symbol v may follow sequence i's history."""
        ...


class NoEmptyWord:
    """Words mode: the boundary may not follow the boundary, so no sample is empty.

    A words model reads ``'\\n'`` first; at the first generated step of a
    sample without a prefix it may predict ``'\\n'`` again, which ends an empty
    word. This masks the boundary at that step only (``pos == 0`` and the last
    symbol read is the boundary). The boundary's probability there is shared by
    the other symbols in proportion to theirs, so a non-empty word is
    ``1 / (1 - p(empty word))`` times as likely as under the raw model.

    Parameters
    ----------
    vocab_size : int
        V.
    boundary_id : int
        Id of ``'\\n'``.
    """

    def __init__(self, vocab_size: int, boundary_id: int):
        self.vocab_size = vocab_size
        self.boundary_id = boundary_id

    def allowed(self, last: np.ndarray, pos: int) -> np.ndarray:
        """Every symbol, except the boundary right after the boundary at the first step."""
        ok = np.ones((len(last), self.vocab_size), dtype=bool)  # (n, V)
        if pos == 0:
            ok[np.asarray(last) == self.boundary_id, self.boundary_id] = False
        return ok


def combined(constraints: Sequence[Constraint], last: np.ndarray, pos: int) -> np.ndarray | None:
    """The AND of every constraint's mask (n, V), or ``None`` when there are none."""
    mask = None
    for c in constraints:
        ok = c.allowed(last, pos)
        mask = ok if mask is None else mask & ok
    return mask


def apply(logits: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``logits`` (n, V) with disallowed symbols at -inf, in place; a row with nothing
    allowed is left as it was, so generation never divides by zero."""
    if mask is None:
        return logits
    usable = mask.any(axis=1)  # (n,)
    logits[~mask & usable[:, None]] = -np.inf
    return logits
