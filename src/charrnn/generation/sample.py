"""Generation (prefix, temperature, top-k, greedy, many samples at once) and scoring."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..common.errors import CharRNNError
from ..core import jamo3
from ..core.cells import Cell, cell_of, get_cell
from ..core.model import Params, Workspace, forward, step, step_state, target_probs, zero_state
from ..core.vocab import Vocab
from . import syllables
from .constraints import Constraint, NoEmptyWord, allowed_mask, apply, unit_constraints

MAX_SAMPLES = 100_000
MAX_LENGTH = 1_000_000
MAX_CHARS = 50_000_000  # n * max_len of one call


def _pick(
    logits: np.ndarray,
    rng: np.random.Generator,
    temperature: float,
    top_k: int | None,
    greedy: bool,
    ws: Workspace | None = None,
) -> np.ndarray:
    """Choose one id per row of ``logits`` (B, V); the (B, V) scratch lives in ``ws``."""
    if greedy or temperature == 0:
        return logits.argmax(axis=1)
    ws = ws if ws is not None else Workspace()
    z = ws.get("pick-z", logits.shape, np.float64)  # (B, V)
    # The largest out before the division: a tiny temperature then sends the others to
    # -inf and the largest to 0 (greedy), where dividing first would give inf - inf.
    np.subtract(logits, logits.max(axis=1, keepdims=True), out=z, dtype=np.float64)
    with np.errstate(over="ignore"):  # -inf for all but the largest: what is meant
        z /= temperature
    if top_k is not None and top_k < z.shape[1]:
        # Everything outside the k largest becomes impossible; argpartition
        # keeps exactly k even when values tie.
        drop = np.argpartition(-z, top_k, axis=1)[:, top_k:]
        np.put_along_axis(z, drop, -np.inf, axis=1)
    p = np.exp(z, out=z)  # the largest is 1: no overflow
    cdf = np.cumsum(p, axis=1, out=ws.get("pick-cdf", z.shape, np.float64))  # (B, V)
    u = rng.random(len(z)) * cdf[:, -1]
    # First index whose cumulative mass passes u; zero-probability entries never qualify.
    below = np.less_equal(cdf, u[:, None], out=ws.get("pick-below", z.shape, bool))
    return np.minimum(below.sum(axis=1), z.shape[1] - 1)


def check_sampling_args(n: int, max_len: int, temperature: float, top_k: int | None) -> None:
    """Refuse sample counts, lengths and settings no one means."""
    for name, v in (("n", n), ("max_len", max_len), ("top_k", top_k)):
        if v is not None and not (isinstance(v, numbers.Integral) and not isinstance(v, bool)):
            raise CharRNNError(f"{name} must be a whole number; got {v!r}", params=(name,))
    if not (isinstance(temperature, numbers.Real) and not isinstance(temperature, bool)):
        raise CharRNNError(
            f"temperature must be a number >= 0; got {temperature!r}", params=("temperature",)
        )
    if not 1 <= n <= MAX_SAMPLES:
        raise CharRNNError(f"n must be between 1 and {MAX_SAMPLES:,}; got {n}", params=("n",))
    if not 1 <= max_len <= MAX_LENGTH:
        raise CharRNNError(
            f"max_len must be between 1 and {MAX_LENGTH:,}; got {max_len}", params=("max_len",)
        )
    if n * max_len > MAX_CHARS:
        raise CharRNNError(
            f"n={n} times max_len={max_len} is more than 50 million characters; ask for fewer",
            params=("n", "max_len"),
        )
    if not (math.isfinite(temperature) and temperature >= 0):
        raise CharRNNError(
            f"temperature must be a number >= 0; got {temperature}", params=("temperature",)
        )
    if top_k is not None and top_k < 1:
        raise CharRNNError(f"top_k must be at least 1; got {top_k}", params=("top_k",))


def sample(
    params: Params,
    vocab: Vocab,
    *,
    n: int = 10,
    prefix: str = "",
    mode: str = "words",
    temperature: float = 1.0,
    top_k: int | None = None,
    greedy: bool = False,
    max_len: int | None = None,
    rng: np.random.Generator | None = None,
    on_step: Callable[[list[str]], None] | None = None,
    allow_empty: bool = False,
    constraints: Sequence[Constraint] = (),
    cell: str | Cell | None = None,
) -> list[str]:
    """Generate ``n`` samples in parallel, as one batch.

    Every sample starts from a zero state reading the boundary ``'\\n'``, then
    reads ``prefix`` (the tutorial's ``guess_vector('v')`` is ``prefix="v"``),
    then generates.

    Parameters
    ----------
    params : dict
    vocab : Vocab
    n : int
        Number of samples.
    prefix : str
        Text every sample starts with; must be in the vocabulary.
    mode : {"words", "text"}
        ``words`` stops each sample at ``'\\n'`` (not included); ``text``
        generates exactly ``max_len`` characters.
    temperature : float
        Divides the logits; 0 is greedy.
    top_k : int, optional
        Sample only among the k most likely characters.
    greedy : bool
        Always take the most likely character.
    max_len : int, optional
        Characters generated after the prefix (default 100 words / 500 text).
    rng : numpy.random.Generator, optional
        Source of randomness (default: seeded with 0).
    on_step : callable, optional
        Called with the n symbols generated at each step (for streaming).
    allow_empty : bool
        Words mode: let a sample without a prefix end at once (an empty
        word), as the raw model may. By default the boundary is masked at
        the first step (:class:`charrnn.generation.constraints.NoEmptyWord`).
    constraints : sequence of Constraint
        Further masks on the next symbol (see :mod:`charrnn.generation.constraints`), on
        top of those the model's units impose (the jamo grammar); the samples
        come from the renormalised masked distribution.
    cell : cell or str, optional
        The model's cell (``Config.cell``); ``None``: ``cell_of(params)``, once.

    Returns
    -------
    list of str
        ``prefix`` + the generated characters, one string per sample, as a user
        reads them (in jamo units, composed into syllables; ``max_len`` counts symbols).

    Notes
    -----
    A ``jamo3`` model draws each character factor by factor, and greedy
    decoding and top-k are over whole syllables, found exactly (see
    :mod:`charrnn.generation.syllables`).
    """
    if max_len is None:
        max_len = 100 if mode == "words" else 500
    check_sampling_args(n, max_len, temperature, top_k)
    if mode == "words" and "\n" in prefix:
        raise CharRNNError("a words-mode prefix is part of one word: it cannot hold a line break")
    vocab.clean(prefix)
    prefix = vocab.to_symbols(prefix)
    rng = rng if rng is not None else np.random.default_rng(0)
    # Contiguous transposes once, not per step.
    p = {k: np.ascontiguousarray(v) for k, v in params.items()}
    # Resolved once: every step of the loop below gets the cell, never a guess.
    cell = get_cell(cell) if cell is not None else cell_of(params)
    first = cell.names(0)  # Wxh, Whh for the tanh cell
    for k in (first.input, first.recurrent, "Why"):
        p[k] = np.ascontiguousarray(params[k].T).T
    # Every sample reads the same boundary and prefix: run them once, then copy.
    h1 = zero_state(p, 1, cell=cell)
    x1 = np.array([vocab.boundary_id])
    for ix in vocab.encode(prefix, symbols=True):
        h1 = step_state(p, x1, h1, cell=cell)
        x1 = np.array([ix])
    h = np.repeat(h1, n, axis=1)  # (L, n, S)
    x = np.repeat(x1, n)  # (n,)
    out = np.full((max_len, n), vocab.boundary_id, dtype=np.int64)  # (max_len, n)
    active = np.arange(n)  # samples still generating; finished words drop out of the batch
    ws = Workspace()  # every step's large arrays, reused
    active_constraints = [*unit_constraints(vocab, max_len), *constraints]
    no_empty = mode == "words" and not allow_empty
    factored = jamo3.is_jamo3(p)
    if no_empty and not factored:
        active_constraints.append(NoEmptyWord(vocab.size, vocab.boundary_id))
    for t in range(max_len):
        if factored:
            h = step_state(p, x, h, ws=ws, cell=cell)
            top = cell.output(h[-1])  # (n, H)
            x = _pick_jamo3(
                p, vocab, top, x, t, active_constraints, no_empty, rng, temperature, top_k, greedy
            )
        else:
            h, logits = step(p, x, h, ws=ws, cell=cell)
            apply(logits, allowed_mask(active_constraints, x, t, vocab.size))
            x = _pick(logits, rng, temperature, top_k, greedy, ws)
        out[t, active] = x
        if on_step is not None:
            on_step([vocab.itos[i] for i in x])
        if mode == "words":
            going = x != vocab.boundary_id
            if not going.all():
                kept = ws.other("kept", (h.shape[0], int(going.sum()), h.shape[2]), h.dtype, h)
                active, h, x = active[going], np.compress(going, h, axis=1, out=kept), x[going]
                if len(active) == 0:
                    out = out[: t + 1]
                    break
    if mode == "words":  # each word ends before its first boundary
        is_end = out == vocab.boundary_id
        ends = np.where(is_end.any(axis=0), is_end.argmax(axis=0), len(out))
    else:
        ends = np.full(n, len(out))
    return [vocab.to_text(prefix + vocab.decode(out[: ends[b], b])) for b in range(n)]


def _pick_jamo3(
    params: Params,
    vocab: Vocab,
    top: np.ndarray,
    last: np.ndarray,
    pos: int,
    constraints: Sequence[Constraint],
    no_empty: bool,
    rng: np.random.Generator,
    temperature: float,
    top_k: int | None,
    greedy: bool,
) -> np.ndarray:
    """The next id of every sample of a jamo3 model, from its top layer's output (n, H).

    No empty word is a mask on the first factor (the boundary is another
    character); further constraints that leave every syllable allowed are one
    too, and the others are applied to the whole, enumerated distribution.
    """
    n_top = jamo3.Layout.of(params).n_top
    N = vocab.n_other
    mask0 = None
    if no_empty and pos == 0:
        mask0 = np.ones((len(last), n_top), dtype=bool)
        mask0[last == vocab.boundary_id, vocab.boundary_id] = False
    mask = allowed_mask(constraints, last, pos, vocab.size)
    if mask is not None and mask0 is not None:
        mask[:, vocab.boundary_id] &= mask0[:, vocab.boundary_id]
    if mask is not None and not mask[:, N:].all():
        return syllables.draw_enumerated(
            params, top, rng, mask, temperature=temperature, top=top_k, greedy=greedy
        )
    if mask is not None:
        mask0 = np.concatenate([mask[:, :N], np.ones((len(last), n_top - N), dtype=bool)], axis=1)
    return syllables.draw(
        params, top, rng, temperature=temperature, top=top_k, greedy=greedy, mask0=mask0
    )


@dataclass(frozen=True)
class Score:
    """Log-probability of a string under the model.

    ``char_nll`` holds one value per predicted model symbol (a character in
    char units, a jamo in jamo units). ``nats_per_char`` divides the whole
    log-probability by the characters of the text as shown (a Hangul syllable
    counts once; the closing ``'\\n'`` of words mode counts too), so char and
    jamo models are compared on the same unit; ``nats_per_symbol`` divides it
    by the model's symbols.
    """

    text: str
    logprob: float  # natural log, whole string (and its closing '\n' in words mode)
    char_nll: tuple[float, ...]  # -log p for each predicted symbol, in order
    n_chars: int | None = None  # predicted characters of the shown text; None: len(char_nll)

    @property
    def nats_per_char(self) -> float:
        n = self.n_chars if self.n_chars is not None else len(self.char_nll)
        return -self.logprob / max(n, 1)

    @property
    def nats_per_symbol(self) -> float:
        return -self.logprob / max(len(self.char_nll), 1)

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "logprob": self.logprob,
            "nats_per_char": self.nats_per_char,
            "nats_per_symbol": self.nats_per_symbol,
            "char_nll": list(self.char_nll),
        }


def score(
    params: Params,
    vocab: Vocab,
    texts: Sequence[str],
    *,
    mode: str = "words",
    cell: str | Cell | None = None,
) -> list[Score]:
    """Log-probabilities of ``texts``, all scored together in one padded batch.

    Each text is read from a zero state after ``'\\n'``; in words mode its
    closing ``'\\n'`` is predicted too (the probability that the word ends there).
    These are the model's own probabilities, the ones training lowers the loss
    of: no sampling constraint is applied. ``cell``: the model's cell
    (``Config.cell``), else ``cell_of(params)``.
    """
    if not texts:
        return []
    for t in texts:
        if mode == "words" and "\n" in t:
            raise CharRNNError(
                f"a words-mode model scores one word at a time: {t!r} holds a line break; "
                "give each word on its own"
            )
        vocab.clean(t)
    end = "\n" if mode == "words" else ""
    symbols = [vocab.to_symbols(t) for t in texts]
    seqs = [vocab.encode("\n" + t + end, symbols=True) for t in symbols]
    # Characters as shown, where units make them fewer than symbols.
    n_chars = [
        vocab.text_length(t) + len(end) if vocab.units.splits_chars else None for t in symbols
    ]
    T = max(len(s) for s in seqs) - 1
    B = len(seqs)
    inputs = np.full((T, B), vocab.boundary_id, dtype=np.int64)
    targets = np.full((T, B), vocab.boundary_id, dtype=np.int64)
    mask = np.zeros((T, B), dtype=bool)
    for b, s in enumerate(seqs):
        inputs[: len(s) - 1, b] = s[:-1]
        targets[: len(s) - 1, b] = s[1:]
        mask[: len(s) - 1, b] = True
    if T == 0:
        return [Score(t, 0.0, ()) for t in texts]
    cell = get_cell(cell) if cell is not None else cell_of(params)
    _, cache = forward(params, inputs, targets, zero_state(params, B, cell=cell), mask, cell=cell)
    nll = -np.log(target_probs(cache).reshape(T, B))  # (T, B)
    results = []
    for b, text in enumerate(texts):
        row = nll[mask[:, b], b]
        results.append(Score(text, -float(row.sum()), tuple(float(v) for v in row), n_chars[b]))
    return results
