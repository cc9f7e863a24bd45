"""The LSTM cell, in PyTorch's conventions (``torch.nn.LSTM``), with hand-derived backward.

The input, recurrent and bias blocks of the four gates are stacked in one
matrix each, in PyTorch's order (``Wxifgo``: input, forget, cell and output
blocks), so a step is one (B, H) x (H, 4H) matmul. Layer 1 has these names,
deeper layers add their number (``Wxifgo2``).

A layer's state is one (B, 2H) array ``[h | c]``, so every layer's state still
stacks into an (L, B, S) array that carries across text chunks like the
other cells'. Forward, with ``a = pre + Wh h`` split into blocks i, f, g, o::

    (F1)  i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
    (F2)  c' = f * c + i * g
    (F3)  h' = o * tanh(c')

Backward, one step (``dh``, ``dc`` are d loss / d h', d c'; ``dhnext``,
``dcnext`` what step t+1 sends back)::

    (B1)  dh     = dout_t + dhnext
    (B2)  dc     = dcnext + dh * o * (1 - tanh(c')^2)
    (B3)  da_i   = dc * g * i (1 - i);  da_f = dc * c * f (1 - f);  da_g = dc * i * (1 - g^2)
    (B4)  da_o   = dh * tanh(c') * o (1 - o)
    (B5)  dcnext = dc * f
    (B6)  dhnext = [da_i | da_f | da_g | da_o] Wh
    (B7)  dWh   += [da_i | da_f | da_g | da_o]^T h

(B2)-(B6) are written once, in :meth:`LSTMCell._back_step`, which the full,
windowed and naive loops share; only (B1), how the gradient arriving at a
step is formed, differs between them. The naive rule drops (B5) and (B6).

Speed: numpy's ``exp`` is cheaper than its ``tanh``, so every gate comes from
one ``exp`` over all its columns: ``sigmoid(x) = 1 / (1 + e^-x)`` and
``tanh(x) = 2 / (1 + e^-2x) - 1``. Scaling the columns of ``pre`` (once for all
steps) and of the transposed recurrent matrix (once per call) by -1 (sigmoid
gates) or -2 (g) makes each step's pre-activations arrive as the exponent,
exactly (the scales are powers of two). Where ``e^-x`` overflows to inf the
gate takes its limit, 0 (or -1), which is right, so the overflow warning is
silenced. The backward computes each step's derivative factors inside the
step's loop, where that step's activations are still in cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..workspace import Workspace
from .base import CellBase, GradientWindow, Grads, LayerNames, Params, ParamSpec, layer_suffix

# The compiled forward takes each step's matmul as Wh h^T from this many rows of a batch
# up: measured 1.2-1.4x faster than h Wh^T at B = 32 and 64 with OpenBLAS (Zen, AVX-512),
# about equal below (docs/performance.md). A fixed rule, so a resumed run takes the same.
COLUMNS_FROM = 16


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class LSTMCell(CellBase):
    """PyTorch's LSTM: input, forget, cell and output blocks (i, f, g, o); state [h | c].

    Parameters per layer: ``Wxifgo (4H, n_in)``, ``Whifgo (4H, H)``, ``bifgo (4H,)``.
    The forget gate's bias starts at the ``forget_bias`` that :meth:`initialise` takes.
    """

    name = "lstm"
    gates = 4
    torch_module = "LSTM"  # torch.nn.LSTM computes the same: the tests' oracle
    gate_names: tuple[str, ...] = ("forget", "input", "output")  # what trace shows

    def names(self, layer: int) -> LayerNames:
        """``Wxifgo, Whifgo, bifgo`` for layer 1, numbered from 2 after."""
        s = layer_suffix(layer)
        return LayerNames(f"Wxifgo{s}", f"Whifgo{s}", f"bifgo{s}")

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """Input (4H, n_in), recurrent (4H, H) and bias (4H,)."""
        n, H = self.names(layer), hidden
        return [
            ParamSpec(n.input, (4 * H, n_in), "input"),
            ParamSpec(n.recurrent, (4 * H, H), "recurrent"),
            ParamSpec(n.bias, (4 * H,), "bias"),
        ]

    def state_shape(self, batch: int, hidden: int) -> tuple[int, ...]:
        """One layer's state: ``[h | c]``, the hidden and the cell vector of every sequence."""
        return (batch, 2 * hidden)

    def output(self, state: Any) -> Any:
        """The part of a (B, 2H) state the next layer reads: h."""
        return state[:, : state.shape[1] // 2]

    def initialise(self, params: Params, layers: int, forget_bias: float) -> None:
        """Set every layer's forget-gate bias to ``forget_bias``.

        1 (Gers et al. 2000; Jozefowicz et al. 2015) starts the forget gate at
        sigmoid(1) = 0.73 instead of 0.5: the cell keeps most of its memory
        from the first step, so the gradient reaches far back through
        ``dc_next = dc * f`` before the network has learnt when to forget.
        """
        for l in range(layers):
            b = params[self.names(l).bias]
            H = b.shape[0] // 4
            b[H : 2 * H] = forget_bias

    @staticmethod
    def _recur(
        xp: Any,
        pre_t: Any,
        a: Any,
        num: Any,
        c: Any,
        act: Any,
        tc: Any,
        h_out: Any,
        c_out: Any,
        ig: Any,
    ) -> None:
        # One step; a = h Wh^T (B, 4H) and pre_t arrive scaled by [-1 | -1 | -2 | -1].
        H = tc.shape[1]
        xp.add(pre_t, a, out=act)
        xp.exp(act, out=act)  # may overflow to inf, which gives the right limit 0 below
        act += 1
        xp.divide(num, act, out=act)
        act[:, 2 * H : 3 * H] -= 1
        # (F1) act = [i | f | g | o]: 1 / (1 + e^-x) on i, f, o; 2 / (1 + e^-2x) - 1 = tanh on g
        xp.multiply(act[:, H : 2 * H], c, out=c_out)
        xp.multiply(act[:, :H], act[:, 2 * H : 3 * H], out=ig)
        c_out += ig  # (F2)
        xp.tanh(c_out, out=tc)
        xp.multiply(act[:, 3 * H :], tc, out=h_out)  # (F3)

    def _exp_scales(self, ws: Workspace, H: int, dtype: Any) -> tuple[Any, Any]:
        # The scale of the pre-activations (-1 on the sigmoid gates, -2 on g) and the
        # numerator after the exponential (1 on the sigmoid gates, 2 on g).
        scale = ws.get("lstm-scale", (4 * H,), dtype)
        scale[...] = -1.0
        scale[2 * H : 3 * H] = -2.0
        num = ws.get("lstm-num", (4 * H,), dtype)
        num[...] = 1.0
        num[2 * H : 3 * H] = 2.0
        return scale, num

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps (F1-F3).

        Parameters
        ----------
        pre : array (T, B, 4H)
            Input projections, bias included; overwritten.
        h0 : array (B, 2H)
            Initial ``[h | c]``.

        Returns
        -------
        out : array (T, B, H)
            The hidden states h_1..h_T (a view of the cache).
        final : array (B, 2H)
            The last ``[h | c]``.
        cache : tuple
            ``(hs (T+1, B, H), cs (T+1, B, H), acts (T, B, 4H), tcs (T, B, H))``.
        """
        T, B, G = pre.shape
        H = G // 4
        Wh = params[self.names(layer).recurrent]
        dtype = Wh.dtype
        hs = ws.get(f"hs{layer}", (T + 1, B, H), dtype)  # (T+1, B, H)
        cs = ws.get(f"cs{layer}", (T + 1, B, H), dtype)  # (T+1, B, H)
        acts = ws.get(f"acts{layer}", (T, B, G), dtype)  # (T, B, 4H): i, f, g, o
        tcs = ws.get(f"tcs{layer}", (T, B, H), dtype)  # (T, B, H): tanh(c_t)
        hs[0], cs[0] = h0[:, :H], h0[:, H:]
        fused = kernels.active(xp)
        if fused is not None and kernels.fits(dtype, pre):
            self._forward_compiled(fused, Wh, pre, hs, cs, acts, tcs, ws, layer)
        else:
            self._forward_numpy(Wh, pre, hs, cs, acts, tcs, ws, layer, xp)
        final = ws.get(f"lstm-final{layer}", (B, 2 * H), dtype)  # (B, 2H)
        final[:, :H], final[:, H:] = hs[T], cs[T]
        return hs[1:], final, (hs, cs, acts, tcs)

    def _forward_numpy(
        self,
        Wh: Any,
        pre: Any,
        hs: Any,
        cs: Any,
        acts: Any,
        tcs: Any,
        ws: Workspace,
        layer: int,
        xp: Any,
    ) -> None:
        T, B, G = pre.shape
        H = G // 4
        dtype = Wh.dtype
        scale, num = self._exp_scales(ws, H, dtype)
        pre *= scale
        WhT = ws.get(f"WhT{layer}", (H, G), dtype)  # (H, 4H), contiguous for BLAS
        xp.multiply(Wh.T, scale, out=WhT)
        a = ws.get("lstm-a", (B, G), dtype)
        ig = ws.get("lstm-ig", (B, H), dtype)
        with np.errstate(over="ignore", under="ignore"):  # e^-x = inf or 0: the limits
            for t in range(T):
                xp.dot(hs[t], WhT, out=a)
                self._recur(xp, pre[t], a, num, cs[t], acts[t], tcs[t], hs[t + 1], cs[t + 1], ig)

    @staticmethod
    def _forward_compiled(
        fused: Any,
        Wh: Any,
        pre: Any,
        hs: Any,
        cs: Any,
        acts: Any,
        tcs: Any,
        ws: Workspace,
        layer: int,
    ) -> None:
        # The same recurrence, each step's (F1)-(F3) in one call of fused.c's
        # lstm_forward (what _recur does in ten numpy calls), on unscaled inputs.
        T, B, G = pre.shape
        H = G // 4
        dtype = Wh.dtype
        a = ws.get("lstm-a", (B, G), dtype)  # (B, 4H): h Wh^T
        adr = kernels.address
        p0, a0, c0, act0, tc0, h0 = adr(pre), adr(a), adr(cs), adr(acts), adr(tcs), adr(hs)
        bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
        if B >= COLUMNS_FROM and Wh.flags.c_contiguous:
            # The same product as Wh h^T, the orientation numpy's BLAS runs faster for
            # a batch of rows; lstm_forward_cols transposes it in and h' out.
            aT = ws.get("lstm-aT", (G, B), dtype)  # (4H, B)
            hT = ws.get("lstm-hT", (H, B), dtype)  # (H, B)
            hT[...] = hs[0].T
            fn, aT0, hT0 = fused.fn("lstm_forward_cols", dtype), adr(aT), adr(hT)
            seq = fused.seq(dtype)
            if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
                fn = fused.fn("lstm_forward_cols_seq", dtype)
                fn(*seq, T, B, H, p0, adr(Wh), aT0, a0, hT0, h0, c0, act0, tc0)
                return
            for t in range(T):
                np.dot(Wh, hT, out=aT)
                c_t, h_t1, p_t, act_t = c0 + t * bh, h0 + (t + 1) * bh, p0 + t * bg, act0 + t * bg
                fn(B, H, p_t, aT0, a0, c_t, H, act_t, tc0 + t * bh, h_t1, H, c_t + bh, H, hT0)
            return
        WhT = ws.get(f"WhT{layer}", (H, G), dtype)  # (H, 4H), contiguous for BLAS
        WhT[...] = Wh.T
        seq = fused.seq(dtype)
        if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
            fused.fn("lstm_forward_seq", dtype)(*seq, T, B, H, p0, adr(WhT), a0, h0, c0, act0, tc0)
            return
        fn = fused.fn("lstm_forward", dtype)
        for t in range(T):
            np.dot(hs[t], WhT, out=a)
            c_t, h_t1 = c0 + t * bh, h0 + (t + 1) * bh
            fn(B, H, p0 + t * bg, a0, c_t, H, act0 + t * bg, tc0 + t * bh, h_t1, H, c_t + bh, H)

    @staticmethod
    def _factors(xp: Any, act: Any, c: Any, tc: Any, fac: Any, fc: Any) -> None:
        # What multiplies dc or dh into each gate's raw gradient, for one step or all:
        # fac = [g i(1-i) | c f(1-f) | i (1-g^2) | tanh(c') o(1-o)] of (B3), (B4),
        # fc = o (1 - tanh(c')^2) of (B2).
        H = tc.shape[-1]
        i, g, o = act[..., :H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
        xp.subtract(1, act, out=fac)
        fac *= act  # s (1 - s) for every block; the g block is redone below
        fac[..., :H] *= g
        fac[..., H : 2 * H] *= c
        fg = fac[..., 2 * H : 3 * H]
        xp.multiply(g, g, out=fg)
        xp.subtract(1, fg, out=fg)
        fg *= i
        fac[..., 3 * H :] *= tc
        xp.multiply(tc, tc, out=fc)
        xp.subtract(1, fc, out=fc)
        fc *= o

    @staticmethod
    def _back_step(
        xp: Any,
        dh: Any,
        dc: Any,
        fac3: Any,
        fo: Any,
        fc: Any,
        f: Any,
        da4: Any,
        tmp: Any,
        da: Any,
        Wh: Any,
        dhnext: Any,
    ) -> None:
        # (B2)-(B6) of one step, for every loop: ``dh``, ``dc`` (..., B, H) may carry a
        # leading axis (the window's parts, or all T steps for the naive rule), which
        # the step's factors (B, .) broadcast over. ``dc`` holds dcnext on entry and,
        # with the hop, leaves holding the dcnext of the step before; ``da4`` is the
        # step's d pre as (..., B, 4, H), ``da`` the same memory 2-D for np.dot. With
        # ``Wh`` None the hop (B5), (B6) is skipped.
        xp.multiply(dh, fc, out=tmp)
        dc += tmp  # (B2)
        xp.multiply(dc[..., None, :], fac3, out=da4[..., :3, :])  # (B3) da_i, da_f, da_g
        xp.multiply(dh, fo, out=da4[..., 3, :])  # (B4) da_o
        if Wh is not None:
            dc *= f  # (B5)
            xp.dot(da, Wh, out=dhnext)  # (B6)

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
        """Back through the recurrence; writes ``dWhifgo``, returns dpre (T, B, 4H).

        ``dh0`` (B, 2H) receives ``[dh | dc]`` of the initial state. With
        ``naive`` neither ``dhnext`` nor ``dcnext`` flows to the previous step.
        With ``window`` (full BPTT only) each loss's gradient goes at most that
        many steps back (:class:`~charrnn.core.cells.base.GradientWindow`): the
        state is ``[h | c]``, so each part is a ``[dh | dc]`` pair, a loss
        enters as ``[dout_t | 0]`` and every part takes the (B5), (B6) hop.
        See the module notes for the equations.
        """
        hs, cs, acts, tcs = cache
        T, B, H = dout.shape
        G = 4 * H
        n_ = self.names(layer)
        dtype = hs.dtype
        f = acts[..., H : 2 * H]
        dpre = ws.get(f"lstm-dpre{layer}", (T, B, G), dtype)  # (T, B, 4H)
        dpre4 = dpre.reshape(T, B, 4, H)  # the gate blocks as an axis, for one call on i, f, g
        fused = kernels.active(xp)
        compiled = fused is not None and kernels.fits(dtype, dout)
        if fused is not None and compiled and bptt == "naive":
            # The naive rule below, (B1)-(B4) with dhnext = dcnext = 0 and no hop, over
            # all T steps in one call of fused.c's lstm_backward.
            adr = kernels.address
            fused.fn("lstm_backward", dtype)(
                T * B, H, adr(dout), None, None, adr(acts), adr(cs), adr(tcs), adr(dpre)
            )
        elif fused is not None and compiled and window is not None:
            Wh = params[n_.recurrent]
            # The window's loop below, each step's arrival and (B2)-(B5) on the total
            # and on every part in one call of fused.c's lstm_window, then (B6).
            win = GradientWindow(window, T, (B, 2 * H), dtype, ws, xp)
            P = win.size
            pa = ws.get("lstm-win-a", (P, B, G), dtype)  # (W+1, B, 4H)
            ph = ws.get("lstm-win-h", (P, B, H), dtype)  # (W+1, B, H)
            total = ws.get("lstm-win-enter", (B, 2 * H), dtype)  # (B, 2H)
            fn, adr = fused.fn("lstm_window", dtype), kernels.address
            do0, a0, c0, tc0, dp0 = adr(dout), adr(acts), adr(cs), adr(tcs), adr(dpre)
            pa0, tot0 = adr(pa), adr(total)
            bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
            for t in range(T - 1, -1, -1):
                parts = win.parts
                fn(
                    P,
                    B,
                    H,
                    adr(parts),
                    t % P,
                    do0 + t * bh,
                    a0 + t * bg,
                    c0 + t * bh,
                    tc0 + t * bh,
                    dp0 + t * bg,
                    pa0,
                    tot0,
                )
                xp.dot(pa.reshape(-1, G), Wh, out=ph.reshape(-1, H))  # (B6)
                parts[..., :H] = ph
                win.moved(parts)
            win.total(out=dh0)
        elif fused is not None and compiled:
            Wh = params[n_.recurrent]
            # (B1)-(B5) of each step in one call of fused.c's lstm_backward (what the
            # loop below does in _factors and _back_step), then (B6) here.
            dhnext = ws.zeros("lstm-dhnext", (B, H), dtype)
            dcnext = ws.zeros("lstm-dcnext", (B, H), dtype)
            fn, adr = fused.fn("lstm_backward", dtype), kernels.address
            do0, hn0, cn0, a0 = adr(dout), adr(dhnext), adr(dcnext), adr(acts)
            c0, tc0, dp0 = adr(cs), adr(tcs), adr(dpre)
            bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
            seq = fused.seq(dtype) if kernels.fits(dtype, Wh) else None
            if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
                fn = fused.fn("lstm_backward_seq", dtype)
                fn(*seq, T, B, H, do0, hn0, cn0, a0, c0, tc0, dp0, adr(Wh))
            else:
                for t in range(T - 1, -1, -1):
                    fn(
                        B,
                        H,
                        do0 + t * bh,
                        hn0,
                        cn0,
                        a0 + t * bg,
                        c0 + t * bh,
                        tc0 + t * bh,
                        dp0 + t * bg,
                    )
                    np.dot(dpre[t], Wh, out=dhnext)  # (B6)
            dh0[:, :H], dh0[:, H:] = dhnext, dcnext
        elif bptt == "full" and window is None:
            Wh = params[n_.recurrent]
            # One step's factors, computed where that step's values are still in cache.
            fac = ws.get("lstm-fac", (B, G), dtype)  # (B, 4H)
            fac3, fo = fac.reshape(B, 4, H)[:, :3], fac[:, 3 * H :]
            fc = ws.get("lstm-fc", (B, H), dtype)  # (B, H)
            # np.dot writes only into C-contiguous arrays: carry in buffers of their own.
            dhnext = ws.zeros("lstm-dhnext", (B, H), dtype)
            dcnext = ws.zeros("lstm-dcnext", (B, H), dtype)  # (B2)'s dc, in place
            tmp = ws.get("lstm-dc", (B, H), dtype)
            for t in range(T - 1, -1, -1):
                self._factors(xp, acts[t], cs[t], tcs[t], fac, fc)
                dh = dout[t]
                dh += dhnext  # (B1)
                self._back_step(
                    xp, dh, dcnext, fac3, fo, fc, f[t], dpre4[t], tmp, dpre[t], Wh, dhnext
                )
            dh0[:, :H], dh0[:, H:] = dhnext, dcnext
        else:
            # Every step's factors at once, for the rules below.
            fac = ws.get(f"lstm-fac{layer}", (T, B, G), dtype)  # (T, B, 4H)
            fac3, fo = fac.reshape(T, B, 4, H)[:, :, :3], fac[..., 3 * H :]
            fc = ws.get(f"lstm-fc{layer}", (T, B, H), dtype)  # (T, B, H)
            self._factors(xp, acts, cs[:-1], tcs, fac, fc)
        if bptt == "full" and window is not None and not compiled:
            Wh = params[n_.recurrent]
            win = GradientWindow(window, T, (B, 2 * H), dtype, ws, xp)
            P = win.size
            enter = ws.get("lstm-win-enter", (B, 2 * H), dtype)  # (B, 2H)
            tmp = ws.get("lstm-dc", (B, H), dtype)
            pa = ws.get("lstm-win-a", (P, B, G), dtype)  # (W+1, B, 4H)
            pa2, pa4 = pa.reshape(-1, G), pa.reshape(P, B, 4, H)
            ph = ws.get("lstm-win-h", (P, B, H), dtype)  # (W+1, B, H)
            ph2 = ph.reshape(-1, H)
            for t in range(T - 1, -1, -1):
                enter[:, :H], enter[:, H:] = dout[t], 0  # the loss at t reaches h_t only
                d = win.arrive(t, enter)  # (B1): [dh | dcnext] from the losses that reach step t
                fac3_t, fo_t, fc_t, f_t = fac3[t], fo[t], fc[t], f[t]
                self._back_step(
                    xp, d[:, :H], d[:, H:], fac3_t, fo_t, fc_t, f_t, dpre4[t], tmp, None, None, None
                )
                # Every part one hop back, in place: the same step, on (W+1, B, .) at once.
                parts = win.parts
                self._back_step(
                    xp,
                    parts[..., :H],
                    parts[..., H:],
                    fac3_t,
                    fo_t,
                    fc_t,
                    f_t,
                    pa4,
                    ph,
                    pa2,
                    Wh,
                    ph2,
                )
                parts[..., :H] = ph
                win.moved(parts)
            win.total(out=dh0)
        elif bptt == "naive" and not compiled:
            # The tutorial's section 4: (B1), (B2) with dhnext = dcnext = 0, no hop, all steps.
            dc = ws.zeros("lstm-dcs", (T, B, H), dtype)
            # dh fc waits in the da_o block, which (B4) writes after (B2) has read it.
            tmp = dpre4[..., 3, :]
            self._back_step(xp, dout, dc, fac3, fo, fc, f, dpre4, tmp, None, None, None)
        flat = dpre.reshape(T * B, G)
        xp.matmul(flat.T, hs[:-1].reshape(T * B, H), out=grads[n_.recurrent])  # (B7) dWh (4H, H)
        return dpre

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
        """One step for generation: ``pre`` (B, 4H) with bias (overwritten), ``[h | c]`` -> ``out``.

        ``record``, when given, receives ``{"forget": f, "input": i, "output": o}``
        (copies, (B, H)).
        """
        ws = ws if ws is not None else Workspace()
        B, S = h.shape
        H = S // 2
        dtype = h.dtype
        a = ws.get("step-lstm-a", (B, 4 * H), dtype)
        xp.dot(h[:, :H], params[self.names(layer).recurrent].T, out=a)
        act = ws.get("step-lstm-act", (B, 4 * H), dtype)
        tc = ws.get("step-lstm-tc", (B, H), dtype)
        fused = kernels.active(xp)
        ldh, ldo = kernels.row_stride(h), kernels.row_stride(out)
        ok = kernels.fits(dtype, pre) and out.dtype == dtype
        if fused is not None and ok and ldh is not None and ldo is not None:
            # (F1)-(F3) in one call of fused.c's lstm_forward, on unscaled inputs.
            adr = kernels.address
            fused.fn("lstm_forward", dtype)(
                B,
                H,
                adr(pre),
                adr(a),
                adr(h[:, H:]),
                ldh,
                adr(act),
                adr(tc),
                adr(out),
                ldo,
                adr(out[:, H:]),
                ldo,
            )
        else:
            scale, num = self._exp_scales(ws, H, dtype)
            a *= scale
            pre *= scale
            ig = ws.get("step-lstm-ig", (B, H), dtype)
            with np.errstate(over="ignore", under="ignore"):
                self._recur(xp, pre, a, num, h[:, H:], act, tc, out[:, :H], out[:, H:], ig)
        if record is not None:
            record.append(
                {
                    "forget": act[:, H : 2 * H].copy(),
                    "input": act[:, :H].copy(),
                    "output": act[:, 3 * H :].copy(),
                }
            )

    def reference_step(self, params: Params, layer: int, x: Any, state: Any) -> tuple[Any, Any]:
        """One step gate by gate, state ``[h; c]`` (2H, 1) (see :class:`~.base.Cell`)."""
        n_ = self.names(layer)
        Wx, Wh, b = params[n_.input], params[n_.recurrent], params[n_.bias]
        H = Wh.shape[1]
        h_prev, c_prev = state[:H], state[H:]
        a = np.dot(Wx, x) + np.dot(Wh, h_prev) + b
        i, f = _sigmoid(a[:H]), _sigmoid(a[H : 2 * H])  # (F1)
        g, o = np.tanh(a[2 * H : 3 * H]), _sigmoid(a[3 * H :])
        c = f * c_prev + i * g  # (F2)
        h = o * np.tanh(c)  # (F3)

        def back(ds: Any) -> tuple[Any, Grads]:
            dh, dcnext = ds[:H], ds[H:]
            do = dh * np.tanh(c)
            dc = dcnext + dh * o * (1 - np.tanh(c) ** 2)  # (B2)
            di, df, dg = dc * g, dc * c_prev, dc * i
            da = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)]
            )  # (B3), (B4): (4H, 1)
            grads = {
                n_.input: np.dot(da, x.T),
                n_.recurrent: np.dot(da, h_prev.T),  # (B7)
                n_.bias: da,
            }
            return np.concatenate([np.dot(Wh.T, da), dc * f]), grads  # (B6), (B5)

        return np.concatenate([h, c]), back


LSTM = LSTMCell()
