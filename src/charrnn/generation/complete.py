"""The most likely completions of a prefix: exact best-first search, or beam search.

In words mode a completion is a whole word that starts with the prefix, ended
by the boundary ``'\\n'``; its probability is that of everything the model
writes after the prefix, the end included. In text mode it is a continuation
of exactly ``max_len`` characters.

**Exact search** (words mode). Probabilities only shrink as a word grows, so
the probability of an unfinished word bounds that of every word it can
become. Best-first search keeps a frontier ordered by probability and grows
its best unfinished words; a finished word that reaches the top of the
frontier beats everything still unexplored, so the first k finished words to
reach the top are the k most probable, in order. A second bound prunes: an
unfinished word less probable than k finished words already found can never
enter the top k. When the frontier would need more than ``max_expansions``
steps the search stops proving and beam search answers instead, and says so.

**Beam search** keeps the ``beam`` most probable unfinished strings at each
length; it can miss a word whose start looked unlikely.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..core.cells import Cell, cell_of, get_cell
from ..core.model import Params, step, zero_state
from ..core.vocab import Vocab
from .constraints import Constraint, NoEmptyWord, allowed_mask, log_softmax, unit_constraints

MAX_K = 1000
MAX_COMPLETION_LEN = 200
BATCH = 64  # unfinished words grown together in one batched step


@dataclass(frozen=True)
class Completion:
    """One completion and its probability under the (masked) model."""

    text: str  # the prefix and what the model adds (no boundary)
    logprob: float  # natural log of the probability of the added characters (and the end)

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "prob": self.prob, "logprob": self.logprob}


@dataclass(frozen=True)
class Completions:
    """The answer of :func:`complete`: the completions and how they were found."""

    prefix: str
    items: tuple[Completion, ...]  # most probable first
    method: str  # "exact" (proved the k best) or "beam"
    expanded: int  # model steps taken (one per grown string)
    seconds: float
    note: str  # why beam search ran, or ""

    def to_dict(self) -> dict[str, object]:
        return {
            "prefix": self.prefix,
            "method": self.method,
            "note": self.note,
            "expanded": self.expanded,
            "seconds": self.seconds,
            "completions": [c.to_dict() for c in self.items],
        }


class _Stepper:
    """Grows many strings by one character at once, applying the constraints."""

    def __init__(self, params: Params, vocab: Vocab, constraints: Sequence[Constraint], cell: Cell):
        self.params, self.vocab, self.constraints, self.cell = params, vocab, constraints, cell
        self.steps = 0

    def __call__(
        self, x: np.ndarray, h: np.ndarray, pos: int | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read ids ``x`` (n,) from states ``h`` (L, n, H): new states, log-probs (n, V)."""
        h_new, logits = step(self.params, x, h, cell=self.cell)
        self.steps += len(x)
        masks = self._mask(x, pos)
        return h_new, log_softmax(logits, masks)

    def _mask(self, x: np.ndarray, pos: int | np.ndarray) -> np.ndarray | None:
        if not self.constraints:
            return None
        V = self.vocab.size
        if np.ndim(pos) == 0:
            return allowed_mask(self.constraints, x, int(pos), V)
        # Strings of different lengths: one call per length.
        out = np.empty((len(x), V), dtype=bool)
        for p in np.unique(pos):
            rows = np.flatnonzero(pos == p)
            out[rows] = allowed_mask(self.constraints, x[rows], int(p), V)
        return out


