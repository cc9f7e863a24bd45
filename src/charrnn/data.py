"""Corpora: reading files, the train/validation split, and batches for both modes.

Words mode turns each line into ``'\\n' + word`` -> ``word + '\\n'`` and builds
padded, masked (T, B) batches of similar-length words. Text mode cuts running
text into B parallel streams read T characters at a time.
"""

from __future__ import annotations

import codecs
import copy
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO, TypeVar

import numpy as np

from .errors import CharRNNError
from .vocab import BOUNDARY, Vocab

MAX_WORD_LEN = 1000  # longer lines in words mode are almost surely running text
_SNIFF_BYTES = 8192


# ----------------------------------------------------------------------------- reading


def builtin_names() -> list[str]:
    """Names of the corpora shipped inside the package (used as ``@name``)."""
    root = resources.files("charrnn") / "corpora"
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".txt"))


def _builtin_bytes(name: str) -> bytes:
    if name not in builtin_names():
        raise CharRNNError(
            f"no built-in corpus @{name}; built-in corpora: "
            + ", ".join("@" + n for n in builtin_names())
        )
    return (resources.files("charrnn") / "corpora" / f"{name}.txt").read_bytes()


CHUNK_BYTES = 1 << 18  # read and encode large files 256 KiB at a time


def _open_source(source: str) -> BinaryIO:
    if source.startswith("@"):
        return io.BytesIO(_builtin_bytes(source[1:]))
    if not os.path.exists(source):
        raise CharRNNError(f"no such file: {source}")
    if os.path.isdir(source):
        raise CharRNNError(f"{source} is a directory; give a text file")
    try:
        return open(source, "rb")  # the caller closes it (with-statement)
    except OSError as exc:
        raise CharRNNError(f"cannot read {source}: {exc.strerror}") from None


