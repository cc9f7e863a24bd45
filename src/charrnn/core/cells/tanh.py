"""The tutorial's tanh RNN cell.

Forward, with ``pre_t = Wxh x_t + bh`` from the model's input projection::

    (T1)  h_t = tanh(pre_t + Whh h_{t-1})

Backward (the seed's section 5; ``dh`` is d loss / d h_t)::

    (B1)  dh     = dout_t + dhnext
    (B2)  dhraw  = (1 - h_t^2) * dh          d pre_t
    (B3)  dhnext = Whh^T dhraw                what step t sends to step t-1
    (B4)  dWhh  += dhraw h_{t-1}^T

The naive rule (the seed's section 4) drops (B3): ``dhnext = 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..workspace import Workspace
from .base import (
    GradientWindow,
    Grads,
    HiddenStateCell,
    LayerNames,
    Params,
    ParamSpec,
    layer_suffix,
)


class TanhCell(HiddenStateCell):
    """The vanilla recurrence of the tutorial: ``h_t = tanh(pre_t + Whh h_{t-1})``.

    ``pre_t = Wxh x_t + bh`` arrives from the shared input projection. The
    state of a layer is its hidden vector, (B, H).
    """

    name = "rnn"
    gates = 1  # width of the input projection, in units of H
    torch_module = "RNN"  # torch.nn.RNN computes the same: the tests' oracle

    def names(self, layer: int) -> LayerNames:
        """The tutorial's names for layer 0 (``Wxh, Whh, bh``), numbered from 2 after."""
        s = layer_suffix(layer)
        return LayerNames(f"Wxh{s}", f"Whh{s}", f"bh{s}")

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """The layer's parameters: input weight (H, n_in), recurrent (H, H), bias (H,)."""
        n, H = self.names(layer), hidden
        return [
            ParamSpec(n.input, (self.gates * H, n_in), "input"),
            ParamSpec(n.recurrent, (H, H), "recurrent"),
            ParamSpec(n.bias, (self.gates * H,), "bias"),
        ]

    @staticmethod
    def _recur(xp: Any, h_prev: Any, WhhT: Any, pre_t: Any, out: Any) -> None:
        # The one recurrence step (T1), shared by forward and step. np.dot costs
        # less per call than np.matmul, which counts when B is small.
        xp.dot(h_prev, WhhT, out=out)
        out += pre_t
        xp.tanh(out, out=out)  # (T1)

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps.

        Parameters
        ----------
        pre : array (T, B, H)
            Input projections, bias included.
        h0 : array (B, H)
            Initial state.

        Returns
        -------
        out : array (T, B, H)
            The layer's output sequence (a view of ``cache``).
        final : array (B, H)
            The last state.
        cache : array (T+1, B, H)
            Every state, ``cache[0] = h0``: what :meth:`backward` needs.
        """
        T, B, H = pre.shape
        Whh = params[self.names(layer).recurrent]
        hs = ws.get(f"hs{layer}", (T + 1, B, H), Whh.dtype)  # (T+1, B, H)
        hs[0] = h0
        # A contiguous transpose lets BLAS run its fastest (no-transpose) kernel.
        WhhT = ws.get(f"WhhT{layer}", (H, H), Whh.dtype)
        WhhT[...] = Whh.T
        fused = kernels.active(xp)
        if fused is not None and kernels.fits(Whh.dtype, pre):
            # The same recurrence, each step's `out += pre_t; np.tanh(out)` of _recur
            # (T1) in one call of fused.c's rnn_forward.
            fn, adr = fused.fn("rnn_forward", Whh.dtype), kernels.address
            seq = fused.seq(Whh.dtype)
            if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
                fused.fn("rnn_forward_seq", Whh.dtype)(*seq, T, B, H, adr(pre), adr(WhhT), adr(hs))
                return hs[1:], hs[T], hs
            p0, h0_, bh = adr(pre), adr(hs), B * H * Whh.dtype.itemsize  # bytes per step
            for t in range(T):
                np.dot(hs[t], WhhT, out=hs[t + 1])
                fn(B, H, p0 + t * bh, h0_ + (t + 1) * bh, H)
            return hs[1:], hs[T], hs
        for t in range(T):
            self._recur(xp, hs[t], WhhT, pre[t], hs[t + 1])
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
        """Back through the recurrence (equations B1-B4 of the module notes).

        Parameters
        ----------
        cache : array (T+1, B, H)
            From :meth:`forward`.
        dout : array (T, B, H)
            d loss / d output sequence; overwritten.
        dh0 : array (B, H)
            Zeros on entry; receives d loss / d initial state (stays zero for ``naive``).
        grads : dict
            Receives the recurrent weight's gradient (``dWhh``).
        window : int, optional
            With ``bptt="full"``, send each loss's gradient at most ``window``
            steps back (see :class:`GradientWindow`); ``None`` is no limit.

        Returns
        -------
        dpre : array (T, B, H)
            d loss / d input projection (``dhraw`` of the tutorial), in ``dout``'s memory.
        """
        hs = cache
        T, B, H = dout.shape
        n = self.names(layer)
        fused = kernels.active(xp)
        if fused is not None and kernels.fits(hs.dtype, dout, dh0):
            Whh = params[n.recurrent]
            adr = kernels.address
            d0, dh0_, h0_, bh = adr(dout), adr(dh0), adr(hs), B * H * hs.dtype.itemsize
            if bptt == "naive":
                # (B2) with (B1)'s dhnext = 0 over all T steps in one call of rnn_backward;
                # its 1 - h^2 is of each step's own output, h_1..h_T: hs from row 1.
                fused.fn("rnn_backward", hs.dtype)(T * B, H, d0, None, h0_ + bh)
            elif window is None and (seq := fused.seq(hs.dtype)) and kernels.fits(hs.dtype, Whh):
                # The loop below in C, each np.dot through BLAS's gemm.
                fn = fused.fn("rnn_backward_seq", hs.dtype)
                fn(*seq, T, B, H, d0, dh0_, h0_, adr(Whh))
            elif window is None:
                # (B1), (B2) of each step in one call of fused.c's rnn_backward (the loop's
                # `d += dhnext; d *= dtanh[t]` and the precomputed 1 - h^2 below), then (B3).
                fn = fused.fn("rnn_backward", hs.dtype)
                for t in range(T - 1, -1, -1):
                    fn(B, H, d0 + t * bh, dh0_, h0_ + (t + 1) * bh)
                    xp.dot(dout[t], Whh, out=dh0)  # (B3)
            else:
                # The window's loop below, each step's arrival and (B2) on the total and
                # on every part in one call of fused.c's rnn_window, then (B3) on the parts.
                win = GradientWindow(window, T, (B, H), hs.dtype, ws, xp)
                fn, P = fused.fn("rnn_window", hs.dtype), win.size
                for t in range(T - 1, -1, -1):
                    fn(P, B, H, adr(win.parts), t % P, d0 + t * bh, h0_ + (t + 1) * bh)
                    xp.dot(win.parts.reshape(-1, H), Whh, out=win.spare.reshape(-1, H))  # (B3)
                    win.moved(win.spare)
                win.total(out=dh0)
            xp.matmul(dout.reshape(T * B, H).T, hs[:-1].reshape(T * B, H), out=grads[n.recurrent])
            return dout
        # 1 - h^2 for all steps in one pass, in the buffer of the forward's input
        # projections: spent by now, and reusing it keeps the step's working set small.
        dtanh = ws.get("pre", (T, B, H), hs.dtype)
        xp.multiply(hs[1:], hs[1:], out=dtanh)
        xp.subtract(1, dtanh, out=dtanh)
        dhraw = dout
        if bptt == "full" and window is not None:
            Whh = params[n.recurrent]
            win = GradientWindow(window, T, (B, H), hs.dtype, ws, xp)
            for t in range(T - 1, -1, -1):
                d = win.arrive(t, dhraw[t])  # (B1), for the losses that reach h_t
                d *= dtanh[t]  # (B2)
                win.parts *= dtanh[t]  # every part through (B2) ...
                xp.dot(win.parts.reshape(-1, H), Whh, out=win.spare.reshape(-1, H))  # ... (B3)
                win.moved(win.spare)
            win.total(out=dh0)
        elif bptt == "full":
            Whh = params[n.recurrent]
            dhnext = dh0
            for t in range(T - 1, -1, -1):
                d = dhraw[t]
                d += dhnext  # (B1)
                d *= dtanh[t]  # (B2)
                xp.dot(d, Whh, out=dhnext)  # (B3)
        else:
            dhraw *= dtanh  # (B2) with (B1)'s dhnext = 0: the tutorial's section 4
        # (B4) dWhh (H, H), all steps in one matmul
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
        """One step for generation: ``pre`` (B, H) with bias, state ``h`` (B, H) -> ``out``.

        The tanh cell has no gates, so it adds nothing to ``record``.
        """
        fused = kernels.active(xp)
        ldo = kernels.row_stride(out)
        if fused is not None and kernels.fits(out.dtype, pre) and ldo is not None:
            xp.dot(h, params[self.names(layer).recurrent].T, out=out)
            adr = kernels.address
            fused.fn("rnn_forward", out.dtype)(out.shape[0], out.shape[1], adr(pre), adr(out), ldo)
            return
        self._recur(xp, h, params[self.names(layer).recurrent].T, pre, out)

    def reference_step(self, params: Params, layer: int, x: Any, state: Any) -> tuple[Any, Any]:
        """The seed's step, as its ``get_derivative`` writes it (see :class:`~.base.Cell`)."""
        n = self.names(layer)
        Wxh, Whh, bh = params[n.input], params[n.recurrent], params[n.bias]
        h_prev = state
        h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h_prev) + bh)  # (T1)

        def back(dh: Any) -> tuple[Any, Grads]:
            dhraw = (1 - h * h) * dh  # (B2)
            grads = {
                n.input: np.dot(dhraw, x.T),
                n.recurrent: np.dot(dhraw, h_prev.T),  # (B4)
                n.bias: dhraw,
            }
            return np.dot(Whh.T, dhraw), grads  # (B3)

        return h, back


TANH = TanhCell()
