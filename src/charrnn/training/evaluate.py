"""Held-out loss over a whole corpus, in either mode."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.backend import NUMPY, Backend
from ..core.cells import Cell
from ..core.model import Params, Workspace, forward, zero_state
from ..data.batches import TextBatches, WordBatches

# Held-out text is read as this many parallel streams, each from a zero state:
# few enough that the streams' cold starts cost well under 0.01 nats/char on a
# 100k-character split, many enough to batch the matmuls.
EVAL_STREAMS = 16
EVAL_WORDS_BATCH = 256


@dataclass(frozen=True)
class Loss:
    """Mean cross-entropy per predicted symbol, and per character of the shown text.

    In char units a symbol is a character and the two agree. In jamo units a
    Hangul syllable is two or three symbols, so the same total loss is spread
    over fewer characters: ``per_char = nats * n_chars / text_chars``, the
    figure to compare with a char model of the same data.
    """

    nats: float  # per predicted symbol
    n_chars: int  # predicted symbols (characters in char units)
    text_chars: int | None = None  # characters those symbols spell; None: n_chars

    @property
    def chars(self) -> int:
        """Predicted characters of the shown text (syllables count once)."""
        return self.text_chars if self.text_chars is not None else self.n_chars

    @property
    def per_char(self) -> float:
        """Nats per character of the shown text (per syllable for Hangul)."""
        return self.nats * self.n_chars / max(self.chars, 1)

    @property
    def bits(self) -> float:
        """Bits per character."""
        return self.per_char / math.log(2)

    @property
    def perplexity(self) -> float:
        """exp(nats per character)."""
        return math.exp(self.per_char)

    def to_dict(self) -> dict[str, float]:
        return {
            "nats_per_char": self.per_char,
            "bits_per_char": self.bits,
            "perplexity": self.perplexity,
            "chars": self.chars,
            "nats_per_symbol": self.nats,
            "symbols": self.n_chars,
        }


def evaluate_words(
    params: Params,
    batches: WordBatches,
    *,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    share: tuple[int, int] = (0, 1),
    cell: str | Cell | None = None,
) -> Loss:
    """Mean loss over every word of ``batches``, each word from a zero state.

    ``ws`` (one is made if ``None``) serves every batch, so the loop allocates
    nothing large after the longest batch. ``share`` ``(r, K)`` evaluates only
    every K-th batch from the r-th (one data-parallel rank's share); a share
    with no words has loss 0 over 0 characters. ``cell``: the model's cell
    (``Config.cell``); ``None`` leaves it to ``cell_of(params)``.
    """
    ws = ws if ws is not None else Workspace(backend)
    total, count, chars = 0.0, 0, 0
    rank, size = share
    for index in batches.sequential()[rank::size]:
        b = batches.make(index)
        loss, _ = forward(
            params,
            backend.asarray(b.inputs),
            backend.asarray(b.targets),
            zero_state(params, b.inputs.shape[1], backend=backend, ws=ws, cell=cell),
            backend.asarray(b.mask),
            backend=backend,
            ws=ws,
            cell=cell,
        )
        total += loss
        count += b.n_targets
        chars += b.n_chars if b.n_chars is not None else b.n_targets
    return Loss(total / count if count else 0.0, count, chars if chars != count else None)


def evaluate_text(
    params: Params,
    batches: TextBatches,
    *,
    backend: Backend = NUMPY,
    ws: Workspace | None = None,
    cell: str | Cell | None = None,
) -> Loss:
    """Mean loss over a text read as parallel streams with carried state.

    Each stream starts from a zero state, so its first few characters are
    predicted with little context; with few, long streams the effect is tiny.
    ``ws`` and ``cell`` as in :func:`evaluate_words`.
    """
    ws = ws if ws is not None else Workspace(backend)
    h = zero_state(params, batches.batch_size, backend=backend, cell=cell)
    total, count, chars = 0.0, 0, 0
    for k in range(batches.batches_per_epoch):
        b = batches.make(k)
        inputs, targets = backend.asarray(b.inputs), backend.asarray(b.targets)
        loss, cache = forward(params, inputs, targets, h, backend=backend, ws=ws, cell=cell)
        h[...] = cache.final_state  # the workspace's copy is overwritten by the next batch
        total += loss
        count += b.n_targets
        chars += b.n_chars if b.n_chars is not None else b.n_targets
    return Loss(total / count, count, chars if chars != count else None)
