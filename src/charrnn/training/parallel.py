"""Data-parallel ranks: one process, or K processes started by an MPI launcher.

``charrnn train`` started by ``mpiexec -n K`` (or ``srun``) trains one model
with K ranks. This module is the only one that talks to MPI, through mpi4py,
and it imports mpi4py only when the process was started by an MPI launcher:
a plain ``import charrnn`` never loads it. Without MPI, or with K = 1,
:func:`world` gives :data:`SERIAL`, whose calls do nothing.

Every message between ranks is a numpy buffer (or UTF-8 JSON in one), never a
pickle.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..common.optional import optional, require

# What MPI launchers put in each rank's environment: Open MPI, MPICH's Hydra
# (and Slurm's PMI-2), PMIx (Open MPI 5, Slurm --mpi=pmix).
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


class RankError(CharRNNError):
    """An error every rank raises together (so none is left waiting for the others).

    ``collective`` tells the CLI that it may simply exit: no rank waits in a
    collective call for this one.
    """

    collective = True


class SerialComm:
    """One process: every collective call is the identity."""

    rank = 0
    size = 1

    @property
    def is_root(self) -> bool:
        """True on the rank that writes files and prints (rank 0)."""
        return self.rank == 0

    def sum_inplace(self, buf: np.ndarray) -> None:
        """Sum ``buf`` over the ranks, in place (one Allreduce)."""

    def allreduce(self, values: np.ndarray, op: str = "sum") -> np.ndarray:
        """``values`` (float64) reduced over the ranks with ``op`` (sum, min or max)."""
        return np.asarray(values, dtype=np.float64).copy()

    def allgather_columns(self, a: np.ndarray, counts: list[int]) -> np.ndarray:
        """Join each rank's (L, b_r, H) block along axis 1 into (L, sum b_r, H)."""
        return a

    def barrier(self) -> None:
        """Return on every rank once all have reached it."""

    def agree(self, error: BaseException | None) -> None:
        """Raise on every rank if any rank failed; ``error`` is this rank's, or None.

        Raises
        ------
        BaseException
            This rank's own error where it failed; elsewhere a :class:`RankError`
            with the message of the lowest-numbered failing rank.
        """
        if error is not None:
            raise error

    def abort(self, code: int) -> None:
        """End every rank now (MPI_Abort); in one process, exit."""
        sys.exit(code)


SERIAL = SerialComm()

_OPS = ("sum", "min", "max")


class MPIComm(SerialComm):
    """K ranks over mpi4py's ``COMM_WORLD``."""

    def __init__(self, comm: Any):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._op = {"sum": MPI.SUM, "min": MPI.MIN, "max": MPI.MAX}

    def sum_inplace(self, buf: np.ndarray) -> None:
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)

    def allreduce(self, values: np.ndarray, op: str = "sum") -> np.ndarray:
        out = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self._MPI.IN_PLACE, out, op=self._op[op])
        return out

    def allgather_columns(self, a: np.ndarray, counts: list[int]) -> np.ndarray:
        L, _, H = a.shape
        mine = np.ascontiguousarray(a.transpose(1, 0, 2))  # (b_r, L, H): rows are sequences
        whole = np.empty((sum(counts), L, H), dtype=a.dtype)
        sizes = [c * L * H for c in counts]
        self.comm.Allgatherv(mine, [whole, sizes])
        return np.ascontiguousarray(whole.transpose(1, 0, 2))

    def barrier(self) -> None:
        self.comm.Barrier()

    def agree(self, error: BaseException | None) -> None:
        failed = self.size if error is None else self.rank
        first = int(self.allreduce(np.array([failed]), "min")[0])
        if first == self.size:
            return
        message = None
        if self.rank == first:
            assert error is not None
            text = str(error) if isinstance(error, CharRNNError) else repr(error)
            params = list(getattr(error, "params", ()))
            text = text if first == 0 else f"rank {first}: {text}"
            message = {"text": text, "params": params}
        got = self._bcast_json(message, first)
        if error is not None and self.rank == first:
            error.collective = True  # type: ignore[attr-defined]
            raise error
        raise RankError(got["text"], params=tuple(got["params"]))

    def _bcast_json(self, obj: Any, root: int) -> Any:
        data = json.dumps(obj).encode() if self.rank == root else b""
        n = np.array([len(data)], dtype=np.int64)
        self.comm.Bcast(n, root=root)
        buf = np.frombuffer(data, dtype=np.uint8).copy() if self.rank == root else None
        if buf is None:
            buf = np.empty(int(n[0]), dtype=np.uint8)
        self.comm.Bcast(buf, root=root)
        return json.loads(buf.tobytes().decode())

    def abort(self, code: int) -> None:
        sys.stderr.flush()
        self.comm.Abort(code)


def launched_by_mpi() -> bool:
    """True when an MPI launcher (or ``python -m mpi4py``) started this process."""
    return "mpi4py.MPI" in sys.modules or any(v in os.environ for v in _RANK_VARS)


def _launched_size() -> int | None:
    for var in _SIZE_VARS:
        try:
            return int(os.environ[var])
        except (KeyError, ValueError):
            continue
    return None


_WORLD: SerialComm | None = None


def current() -> SerialComm:
    """The ranks :func:`world` found, or :data:`SERIAL` if it was never asked (no import)."""
    return _WORLD if _WORLD is not None else SERIAL


def world() -> SerialComm:
    """The ranks this process trains with: :data:`SERIAL`, or every rank of the MPI job.

    mpi4py is imported only when an MPI launcher started the process with more
    than one rank (or mpi4py is already loaded).

    Raises
    ------
    CharRNNError
        If the process was launched by MPI with several ranks but mpi4py is missing.
    """
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    size = _launched_size()
    if not launched_by_mpi() or size == 1:
        _WORLD = SERIAL
        return _WORLD
    what = f"this process, started by an MPI launcher ({size or 'several'} ranks),"
    comm = require("mpi4py.MPI", what=what, extra="mpi").COMM_WORLD
    _WORLD = MPIComm(comm) if comm.Get_size() > 1 else SERIAL
    return _WORLD


def limit_threads(comm: SerialComm) -> int | None:
    """Under MPI, one BLAS thread per rank unless the environment says otherwise.

    Ranks share the machine's cores: one thread each keeps them from fighting
    over cores. ``OMP_NUM_THREADS`` (or ``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS``) set by the user wins.

    Returns
    -------
    int or None
        The BLAS threads of this process, or None when it cannot be told
        (threadpoolctl is not installed).
    """
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None:
        for var in _THREAD_VARS:
            if os.environ.get(var, "").isdigit():
                return int(os.environ[var])
        return None
    if comm.size > 1 and not any(v in os.environ for v in _THREAD_VARS):
        threadpoolctl.threadpool_limits(1, user_api="blas")
    blas = [
        p["num_threads"] for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"
    ]
    return max(blas) if blas else None


def shares(n: int, size: int) -> list[int]:
    """How many of ``n`` consecutive items each of ``size`` ranks gets (the first ones one more)."""
    return [n // size + (r < n % size) for r in range(size)]
