"""The GRU cell, in PyTorch's conventions (``torch.nn.GRU``), with hand-derived backward.

The input, recurrent and bias blocks of all gates are stacked in one matrix
each, so a step is one (B, H) x (H, 3H) matmul; the gate order is in the name
(``Wxrzn``: the reset, update and candidate blocks). Layer 1 has these names,
deeper layers add their number (``Wxrzn2``), as the tanh cell does.

Forward, with ``pre = Wx x + b`` (from the model's input projection) split
into blocks r, z, n::

    (F1)  r  = sigmoid(pre_r + Wh_r h)
    (F2)  z  = sigmoid(pre_z + Wh_z h)
    (F3)  hn = Wh_n h + bhn                  the candidate's recurrent part, kept for backward
    (F4)  n  = tanh(pre_n + r * hn)
    (F5)  h' = (1 - z) * n + z * h  =  n + z * (h - n)

Backward, one step (``dh`` is d loss / d h', ``dhnext`` what step t+1 sends back)::

    (B1)  dh     = dout_t + dhnext
    (B2)  dn_raw = dh * (1 - z) * (1 - n^2)       d pre_n
    (B3)  dhn    = dn_raw * r                     d (Wh_n h + bhn)
    (B4)  dr_raw = dn_raw * hn * r (1 - r)        d pre_r = d (Wh_r h)
    (B5)  dz_raw = dh * (h - n) * z (1 - z)       d pre_z = d (Wh_z h)
    (B6)  dhnext = [dr_raw | dz_raw | dhn] Wh + dh * z
    (B7)  dWh   += [dr_raw | dz_raw | dhn]^T h ;  dbhn += dhn

(B2)-(B6) are written once, in :meth:`GRUCell._back_step`, which the full,
windowed and naive loops share; only (B1), how the gradient arriving at a
step is formed, differs between them. The naive rule drops (B6).

Speed: numpy's ``exp`` is cheaper than its ``tanh``, so the sigmoid gates come
from one ``exp`` over their columns, ``sigmoid(x) = 1 / (1 + e^-x)``: scaling
r's and z's columns of ``pre`` (once for all steps) and of the transposed
recurrent matrix (once per call) by -1 makes each step's pre-activations
arrive as the exponent, exactly. Where ``e^-x`` overflows to inf the gate
takes its limit 0, which is right, so the overflow warning is silenced.
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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class GRUCell(HiddenStateCell):
    """PyTorch's GRU: reset gate r, update gate z, candidate n; state (B, H).

    Parameters per layer: ``Wxrzn (3H, n_in)``, ``Whrzn (3H, H)``, ``brzn (3H,)``
    (the input bias of every gate, plus the recurrent bias of r and z, which
    only ever appear summed) and ``bhn (H,)``, the candidate's recurrent bias,
    which sits inside ``r * (Wh_n h + bhn)`` and so is a parameter of its own.
    """

    name = "gru"
    gates = 3
    torch_module = "GRU"  # torch.nn.GRU computes the same: the tests' oracle
    gate_names: tuple[str, ...] = ("reset", "update")  # what trace shows

    def names(self, layer: int) -> LayerNames:
        """``Wxrzn, Whrzn, brzn`` for layer 1, numbered from 2 after."""
        s = layer_suffix(layer)
        return LayerNames(f"Wxrzn{s}", f"Whrzn{s}", f"brzn{s}")

    def candidate_bias(self, layer: int) -> str:
        """The name of ``bhn``, the candidate's recurrent bias."""
        return f"bhn{layer_suffix(layer)}"

    def specs(self, layer: int, n_in: int, hidden: int) -> list[ParamSpec]:
        """Input (3H, n_in), recurrent (3H, H), bias (3H,) and candidate bias (H,)."""
        n, H = self.names(layer), hidden
        return [
            ParamSpec(n.input, (3 * H, n_in), "input"),
            ParamSpec(n.recurrent, (3 * H, H), "recurrent"),
            ParamSpec(n.bias, (3 * H,), "bias"),
            ParamSpec(self.candidate_bias(layer), (H,), "bias"),
        ]

    @staticmethod
    def _recur(
        xp: Any, pre_t: Any, g: Any, bhn: Any, rz: Any, hn: Any, n: Any, h: Any, out: Any
    ) -> None:
        # One step; pre_t (B, 3H) and g = h Wh^T (B, 3H) arrive with r and z negated.
        H = h.shape[1]
        xp.add(pre_t[:, : 2 * H], g[:, : 2 * H], out=rz)  # (B, 2H)
        xp.exp(rz, out=rz)  # may overflow to inf, which gives the right limit 0 below
        rz += 1
        xp.reciprocal(rz, out=rz)  # (F1), (F2): [r | z] = 1 / (1 + e^-x)
        xp.add(g[:, 2 * H :], bhn, out=hn)  # (F3)
        xp.multiply(rz[:, :H], hn, out=n)
        n += pre_t[:, 2 * H :]
        xp.tanh(n, out=n)  # (F4)
        xp.subtract(h, n, out=out)
        out *= rz[:, H:]
        out += n  # (F5): h' = n + z * (h - n)

    def _scale(self, ws: Workspace, H: int, dtype: Any) -> Any:
        # -1 on the sigmoid gates' columns (r, z), 1 on the candidate's.
        v = ws.get("gru-scale", (3 * H,), dtype)
        v[: 2 * H] = -1.0
        v[2 * H :] = 1.0
        return v

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps (F1-F5).

        Parameters
        ----------
        pre : array (T, B, 3H)
            Input projections, bias included; overwritten.
        h0 : array (B, H)

        Returns
        -------
        out : array (T, B, H)
            The hidden states h_1..h_T (a view of the cache).
        final : array (B, H)
        cache : tuple
            ``(hs (T+1, B, H), acts (T, B, 3H) = [r | z | n], hn (T, B, H))``.
        """
        T, B, G = pre.shape
        H = G // 3
        n_ = self.names(layer)
        Wh, bhn = params[n_.recurrent], params[self.candidate_bias(layer)]
        dtype = Wh.dtype
        hs = ws.get(f"hs{layer}", (T + 1, B, H), dtype)  # (T+1, B, H)
        acts = ws.get(f"acts{layer}", (T, B, G), dtype)  # (T, B, 3H): r, z, n
        hn = ws.get(f"hn{layer}", (T, B, H), dtype)  # (T, B, H)
        hs[0] = h0
        g = ws.get("gru-g", (B, G), dtype)  # (B, 3H) recurrent projection of a step
        WhT = ws.get(f"WhT{layer}", (H, G), dtype)  # (H, 3H), contiguous for BLAS
        fused = kernels.active(xp)
        if fused is not None and kernels.fits(dtype, pre, bhn):
            # The same recurrence, each step's (F1)-(F5) in one call of fused.c's
            # gru_forward (what _recur does in eleven numpy calls), on unscaled inputs.
            WhT[...] = Wh.T
            fn, adr = fused.fn("gru_forward", dtype), kernels.address
            p0, g0, b0, h0_, a0, hn0 = adr(pre), adr(g), adr(bhn), adr(hs), adr(acts), adr(hn)
            seq = fused.seq(dtype)
            if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
                fn = fused.fn("gru_forward_seq", dtype)
                fn(*seq, T, B, H, p0, adr(WhT), b0, g0, h0_, a0, hn0)
                return hs[1:], hs[T], (hs, acts, hn)
            bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
            for t in range(T):
                np.dot(hs[t], WhT, out=g)
                h_t = h0_ + t * bh
                fn(B, H, p0 + t * bg, g0, b0, h_t, H, a0 + t * bg, hn0 + t * bh, h_t + bh, H)
            return hs[1:], hs[T], (hs, acts, hn)
        scale = self._scale(ws, H, dtype)
        pre *= scale
        xp.multiply(Wh.T, scale, out=WhT)
        rz, n = acts[..., : 2 * H], acts[..., 2 * H :]
        with np.errstate(over="ignore", under="ignore"):  # e^-x = inf or 0: the limits
            for t in range(T):
                xp.dot(hs[t], WhT, out=g)
                self._recur(xp, pre[t], g, bhn, rz[t], hn[t], n[t], hs[t], hs[t + 1])
        return hs[1:], hs[T], (hs, acts, hn)

    @staticmethod
    def _factors(xp: Any, r: Any, z: Any, n: Any, hn: Any, h: Any, fac: Any, tmp: Any) -> None:
        # What multiplies dh or dn_raw into each raw gradient, for one step or all:
        # fac = [(1 - z)(1 - n^2), hn r (1 - r), (h - n) z (1 - z)], of (B2), (B4), (B5).
        fn, fr, fz = fac
        xp.multiply(n, n, out=fn)
        xp.subtract(1, fn, out=fn)
        xp.subtract(1, z, out=tmp)
        fn *= tmp
        xp.subtract(1, r, out=fr)
        fr *= r
        fr *= hn
        xp.multiply(tmp, z, out=fz)
        xp.subtract(h, n, out=tmp)
        fz *= tmp

    @staticmethod
    def _back_step(
        xp: Any,
        dh: Any,
        fac: Any,
        r: Any,
        z: Any,
        dn: Any,
        dhn: Any,
        dr: Any,
        dz: Any,
        dg: Any,
        Wh: Any,
        dhnext: Any,
        dhnext2: Any,
        tmp: Any,
    ) -> None:
        # (B2)-(B6) of one step, for every loop: ``dh`` (..., B, H) may carry a leading
        # axis (the window's parts, or all T steps for the naive rule), which the
        # step's factors, r and z (B, H) broadcast over. With ``Wh`` None the hop
        # (B6) is skipped; else ``dg`` is [dr | dz | dhn] as a 2-D (., 3H) view and
        # ``dhnext2`` the same memory as ``dhnext``, 2-D, for np.dot.
        fn, fr, fz = fac
        xp.multiply(dh, fn, out=dn)  # (B2)
        xp.multiply(dn, r, out=dhn)  # (B3)
        xp.multiply(dn, fr, out=dr)  # (B4)
        xp.multiply(dh, fz, out=dz)  # (B5)
        if Wh is not None:
            xp.dot(dg, Wh, out=dhnext2)  # (B6) [dr | dz | dhn] Wh ...
            xp.multiply(dh, z, out=tmp)
            dhnext += tmp  # ... + dh z

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
        """Back through the recurrence; writes ``dWhrzn`` and ``dbhn``, returns dpre (T, B, 3H).

        Full BPTT carries (B6) from step to step. With ``naive`` nothing flows
        to the previous step (``dhnext = 0``): each step's gradient is its own
        loss's alone, as in the tutorial's section 4. With ``window`` (full
        BPTT only) each loss's gradient goes at most that many steps back
        (:class:`~charrnn.core.cells.base.GradientWindow`): every part in the
        window takes the (B6) hop on its own. See the module notes for the equations.
        """
        hs, acts, hn = cache
        T, B, H = dout.shape
        G = 3 * H
        n_ = self.names(layer)
        dtype = hs.dtype
        r, z, n = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H :]
        # dgh: d loss / d (h Wh^T + [0 | 0 | bhn]) of every step, (T, B, 3H).
        dgh = ws.get(f"gru-dgh{layer}", (T, B, G), dtype)
        dpre = ws.get(f"gru-dpre{layer}", (T, B, G), dtype)  # (T, B, 3H)
        dr, dz, dhn = dgh[..., :H], dgh[..., H : 2 * H], dgh[..., 2 * H :]
        dn = dpre[..., 2 * H :]
        fused = kernels.active(xp)
        if fused is not None and bptt == "naive" and kernels.fits(dtype, dout):
            # The naive rule below, (B1)-(B5) with dhnext = 0 and no (B6), over all T
            # steps in one call of fused.c's gru_backward (hs from row 0: each step's
            # previous state, as the full rule reads it).
            adr = kernels.address
            fused.fn("gru_backward", dtype)(
                T * B, H, adr(dout), None, None, adr(acts), adr(hn), adr(hs), adr(dgh), adr(dpre)
            )
            self._weight_grads(params, layer, dgh, hs, grads, xp)
            return dpre
        if fused is not None and window is not None and kernels.fits(dtype, dout):
            Wh = params[n_.recurrent]
            # The window's loop below, each step's arrival, (B2)-(B5) on the total and
            # on every part and (B6)'s dh z in one call of fused.c's gru_window.
            win = GradientWindow(window, T, (B, H), dtype, ws, xp)
            P = win.size
            pg = ws.get("gru-win-g", (P, B, G), dtype)  # (W+1, B, 3H)
            carry = ws.get("gru-win-carry", (P, B, H), dtype)  # (W+1, B, H): dh z
            fn, adr = fused.fn("gru_window", dtype), kernels.address
            do0, a0, hn0, h0_ = adr(dout), adr(acts), adr(hn), adr(hs)
            dg0, dp0, pg0, ca0 = adr(dgh), adr(dpre), adr(pg), adr(carry)
            bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
            for t in range(T - 1, -1, -1):
                fn(
                    P,
                    B,
                    H,
                    adr(win.parts),
                    t % P,
                    do0 + t * bh,
                    a0 + t * bg,
                    hn0 + t * bh,
                    h0_ + t * bh,
                    dg0 + t * bg,
                    dp0 + t * bg,
                    pg0,
                    ca0,
                )
                spare = win.spare
                xp.dot(pg.reshape(-1, G), Wh, out=spare.reshape(-1, H))  # (B6) ...
                spare += carry  # ... + dh z
                win.moved(spare)
            win.total(out=dh0)
            self._weight_grads(params, layer, dgh, hs, grads, xp)
            return dpre
        if fused is not None and window is None and kernels.fits(dtype, dout):
            Wh = params[n_.recurrent]
            # (B1)-(B5) and (B6)'s dh z of each step in one call of fused.c's
            # gru_backward (what _factors and _back_step do), then (B6)'s matmul.
            dhnext = ws.zeros("gru-dhnext", (B, H), dtype)  # (B, H): dgh Wh of the step after
            carry = ws.zeros("gru-carry", (B, H), dtype)  # (B, H): dh z of the step after
            fn, adr = fused.fn("gru_backward", dtype), kernels.address
            do0, dhn0, ca0 = adr(dout), adr(dhnext), adr(carry)
            a0, hn0, h0_, dg0, dp0 = adr(acts), adr(hn), adr(hs), adr(dgh), adr(dpre)
            bg, bh = B * G * dtype.itemsize, B * H * dtype.itemsize  # bytes per step
            seq = fused.seq(dtype) if kernels.fits(dtype, Wh) else None
            if seq is not None:  # the loop below in C, each np.dot through BLAS's gemm
                fn = fused.fn("gru_backward_seq", dtype)
                fn(*seq, T, B, H, do0, dhn0, ca0, a0, hn0, h0_, dg0, dp0, adr(Wh))
            else:
                for t in range(T - 1, -1, -1):
                    fn(
                        B,
                        H,
                        do0 + t * bh,
                        dhn0,
                        ca0,
                        a0 + t * bg,
                        hn0 + t * bh,
                        h0_ + t * bh,
                        dg0 + t * bg,
                        dp0 + t * bg,
                    )
                    np.dot(dgh[t], Wh, out=dhnext)  # (B6)
            xp.add(dhnext, carry, out=dh0)  # (B6) of the first step: d loss / d h0
            self._weight_grads(params, layer, dgh, hs, grads, xp)
            return dpre
        if bptt == "full" and window is None:
            Wh = params[n_.recurrent]
            # One step's factors, computed where that step's values are still in cache.
            fac = ws.get("gru-fac", (3, B, H), dtype)  # (3, B, H): fn, fr, fz
            tmp = ws.get("gru-tmp", (B, H), dtype)
            dhnext = dh0
            for t in range(T - 1, -1, -1):
                r_t, z_t = r[t], z[t]
                self._factors(xp, r_t, z_t, n[t], hn[t], hs[t], fac, tmp)
                dh = dout[t]
                dh += dhnext  # (B1)
                self._back_step(
                    xp,
                    dh,
                    fac,
                    r_t,
                    z_t,
                    dn[t],
                    dhn[t],
                    dr[t],
                    dz[t],
                    dgh[t],
                    Wh,
                    dhnext,
                    dhnext,
                    tmp,
                )
        else:
            # Every step's factors at once, for the rules below.
            fac = ws.get(f"gru-fac{layer}", (3, T, B, H), dtype)  # (3, T, B, H)
            self._factors(xp, r, z, n, hn, hs[:-1], fac, ws.get("gru-tmp", (T, B, H), dtype))
        if bptt == "full" and window is not None:
            Wh = params[n_.recurrent]
            win = GradientWindow(window, T, (B, H), dtype, ws, xp)
            P = win.size
            pn = ws.get("gru-win-n", (P, B, H), dtype)  # (W+1, B, H)
            pg = ws.get("gru-win-g", (P, B, G), dtype)  # (W+1, B, 3H)
            pg2, pr, pz, phn = pg.reshape(-1, G), pg[..., :H], pg[..., H : 2 * H], pg[..., 2 * H :]
            for t in range(T - 1, -1, -1):
                dh = win.arrive(t, dout[t])  # (B1): the losses that reach h_t
                fac_t, r_t, z_t = fac[:, t], r[t], z[t]
                self._back_step(
                    xp,
                    dh,
                    fac_t,
                    r_t,
                    z_t,
                    dn[t],
                    dhn[t],
                    dr[t],
                    dz[t],
                    None,
                    None,
                    None,
                    None,
                    None,
                )
                # Every part one hop back: the same step, on (W+1, B, .) at once.
                spare = win.spare
                self._back_step(
                    xp,
                    win.parts,
                    fac_t,
                    r_t,
                    z_t,
                    pn,
                    phn,
                    pr,
                    pz,
                    pg2,
                    Wh,
                    spare,
                    spare.reshape(-1, H),
                    pn,
                )
                win.moved(spare)
            win.total(out=dh0)
        elif bptt == "naive":
            # The tutorial's section 4: (B1) with dhnext = 0 and no (B6), every step at once.
            self._back_step(xp, dout, fac, r, z, dn, dhn, dr, dz, None, None, None, None, None)
        dpre[..., : 2 * H] = dgh[..., : 2 * H]  # d pre_rz = d (Wh_rz h)
        self._weight_grads(params, layer, dgh, hs, grads, xp)
        return dpre

    def _weight_grads(
        self, params: Params, layer: int, dgh: Any, hs: Any, grads: Grads, xp: Any
    ) -> None:
        # (B7): dWh (3H, H) and dbhn (H,), all steps at once.
        T, B, G = dgh.shape
        H = G // 3
        flat = dgh.reshape(T * B, G)
        xp.matmul(flat.T, hs[:-1].reshape(T * B, H), out=grads[self.names(layer).recurrent])
        flat[:, 2 * H :].sum(axis=0, out=grads[self.candidate_bias(layer)])

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
        """One step for generation: ``pre`` (B, 3H) with bias (overwritten), ``h`` -> ``out``.

        ``record``, when given, receives ``{"reset": r, "update": z}`` (copies, (B, H)).
        """
        ws = ws if ws is not None else Workspace()
        B, H = h.shape
        dtype = h.dtype
        g = ws.get("step-gru-g", (B, 3 * H), dtype)
        xp.dot(h, params[self.names(layer).recurrent].T, out=g)
        bhn = params[self.candidate_bias(layer)]
        hn = ws.get("step-gru-hn", (B, H), dtype)
        fused = kernels.active(xp)
        ldh, ldo = kernels.row_stride(h), kernels.row_stride(out)
        ok = kernels.fits(dtype, pre, bhn) and out.dtype == dtype
        if fused is not None and ok and ldh is not None and ldo is not None:
            # (F1)-(F5) in one call of fused.c's gru_forward, on unscaled inputs.
            acts = ws.get("step-gru-acts", (B, 3 * H), dtype)  # (B, 3H): r, z, n
            adr = kernels.address
            fused.fn("gru_forward", dtype)(
                B, H, adr(pre), adr(g), adr(bhn), adr(h), ldh, adr(acts), adr(hn), adr(out), ldo
            )
            rz = acts[:, : 2 * H]
        else:
            g[:, : 2 * H] *= -1
            pre[:, : 2 * H] *= -1
            rz = ws.get("step-gru-rz", (B, 2 * H), dtype)
            n = ws.get("step-gru-n", (B, H), dtype)
            with np.errstate(over="ignore", under="ignore"):
                self._recur(xp, pre, g, bhn, rz, hn, n, h, out)
        if record is not None:
            record.append({"reset": rz[:, :H].copy(), "update": rz[:, H:].copy()})

    def reference_step(self, params: Params, layer: int, x: Any, state: Any) -> tuple[Any, Any]:
        """One step gate by gate, each gate's block cut out on its own (see :class:`~.base.Cell`).

        Cutting the blocks apart checks the engine's stacking too.
        """
        n_ = self.names(layer)
        Wx, Wh, b = params[n_.input], params[n_.recurrent], params[n_.bias]
        bhn = params[self.candidate_bias(layer)]
        H = Wh.shape[1]
        Wxr, Wxz, Wxn = Wx[:H], Wx[H : 2 * H], Wx[2 * H :]
        Whr, Whz, Whn = Wh[:H], Wh[H : 2 * H], Wh[2 * H :]
        br, bz, bn = b[:H], b[H : 2 * H], b[2 * H :]
        h_prev = state
        r = _sigmoid(np.dot(Wxr, x) + br + np.dot(Whr, h_prev))  # (F1)
        z = _sigmoid(np.dot(Wxz, x) + bz + np.dot(Whz, h_prev))  # (F2)
        hn = np.dot(Whn, h_prev) + bhn  # (F3)
        n = np.tanh(np.dot(Wxn, x) + bn + r * hn)  # (F4)
        h = (1 - z) * n + z * h_prev  # (F5)

        def back(dh: Any) -> tuple[Any, Grads]:
            dnraw = dh * (1 - z) * (1 - n**2)  # (B2)
            dhn = dnraw * r  # (B3)
            drraw = dnraw * hn * r * (1 - r)  # (B4)
            dzraw = dh * (h_prev - n) * z * (1 - z)  # (B5)
            draw = np.concatenate([drraw, dzraw, dnraw])  # d of the input projection, (3H, 1)
            dgh = np.concatenate([drraw, dzraw, dhn])  # d of the recurrent projection
            grads = {
                n_.input: np.dot(draw, x.T),
                n_.bias: draw,
                n_.recurrent: np.dot(dgh, h_prev.T),  # (B7)
                self.candidate_bias(layer): dhn,
            }
            return np.dot(Wh.T, dgh) + dh * z, grads  # (B6)

        return h, back


GRU = GRUCell()
