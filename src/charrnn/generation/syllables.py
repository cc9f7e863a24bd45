"""Choosing the next character of a jamo3 model: factor by factor, or the exact top k.

A jamo3 model (:mod:`charrnn.core.jamo3`) gives the next character as
p0(initial or other character) · p1(medial | initial) · p2(final or none |
initial, medial). Its whole distribution has 11,172 syllables besides the other
characters, and enumerating it costs 399 final heads per state, so sampling
never does:

- **Sampling** draws the first factor, then, for a syllable, the medial from
  the medial head fed the initial drawn, then the final (or none) from the
  final head fed both. Every draw is a whole syllable (or another character)
  by construction. A temperature divides each factor's logits, as a jamo model
  applies it to each jamo; at temperature 1 the draws follow the model's own
  distribution exactly.
- **Greedy and top-k** are over whole syllables, found exactly by a bounded
  best-first search over the factor tree: a partial choice (an initial, an
  initial and a medial) is worth at most its probability so far, since each
  further factor is at most 1, so a node is grown only while it can still beat
  the k-th best whole character found; the search stops when none can. Each
  round grows, for every state at once, its most probable open node (one
  medial or final head evaluation per state). Top-k then samples among the k
  as char units do: in proportion to ``p ** (1 / temperature)``.

A wide top k (more than :data:`SEARCH_K`) ranks the whole enumerated
distribution instead: past a few dozen, one pass over all 399 final heads costs
less than the rounds of the search. A mask over the first factor (the other
characters and the initials) is applied before anything is drawn; a constraint
that masks single syllables goes through the full enumeration instead
(:func:`draw_enumerated`).
"""

from __future__ import annotations

import numpy as np

from ..core import jamo3
from ..core.model import Params
from ..core.vocab import L_COUNT, S_COUNT, T_COUNT, V_COUNT

SEARCH_K = 64  # the widest top k found by search; a wider one ranks the enumeration


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _masked(y: np.ndarray, mask: np.ndarray | None, temperature: float = 1.0) -> np.ndarray:
    """Log-probabilities of ``y / temperature`` (n, K) in float64, masked entries -inf."""
    z = np.asarray(y, dtype=np.float64)
    if mask is not None:
        z = np.where(mask, z, -np.inf)
    # The largest allowed entry out before the division, so that a tiny temperature
    # gives -inf and 0, not inf - inf.
    with np.errstate(over="ignore", invalid="ignore"):  # -inf but the largest; nan: lost
        return _log_softmax((z - z.max(axis=-1, keepdims=True)) / temperature)


