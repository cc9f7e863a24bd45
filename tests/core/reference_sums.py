"""The seed-style per-character loop summed over a batch: what the batched engine must equal."""

from __future__ import annotations

import numpy as np

from charrnn.core.reference import cell_get_derivative, column_params


def reference_sum(case, bptt, cell, window=None, units="char"):
    """The per-character loop summed over each (unpadded) sequence of a one-layer batch.

    Returns the summed loss, the summed gradients and each sequence's final state.
    """
    cp = column_params(case.params)
    T, B = case.inputs.shape
    lengths = case.mask.sum(0) if case.mask is not None else np.full(B, T)
    total = {k: np.zeros_like(v) for k, v in case.params.items()}
    loss, last = 0.0, []
    for b in range(B):
        n = int(lengths[b])
        seq = (case.inputs[:n, b].tolist(), case.targets[:n, b].tolist())
        s0 = case.h0[0, b][:, None]  # (S, 1)
        l, g, state = cell_get_derivative(cell, cp, *seq, s0, bptt=bptt, window=window, units=units)
        loss += l
        last.append(state[:, 0])
        for k in total:
            total[k] += g[k].reshape(total[k].shape)
    return loss, total, np.array(last)
