"""The numbers behind the learner's page: what a trained model does over a text.

Pure functions, no I/O. Everything goes through the model's public
``forward``, ``backward`` and ``zero_state`` and the cell's contract (its
input-weight block, :meth:`~charrnn.core.cells.Cell.input_weight`), so it
works for every registered cell. Each function takes the cell (or its name,
``Config.cell``); left out, it is ``cell_of(params)``.

A text is read as the model reads it. In text mode: ``'\\n' + text``, one
running sequence. In words mode every word starts afresh from a zero state
after ``'\\n'``; words are separated by line breaks (and by spaces when the
vocabulary has no space), and each separator stands for the end of the word
before it (the boundary's probability). A text that does not end with a
separator gets one, so that its last word's end is shown too.

Token ``i`` of a reading is one character of that text; for it we report

- ``probs[i]``: the model's probability of the character, given what came before;
- ``top_ids[i]``: the most likely next characters after reading it;
- ``activations[l][i]``: layer l's output after reading it;
- ``influence[i]``: how much each earlier input mattered to the prediction of
  token i: the norm of the gradient of the logit of the character that is
  there with respect to each earlier one-hot input, ``||Wx^T dpre_s||``, Wx
  the first layer's input weight, all gates stacked (Madsen, "Visualizing
  memorization in RNNs", Distill 2019).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..core.backend import Backend
from ..core.cells import Cell, cell_of, get_cell
from ..core.model import Cache, Params, backward, forward, target_probs, zero_state
from ..core.vocab import BOUNDARY, Vocab
from .syllables import top_k

MAX_TEXT = 20_000  # characters a reading takes
MAX_WINDOW = 512
_COLUMNS = 64  # predictions whose influence one batched backward computes

PROPERTIES = {
    "position in word": "characters since the last space, line break or punctuation",
    "inside quotes": 'between an opening and a closing "',
    "inside brackets": "inside (), [] or {}",
    "after a space": "the character before is a space",
    "line length": "characters since the last line break",
}


@dataclass
class Reading:
    """What the model does at every character of a text (see the module notes).

    Attributes
    ----------
    text : str
        The text read, with a final separator added in words mode if it had none.
    mode : str
    ids : int array (N,)
        Each token's id (a separator's is the boundary's).
    probs : float array (N,)
        Probability of each token given everything before it (in its word).
    top_ids, top_probs : arrays (N, k)
        The k most likely next characters after each token, best first.
    activations : list of float arrays (N, H)
        Each layer's output after each token.
    word_start : int array (N,)
        Index of the first token of each token's word (0 in text mode).
    """

    text: str
    mode: str
    ids: np.ndarray
    probs: np.ndarray
    top_ids: np.ndarray
    top_probs: np.ndarray
    activations: list[np.ndarray] = field(default_factory=list)
    word_start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def chars(self) -> list[str]:
        return list(self.text)


def _separators(vocab: Vocab) -> str:
    return "\n" if " " in vocab.stoi else "\n "


def prepare(vocab: Vocab, text: str, mode: str) -> tuple[str, np.ndarray]:
    """Check ``text`` and return it as read (words mode: a final separator) and its ids."""
    if mode not in ("words", "text"):
        raise CharRNNError(f"mode must be words or text; got {mode!r}")
    if len(text) > MAX_TEXT:
        raise CharRNNError(
            f"the text has {len(text):,} characters; the views take at most {MAX_TEXT:,}"
        )
    # One token per symbol the model reads: a jamo model's views show its jamo, so every
    # array of a Reading lines up with the text it returns.
    text = vocab.to_symbols(text.replace("\r\n", "\n"))
    if mode == "words":
        seps = _separators(vocab)
        if text and text[-1] not in seps:
            text += "\n"
        ids = vocab.encode(re.sub("[" + re.escape(seps) + "]", BOUNDARY, text), symbols=True)
    else:
        ids = vocab.encode(text, symbols=True)
    return text, ids


@dataclass(frozen=True)
class Alignment:
    """One model's view of a text that several models read side by side.

    Attributes
    ----------
    shown : str
        The text every model of a comparison shares: NFC, line breaks as ``'\\n'``.
    readable : str
        ``shown`` without the characters this model cannot read (what it reads).
    src : int array (N,)
        For each token of ``read(readable)``, the index in ``shown`` of the character it
        belongs to (a jamo model has several tokens per syllable); the separator words
        mode adds at the end has ``len(shown)``.
    unreadable : list of int
        Indexes in ``shown`` of the characters left out.
    """

    shown: str
    readable: str
    src: np.ndarray
    unreadable: list[int]


def align(vocab: Vocab, text: str, mode: str) -> Alignment:
    """Line a text up with the tokens one model reads, leaving out what it cannot read.

    Models with different vocabularies or units read one text side by side: each
    character of the shared text becomes the model's own symbols (one, or a
    syllable's jamo), and a character with a symbol outside the vocabulary is left
    out, so the model reads the rest (a separator of words mode is always readable).

    Parameters
    ----------
    vocab : Vocab
    text : str
        At most :data:`MAX_TEXT` characters.
    mode : {"words", "text"}

    Returns
    -------
    Alignment
    """
    if len(text) > MAX_TEXT:
        raise CharRNNError(
            f"the text has {len(text):,} characters; the views take at most {MAX_TEXT:,}"
        )
    shown = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    seps = _separators(vocab) if mode == "words" else ""
    width: dict[str, int] = {}  # symbols per character (0: unreadable), once per character
    for c in set(shown):
        symbols = vocab.to_symbols(c)
        ok = c in seps or all(s in vocab.stoi for s in symbols)
        width[c] = len(symbols) if ok else 0
    unreadable = [k for k, c in enumerate(shown) if not width[c]]
    readable = "".join(c for c in shown if width[c])
    src = np.repeat(np.arange(len(shown)), [width[c] for c in shown])
    if mode == "words" and readable and readable[-1] not in seps:
        src = np.append(src, len(shown))  # the word end read() adds
    return Alignment(shown, readable, src.astype(np.int64), unreadable)


def _words(ids: np.ndarray, boundary: int) -> list[tuple[int, int]]:
    """(first token, end token) of every word: the end token is its separator."""
    ends = np.flatnonzero(ids == boundary)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def read(
    params: Params,
    vocab: Vocab,
    text: str,
    *,
    mode: str = "words",
    top: int = 5,
    cell: str | Cell | None = None,
) -> Reading:
    """Read ``text`` with the model: probabilities, next-character guesses, activations.

    Parameters
    ----------
    params : dict
    vocab : Vocab
    text : str
        At most :data:`MAX_TEXT` characters, all in the vocabulary.
    mode : {"words", "text"}
    top : int
        How many next characters to keep per token.
    cell : cell or str, optional
        The model's cell; ``None``: ``cell_of(params)``.

    Returns
    -------
    Reading
    """
    cell = get_cell(cell) if cell is not None else cell_of(params)
    text, ids = prepare(vocab, text, mode)
    N, V = len(ids), vocab.size
    top = max(1, min(int(top), V))
    acts: list[np.ndarray] = []
    probs = np.zeros(N)
    # Each token's position in the forward's (T*B) rows: where it is predicted, and
    # where the next one is (the rows of the next-character distribution after it).
    at_token, after_token = np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)
    top_ids, top_probs = np.zeros((N, top), dtype=np.int64), np.zeros((N, top))
    word_start = np.zeros(N, dtype=np.int64)
    b = vocab.boundary_id
    if N == 0:
        pass
    elif mode == "text":
        seq = np.concatenate([[b], ids])  # '\n' + text
        inputs, targets = seq[:, None], np.concatenate([ids, [b]])[:, None]  # (N+1, 1)
        _, cache = forward(params, inputs, targets, zero_state(params, 1, cell=cell), cell=cell)
        at_token, after_token = np.arange(N), np.arange(1, N + 1)  # row t predicts seq[t+1]
        acts = [o[1:, 0].astype(np.float64) for o in cache.outs]
    else:
        words = _words(ids, b)
        T = max(e - s for s, e in words) + 1
        B = len(words)
        inputs = np.full((T, B), b, dtype=np.int64)  # (T, B): '\n' + word, padded
        targets = np.full((T, B), b, dtype=np.int64)  # (T, B): word + '\n'
        for col, (s, e) in enumerate(words):
            inputs[1 : e - s + 1, col] = ids[s:e]
            targets[: e - s, col] = ids[s:e]
        _, cache = forward(params, inputs, targets, zero_state(params, B, cell=cell), cell=cell)
        acts = [np.zeros((N, o.shape[2])) for o in cache.outs]
        for col, (s, e) in enumerate(words):
            n = e - s + 1  # tokens of the word, its end included
            rows = np.arange(n)
            at_token[s : e + 1] = rows * B + col
            # After a word's letters: the next letter; after its end: a new word's first.
            after_token[s:e] = rows[1:] * B + col
            after_token[e] = col
            for l, o in enumerate(cache.outs):
                acts[l][s:e] = o[1:n, col]
                acts[l][e] = o[0, col]  # the state a new word starts from, after '\n'
            word_start[s : e + 1] = s
    if N:
        probs = target_probs(cache)[at_token]
        top_ids, top_probs = _top_next(params, cache, after_token, top)
    return Reading(text, mode, ids, probs, top_ids, top_probs, acts, word_start)


def _top_next(params: Params, cache: Cache, rows: np.ndarray, top: int) -> tuple[Any, Any]:
    """The ``top`` likeliest next characters at forward rows ``rows``: ids and probabilities.

    A jamo3 model's are whole syllables, found exactly from its factors without
    enumerating all 11,172 (:func:`charrnn.generation.syllables.top_k`).
    """
    if cache.head is None:
        nxt = cache.probs[rows].astype(np.float64)  # (n, V) next-character distribution
        order = np.argsort(-nxt, axis=1, kind="stable")[:, :top]  # (n, k)
        return order, np.take_along_axis(nxt, order, axis=1)
    out = np.asarray(cache.outs[-1])
    ids, logp = top_k(params, out.reshape(-1, out.shape[2])[rows].astype(np.float64), top)
    return ids, np.exp(logp)


@dataclass(frozen=True)
class _InputGradKeeper(Backend):
    """numpy, keeping the first layer's input-projection gradient (``dpre``) of a backward."""

    kept: list[Any] = field(default_factory=list)

    def onehot_grad(self, index: Any, values: Any, out: Any, ws: Any, bias: Any = None) -> None:
        # (T*B, G): d logit / d (Wxh x_s + bh) for every position; dWxh and dbh are not needed.
        self.kept.append(np.array(values))


