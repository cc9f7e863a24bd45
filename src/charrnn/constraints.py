"""Constraints on generation: which symbols may come next.

A constraint has one method, ``allowed(last, pos)``: ``last`` (n,) holds the id
of the symbol each of n sequences read last, ``pos`` how many symbols have been
generated after the prefix; it returns a bool (n, V) array of the symbols
allowed next. Sampling, greedy decoding and every other decoder apply the AND
of the active constraints to the model's probabilities and renormalise: the
mask is part of the distribution generated from, and a probability reported
for a generated symbol is one of the masked distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .errors import CharRNNError
from .vocab import FINALS, INITIALS, MEDIALS, Vocab


class Constraint(Protocol):
    """Which symbols may come next (see the module's docstring)."""

    def allowed(self, last: np.ndarray, pos: int) -> np.ndarray:
        """Bool (n, V): the symbols each of the n sequences may read next."""
        ...


class JamoGrammar:
    """Hangul syllable order for jamo units: initial, medial, optional final.

    After an initial only a medial may come; after a medial a final, an
    initial or any other symbol (not a second medial); after a final or any
    other symbol, an initial or another non-medial, non-final symbol. So every
    generated sequence composes into whole syllables.

    Parameters
    ----------
    vocab : Vocab
    max_len : int, optional
        Symbols that will be generated at most. The last one may not be an
        initial, so a sequence cut at ``max_len`` still ends on a whole syllable.
    prefix_as_typed : bool
        The first generated symbol may not be a final: the prefix's last
        syllable stays as typed (a prefix ``가`` never becomes ``각``), so every
        sample starts with the prefix.
    """

    def __init__(
        self, vocab: Vocab, max_len: int | None = None, *, prefix_as_typed: bool = True
    ):
        cls = np.array(
            [0 if c in INITIALS else 1 if c in MEDIALS else 2 if c in FINALS else 3
             for c in vocab.itos], dtype=np.int8,
        )  # fmt: skip  # (V,) 0 initial, 1 medial, 2 final, 3 anything else
        is_l, is_v, is_t = cls == 0, cls == 1, cls == 2
        free = ~(is_v | is_t)  # what may start a character: an initial or any other symbol
        after = np.empty((4, len(cls)), dtype=bool)  # (class of last, V)
        after[0] = is_v
        after[1] = free | is_t
        after[2] = free
        after[3] = free
        self._next = after[cls]  # (V, V): row = last symbol's id
        self._no_initial = ~is_l  # (V,)
        self._no_final = ~is_t  # (V,)
        self.max_len = max_len
        self.prefix_as_typed = prefix_as_typed

    def allowed(self, last: np.ndarray, pos: int) -> np.ndarray:
        """Bool (n, V): the jamo grammar's next symbols after each of ``last``."""
        mask = self._next[np.asarray(last)]  # (n, V), a copy
        if self.max_len is not None and pos >= self.max_len - 1:
            mask &= self._no_initial
        if self.prefix_as_typed and pos == 0:
            mask &= self._no_final
        return mask


def unit_constraints(vocab: Vocab, max_len: int | None = None) -> list[Constraint]:
    """The constraints a model's units impose on everything it generates."""
    return [JamoGrammar(vocab, max_len)] if vocab.units.kind == "jamo" else []


def allowed_mask(
    constraints: Sequence[Constraint], last: np.ndarray, pos: int
) -> np.ndarray | None:
    """The AND of ``constraints`` for sequences that read ``last``; ``None`` when there are none.

    Raises
    ------
    CharRNNError
        If some sequence has no allowed next symbol (the constraints contradict).
    """
    mask = None
    for c in constraints:
        m = c.allowed(last, pos)
        mask = m if mask is None else mask & m
    if mask is not None and not mask.any(axis=1).all():
        raise CharRNNError(
            f"the sampling constraints allow no symbol at position {pos}; "
            "they contradict each other or the prefix"
        )
    return mask


def masked_logits(logits: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``logits`` (n, V) with every symbol ``mask`` forbids at -inf (in place), so a
    softmax of the result is the masked, renormalised distribution."""
    if mask is not None:
        logits[~mask] = -np.inf
    return logits
