"""jamo3 units: one step per character, every Hangul syllable read and written as its jamo.

A ``jamo3`` model steps once per character, as a ``char`` model does, but it
never treats the 11,172 Hangul syllables as 11,172 unrelated symbols. On the way
in, a syllable is the sum of its jamo's input columns; on the way out, it is
predicted jamo by jamo, by the chain rule. What is learnt about ``ㄱ`` is
shared by ``가``, ``각`` and ``강`` on both sides, the recurrence runs once per
syllable (not two or three times, as in ``jamo`` units), and the output layer
is a few small softmaxes in place of one as wide as the syllables seen.

**Ids.** The vocabulary (:class:`charrnn.core.vocab.Vocab` in ``jamo3`` units)
holds N other characters (``'\\n'`` among them) with ids ``0 .. N-1``, then
every syllable: syllable ``s = (l * 21 + v) * 28 + t`` (initial l, medial v,
final t, ``t = 0`` for none; The Unicode Standard, section 3.12) has id
``N + s``. N is read off the parameters: ``Why`` has ``N + 19`` rows.

**Input** (the first layer's input weight ``Wxh (G, C)``, C = N + 19 + 21 + 27
columns: the other characters, the initials, the medials, the finals)::

    (I1)  x = e[o]                                   another character o
          x = e[N + l] + e[N+19 + v] (+ e[N+40 + t-1] when t > 0)   a syllable
    (I2)  pre = Wxh x + bh                           two or three columns added

**Output**, from the top layer's output h (H,)::

    (O1)  y0 = Why h + by              (N + 19,)  the other characters, then the initials
          p0 = softmax(y0)
    (O2)  u  = tanh(Wvh h + Wvl[:, l] + bv)          (H,)   h after the initial
          y1 = Wyv u + byv             (21,)
          p1 = softmax(y1)                            p(medial | initial, h)
    (O3)  w  = tanh(Wtu u + Wtv[:, v] + bt)           (H,)   u after the medial
          y2 = Wyt w + byt             (28,)  index 0: no final
          p2 = softmax(y2)                            p(final or none | initial, medial, h)

    p(o | h) = p0[o]                 p(syllable l, v, t | h) = p0[N + l] p1[v] p2[t]

These sum to 1 over the N characters and the 11,172 syllables: the initials'
share of p0 is split exactly among their syllables. The heads are a chain, as
a jamo model's recurrence is: u reads h with the initial, w reads u with the
medial, each through a ``tanh`` layer, so the final's head sees h through two
layers (an earlier head read h, l and v side by side in one layer, and
generalised less). The loss of a step is the exact
negative log-likelihood of its character::

    (L)   loss = -log p0[c0] - [syllable] (log p1[v] + log p2[t])

with ``c0 = o`` or ``N + l``.

**Backward** (``dh`` is d loss / d h; a sum over positions, each weighted by
its mask)::

    (D1)  dy0 = p0 - onehot(c0)      dWhy += dy0 h^T   dby += dy0    dh  = Why^T dy0
    (D3)  dy2 = p2 - onehot(t)       dWyt += dy2 w^T   dbyt += dy2
          dw  = (1 - w^2) * (Wyt^T dy2)
          dWtu += dw u^T   dWtv[:, v] += dw   dbt += dw
    (D2)  dy1 = p1 - onehot(v)       dWyv += dy1 u^T   dbyv += dy1
          du  = (1 - u^2) * (Wyv^T dy1 + Wtu^T dw)
          dWvh += du h^T   dWvl[:, l] += du   dbv += du              dh += Wvh^T du
    (D4)  dWxh[:, c] += dpre  for each column c of x in (I1)

(D3) comes first: it sends part of du. (D2) and (D3) apply to syllables only.
A logit of the whole distribution is ``z(o) = y0[o]`` and
``z(s) = y0[N + l] + log p1[v] + log p2[t]``
(``softmax(z)`` is the distribution above), so seeding (D1) with ``-onehot(c0)``
and (D2), (D3) as they are gives the gradient of a character's logit, which is
what the learner's influence view asks of :func:`charrnn.core.model.backward`.

The recurrence is the cell's, untouched (and so are its compiled kernels):
only the first layer's input gather and the output head differ. Pure
functions over arrays, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import Backend
from .cells import Grads, Params, ParamSpec
from .vocab import FINALS, INITIALS, L_COUNT, MEDIALS, S_COUNT, T_COUNT, V_COUNT
from .workspace import Workspace

# Columns of the first layer's input weight after the other characters: initials,
# medials, finals (27: "no final" has none).
JAMO_COLUMNS = L_COUNT + V_COUNT + T_COUNT - 1
HEAD_WEIGHTS = ("Wvh", "Wvl", "Wyv", "Wtu", "Wtv", "Wyt")


def is_jamo3(params: Params) -> bool:
    """Whether ``params`` are a jamo3 model's (they hold the medial head)."""
    return "Wyv" in params


