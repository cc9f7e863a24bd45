"""The workspace: named buffers reused from call to call, placed apart within a page."""

from __future__ import annotations

import numpy as np

from charrnn.core import workspace
from charrnn.core.workspace import Workspace


def test_large_buffers_start_at_distinct_offsets_within_a_page():
    # Catches buffers left wherever the allocator put them: the arrays a step reads and
    # writes together could then share their low 12 address bits (4K aliasing).
    ws = Workspace()
    n = workspace.LARGE // 4 + 3
    arrays = [ws.get(f"b{i}", (n,), np.float32) for i in range(6)]
    offsets = [a.ctypes.data % workspace.PAGE for a in arrays]
    assert len(set(offsets)) == len(offsets)
    assert all(o % 64 == 0 for o in offsets)  # whole cache lines: vector loads stay aligned
    for i, a in enumerate(arrays):
        assert a.shape == (n,) and a.flags.c_contiguous
        a[...] = i  # each its own memory, none overlapping another
    assert [float(a.mean()) for a in arrays] == [float(i) for i in range(6)]
    assert not any(np.may_share_memory(a, b) for a in arrays for b in arrays if a is not b)


def test_a_grown_buffer_keeps_its_shape_promise_and_clean_ones_start_at_zero():
    ws = Workspace()
    small = ws.get("x", (4, 5), np.float64)  # small: as the allocator gives it
    big = ws.get("x", (300, 100), np.float64)  # grown: placed, and the asked shape
    assert small.shape == (4, 5) and big.shape == (300, 100)
    assert ws.get("x", (10, 10), np.float64).ctypes.data == big.ctypes.data  # reused
    clean = ws.clean("onehot", (200, 100), np.float32)
    assert clean.shape == (200, 100) and not clean.any()
    assert ws.get("x", (300, 100), np.float32).dtype == np.float32  # another dtype: anew
