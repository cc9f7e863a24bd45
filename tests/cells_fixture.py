"""A fourth cell, defined only in the test suite: the IRNN (Le, Jaitly and Hinton, 2015).

A ReLU RNN whose recurrent matrix starts as the identity. It exists to show that
a cell is one file plus its registration: every cell-generic test (gradient
check, reference agreement, windows, resume, the views) runs over the registry
and so checks this cell too, with no edit anywhere else.

Forward, with ``pre_t = Wxi x_t + bi`` from the model's input projection::

    (F1)  h_t = relu(pre_t + Whi h_{t-1})

Backward (``dh`` is d loss / d h_t)::

    (B1)  dh     = dout_t + dhnext
    (B2)  dhraw  = [h_t > 0] * dh             d pre_t
    (B3)  dhnext = Whi^T dhraw
    (B4)  dWhi  += dhraw h_{t-1}^T

The naive rule drops (B3). Since h_t = relu(.), ``h_t > 0`` is where the
pre-activation was positive, so the backward needs the states alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from charrnn.core.cells import (
    GradientWindow,
    Grads,
    HiddenStateCell,
    LayerNames,
    Params,
    ParamSpec,
    layer_suffix,
    register,
)
from charrnn.core.workspace import Workspace


class IRNNCell(HiddenStateCell):
    """``h_t = relu(Wxi x_t + Whi h_{t-1} + bi)``, ``Whi`` starting at the identity."""

    name = "irnn"
    gates = 1

    def names(self, layer: int) -> LayerNames:
        """``Wxi, Whi, bi`` for layer 1, numbered from 2 after."""
        s = layer_suffix(layer)
        return LayerNames(f"Wxi{s}", f"Whi{s}", f"bi{s}")

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """Input (H, n_in), recurrent (H, H), bias (H,)."""
        n = self.names(layer)
        return [
            ParamSpec(n.input, (hidden, n_in), "input"),
            ParamSpec(n.recurrent, (hidden, hidden), "recurrent"),
            ParamSpec(n.bias, (hidden,), "bias"),
        ]

    def initialise(self, params: Params, layers: int, forget_bias: float) -> None:
        """Every recurrent matrix starts as the identity: the state is carried unchanged."""
        for l in range(layers):
            Whi = params[self.names(l).recurrent]
            Whi[...] = np.eye(Whi.shape[0], dtype=Whi.dtype)

    @staticmethod
    def _recur(xp: Any, h_prev: Any, WhiT: Any, pre_t: Any, out: Any) -> None:
        xp.dot(h_prev, WhiT, out=out)
        out += pre_t
        xp.maximum(out, 0, out=out)  # (F1)

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """All T steps of (F1); the cache is every state, (T+1, B, H)."""
        T, B, H = pre.shape
        Whi = params[self.names(layer).recurrent]
        hs = ws.get(f"irnn-hs{layer}", (T + 1, B, H), Whi.dtype)  # (T+1, B, H)
        hs[0] = h0
        WhiT = np.ascontiguousarray(Whi.T)  # (H, H)
        for t in range(T):
            self._recur(xp, hs[t], WhiT, pre[t], hs[t + 1])
        return hs[1:], hs[T], hs

    def backward(
        self,
        params: Params,
        layer: int,
        cache: Any,
        dout: Any,
        dh0: Any,
        grads: Grads,
        bptt: str,
        ws: Workspace,
        xp: Any,
        window: int | None = None,
    ) -> Any:
        """(B1)-(B4): full, windowed or naive; writes ``dWhi``, returns dpre in ``dout``."""
        hs = cache
        T, B, H = dout.shape
        n = self.names(layer)
        Whi = params[n.recurrent]
        drelu = (hs[1:] > 0).astype(hs.dtype)  # (T, B, H)
        dhraw = dout
        if bptt == "full" and window is not None:
            win = GradientWindow(window, T, (B, H), hs.dtype, ws, xp)
            for t in range(T - 1, -1, -1):
                d = win.arrive(t, dhraw[t])  # (B1)
                d *= drelu[t]  # (B2)
                win.parts *= drelu[t]
                xp.dot(win.parts.reshape(-1, H), Whi, out=win.spare.reshape(-1, H))  # (B3)
                win.moved(win.spare)
            win.total(out=dh0)
        elif bptt == "full":
            dhnext = dh0
            for t in range(T - 1, -1, -1):
                d = dhraw[t]
                d += dhnext  # (B1)
                d *= drelu[t]  # (B2)
                xp.dot(d, Whi, out=dhnext)  # (B3)
        else:
            dhraw *= drelu  # (B2), no (B3)
        # (B4) dWhi (H, H)
        xp.matmul(dhraw.reshape(T * B, H).T, hs[:-1].reshape(T * B, H), out=grads[n.recurrent])
        return dhraw

    def step(
        self,
        params: Params,
        layer: int,
        pre: Any,
        h: Any,
        out: Any,
        xp: Any,
        ws: Workspace | None = None,
        record: list[dict[str, Any]] | None = None,
    ) -> None:
        """One step of (F1) for generation; no gates to record."""
        self._recur(xp, h, params[self.names(layer).recurrent].T, pre, out)

    def reference_step(self, params: Params, layer: int, x: Any, state: Any) -> tuple[Any, Any]:
        """(F1) on columns, and its backward (B2)-(B4)."""
        n = self.names(layer)
        Wxi, Whi, bi = params[n.input], params[n.recurrent], params[n.bias]
        h = np.maximum(np.dot(Wxi, x) + np.dot(Whi, state) + bi, 0)  # (F1)

        def back(dh: Any) -> tuple[Any, Grads]:
            dhraw = (h > 0) * dh  # (B2)
            grads = {
                n.input: np.dot(dhraw, x.T),
                n.recurrent: np.dot(dhraw, state.T),
                n.bias: dhraw,
            }
            return np.dot(Whi.T, dhraw), grads  # (B3), (B4)

        return h, back


IRNN = register("irnn", IRNNCell())
