"""Named arrays reused from call to call: where the engine's large temporaries live.

A training loop passes the same :class:`Workspace` to every step, so in steady
state a step allocates nothing large (and the allocator has no reason to hand
pages back to the kernel and fault them in again); without one each call gets
fresh arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import NUMPY, Backend

LARGE = 64 * 1024  # bytes from which a buffer is placed in its own slot of a page
PAGE, SLOT, SLOTS = 4096, 128, 32


class Workspace:
    """Named arrays reused from call to call.

    Each name holds one buffer that grows to the largest size asked of it; a
    request returns a view of its first elements in the shape asked for. So a
    words-mode batch of any length reuses the buffers of the longest one seen.
    Arrays a workspace hands out are overwritten by the next call that uses the
    same workspace: a caller keeps what it needs by copying it.

    Parameters
    ----------
    backend : Backend
    """

    def __init__(self, backend: Backend = NUMPY):
        self.xp = backend.xp
        self._buffers: dict[str, Any] = {}
        self._ranges: dict[int, Any] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """An uninitialised array of ``shape`` and ``dtype``, owned by the workspace."""
        return self._view(name, shape, dtype, self.xp.empty)

    def _view(self, name: str, shape: tuple[int, ...], dtype: Any, make: Any) -> Any:
        # The named buffer, made anew by `make` only when it is too small or of another type.
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < n or buf.dtype != np.dtype(dtype):
            buf = self._buffers[name] = self._placed(n, dtype, make)
        return buf[:n].reshape(shape)

    def _placed(self, n: int, dtype: Any, make: Any) -> Any:
        # A large buffer starts at its own offset within a 4 KB page (a 128-byte slot by
        # the order buffers are made): the arrays a step reads and writes together then
        # never share their addresses' low 12 bits, which makes the CPU mistake a load
        # for a dependency on an older store (4K aliasing). Whether they did depended on
        # the allocator's history, so a step's speed did too.
        size = np.dtype(dtype).itemsize
        if self.xp is not np or n * size < LARGE:
            return make(n, dtype=dtype)
        slot = len(self._buffers) % SLOTS
        raw = make(n + (PAGE + slot * SLOT) // size + 1, dtype=dtype)
        start = ((-raw.ctypes.data) % PAGE + slot * SLOT) // size
        return raw[start : start + n]

    def zeros(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """Like :meth:`get`, filled with zeros."""
        a = self.get(name, shape, dtype)
        a.fill(0)
        return a

    def clean(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """Like :meth:`get`, zeros when first made; the caller leaves it all zeros again.

        For sparse scratch (a one-hot matrix): resetting the few entries it set
        costs far less than clearing the whole array every call.
        """
        return self._view(name, shape, dtype, self.xp.zeros)

    def other(self, name: str, shape: tuple[int, ...], dtype: Any, avoid: Any) -> Any:
        """Like :meth:`get`, from one of two buffers: the one that does not hold ``avoid``.

        For a loop that computes its next state from the current one.
        """
        a = self.get(name + "-0", shape, dtype)
        return a if not self.xp.may_share_memory(a, avoid) else self.get(name + "-1", shape, dtype)

    def arange(self, n: int) -> Any:
        """``0 .. n-1`` as int64, computed once per length."""
        r = self._ranges.get(n)
        if r is None:
            r = self._ranges[n] = self.xp.arange(n)
        return r
