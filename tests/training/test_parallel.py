"""Data-parallel pieces that need no MPI: position-keyed dropout, shares, one process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from charrnn.core.masks import KeyedBits
from charrnn.training.parallel import SERIAL, RankError, SerialComm, shares, world
from charrnn.training.run import TrainingRun


def test_dropout_draws_do_not_depend_on_the_split():
    whole = KeyedBits(7, 3, np.arange(5)).bits((6, 5, 4), layer=1)  # (T, B, H)
    part = KeyedBits(7, 3, np.array([1, 4])).bits((4, 2, 4), layer=1)  # shorter words
    np.testing.assert_array_equal(part, whole[:4, [1, 4]])
    other_step = KeyedBits(7, 4, np.arange(5)).bits((6, 5, 4), layer=1)
    other_layer = KeyedBits(7, 3, np.arange(5)).bits((6, 5, 4), layer=0)
    assert not np.array_equal(whole, other_step)
    assert not np.array_equal(whole, other_layer)
    weights = KeyedBits(7, 3, np.arange(5)).weight_bits((6, 4), layer=1)
    np.testing.assert_array_equal(weights, KeyedBits(7, 3, np.array([2])).weight_bits((6, 4), 1))
    assert not np.array_equal(weights, KeyedBits(7, 3, np.arange(5)).weight_bits((6, 4), 0))


def test_shares_cover_every_item_once():
    assert shares(7, 3) == [3, 2, 2]
    assert shares(2, 3) == [1, 1, 0]
    assert sum(shares(1000, 7)) == 1000


def test_without_a_launcher_training_is_one_process():
    assert world() is SERIAL
    with TrainingRun({"hidden": 8, "steps": 3, "dropout": 0.2}, ["ab", "ba"]) as a:
        a.train()
    with TrainingRun({"hidden": 8, "steps": 3, "dropout": 0.2}, ["ab", "ba"]) as b:
        b.train()
    assert a.comm is SERIAL
    np.testing.assert_array_equal(a.trainer.flat, b.trainer.flat)  # deterministic dropout


def test_import_charrnn_does_not_load_mpi4py():
    code = "import sys, charrnn, charrnn.cli, charrnn.run; sys.exit('mpi4py' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PMIX"))}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


class _TwoRanksOneShown(SerialComm):
    """Rank 0 of a pretend 2-rank job whose other rank adds zeros (or has drifted)."""

    rank, size = 0, 2

    def __init__(self):
        self.drift = False

    def allreduce(self, values, op="sum"):
        out = np.array(values, dtype=np.float64)
        if op == "min" and self.drift:
            out[-1] -= 1e-3  # the other rank's parameter checksum
        return out


def test_ranks_that_drift_apart_stop_with_a_clear_error():
    comm = _TwoRanksOneShown()
    with TrainingRun({"hidden": 8, "steps": 2}, ["ab", "ba", "abba"], comm=comm) as run:
        run.train()  # every step's Allreduce and the start's check pass
        comm.drift = True
        with pytest.raises(RankError, match="no longer hold the same model at step 2"):
            run.trainer.check_ranks_agree()
