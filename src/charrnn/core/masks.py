"""Dropout masks keyed by position: (seed, step, layer, sequence), never by who draws them.

Training splits a batch across data-parallel ranks (MPI). For K ranks to
train the model one process would, each sequence of the global batch must get
the dropout mask one process would give it, whichever rank reads it. So the
uniform numbers behind the masks are a pure function of (seed, step, layer,
global sequence index, time step, unit): one PCG64 stream per (seed, step,
layer), and sequence ``c`` reads it from draw ``c * 2**64`` on (a jump, not a
walk). A stream's draws come in time order, so a words-mode rank whose batch
is shorter than the global one reads a prefix of the same numbers. The
weight-drop masks, one per layer for the whole batch, are keyed by (seed,
step, layer) alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_TAG = 0xD209  # keeps these streams apart from every other use of the seed
_TAG_WEIGHTS = 0xD20C  # the weight-drop masks' streams, apart from the dropout's
_STRIDE = 1 << 64  # draws reserved per sequence: far more than any (T, H) block


class KeyedUniform:
    """Uniform [0, 1) float32 draws for the dropout masks of one training step.

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

    def uniform(self, shape: tuple[int, int, int], layer: int, buf: Any = None) -> np.ndarray:
        """Draws for one layer's (T, B, H) output, as a (T, B, H) view of a (B, T, H) block.

        ``buf`` is a float32 array of ``B*T*H`` elements or more to draw into
        (reused from step to step); a new one when ``None``.
        """
        T, B, H = shape
        if B != len(self.columns):
            raise ValueError(f"{B} sequences but {len(self.columns)} keys")
        block = np.empty((B, T, H), np.float32) if buf is None else buf[: B * T * H]
        block = block.reshape(B, T, H)
        bits = np.random.PCG64(np.random.SeedSequence([self.seed, self.step, layer, _TAG]))
        start = bits.state
        gen = np.random.Generator(bits)
        for j, c in enumerate(self.columns.tolist()):
            bits.state = start  # advance() drops any half-used draw, so each jump is exact
            bits.advance(c * _STRIDE)
            gen.random(dtype=np.float32, out=block[j])  # (T, H), time-major
        return block.transpose(1, 0, 2)

    def weights(self, shape: tuple[int, int], layer: int, buf: Any = None) -> np.ndarray:
        """Draws for one layer's weight-drop mask, (G, H): one stream per (seed, step, layer).

        The mask is the whole batch's, so it depends on no sequence and every
        rank draws the same one. ``buf``: a float32 array of ``shape`` to draw
        into; a new one when ``None``.
        """
        seq = np.random.SeedSequence([self.seed, self.step, layer, _TAG_WEIGHTS])
        gen = np.random.Generator(np.random.PCG64(seq))
        return gen.random(shape, dtype=np.float32, out=buf)