def _start(stepper: _Stepper, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """State (L, 1, S) after reading ``'\\n' + prefix`` minus its last id, and that id."""
    params, cell = stepper.params, stepper.cell
    ids = stepper.vocab.encode("\n" + prefix)
    h = zero_state(params, 1, cell=cell)
    for ix in ids[:-1]:
        h, _ = step(params, np.array([ix]), h, cell=cell)
    return h, ids[-1:]


def complete(
    params: Params,
    vocab: Vocab,
    prefix: str,
    *,
    k: int = 10,
    mode: str = "words",
    max_len: int | None = None,
    method: str = "auto",
    beam: int | None = None,
    max_expansions: int = 50_000,
    constraints: Sequence[Constraint] = (),
    allow_empty: bool = False,
    cell: str | Cell | None = None,
) -> Completions:
    """The ``k`` most likely completions of ``prefix``.

    Parameters
    ----------
    params : dict
    vocab : Vocab
    prefix : str
        Must be in the vocabulary; in words mode it may not hold ``'\\n'``.
    k : int
        How many completions.
    mode : {"words", "text"}
    max_len : int, optional
        Words mode: the most characters a word may add to the prefix (default 20).
        Text mode: the length of every continuation (default 20).
    method : {"auto", "exact", "beam"}
        ``auto`` is exact search in words mode (beam search when it needs more
        than ``max_expansions`` steps) and beam search in text mode.
    beam : int, optional
        Beam width (default ``max(4 * k, 16)``).
    max_expansions : int
        The most model steps the exact search may take before it gives way.
    constraints : sequence of Constraint
        Masks applied to every next-character distribution (renormalised).
    allow_empty : bool
        Words mode with an empty prefix: keep the empty word among the
        candidates. By default :class:`NoEmptyWord` masks it, as sampling does,
        and the probabilities are of that masked distribution.
    cell : cell or str, optional
        The model's cell (``Config.cell``); ``None``: ``cell_of(params)``, once.

    Returns
    -------
    Completions
        ``method`` says which search answered; fewer than ``k`` items when
        there are not that many strings.
    """
    if not 1 <= k <= MAX_K:
        raise CharRNNError(f"k must be between 1 and {MAX_K}; got {k}", params=("k",))
    max_len = 20 if max_len is None else max_len
    if not 1 <= max_len <= MAX_COMPLETION_LEN:
        raise CharRNNError(
            f"max_len must be between 1 and {MAX_COMPLETION_LEN}; got {max_len}",
            params=("max_len",),
        )
    if method not in ("auto", "exact", "beam"):
        raise CharRNNError(f"method must be auto, exact or beam; got {method!r}")
    if mode == "words" and "\n" in prefix:
        raise CharRNNError("a words-mode prefix is part of one word: it cannot hold a line break")
    vocab.clean(prefix)
    beam = max(4 * k, 16) if beam is None else beam
    if beam < 1:
        raise CharRNNError(f"beam must be at least 1; got {beam}", params=("beam",))
    t0 = time.perf_counter()
    shown = prefix
    prefix = vocab.to_symbols(prefix)  # the search runs over the model's symbols
    constraints = [*unit_constraints(vocab, max_len if mode == "text" else None), *constraints]
    if mode == "words" and not allow_empty:
        constraints.append(NoEmptyWord(vocab.size, vocab.boundary_id))
    cell = get_cell(cell) if cell is not None else cell_of(params)
    stepper = _Stepper(params, vocab, constraints, cell)
    note = ""
    items = None
    if method == "exact" or (method == "auto" and mode == "words"):
        items = _best_first(stepper, prefix, k, mode, max_len, max_expansions)
        if items is None:
            note = (
                f"exact search stopped after {max_expansions:,} steps without a proof; "
                f"beam search of width {beam} answered"
            )
    if items is None:
        items = _beam(stepper, prefix, k, mode, max_len, beam)
        used = "beam"
    else:
        used = "exact"
    return Completions(shown, tuple(items), used, stepper.steps, time.perf_counter() - t0, note)


def _best_first(
    stepper: _Stepper, prefix: str, k: int, mode: str, max_len: int, max_expansions: int
) -> list[Completion] | None:
    """Exact best-first search; ``None`` when it would take more than ``max_expansions`` steps."""
    vocab = stepper.vocab
    end = vocab.boundary_id
    h0, x0 = _start(stepper, prefix)
    tie = itertools.count()
    # Frontier entries: (-logprob, tie, finished, ids added, parent states, row, id to read).
    # An unfinished entry's own step is taken when it is grown (lazily), so
    # strings that never reach the top cost nothing.
    frontier: list[tuple[Any, ...]] = [(0.0, next(tie), False, (), h0, 0, int(x0[0]))]
    best_finished: list[float] = []  # min-heap of the k best finished log-probs pushed
    found: list[Completion] = []
    while frontier and len(found) < k:
        if frontier[0][2]:
            neg, _, _, ids, *_ = heapq.heappop(frontier)
            found.append(Completion(vocab.to_text(prefix + vocab.decode(ids)), float(-neg)))
            continue
        if stepper.steps >= max_expansions:
            return None
        batch: list[tuple[Any, ...]] = []
        while frontier and not frontier[0][2] and len(batch) < BATCH:
            batch.append(heapq.heappop(frontier))
        h = np.concatenate([e[4][:, e[5] : e[5] + 1] for e in batch], axis=1)  # (L, n, H)
        x = np.array([e[6] for e in batch])
        pos = np.array([len(e[3]) for e in batch])
        h_new, logp = stepper(x, h, pos)  # (L, n, H), (n, V)
        for row, (neg, _, _, ids, *_rest) in enumerate(batch):
            base = -neg
            scores = base + logp[row]  # (V,)
            if mode == "words" and np.isfinite(scores[end]):
                _push_bound(best_finished, scores[end], k)
                heapq.heappush(frontier, (-scores[end], next(tie), True, ids, None, 0, 0))
            grow = len(ids) < max_len if mode == "words" else True
            if not grow:
                continue
            bound = best_finished[0] if len(best_finished) == k else -np.inf
            for v in np.flatnonzero(np.isfinite(scores) & (scores > bound)):
                if mode == "words" and v == end:
                    continue
                child = (*ids, int(v))
                if mode == "text" and len(child) == max_len:
                    _push_bound(best_finished, scores[v], k)
                    heapq.heappush(frontier, (-scores[v], next(tie), True, child, None, 0, 0))
                else:
                    heapq.heappush(
                        frontier, (-scores[v], next(tie), False, child, h_new, row, int(v))
                    )
    return found


def _push_bound(best: list[float], logprob: float, k: int) -> None:
    """Keep the k largest finished log-probs seen: the k-th is the pruning bound."""
    if len(best) < k:
        heapq.heappush(best, float(logprob))
    elif logprob > best[0]:
        heapq.heapreplace(best, float(logprob))


def _beam(
    stepper: _Stepper, prefix: str, k: int, mode: str, max_len: int, width: int
) -> list[Completion]:
    """Beam search: the ``width`` most probable unfinished strings survive each length."""
    vocab = stepper.vocab
    end = vocab.boundary_id
    h, x = _start(stepper, prefix)  # (L, 1, S), (1,)
    logps = np.zeros(1)  # (n,) log-probability of each live string
    seqs = np.zeros((1, 0), dtype=np.int64)  # (n, length) ids added so far
    finished: list[Completion] = []
    for length in range(max_len + 1):
        h, logp = stepper(x, h, length)  # (L, n, H), (n, V)
        scores = logps[:, None] + logp  # (n, V)
        if mode == "words":
            for row in np.flatnonzero(np.isfinite(scores[:, end])):
                word = vocab.to_text(prefix + vocab.decode(seqs[row]))
                finished.append(Completion(word, float(scores[row, end])))
            scores[:, end] = -np.inf
            if length == max_len:
                break
            if len(finished) >= k:
                # Nothing live can beat the k-th finished word: stop early.
                kth = sorted(c.logprob for c in finished)[-k]
                if scores.max() <= kth:
                    break
        flat = scores.ravel()
        n_ok = int(np.isfinite(flat).sum())
        if n_ok == 0:
            break
        keep = min(width, n_ok)
        top = np.argpartition(-flat, keep - 1)[:keep]
        top = top[np.argsort(-flat[top], kind="stable")]
        rows, ids = np.divmod(top, vocab.size)
        seqs = np.concatenate([seqs[rows], ids[:, None]], axis=1)
        logps = flat[top]
        h, x = h[:, rows], ids
        if mode == "text" and length + 1 == max_len:
            finished = [
                Completion(vocab.to_text(prefix + vocab.decode(s)), float(lp))
                for s, lp in zip(seqs, logps, strict=True)
            ]
            break
    finished.sort(key=lambda c: -c.logprob)
    return finished[:k]