def _draw(logp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of log-probabilities (n, K), by inverse CDF."""
    cdf = np.cumsum(np.exp(logp), axis=1)  # (n, K)
    u = rng.random(len(logp)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), logp.shape[1] - 1)


def sample_factors(
    params: Params,
    h: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    mask0: np.ndarray | None = None,
) -> np.ndarray:
    """Draw one next id per state h (n, H): the first factor, then a syllable's medial and final.

    ``mask0`` (n, N + 19) bool: the other characters and initials allowed.
    """
    layout = jamo3.Layout.of(params)
    N = layout.n_other
    first = _draw(_masked(jamo3.top_logits(params, h), mask0, temperature), rng)  # (n,)
    out = first.copy()
    rows = np.flatnonzero(first >= N)  # the draws that began a syllable
    if len(rows):
        hs, l = h[rows], first[rows] - N
        u = jamo3.medial_state(params, hs, l)  # (r, H): read by both heads
        v = _draw(_masked(jamo3.medial_logits(params, u), None, temperature), rng)
        t = _draw(_masked(jamo3.final_logits(params, u, v), None, temperature), rng)
        out[rows] = layout.syllable_id(l, v, t)
    return out


def top_k(
    params: Params, h: np.ndarray, k: int, mask0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable next characters of each state h (n, H), exactly.

    Returns
    -------
    ids : int array (n, k)
        Best first; where fewer than k are possible, the rest are -1.
    logp : float64 array (n, k)
        Their log-probabilities (-inf for the missing ones).
    """
    layout = jamo3.Layout.of(params)
    N, n = layout.n_other, len(h)
    if k > SEARCH_K:
        return _top_enumerated(params, h, k, mask0)
    lp0 = _masked(jamo3.top_logits(params, h), mask0)  # (n, N + 19)
    # The k best whole characters found so far: the other characters are leaves already.
    found_lp = np.full((n, k), -np.inf)
    found_id = np.full((n, k), -1, dtype=np.int64)
    _merge(found_lp, found_id, lp0[:, :N], np.broadcast_to(np.arange(N), (n, N)), np.arange(n))
    initials = lp0[:, N:].copy()  # (n, 19): open initials, bound = their probability
    pairs = np.full((n, L_COUNT, V_COUNT), -np.inf)  # (n, 19, 21): open (initial, medial)
    while True:
        kth = found_lp[:, -1]
        best_l = initials.max(axis=1)
        best_p = pairs.reshape(n, -1).max(axis=1)
        grow = np.maximum(best_l, best_p) > kth  # some open node can still beat the k-th
        if not grow.any():
            break
        rows = np.flatnonzero(grow & (best_l >= best_p))  # grow an initial: its medials
        if len(rows):
            l = initials[rows].argmax(axis=1)
            u = jamo3.medial_state(params, h[rows], l)  # (r, H)
            lp1 = _masked(jamo3.medial_logits(params, u), None)  # (r, 21)
            pairs[rows, l] = initials[rows, l][:, None] + lp1
            initials[rows, l] = -np.inf
        rows = np.flatnonzero(grow & (best_l < best_p))  # grow a pair: its finals, whole
        if len(rows):
            l, v = np.divmod(pairs[rows].reshape(len(rows), -1).argmax(axis=1), V_COUNT)
            u = jamo3.medial_state(params, h[rows], l)  # (r, H)
            lp2 = _masked(jamo3.final_logits(params, u, v), None)  # (r, 28)
            leaves = pairs[rows, l, v][:, None] + lp2
            ids = layout.syllable_id(l, v, 0)[:, None] + np.arange(T_COUNT)
            pairs[rows, l, v] = -np.inf
            _merge(found_lp, found_id, leaves, ids, rows)
    found_id[~np.isfinite(found_lp)] = -1
    return found_id, found_lp


def _top_enumerated(
    params: Params, h: np.ndarray, k: int, mask0: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` by ranking every character and syllable, the first factor masked."""
    N = jamo3.Layout.of(params).n_other
    mask = None
    if mask0 is not None:  # an initial ruled out rules out its 588 syllables
        per_initial = S_COUNT // L_COUNT
        mask = np.concatenate([mask0[:, :N], np.repeat(mask0[:, N:], per_initial, axis=1)], 1)
    logp = _masked(jamo3.log_probs(params, h), mask)  # (n, V), renormalised
    k = min(k, logp.shape[1])
    ids = np.argsort(-logp, axis=1, kind="stable")[:, :k]
    lp = np.take_along_axis(logp, ids, axis=1)
    ids[~np.isfinite(lp)] = -1
    return ids, lp


def _merge(
    found_lp: np.ndarray, found_id: np.ndarray, lp: np.ndarray, ids: np.ndarray, rows: np.ndarray
) -> None:
    """Keep, in rows ``rows`` of ``found_*`` (n, k), the k best of them and ``lp``/``ids``."""
    k = found_lp.shape[1]
    all_lp = np.concatenate([found_lp[rows], lp], axis=1)  # (r, k + m)
    all_id = np.concatenate([found_id[rows], ids], axis=1)
    order = np.argsort(-all_lp, axis=1, kind="stable")[:, :k]
    found_lp[rows] = np.take_along_axis(all_lp, order, axis=1)
    found_id[rows] = np.take_along_axis(all_id, order, axis=1)


def draw(
    params: Params,
    h: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top: int | None = None,
    greedy: bool = False,
    mask0: np.ndarray | None = None,
) -> np.ndarray:
    """The next id of each state h (n, H): sampled, greedy or among the top k (module notes)."""
    if greedy or temperature == 0:
        return top_k(params, h, 1, mask0)[0][:, 0]
    if top is None:
        return sample_factors(params, h, rng, temperature, mask0)
    ids, lp = top_k(params, h, top, mask0)
    return ids[np.arange(len(h)), _draw(_masked(lp, None, temperature), rng)]


def draw_enumerated(
    params: Params,
    h: np.ndarray,
    rng: np.random.Generator,
    mask: np.ndarray,
    *,
    temperature: float = 1.0,
    top: int | None = None,
    greedy: bool = False,
) -> np.ndarray:
    """:func:`draw` under a mask over every id (n, V), through the whole distribution.

    Sampling draws from the distribution :func:`sample_factors` draws from (each
    factor at ``temperature``), masked and renormalised; greedy and top-k rank
    the masked syllables by the model's own probability, as :func:`draw` does.
    """
    if greedy or temperature == 0 or top is not None:
        logp = _masked(jamo3.log_probs(params, h), mask)
        if greedy or temperature == 0:
            return logp.argmax(axis=1)
        k = min(top, logp.shape[1])
        best = np.argsort(-logp, axis=1, kind="stable")[:, :k]
        lp = np.take_along_axis(logp, best, axis=1)
        return best[np.arange(len(h)), _draw(_masked(lp, None, temperature), rng)]
    logp = _masked(jamo3.log_probs(params, h, temperature), mask)
    ids = _draw(logp, rng)
    # Near zero, each factor's temperature sends all but its own best to -inf before
    # the mask: where the mask allows none of those, the row is lost, and greedy over
    # the masked syllables is what such a temperature means.
    lost = ~np.isfinite(logp.max(axis=1))
    if lost.any():
        ids[lost] = _masked(jamo3.log_probs(params, h[lost]), mask[lost]).argmax(axis=1)
    return ids