def iter_text(
    source: str | os.PathLike[str], encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """Yield the text of a file (or ``@builtin``) in chunks, with ``'\n'`` line ends.

    A UTF-8 byte-order mark is dropped and CRLF / CR line ends become ``'\n'``,
    also where a CRLF straddles two chunks. Memory stays at one chunk.

    Raises
    ------
    CharRNNError
        If the file is missing, a directory, binary, or not decodable with ``encoding``.
    """
    source = os.fspath(source)
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise CharRNNError(
            f"encoding {encoding!r} is unknown; try encoding='latin-1'", params=("encoding",)
        ) from None
    wide = codecs.lookup(encoding).name.replace("-", "").startswith(("utf16", "utf32"))
    offset, first, held_cr = 0, True, False
    with _open_source(source) as f:
        while True:
            raw = f.read(chunk_bytes)
            final = not raw
            if first and b"\x00" in raw[:_SNIFF_BYTES] and not wide:
                raise CharRNNError(
                    f"{source} looks like a binary file (it holds NUL bytes); "
                    "give a plain text file"
                )
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                raise CharRNNError(
                    f"{source} is not valid {encoding} (byte {offset + exc.start}: {exc.reason}); "
                    "set encoding to the file's own, e.g. encoding='latin-1' or encoding='cp1252'",
                    params=("encoding",),
                ) from None
            offset += len(raw)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            if held_cr:
                text, held_cr = "\r" + text, False
            if text.endswith("\r") and not final:
                text, held_cr = text[:-1], True  # its "\n" may start the next chunk
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if final:
                return


def empty_text_error(source: str | os.PathLike[str]) -> CharRNNError:
    """The error for a corpus that holds nothing but whitespace."""
    return CharRNNError(
        f"{os.fspath(source)} is empty (or only whitespace); give a file with text in it"
    )


def read_text(source: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Read a whole corpus file (or ``@builtin``) as text; see :func:`iter_text`.

    Raises
    ------
    CharRNNError
        As :func:`iter_text`, and if the text is empty or only whitespace.
    """
    text = "".join(iter_text(source, encoding))
    if not text.strip():
        raise empty_text_error(source)
    return text


def split_words(text: str, max_len: int = MAX_WORD_LEN, source: str = "corpus") -> list[str]:
    """The non-empty lines of ``text``, stripped of surrounding whitespace.

    Raises
    ------
    CharRNNError
        If a line is longer than ``max_len`` (running text belongs in ``--mode text``).
    """
    words = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        word = line.strip()
        if len(word) > max_len:
            raise CharRNNError(
                f"line {lineno} of {source} is {len(word)} characters long, too long for a "
                f"word (at most {max_len}); for running text use mode='text'",
                params=("mode",),
            )
        if word:
            words.append(word)
    if not words:
        raise CharRNNError(f"{source} has no non-empty lines")
    return words


# ----------------------------------------------------------------------------- split


def split_train_val(
    words: list[str], val_fraction: float, seed: int, val_max: int = 0
) -> tuple[list[str], list[str]]:
    """Seeded random split of a word list: ``round(val_fraction * N)`` held out,
    at most ``val_max`` of them when it is positive.

    At least one word stays in training.
    """
    n = len(words)
    n_val = min(round(val_fraction * n), n - 1) if val_fraction > 0 else 0
    if val_max > 0:
        n_val = min(n_val, val_max)
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    val = [words[i] for i in perm[:n_val]]
    train = [words[i] for i in perm[n_val:]]
    return train, val


TextLike = TypeVar("TextLike", str, np.ndarray)


def split_text(text: TextLike, val_fraction: float, val_max: int = 0) -> tuple[TextLike, TextLike]:
    """Hold out the last ``val_fraction`` of a text (or of its ids) by position,
    char-rnn's way; at most ``val_max`` characters when it is positive.

    Slices, so a memory-mapped id array stays memory-mapped.
    """
    n_val = 0 if val_fraction <= 0 else len(text) - int(len(text) * (1 - val_fraction))
    if val_max > 0:
        n_val = min(n_val, val_max)
    cut = len(text) - n_val
    return text[:cut], text[cut:]


# ----------------------------------------------------------------------------- batches


@dataclass
class Batch:
    """One training batch: ids (T, B), targets (T, B), mask (T, B) or None.

    ``n_targets`` counts the predicted symbols; ``n_chars`` the characters of
    the shown text they spell (fewer in jamo units, where a syllable is two or
    three symbols; ``None`` means as many as symbols).
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray | None
    n_targets: int
    n_chars: int | None = None


class WordBatches:
    """Padded, masked batches of words, grouped by length, in a seeded order.

    All words live in one flat id array ``\\n w1 \\n w2 \\n ... wN \\n``; word i is
    read from its leading ``'\\n'`` and predicts through its closing one, so a
    batch is a single fancy-indexing gather.

    Parameters
    ----------
    words : list of str
    vocab : Vocab
    batch_size : int
    seed : int
    """

    POOL = 50  # batches per sorting pool: long enough to group lengths, short enough to mix

    def __init__(self, words: list[str], vocab: Vocab, batch_size: int, seed: int):
        if not words:
            raise CharRNNError("no words to train on")
        self.n = len(words)
        self.batch_size = min(batch_size, self.n)
        self.seed = seed
        words = [vocab.to_symbols(w) for w in words]  # a no-op for words already read
        flat = BOUNDARY + BOUNDARY.join(words) + BOUNDARY
        self.ids = vocab.encode(flat, dtype=np.int32, symbols=True)  # (sum(L_i + 1) + 1,)
        self.lengths = np.array([len(w) + 1 for w in words], dtype=np.int64)  # targets per word
        # Characters each word's targets spell (its end included), where units make them fewer.
        self.char_lengths = (
            np.array([vocab.text_length(w) + 1 for w in words], dtype=np.int64)
            if vocab.units.kind != "char"
            else None
        )
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.boundary = vocab.boundary_id

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n / self.batch_size)

    @property
    def n_targets(self) -> int:
        """Predicted characters in one pass (closing ``'\\n'`` included)."""
        return int(self.lengths.sum())

    def epoch_order(self, epoch: int) -> list[np.ndarray]:
        """The word-index batches of pass ``epoch``, the same for the same seed."""
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(self.n)
        B = self.batch_size
        pool = B * self.POOL
        batches = []
        for s in range(0, self.n, pool):
            chunk = perm[s : s + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + B] for i in range(0, len(chunk), B))
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def sequential(self) -> list[np.ndarray]:
        """Length-sorted batches covering every word once (for evaluation)."""
        idx = np.argsort(self.lengths, kind="stable")
        return [idx[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]

    def make(self, index: np.ndarray) -> Batch:
        """Gather the words ``index`` into a right-padded (T, B) batch with its mask."""
        lengths = self.lengths[index]  # (B,)
        T = int(lengths.max())
        steps = np.arange(T)
        pos = self.starts[index][None, :] + steps[:, None]  # (T, B)
        mask = steps[:, None] < lengths[None, :]  # (T, B)
        pos = np.where(mask, pos, 0)
        inputs = self.ids[pos]
        targets = self.ids[pos + 1]
        # Padding reads and predicts the boundary; the mask keeps it out of loss and gradient.
        inputs[~mask] = self.boundary
        targets[~mask] = self.boundary
        n_chars = int(self.char_lengths[index].sum()) if self.char_lengths is not None else None
        return Batch(inputs, targets, mask, int(lengths.sum()), n_chars)


class TextBatches:
    """Running text as B parallel streams, read T steps at a time.

    Stream b covers ``ids[b*L : (b+1)*L + 1]``; chunk k gives steps
    ``k*T ... k*T + T - 1`` of every stream (the last chunk may be shorter).
    The hidden state is carried from chunk k to k+1 by the trainer.

    Parameters
    ----------
    ids : int array (N,)
        The encoded text (may be a memory map).
    batch_size, seq_len : int
        B and T.
    char_starts : bool array (N,), optional
        Where a symbol begins a character of the shown text
        (:meth:`charrnn.vocab.Vocab.char_starts`), for units with several
        symbols per character; batches then count the characters they predict.
    """

    def __init__(
        self,
        ids: np.ndarray,
        batch_size: int,
        seq_len: int,
        char_starts: np.ndarray | None = None,
    ):
        n = len(ids)
        if n < 2:
            raise CharRNNError("the text is too short: it needs at least two characters")
        # A plain ndarray view of a memory map (no copy): indexing skips np.memmap's
        # Python-level __getitem__, which shows at B=1.
        self.ids = np.asarray(ids)
        self.batch_size = max(1, min(batch_size, n - 1))
        self.seq_len = seq_len
        self.stream_len = (n - 1) // self.batch_size  # L
        self.char_starts = char_starts
        self.first = 0  # the first stream this object reads (see part)

    def part(self, first: int, width: int) -> TextBatches:
        """Streams ``first .. first + width - 1`` alone: one data-parallel rank's share.

        The streams are those of the whole batch (the same length and text);
        ``batch_size`` and ``n_targets`` of the part count its own streams.
        """
        share = copy.copy(self)
        share.first, share.batch_size = self.first + first, width
        return share

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.stream_len / self.seq_len)

    @property
    def n_targets(self) -> int:
        return self.stream_len * self.batch_size

    def make(self, k: int) -> Batch:
        """Chunk ``k`` of the current pass."""
        t0 = k * self.seq_len
        Tk = min(self.seq_len, self.stream_len - t0)
        starts = np.arange(self.first, self.first + self.batch_size) * self.stream_len  # (B,)
        pos = starts + np.arange(t0, t0 + Tk + 1)[:, None]  # (Tk+1, B)
        seq = np.asarray(self.ids[pos], dtype=np.int64)  # one gather; targets = inputs shifted
        n_chars = int(self.char_starts[pos[1:]].sum()) if self.char_starts is not None else None
        return Batch(seq[:-1], seq[1:], None, Tk * self.batch_size, n_chars)


# ----------------------------------------------------------------------------- corpus


def load_corpus(
    source: str | os.PathLike[str], mode: str, encoding: str = "utf-8"
) -> list[str] | str:
    """Read ``source`` (a path or ``@builtin``) as a word list or as running text."""
    text = read_text(source, encoding)
    if mode == "words":
        return split_words(text, source=os.fspath(source))
    return text


def split_corpus(
    corpus: list[str] | str, mode: str, val_fraction: float, seed: int, val_max: int = 0
) -> tuple[list[str] | str, list[str] | str]:
    """Train/validation split: seeded for words, the tail of the text for text."""
    if mode == "words":
        return split_train_val(list(corpus), val_fraction, seed, val_max)
    return split_text(str(corpus), val_fraction, val_max)


def corpus_chars(corpus: list[str] | str) -> set[str]:
    """Every distinct character of a corpus."""
    if isinstance(corpus, str):
        return set(corpus)
    chars: set[str] = set()
    for w in corpus:
        chars.update(w)
    return chars