def head_specs(hidden: int) -> tuple[list[ParamSpec], list[ParamSpec]]:
    """The medial and final heads' parameters: (weight matrices, biases), in order."""
    H = hidden
    weights = [
        ParamSpec("Wvh", (H, H), "output"),
        ParamSpec("Wvl", (H, L_COUNT), "output"),
        ParamSpec("Wyv", (V_COUNT, H), "output"),
        ParamSpec("Wtu", (H, H), "output"),
        ParamSpec("Wtv", (H, V_COUNT), "output"),
        ParamSpec("Wyt", (T_COUNT, H), "output"),
    ]
    biases = [
        ParamSpec("bv", (H,), "bias"),
        ParamSpec("byv", (V_COUNT,), "bias"),
        ParamSpec("bt", (H,), "bias"),
        ParamSpec("byt", (T_COUNT,), "bias"),
    ]
    return weights, biases


@dataclass(frozen=True)
class Layout:
    """Where a jamo3 model's ids, input columns and output classes lie, for N other characters.

    Attributes
    ----------
    n_other : int
        N: the characters that are not Hangul syllables (ids ``0 .. N-1``).
    """

    n_other: int

    @classmethod
    def of(cls, params: Params) -> Layout:
        """The layout of a jamo3 model's parameters (``Why`` is (N + 19, H))."""
        return cls(int(params["Why"].shape[0]) - L_COUNT)

    @classmethod
    def for_ids(cls, n_ids: int) -> Layout:
        """The layout of a vocabulary of ``n_ids`` symbols (N others and every syllable)."""
        if n_ids <= S_COUNT:
            raise ValueError(f"a jamo3 vocabulary holds every syllable; got {n_ids} symbols")
        return cls(n_ids - S_COUNT)

    @property
    def n_ids(self) -> int:
        """V: every id, the other characters and the 11,172 syllables."""
        return self.n_other + S_COUNT

    @property
    def n_top(self) -> int:
        """The first factor's classes: the other characters, then the 19 initials."""
        return self.n_other + L_COUNT

    @property
    def n_columns(self) -> int:
        """C: the first layer's input columns."""
        return self.n_other + JAMO_COLUMNS

    def split(self, ids: Any, xp: Any = np) -> tuple[Any, Any, Any, Any, Any]:
        """Each id as (first-factor class c0, is a syllable, initial, medial, final).

        For another character, c0 is its id and initial, medial and final are 0
        (unused: the syllable flag is False).
        """
        s = ids - self.n_other
        syllable = s >= 0
        s = xp.where(syllable, s, 0)
        l = s // (V_COUNT * T_COUNT)
        v = (s // T_COUNT) % V_COUNT
        t = s % T_COUNT
        c0 = xp.where(syllable, self.n_other + l, ids)
        return c0, syllable, l, v, t

    def columns(self, ids: Any, xp: Any = np) -> tuple[Any, Any, Any]:
        """The input columns of each id, (I1): first, medial, final; C where there is none."""
        c0, syllable, _, v, t = self.split(ids, xp)
        C, medials = self.n_columns, self.n_top
        c2 = xp.where(syllable, medials + v, C)
        c3 = xp.where(syllable & (t > 0), medials + V_COUNT + t - 1, C)
        return c0, c2, c3

    def syllable_id(self, l: Any, v: Any, t: Any) -> Any:
        """The id of the syllable of initial l, medial v and final t."""
        return self.n_other + (l * V_COUNT + v) * T_COUNT + t


# ----------------------------------------------------------------------------- input


def gather_input(
    W: Any, b: Any, ids: Any, pre: Any, layout: Layout, ws: Workspace, xp: Any
) -> None:
    """(I1)-(I2) for every position: ``pre`` (T, B, G) = the sum of each id's columns + b.

    Three row gathers from ``W^T`` with a zero row appended (the missing medial
    or final of another character, the missing final of an open syllable).
    """
    G, C = W.shape
    c1, c2, c3 = layout.columns(ids, xp)
    table = ws.get("table3", (C + 1, G), W.dtype)  # (C+1, G)
    table[:C] = W.T
    table[C] = 0
    xp.take(table, c1, axis=0, out=pre, mode="clip")
    pre += b
    part = ws.get("pre3", pre.shape, pre.dtype)  # (T, B, G)
    for c in (c2, c3):
        xp.take(table, c, axis=0, out=part, mode="clip")
        pre += part


def step_input(W: Any, b: Any, x: Any, layout: Layout, xp: Any) -> Any:
    """(I1)-(I2) for one step of B sequences: (B, G)."""
    c1, c2, c3 = layout.columns(x, xp)
    pre = W[:, c1].T + b  # (B, G)
    for c in (c2, c3):
        has = c < layout.n_columns
        pre[has] += W[:, c[has]].T
    return pre


def input_grad(
    backend: Backend, ids: Any, dpre: Any, out: Any, layout: Layout, ws: Workspace
) -> None:
    """(D4): ``out`` (G, C) = d loss / d Wxh, from ``dpre`` (N, G) and the ids (N,).

    The first column of every id goes through ``backend.onehot_grad`` (the one
    call the learner's views read ``dpre`` from); the medial and final columns
    are added by a one-hot matmul of their own over 21 + 27 columns.
    """
    xp = backend.xp
    c1, c2, c3 = layout.columns(ids, xp)
    backend.onehot_grad(c1, dpre, out, ws)
    first = layout.n_top  # the first medial column
    width = layout.n_columns - first  # 48; column `width` stands for "none"
    rows = ws.arange(len(ids))
    hot = ws.clean("twohot", (len(ids), width + 1), dpre.dtype)  # (N, 49), all zeros
    hot[rows, c2 - first] = 1
    hot[rows, c3 - first] = 1
    out[:, first:] += xp.matmul(dpre.T, hot[:, :width])
    hot[rows, c2 - first] = 0  # clean again for the next call
    hot[rows, c3 - first] = 0


# ----------------------------------------------------------------------------- head


@dataclass
class HeadCache:
    """What :func:`head_backward` needs from :func:`head_forward` (M positions)."""

    c0: Any  # (M,) first-factor class of each target
    syllable: Any  # (M,) bool: the target is a syllable
    l: Any  # (M,) initial, medial and final of each target (0 for other characters)
    v: Any
    t: Any
    u: Any  # (M, H) the medial head's tanh layer (O2)
    p1: Any  # (M, 21) medial probabilities
    w: Any  # (M, H) the final head's tanh layer (O3)
    p2: Any  # (M, 28) final probabilities


def _gathered(M: Any, index: Any, xp: Any) -> Any:
    """Columns ``index`` of ``M`` (H, K) as rows, (n, H)."""
    return xp.take(M.T, index, axis=0)


def _softmax_nll(y: Any, target: Any, rows: Any, xp: Any) -> Any:
    """``y`` (M, K) becomes its softmax in place; returns -log p[target] (M,) in float64."""
    y -= y.max(axis=1, keepdims=True)
    z = y[rows, target].astype(xp.float64)
    xp.exp(y, out=y)
    sums = y.sum(axis=1)
    y /= sums[:, None]
    return xp.log(sums.astype(xp.float64)) - z


def medial_hidden(params: Params, h: Any, l: Any, out: Any, xp: Any) -> Any:
    """(O2)'s tanh layer, ``u`` (n, H) into ``out``, for states h (n, H) and initials l (n,)."""
    xp.dot(h, params["Wvh"].T, out=out)
    out += _gathered(params["Wvl"], l, xp)
    out += params["bv"]
    return xp.tanh(out, out=out)


def final_hidden(params: Params, u: Any, v: Any, out: Any, xp: Any) -> Any:
    """(O3)'s tanh layer, ``w`` (n, H) into ``out``, from (O2)'s u (n, H) and medials v (n,)."""
    xp.dot(u, params["Wtu"].T, out=out)
    out += _gathered(params["Wtv"], v, xp)
    out += params["bt"]
    return xp.tanh(out, out=out)


def head_forward(
    params: Params, h: Any, targets: Any, layout: Layout, ws: Workspace, xp: Any
) -> tuple[Any, HeadCache]:
    """(O2), (O3) and their part of (L) for M positions.

    Parameters
    ----------
    h : array (M, H)
        The top layer's output at every position.
    targets : int array (M,)

    Returns
    -------
    nll : float64 array (M,)
        ``-log p1[v] - log p2[t]`` where the target is a syllable, 0 elsewhere.
    cache : HeadCache
    """
    M, H = h.shape
    dtype = h.dtype
    c0, syllable, l, v, t = layout.split(targets, xp)
    rows = ws.arange(M)
    u = medial_hidden(params, h, l, ws.get("j3-u", (M, H), dtype), xp)  # (M, H)
    p1 = ws.get("j3-p1", (M, V_COUNT), dtype)  # (M, 21)
    xp.dot(u, params["Wyv"].T, out=p1)
    p1 += params["byv"]
    nll = _softmax_nll(p1, v, rows, xp)
    w = final_hidden(params, u, v, ws.get("j3-w", (M, H), dtype), xp)  # (M, H)
    p2 = ws.get("j3-p2", (M, T_COUNT), dtype)  # (M, 28)
    xp.dot(w, params["Wyt"].T, out=p2)
    p2 += params["byt"]
    nll += _softmax_nll(p2, t, rows, xp)
    nll *= syllable
    return nll, HeadCache(c0, syllable, l, v, t, u, p1, w, p2)


def _onehot_cols(index: Any, values: Any, out: Any, ws: Workspace, name: str, xp: Any) -> None:
    """``out`` (H, K) = values^T @ onehot(index): column k sums the rows with index k."""
    N, K = len(index), out.shape[1]
    hot = ws.clean(name, (N, K), values.dtype)  # (N, K), all zeros
    rows = ws.arange(N)
    hot[rows, index] = 1
    xp.matmul(values.T, hot, out=out)
    hot[rows, index] = 0


def _factor_back(
    params: Params,
    grads: Grads,
    factor: tuple[Any, Any, Any],
    names: tuple[str, str],
    rows: Any,
    coef: Any,
    out: Any,
    xp: Any,
) -> None:
    """One factor's softmax back to its tanh layer's output: (D2)'s or (D3)'s first line.

    ``factor`` is (p (M, K), target (M,), the tanh layer's output (M, H)); ``p``
    becomes ``dy = (p - onehot(target)) * coef`` in place. The output weight's and
    bias's gradients go into ``grads[names]``, and ``out`` (M, H) receives ``dy Wy``:
    d loss / d the layer's output, before its tanh's derivative.
    """
    (dy, target, hid), (Wy, by_) = factor, names
    dy[rows, target] -= 1
    dy *= coef[:, None]
    xp.matmul(dy.T, hid, out=grads[Wy])  # dWyv / dWyt (K, H)
    dy.sum(axis=0, out=grads[by_])
    xp.dot(dy, params[Wy], out=out)


def head_backward(
    params: Params,
    cache: HeadCache,
    h: Any,
    coef: Any,
    grads: Grads,
    dh: Any,
    ws: Workspace,
    xp: Any,
) -> None:
    """(D3), then (D2): the heads' gradients into ``grads``, and their part of d loss / d h
    added to ``dh`` (M, H).

    ``coef`` (M,) is each position's weight in the loss (its mask times the
    loss's scale); other characters' positions get none. ``cache.p1`` and
    ``cache.p2`` are overwritten.
    """
    M, H = h.shape
    rows = ws.arange(M)
    coef = coef * cache.syllable  # (M,)
    u, w = cache.u, cache.w
    # (D3) first: the final's head sends part of du back through Wtu.
    dw = ws.get("j3-dw", (M, H), h.dtype)  # (M, H)
    _factor_back(params, grads, (cache.p2, cache.t, w), ("Wyt", "byt"), rows, coef, dw, xp)
    dw *= 1 - w * w  # through tanh
    xp.matmul(dw.T, u, out=grads["Wtu"])  # dWtu (H, H)
    dw.sum(axis=0, out=grads["bt"])
    _onehot_cols(cache.v, dw, grads["Wtv"], ws, "j3-hot-v", xp)  # dWtv (H, 21)
    # (D2): du from the medial's own loss and from the final's head.
    du = ws.get("j3-du", (M, H), h.dtype)  # (M, H)
    _factor_back(params, grads, (cache.p1, cache.v, u), ("Wyv", "byv"), rows, coef, du, xp)
    du += xp.dot(dw, params["Wtu"], out=ws.get("j3-dwu", (M, H), h.dtype))  # Wtu^T dw
    du *= 1 - u * u  # through tanh
    xp.matmul(du.T, h, out=grads["Wvh"])  # dWvh (H, H)
    du.sum(axis=0, out=grads["bv"])
    _onehot_cols(cache.l, du, grads["Wvl"], ws, "j3-hot-l", xp)  # dWvl (H, 19)
    dh += xp.dot(du, params["Wvh"])


# ----------------------------------------------------------------------------- generation


def _log_softmax(y: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Log-softmax over the last axis, in float64, of ``y / temperature``."""
    # The largest out before the division: a tiny temperature then sends the others to
    # -inf and the largest to 0, where dividing first would give inf - inf = nan.
    z = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):  # -inf for all but the largest: what is meant
        z = (z - z.max(axis=-1, keepdims=True)) / temperature
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def top_logits(params: Params, h: np.ndarray) -> np.ndarray:
    """(O1)'s ``y0`` for states h (n, H): (n, N + 19)."""
    return h @ params["Why"].T + params["by"]


def medial_state(params: Params, h: np.ndarray, l: np.ndarray) -> np.ndarray:
    """(O2)'s ``u`` for states h (n, H) after initials l (n,): (n, H), both heads' input."""
    return medial_hidden(params, h, l, np.empty(h.shape, dtype=h.dtype), np)


def medial_logits(params: Params, u: np.ndarray) -> np.ndarray:
    """(O2)'s ``y1`` from :func:`medial_state`'s u (n, H): (n, 21)."""
    return u @ params["Wyv"].T + params["byv"]


def final_logits(params: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(O3)'s ``y2`` from :func:`medial_state`'s u (n, H) and medials v (n,): (n, 28)."""
    w = final_hidden(params, u, v, np.empty(u.shape, dtype=u.dtype), np)
    return w @ params["Wyt"].T + params["byt"]


_ENUMERATE_ROWS = 64  # states whose 399 final heads one pass of log_probs evaluates


def log_probs(params: Params, h: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The whole next-character distribution, every syllable enumerated: (n, V) float64.

    Column ``N + s`` is syllable s's ``log p0[N+l] + log p1[v] + log p2[t]``,
    each factor's logits divided by ``temperature`` first (1: the model's own
    distribution). It costs 399 final heads per state (19 x 21 pairs), so it
    serves scoring, completions and the views, not bulk sampling.
    """
    layout = Layout.of(params)
    N = layout.n_other
    out = np.empty((len(h), layout.n_ids))
    for a in range(0, len(h), _ENUMERATE_ROWS):
        hb = h[a : a + _ENUMERATE_ROWS]  # (n, H)
        n = len(hb)
        lp0 = _log_softmax(top_logits(params, hb), temperature)  # (n, N + 19)
        a1 = hb @ params["Wvh"].T + params["bv"]  # (n, H): the part of (O2) h gives
        u = np.tanh(a1[None] + params["Wvl"].T[:, None, :])  # (19, n, H)
        lp1 = _log_softmax(u @ params["Wyv"].T + params["byv"], temperature)  # (19, n, 21)
        a2 = u @ params["Wtu"].T + params["bt"]  # (19, n, H): the part of (O3) u gives
        w = np.tanh(a2[:, None] + params["Wtv"].T[None, :, None, :])  # (19, 21, n, H)
        lp2 = _log_softmax(w @ params["Wyt"].T + params["byt"], temperature)  # (19, 21, n, 28)
        syl = (
            lp0[:, N:, None, None]  # (n, 19, 1, 1)
            + lp1.transpose(1, 0, 2)[:, :, :, None]  # (n, 19, 21, 1)
            + lp2.transpose(2, 0, 1, 3)  # (n, 19, 21, 28)
        )
        out[a : a + n, :N] = lp0[:, :N]
        out[a : a + n, N:] = syl.reshape(n, S_COUNT)
    return out


def factor_probs(
    params: Params, h: np.ndarray, ids: np.ndarray
) -> list[list[tuple[str, str, float]]]:
    """Each id's factors under states h (n, H): ``[(factor, jamo, probability), ...]`` per row.

    Another character is one factor, ``("character", "", p)``; a syllable is
    three, ``"initial"``, ``"medial"`` and ``"final"``, each with its
    conjoining jamo (the final's is ``""`` when there is none: the factor is
    then the probability of no final), whose product is its probability.
    """
    layout = Layout.of(params)
    c0, syllable, l, v, t = layout.split(np.asarray(ids))
    rows = np.arange(len(h))
    p0 = np.exp(_log_softmax(top_logits(params, h)))[rows, c0]
    u = medial_state(params, h, l)  # (n, H): read by both heads
    p1 = np.exp(_log_softmax(medial_logits(params, u)))[rows, v]
    p2 = np.exp(_log_softmax(final_logits(params, u, v)))[rows, t]
    return [
        [
            ("initial", INITIALS[l[i]], float(p0[i])),
            ("medial", MEDIALS[v[i]], float(p1[i])),
            ("final", FINALS[t[i] - 1] if t[i] else "", float(p2[i])),
        ]
        if syllable[i]
        else [("character", "", float(p0[i]))]
        for i in rows
    ]
