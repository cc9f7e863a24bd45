"""Sampling constraints: which symbols may come next, as a boolean mask.

A constraint is any object with ``allowed(last, pos) -> (n, V) bool array``:
``last`` (n,) holds the id each of n sequences read last and ``pos`` counts the
symbols generated after the prefix. Sampling, greedy decoding, beam search and
completions take the AND of all active constraints and renormalise what is
left, so the mask is part of the distribution: every probability they report
is one of the masked distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..common.errors import CharRNNError
from ..core.vocab import FINALS, INITIALS, MEDIALS, Vocab


@runtime_checkable
class Constraint(Protocol):
    """What a sampling constraint offers."""

    def allowed(self, last: np.ndarray, pos: int) -> np.ndarray:
        """Bool (n, V): the symbols each of the n sequences may read next."""
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

    def __init__(self, vocab: Vocab, max_len: int | None = None, *, prefix_as_typed: bool = True):
        cls = np.array(
            [
                0 if c in INITIALS else 1 if c in MEDIALS else 2 if c in FINALS else 3
                for c in vocab.itos
            ],
            dtype=np.int8,
        )  # (V,) 0 initial, 1 medial, 2 final, 3 anything else
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
    constraints: Sequence[Constraint], last: np.ndarray, pos: int, vocab_size: int
) -> np.ndarray | None:
    """The AND of every constraint's mask, (n, V); ``None`` when there are none.

    Raises
    ------
    CharRNNError
        If some sequence has no allowed next symbol (the constraints contradict).
    """
    mask = None
    for c in constraints:
        m = np.asarray(c.allowed(last, pos), dtype=bool)
        if m.shape != (len(last), vocab_size):
            raise ValueError(
                f"constraint {c!r} gave a mask of shape {m.shape}, "
                f"expected {(len(last), vocab_size)}"
            )
        mask = m if mask is None else mask & m
    if mask is not None and not mask.any(axis=1).all():
        raise CharRNNError(
            f"the constraints allow no symbol at position {pos}; "
            "they contradict each other or the prefix"
        )
    return mask


def log_softmax(logits: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Log-probabilities (n, V) in float64, renormalised over the allowed symbols.

    Masked symbols get ``-inf``. A row with nothing allowed is a
    :class:`CharRNNError`: the constraints contradict each other there.
    """
    z = np.array(logits, dtype=np.float64)  # (n, V), a copy
    if mask is not None:
        if not mask.any(axis=1).all():
            raise CharRNNError("the constraints allow no symbol at all at some step")
        z[~mask] = -np.inf
    z -= z.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def apply(logits: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``logits`` (n, V) with disallowed symbols at -inf, in place; a row with nothing
    allowed is left as it was, so generation never divides by zero."""
    if mask is None:
        return logits
    usable = np.asarray(mask.any(axis=1))  # (n,)
    logits[~mask & usable[:, None]] = -np.inf
    return logits
