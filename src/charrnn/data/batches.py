"""Training batches for both modes.

Words mode turns each line into ``'\\n' + word`` -> ``word + '\\n'`` and builds
padded, masked (T, B) batches of similar-length words. Text mode cuts running
text into B parallel streams read T characters at a time.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from ..common.errors import CharRNNError
from ..core.vocab import BOUNDARY, Vocab


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
            if vocab.units.splits_chars
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
        batches: list[np.ndarray] = []
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
        (:meth:`charrnn.core.vocab.Vocab.char_starts`), for units with several
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