def influence(
    params: Params,
    vocab: Vocab,
    text: str,
    *,
    mode: str = "words",
    window: int = 64,
    tokens: np.ndarray | list[int] | None = None,
    cell: str | Cell | None = None,
) -> np.ndarray:
    """How much each earlier input mattered to each prediction.

    Parameters
    ----------
    params : dict
    vocab : Vocab
    text : str
    mode : {"words", "text"}
    window : int
        How many inputs before each prediction to report, W.
    tokens : sequence of int, optional
        The tokens (of :func:`read`'s reading) whose predictions to explain;
        all by default.
    cell : cell or str, optional
        The model's cell; ``None``: ``cell_of(params)``.

    Returns
    -------
    float array (n, W)
        Row r explains token ``tokens[r]``: column ``W-1`` is the input read
        just before predicting it (the previous character, or the boundary
        that starts the text or word), column ``W-1-d`` the input d steps
        earlier. Entries before the start of the text (or of the word, in
        words mode) are NaN. The value is ``||Wx^T dpre_s||``: the norm of the
        gradient of the logit of the token's character with respect to the
        one-hot input s, through the cell's first-layer input weight Wx (G, V).
    """
    cell = get_cell(cell) if cell is not None else cell_of(params)
    if not 1 <= window <= MAX_WINDOW:
        raise CharRNNError(f"window must be between 1 and {MAX_WINDOW}; got {window}")
    text, ids = prepare(vocab, text, mode)
    N, b = len(ids), vocab.boundary_id
    tokens = np.arange(N) if tokens is None else np.asarray(tokens, dtype=np.int64)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= N):
        raise CharRNNError(f"token index out of range: the text has {N} tokens")
    seq = np.concatenate([[b], ids])  # every input: '\n' + text
    if mode == "words":
        # Word-relative: a word's inputs are its own '\n' and letters, from zero.
        starts = np.zeros(N, dtype=np.int64)
        for s, e in _words(ids, b):
            starts[s : e + 1] = s
        # Input s (of seq) for a token of a word starting at w is seq[w..]: seq[w] is
        # the previous separator or the first '\n', which reads as the boundary.
        columns = [(int(starts[i]), int(i), None) for i in tokens]
        states: dict[int, Any] = {}
    else:
        # Each prediction restarts from the carried state at a multiple of W at
        # least W inputs back, so the window is exact (what came before only
        # enters through that state).
        columns = [(max(0, (int(i) // window - 1) * window), int(i), None) for i in tokens]
        states = _states_at(params, seq, sorted({c[0] for c in columns}), cell)
    out = np.full((len(tokens), window), np.nan)
    Wx = cell.input_weight(params, 0).astype(np.float64)  # (G, V): every gate's input block
    order = np.argsort([c[1] - c[0] for c in columns], kind="stable")  # similar lengths together
    for chunk in np.array_split(order, max(1, -(-len(order) // _COLUMNS))):
        if not len(chunk):
            continue
        T = max(columns[r][1] - columns[r][0] for r in chunk) + 1
        C = len(chunk)
        inputs = np.full((T, C), b, dtype=np.int64)  # (T, C)
        targets = np.full((T, C), b, dtype=np.int64)
        mask = np.zeros((T, C), dtype=bool)
        first = []
        for col, r in enumerate(chunk):
            s0, i, _ = columns[r]
            inputs[: i - s0 + 1, col] = seq[s0 : i + 1]
            targets[i - s0, col] = ids[i]
            mask[i - s0, col] = True
            first.append(states[s0] if s0 in states else zero_state(params, 1, cell=cell))
        h0 = np.concatenate(first, axis=1)  # (L, C, S)
        _, cache = forward(params, inputs, targets, h0, mask, cell=cell)
        # backward seeds dy = scale * (probs - onehot(target)) at the masked
        # position; with probs zeroed and scale -1 that is d(logit of the target).
        cache.probs[...] = 0
        keeper = _InputGradKeeper("numpy", np)
        backward(params, cache, scale=-1.0, backend=keeper, cell=cell)
        if len(keeper.kept) != 1:  # the seam this relies on: say so rather than draw nonsense
            raise RuntimeError(
                "model.backward must pass the first layer's input gradient "
                "to backend.onehot_grad once; views.influence reads it there"
            )
        dpre = keeper.kept[0].reshape(T, C, -1)  # (T, C, G)
        norms = np.linalg.norm(dpre.astype(np.float64) @ Wx, axis=2)  # (T, C)
        for col, r in enumerate(chunk):
            s0, i, _ = columns[r]
            n = min(i - s0 + 1, window)  # inputs s0..i, the last n of them shown
            out[r, window - n :] = norms[i - s0 + 1 - n : i - s0 + 1, col]
    return out


def state_gradients(
    params: Params,
    vocab: Vocab,
    text: str,
    index: int,
    *,
    mode: str = "words",
    window: int = 64,
    cell: str | Cell | None = None,
) -> np.ndarray:
    """The gradient of the log-probability of token ``index`` with respect to the state the
    model carried into each of the ``window`` steps before it (the reach view's vectors).

    Parameters
    ----------
    params : dict
    vocab : Vocab
    text : str
        Read as :func:`read` reads it.
    index : int
        The token (of the reading) whose prediction is differentiated.
    mode : {"words", "text"}
    window : int
        Steps back, 1 to :data:`MAX_WINDOW`.
    cell : cell or str, optional

    Returns
    -------
    float64 array (window, L, S)
        Row j is ``d log p(token index) / d state``, the state carried into the step
        j steps before the predicting step (j = 0: the state that step starts from),
        each layer's part (S: the cell's state, ``[h | c]`` for the LSTM), every other
        state held fixed. NaN before the start of the text (or of the word, in words
        mode). Exact: one batched forward and the model's own backward (its ``dh0``),
        so it is the gradient full BPTT carries; the tutorial's 1-hop rule carries none
        of it (its ``dh0`` is zero).
    """
    cell = get_cell(cell) if cell is not None else cell_of(params)
    if not 1 <= window <= MAX_WINDOW:
        raise CharRNNError(f"window must be between 1 and {MAX_WINDOW}; got {window}")
    text, ids = prepare(vocab, text, mode)
    N, b = len(ids), vocab.boundary_id
    if not 0 <= index < N:
        raise CharRNNError(f"index must be between 0 and {N - 1}: the text has {N} tokens")
    seq = np.concatenate([[b], ids])  # step k reads seq[k]; step i predicts token i
    start = 0
    if mode == "words":
        start = next(s for s, e in _words(ids, b) if s <= index <= e)  # the word's own steps
    first = max(start, index - window + 1)
    steps = list(range(first, index + 1))  # the steps whose carried state we differentiate
    if mode == "words":
        # A word starts from zero at its own first step: states within it, from there.
        local = _states_at(params, seq[start:], [k - start for k in steps], cell)
        states = {k: local[k - start] for k in steps}
    else:
        states = _states_at(params, seq, steps, cell)
    C, T = len(steps), index - first + 1
    inputs = np.full((T, C), b, dtype=np.int64)
    targets = np.full((T, C), b, dtype=np.int64)
    mask = np.zeros((T, C), dtype=bool)
    for col, k in enumerate(steps):  # column col starts at step k and ends predicting index
        n = index - k + 1
        inputs[:n, col] = seq[k : index + 1]
        targets[n - 1, col] = ids[index]
        mask[n - 1, col] = True
    h0 = np.concatenate([states[k] for k in steps], axis=1)  # (L, C, S)
    _, cache = forward(params, inputs, targets, h0, mask, cell=cell)
    _, dh0 = backward(params, cache, scale=-1.0, cell=cell)  # -d loss = d log p
    grads = np.asarray(dh0, dtype=np.float64).transpose(1, 0, 2)  # (C, L, S)
    out = np.full((window, *grads.shape[1:]), np.nan)
    for col, k in enumerate(steps):
        out[index - k] = grads[col]
    return out


def reach(
    params: Params,
    vocab: Vocab,
    text: str,
    index: int,
    *,
    mode: str = "words",
    window: int = 64,
    cell: str | Cell | None = None,
) -> np.ndarray:
    """How far back the prediction of token ``index`` reaches: gradient norms against distance.

    ``reach[l, j] = || d log p(token index) / d h^l ||``, the norm of layer l's part of
    :func:`state_gradients` j steps back: absolute, not normalised, so that a learner
    sees the gradient vanish (or not) as j grows. NaN where there is no such state.

    Returns
    -------
    float64 array (L, window)
    """
    g = state_gradients(params, vocab, text, index, mode=mode, window=window, cell=cell)
    return np.linalg.norm(g, axis=2).T  # NaN rows stay NaN


def _states_at(params: Params, seq: np.ndarray, starts: list[int], cell: Cell) -> dict[int, Any]:
    """The carried state (L, 1, S) before reading ``seq[s]``, for every s in ``starts``."""
    b = int(seq[0])
    h = zero_state(params, 1, cell=cell)
    states, done = {}, 0
    for s in starts:
        if s > done:
            chunk = seq[done:s, None]  # (s - done, 1)
            _, cache = forward(params, chunk, np.full_like(chunk, b), h, cell=cell)
            h = np.array(cache.final_state)
            done = s
        states[s] = h
    return states


def text_properties(text: str) -> dict[str, np.ndarray]:
    """Simple properties of every character of ``text``, for the "units that track" helper."""
    n = len(text)
    props = {name: np.zeros(n) for name in PROPERTIES}
    in_word = line = depth = 0
    quoted = False
    prev = "\n"
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        in_word = 0 if (c.isspace() or not c.isalnum()) else in_word + 1
        line = 0 if c == "\n" else line + 1
        props["position in word"][i] = in_word
        props["inside quotes"][i] = quoted or c == '"'
        props["inside brackets"][i] = depth > 0 or c in ")]}"
        props["after a space"][i] = prev == " "
        props["line length"][i] = line
        prev = c
    return props


def properties_for(vocab: Vocab, mode: str) -> dict[str, str]:
    """The properties of :data:`PROPERTIES` that can vary in a text the model reads.

    A names model has no quotes, brackets or spaces, so ranking units by
    "inside quotes" would only ever find nothing; and in words mode every line
    is one word, so "line length" repeats "position in word".

    Parameters
    ----------
    vocab : Vocab
    mode : {"words", "text"}

    Returns
    -------
    dict
        Name to description, in the order of :data:`PROPERTIES`.
    """
    has = set(vocab.itos)
    can_vary = {
        "position in word": True,
        "inside quotes": '"' in has,
        "inside brackets": bool(has & set("()[]{}")),
        "after a space": " " in has,
        "line length": mode == "text",
    }
    return {name: desc for name, desc in PROPERTIES.items() if can_vary[name]}


def tracking_units(reading: Reading, *, top: int = 8) -> dict[str, list[tuple[int, int, float]]]:
    """Units whose activation follows each simple property of the text.

    Returns
    -------
    dict
        For each property of :data:`PROPERTIES`: up to ``top`` (layer, unit,
        Pearson r) triples, largest ``|r|`` first. A property that does not
        vary over the text has none.
    """
    props = text_properties(reading.text)
    out: dict[str, list[tuple[int, int, float]]] = {}
    if not reading.activations or len(reading.text) < 3:
        return {name: [] for name in props}
    A = np.concatenate(reading.activations, axis=1)  # (N, L*H)
    H = reading.activations[0].shape[1]
    Az = A - A.mean(axis=0)
    a_norm = np.sqrt((Az**2).sum(axis=0))  # (L*H,)
    for name, x in props.items():
        xz = x - x.mean()
        x_norm = np.sqrt((xz**2).sum())
        if x_norm == 0:
            out[name] = []
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (xz @ Az) / (x_norm * a_norm)  # (L*H,)
        r = np.nan_to_num(r)
        best = np.argsort(-np.abs(r), kind="stable")[:top]
        out[name] = [(int(j // H), int(j % H), float(r[j])) for j in best]
    return out
