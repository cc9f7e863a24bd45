"""The dropout masks' 16-bit draws: uniform, and turned into multipliers of mean exactly 1."""

from __future__ import annotations

import numpy as np
import pytest

from charrnn.core.masks import LEVELS, KeyedBits, threshold
from charrnn.core.model import _multiplier
from charrnn.core.workspace import Workspace


@pytest.mark.parametrize("rate", [1e-7, 0.1, 0.25, 0.3, 0.5, 0.9, 1 - 1e-7])
def test_a_rate_becomes_a_bound_within_half_a_level_and_a_scale_of_mean_one(rate):
    bound, scale = threshold(rate)
    assert 1 <= bound <= LEVELS
    realised = 1 - bound / LEVELS
    if 1 / LEVELS < rate < 1 - 1 / LEVELS:
        assert abs(realised - rate) <= 0.5 / LEVELS
    # Over every value the bits can take, the multipliers average exactly 1.
    every = np.arange(LEVELS, dtype=np.uint16)  # the draws' own type: 65536 is no uint16
    mult = _multiplier(every, bound, scale, np.empty(LEVELS), Workspace(), np)
    assert mult.mean() == pytest.approx(1.0, abs=1e-12)
    assert (mult == 0).sum() == LEVELS - bound


def test_the_keyed_bits_are_uniform_and_their_masks_drop_the_rate():
    bits = KeyedBits(0, 11, np.arange(64)).bits((50, 64, 40), layer=0)  # 128,000 draws
    assert bits.dtype == np.uint16 and bits.shape == (50, 64, 40)
    counts = np.bincount(bits.ravel() >> 12, minlength=16)  # 16 equal bins
    expected = bits.size / 16
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 37.7  # 15 degrees of freedom: the 0.1% tail
    bound, _ = threshold(0.3)
    assert abs((bits >= bound).mean() - 0.3) < 0.006  # 5 standard errors
    # Neighbouring sequences and steps are not copies of each other.
    assert (bits[:, 0] == bits[:, 1]).mean() < 0.01
    after = KeyedBits(0, 12, np.arange(64)).bits((50, 64, 40), layer=0)
    assert (bits == after).mean() < 0.01


def test_a_mask_per_sequence_is_the_first_draws_of_the_sequences_stream():
    columns = np.array([5, 0, 3])
    keyed = KeyedBits(2, 7, columns)
    step = keyed.bits((9, 3, 11), layer=1)  # (T, B, H)
    held = keyed.bits((9, 3, 11), layer=1, per_sequence=True)
    assert (held == held[:1]).all()  # the same at every step
    np.testing.assert_array_equal(held[0], step[0])  # the stream's first H draws
    assert (held[0, 0] != held[0, 1]).any()  # each sequence has its own
    # A rank whose batch has fewer steps, or only some of the sequences, reads the same.
    short = KeyedBits(2, 7, columns[1:]).bits((4, 2, 11), layer=1, per_sequence=True)
    np.testing.assert_array_equal(short[0], held[0, 1:])
