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

from .errors import CharRNNError


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


def allowed_mask(
    constraints: Sequence[Constraint], last: np.ndarray, pos: int, vocab_size: int
) -> np.ndarray | None:
    """The AND of every constraint's mask, (n, V); ``None`` when there are none."""
    mask = None
    for c in constraints:
        m = np.asarray(c.allowed(last, pos), dtype=bool)
        if m.shape != (len(last), vocab_size):
            raise ValueError(
                f"constraint {c!r} gave a mask of shape {m.shape}, "
                f"expected {(len(last), vocab_size)}"
            )
        mask = m if mask is None else mask & m
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
    usable = mask.any(axis=1)  # (n,)
    logits[~mask & usable[:, None]] = -np.inf
    return logits
