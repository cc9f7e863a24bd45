"""Dropout masks keyed by position: (seed, step, layer, sequence), never by who draws them.

Training splits a batch across data-parallel ranks (MPI). For K ranks to
train the model one process would, each sequence of the global batch must get
the dropout mask one process would give it, whichever rank reads it. So the
random bits behind the masks are a pure function of (seed, step, layer, global
sequence index, time step, unit): one PCG64 stream per (seed, step, layer), and
sequence ``c`` reads it from draw ``c * 2**64`` on (a jump, not a walk). A
stream's draws come in time order, so a words-mode rank whose batch is shorter
than the global one reads a prefix of the same bits, and a mask kept for the
whole sequence (locked dropout) is the stream's first H draws. The weight-drop
masks, one per layer for the whole batch, are keyed by (seed, step, layer) alone.

Each mask entry is one 16-bit integer, uniform on [0, 65536): four to a PCG64
draw, taken raw. A float per entry (``Generator.random``) costs three times as
much, and a keep-or-drop decision needs no more than 16 bits: :func:`threshold`
turns a rate into the integer bound and the scale that keep the multipliers'
mean exactly 1. (The bits are read in the machine's byte order; every platform
numpy's wheels serve is little-endian.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

_TAG = 0xD209  # keeps these streams apart from every other use of the seed
_TAG_WEIGHTS = 0xD20C  # the weight-drop masks' streams, apart from the dropout's
_STRIDE = 1 << 64  # draws reserved per sequence: far more than any (T, H) block
LEVELS = 1 << 16  # the values one mask entry's bits take
DROPOUT_MASKS = ("step", "sequence")  # a fresh dropout mask per time step, or one per sequence


def threshold(rate: float) -> tuple[int, float]:
    """The integer bound and the multiplier for dropping at ``rate`` with 16-bit draws.

    An entry is kept when its bits are below the bound, so the rate a run gets is
    ``1 - bound / 65536``, within 1/131072 of ``rate`` (a rate within 1/65536 of 0 or 1
    takes the nearest level a mask can hold); kept entries are scaled by
    ``65536 / bound``, the inverse of the realised keep rate, so every multiplier's
    expectation is exactly 1.
    """
    bound = min(max(round((1.0 - rate) * LEVELS), 1), LEVELS)
    return bound, LEVELS / bound


def _raw(bits: np.random.PCG64, n: int) -> np.ndarray:
    """The next ``n`` 16-bit draws of a stream: uint16 (n,), four to each 64-bit draw."""
    return bits.random_raw(-(-n // 4)).view(np.uint16)[:n]


class KeyedBits:
    """Uniform 16-bit draws for the dropout and weight-drop masks of one training step.

    Parameters
    ----------
    seed : int
        The run's seed.
    step : int
        The optimiser step the masks are for.
    columns : int array (B,)
        The global index, in the whole batch, of each sequence this process reads.
    """

    def __init__(self, seed: int, step: int, columns: np.ndarray):
        self.seed, self.step, self.columns = seed, step, columns

    def bits(
        self, shape: tuple[int, int, int], layer: int, buf: Any = None, per_sequence: bool = False
    ) -> np.ndarray:
        """Draws for one layer's (T, B, H) output, as a (T, B, H) view of a (B, T, H) block.

        ``buf`` is a uint16 array of ``B*T*H`` elements or more to draw into
        (reused from step to step); a new one when ``None``. ``per_sequence``:
        one (H,) draw per sequence, the same at every time step (locked
        dropout); they are the first H draws of the sequence's stream, so a
        rank with fewer time steps still reads the same ones.
        """
        T, B, H = shape
        if B != len(self.columns):
            raise ValueError(f"{B} sequences but {len(self.columns)} keys")
        block = np.empty((B, T, H), np.uint16) if buf is None else buf[: B * T * H]
        block = block.reshape(B, T * H)
        bits = np.random.PCG64(np.random.SeedSequence([self.seed, self.step, layer, _TAG]))
        start = bits.state
        for j, c in enumerate(self.columns.tolist()):
            bits.state = start  # each jump starts from the stream's beginning: exact
            bits.advance(c * _STRIDE)
            if per_sequence:
                block[j].reshape(T, H)[:] = _raw(bits, H)  # (H,) at every step
            else:
                block[j] = _raw(bits, T * H)  # (T*H,), time-major
        return block.reshape(B, T, H).transpose(1, 0, 2)

    def weight_bits(self, shape: tuple[int, int], layer: int) -> np.ndarray:
        """One layer's weight-drop draws, uint16 (G, H), from the stream of (seed, step, layer).

        The mask is the whole batch's, so it depends on no sequence and every
        rank draws the same one.
        """
        seq = np.random.SeedSequence([self.seed, self.step, layer, _TAG_WEIGHTS])
        return _raw(np.random.PCG64(seq), shape[0] * shape[1]).reshape(shape)
