"""The gated cells: GRU and LSTM, in PyTorch's conventions, with hand-derived backward.

Each is a cell of :mod:`charrnn.model`'s seam: it owns its recurrence, and the
shared code brings the input projection ``pre_t = Wx x_t + b`` of all its gates
at once (a row gather for the one-hot first layer), dropout, the head and the
loss. The input, recurrent and bias blocks of all gates are stacked in one
matrix each, so a step is one (B, H) x (H, gH) matmul; the gate order is in the
name (``Wxrzn``: the GRU's reset, update and candidate blocks, ``Wxifgo``: the
LSTM's input, forget, cell and output blocks). Layer 1 has these names, deeper
layers add their number (``Wxrzn2``), as the tanh cell does.

GRU (``torch.nn.GRU``), with ``pre = Wx x + b`` split into blocks r, z, n::

    r  = sigmoid(pre_r + Wh_r h)
    z  = sigmoid(pre_z + Wh_z h)
    hn = Wh_n h + bhn                  the candidate's recurrent part, kept for backward
    n  = tanh(pre_n + r * hn)
    h' = (1 - z) * n + z * h

LSTM (``torch.nn.LSTM``), state (h, c), ``a = pre + Wh h`` split into i, f, g, o::

    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
    c' = f * c + i * g
    h' = o * tanh(c')

A layer's state is one (B, S) array: S = H for the GRU, and S = 2H for the
LSTM, whose state is ``[h | c]``, so every layer's state still stacks into an
(L, B, S) array that carries across text chunks like the tanh cell's.

Speed: numpy's ``exp`` is cheaper than its ``tanh``, so every gate comes from
one ``exp`` over all its columns: ``sigmoid(x) = 1 / (1 + e^-x)`` and
``tanh(x) = 2 / (1 + e^-2x) - 1``. Scaling the columns of ``pre`` (once for all
steps) and of the transposed recurrent matrix (once per call) by -1 (sigmoid
gates) or -2 (the LSTM's g) makes each step's pre-activations arrive as the
exponent, exactly (the scales are powers of two). Where ``e^-x`` overflows to
inf the gate takes its limit, 0 (or -1), which is right, so the overflow warning
is silenced. The backward computes each step's derivative factors inside the
step's loop, where that step's activations are still in cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import (
    GradientWindow,
    Grads,
    HiddenStateCell,
    LayerNames,
    Params,
    ParamSpec,
    Workspace,
)


def _suffix(layer: int) -> str:
    return "" if layer == 0 else str(layer + 1)


class GRUCell(HiddenStateCell):
    """PyTorch's GRU: reset gate r, update gate z, candidate n; state (B, H).

    Parameters per layer: ``Wxrzn (3H, n_in)``, ``Whrzn (3H, H)``, ``brzn (3H,)``
    (the input bias of every gate, plus the recurrent bias of r and z, which
    only ever appear summed) and ``bhn (H,)``, the candidate's recurrent bias,
    which sits inside ``r * (Wh_n h + bhn)`` and so is a parameter of its own.
    """

    name = "gru"
    gates = 3
    gate_names = ("reset", "update")  # what trace shows

    def names(self, layer: int) -> LayerNames:
        """``Wxrzn, Whrzn, brzn`` for layer 1, numbered from 2 after."""
        s = _suffix(layer)
        return LayerNames(f"Wxrzn{s}", f"Whrzn{s}", f"brzn{s}")

    def candidate_bias(self, layer: int) -> str:
        """The name of ``bhn``, the candidate's recurrent bias."""
        return f"bhn{_suffix(layer)}"

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
        xp.reciprocal(rz, out=rz)  # [r | z] = 1 / (1 + e^-x)
        xp.add(g[:, 2 * H :], bhn, out=hn)  # hn = Wh_n h + bhn
        xp.multiply(rz[:, :H], hn, out=n)
        n += pre_t[:, 2 * H :]
        xp.tanh(n, out=n)  # n = tanh(pre_n + r * hn)
        xp.subtract(h, n, out=out)
        out *= rz[:, H:]
        out += n  # h' = n + z * (h - n) = (1 - z) * n + z * h

    def _scale(self, ws: Workspace, H: int, dtype: Any) -> Any:
        # -1 on the sigmoid gates' columns (r, z), 1 on the candidate's.
        v = ws.get("gru-scale", (3 * H,), dtype)
        v[: 2 * H] = -1.0
        v[2 * H :] = 1.0
        return v

    def forward(
        self, params: Params, layer: int, pre: Any, h0: Any, ws: Workspace, xp: Any
    ) -> tuple[Any, Any, Any]:
        """Run the recurrence over all T steps.

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
        scale = self._scale(ws, H, dtype)
        pre *= scale
        WhT = ws.get(f"WhT{layer}", (H, G), dtype)  # (H, 3H), contiguous for BLAS
        xp.multiply(Wh.T, scale, out=WhT)
        g = ws.get("gru-g", (B, G), dtype)  # (B, 3H) recurrent projection of a step
        rz, n = acts[..., : 2 * H], acts[..., 2 * H :]
        with np.errstate(over="ignore", under="ignore"):  # e^-x = inf or 0: the limits
            for t in range(T):
                xp.dot(hs[t], WhT, out=g)
                self._recur(xp, pre[t], g, bhn, rz[t], hn[t], n[t], hs[t], hs[t + 1])
        return hs[1:], hs[T], (hs, acts, hn)

    @staticmethod
    def _factors(xp: Any, r: Any, z: Any, n: Any, hn: Any, h: Any, fac: Any, tmp: Any) -> None:
        # What multiplies dh or dn_raw into each raw gradient, for one step or all:
        # fac = [(1 - z)(1 - n^2), hn r (1 - r), (h - n) z (1 - z)].
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

        With ``naive`` nothing flows to the previous step (``dhnext = 0``):
        each step's gradient is its own loss's alone, as in the tutorial's section 4.
        With ``window`` (full BPTT only) each loss's gradient goes at most that
        many steps back (:class:`~charrnn.model.GradientWindow`): every part in
        the window takes the ``dhnext`` hop below on its own.

        The gradient equations, from ``h' = n + z * (h - n)`` backwards (``dh``
        is d loss / d h' of one step, ``dhnext`` what step t+1 sends back)::

            dh     = dout_t + dhnext
            dn_raw = dh * (1 - z) * (1 - n^2)       d pre_n
            dhn    = dn_raw * r                     d (Wh_n h + bhn)
            dr_raw = dn_raw * hn * r (1 - r)        d pre_r = d (Wh_r h)
            dz_raw = dh * (h - n) * z (1 - z)       d pre_z = d (Wh_z h)
            dhnext = [dr_raw | dz_raw | dhn] Wh + dh * z
            dWh   += [dr_raw | dz_raw | dhn]^T h ;  dbhn += dhn
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
        if bptt == "full" and window is None:
            Wh = params[n_.recurrent]
            # One step's factors, computed where that step's values are still in cache.
            fac = ws.get("gru-fac", (3, B, H), dtype)  # (3, B, H): fn, fr, fz
            tmp = ws.get("gru-tmp", (B, H), dtype)
            dhnext = dh0
            for t in range(T - 1, -1, -1):
                self._factors(xp, r[t], z[t], n[t], hn[t], hs[t], fac, tmp)
                fn, fr, fz = fac
                dh = dout[t]
                dh += dhnext  # dh = dout_t + dhnext
                xp.multiply(dh, fn, out=dn[t])  # dn_raw = dh (1 - z)(1 - n^2)
                xp.multiply(dn[t], r[t], out=dhn[t])  # dhn = dn_raw r
                xp.multiply(dn[t], fr, out=dr[t])  # dr_raw = dn_raw hn r (1 - r)
                xp.multiply(dh, fz, out=dz[t])  # dz_raw = dh (h - n) z (1 - z)
                xp.dot(dgh[t], Wh, out=dhnext)  # dhnext = dgh Wh
                xp.multiply(dh, z[t], out=tmp)
                dhnext += tmp  # ... + dh z
        else:
            # Every step's factors at once, for the rules below.
            fac = ws.get(f"gru-fac{layer}", (3, T, B, H), dtype)  # (3, T, B, H)
            self._factors(xp, r, z, n, hn, hs[:-1], fac, ws.get("gru-tmp", (T, B, H), dtype))
            fn, fr, fz = fac
        if bptt == "full" and window is not None:
            Wh = params[n_.recurrent]
            win = GradientWindow(window, T, (B, H), dtype, ws, xp)
            P = win.size
            pn = ws.get("gru-win-n", (P, B, H), dtype)  # (W+1, B, H)
            pg = ws.get("gru-win-g", (P, B, G), dtype)  # (W+1, B, 3H)
            for t in range(T - 1, -1, -1):
                dh = win.arrive(t, dout[t])  # the losses that reach h_t
                xp.multiply(dh, fn[t], out=dn[t])
                xp.multiply(dn[t], r[t], out=dhn[t])
                xp.multiply(dn[t], fr[t], out=dr[t])
                xp.multiply(dh, fz[t], out=dz[t])
                # Every part one hop back: the same equations, on (W+1, B, .) at once.
                parts = win.parts
                xp.multiply(parts, fn[t], out=pn)  # dn_raw
                xp.multiply(pn, r[t], out=pg[..., 2 * H :])  # dhn
                xp.multiply(pn, fr[t], out=pg[..., :H])  # dr_raw
                xp.multiply(parts, fz[t], out=pg[..., H : 2 * H])  # dz_raw
                xp.dot(pg.reshape(-1, G), Wh, out=win.spare.reshape(-1, H))
                xp.multiply(parts, z[t], out=pn)
                win.spare += pn  # ... + part z
                win.moved(win.spare)
            win.total(out=dh0)
        elif bptt == "naive":
            dh = dout  # the tutorial's section 4: no dhnext, every step at once
            xp.multiply(dh, fn, out=dn)
            xp.multiply(dn, r, out=dhn)
            xp.multiply(dn, fr, out=dr)
            xp.multiply(dh, fz, out=dz)
        dpre[..., : 2 * H] = dgh[..., : 2 * H]  # d pre_rz = d (Wh_rz h)
        flat = dgh.reshape(T * B, G)
        xp.matmul(flat.T, hs[:-1].reshape(T * B, H), out=grads[n_.recurrent])  # dWh (3H, H)
        flat[:, 2 * H :].sum(axis=0, out=grads[self.candidate_bias(layer)])  # dbhn (H,)
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
        """One step for generation: ``pre`` (B, 3H) with bias (overwritten), ``h`` -> ``out``.

        ``record``, when given, receives ``{"reset": r, "update": z}`` (copies, (B, H)).
        """
        ws = ws if ws is not None else Workspace()
        B, H = h.shape
        dtype = h.dtype
        g = ws.get("step-gru-g", (B, 3 * H), dtype)
        xp.dot(h, params[self.names(layer).recurrent].T, out=g)
        g[:, : 2 * H] *= -1
        pre[:, : 2 * H] *= -1
        rz = ws.get("step-gru-rz", (B, 2 * H), dtype)
        hn = ws.get("step-gru-hn", (B, H), dtype)
        n = ws.get("step-gru-n", (B, H), dtype)
        with np.errstate(over="ignore", under="ignore"):
            self._recur(xp, pre, g, params[self.candidate_bias(layer)], rz, hn, n, h, out)
        if record is not None:
            record.append({"reset": rz[:, :H].copy(), "update": rz[:, H:].copy()})


class LSTMCell:
    """PyTorch's LSTM: input, forget, cell and output blocks (i, f, g, o); state [h | c].

    Parameters per layer: ``Wxifgo (4H, n_in)``, ``Whifgo (4H, H)``, ``bifgo (4H,)``.

    Parameters
    ----------
    forget_bias : float
        Not used by the computation; see :meth:`init_biases`.
    """

    name = "lstm"
    gates = 4
    gate_names = ("forget", "input", "output")  # what trace shows

    def names(self, layer: int) -> LayerNames:
        """``Wxifgo, Whifgo, bifgo`` for layer 1, numbered from 2 after."""
        s = _suffix(layer)
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

    def init_biases(self, params: Params, layers: int, forget_bias: float) -> None:
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
        # act = [i | f | g | o]: 1 / (1 + e^-x) on i, f, o; 2 / (1 + e^-2x) - 1 = tanh on g
        xp.multiply(act[:, H : 2 * H], c, out=c_out)
        xp.multiply(act[:, :H], act[:, 2 * H : 3 * H], out=ig)
        c_out += ig  # c' = f c + i g
        xp.tanh(c_out, out=tc)
        xp.multiply(act[:, 3 * H :], tc, out=h_out)  # h' = o tanh(c')

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
        """Run the recurrence over all T steps.

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
        final = ws.get(f"lstm-final{layer}", (B, 2 * H), dtype)  # (B, 2H)
        final[:, :H], final[:, H:] = hs[T], cs[T]
        return hs[1:], final, (hs, cs, acts, tcs)

    @staticmethod
    def _factors(xp: Any, act: Any, c: Any, tc: Any, fac: Any, fc: Any) -> None:
        # What multiplies dc or dh into each gate's raw gradient, for one step or all:
        # fac = [g i(1-i) | c f(1-f) | i (1-g^2) | tanh(c') o(1-o)], fc = o (1 - tanh(c')^2).
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
        many steps back (:class:`~charrnn.model.GradientWindow`): the state is
        ``[h | c]``, so each part is a ``[dh | dc]`` pair, a loss enters as
        ``[dout_t | 0]`` and every part takes the ``(dhnext, dcnext)`` hop below.

        The gradient equations, from ``h' = o tanh(c')`` backwards (``dh``,
        ``dc`` are d loss / d h', d c' of one step)::

            dh     = dout_t + dhnext
            dc     = dcnext + dh * o * (1 - tanh(c')^2)
            da_i   = dc * g * i (1 - i)
            da_f   = dc * c * f (1 - f)
            da_g   = dc * i * (1 - g^2)
            da_o   = dh * tanh(c') * o (1 - o)
            dcnext = dc * f
            dhnext = [da_i | da_f | da_g | da_o] Wh
            dWh   += [da_i | da_f | da_g | da_o]^T h
        """
        hs, cs, acts, tcs = cache
        T, B, H = dout.shape
        G = 4 * H
        n_ = self.names(layer)
        dtype = hs.dtype
        f = acts[..., H : 2 * H]
        dpre = ws.get(f"lstm-dpre{layer}", (T, B, G), dtype)  # (T, B, 4H)
        dpre4 = dpre.reshape(T, B, 4, H)  # the gate blocks as an axis, for one call on i, f, g
        if bptt == "full" and window is None:
            Wh = params[n_.recurrent]
            # One step's factors, computed where that step's values are still in cache.
            fac = ws.get("lstm-fac", (B, G), dtype)  # (B, 4H)
            fac3 = fac.reshape(B, 4, H)[:, :3]
            fc = ws.get("lstm-fc", (B, H), dtype)  # (B, H)
            # np.dot writes only into C-contiguous arrays: carry in buffers of their own.
            dhnext = ws.zeros("lstm-dhnext", (B, H), dtype)
            dcnext = ws.zeros("lstm-dcnext", (B, H), dtype)
            dc = ws.get("lstm-dc", (B, H), dtype)
            for t in range(T - 1, -1, -1):
                self._factors(xp, acts[t], cs[t], tcs[t], fac, fc)
                dh = dout[t]
                dh += dhnext  # dh = dout_t + dhnext
                xp.multiply(dh, fc, out=dc)
                dc += dcnext  # dc = dcnext + dh o (1 - tanh(c')^2)
                xp.multiply(dc[:, None], fac3, out=dpre4[t, :, :3])  # da_i, da_f, da_g
                xp.multiply(dh, fac[:, 3 * H :], out=dpre4[t, :, 3])  # da_o
                xp.multiply(dc, f[t], out=dcnext)  # dcnext = dc f
                xp.dot(dpre[t], Wh, out=dhnext)  # dhnext = da Wh
            dh0[:, :H], dh0[:, H:] = dhnext, dcnext
        else:
            # Every step's factors at once, for the rules below.
            fac = ws.get(f"lstm-fac{layer}", (T, B, G), dtype)  # (T, B, 4H)
            fac3 = fac.reshape(T, B, 4, H)[:, :, :3]
            fc = ws.get(f"lstm-fc{layer}", (T, B, H), dtype)  # (T, B, H)
            self._factors(xp, acts, cs[:-1], tcs, fac, fc)
        if bptt == "full" and window is not None:
            Wh = params[n_.recurrent]
            win = GradientWindow(window, T, (B, 2 * H), dtype, ws, xp)
            P = win.size
            enter = ws.get("lstm-win-enter", (B, 2 * H), dtype)  # (B, 2H)
            pa = ws.get("lstm-win-a", (P, B, G), dtype)  # (W+1, B, 4H)
            pa4 = pa.reshape(P, B, 4, H)
            ph = ws.get("lstm-win-h", (P, B, H), dtype)  # (W+1, B, H)
            for t in range(T - 1, -1, -1):
                enter[:, :H], enter[:, H:] = dout[t], 0  # the loss at t reaches h_t only
                d = win.arrive(t, enter)  # [dh | dcnext] from the losses that reach step t
                dh, dc = d[:, :H], d[:, H:]
                dc += dh * fc[t]  # dc = dcnext + dh o (1 - tanh(c')^2)
                xp.multiply(dc[:, None], fac3[t], out=dpre4[t, :, :3])  # da_i, da_f, da_g
                xp.multiply(dh, fac[t, :, 3 * H :], out=dpre4[t, :, 3])  # da_o
                # Every part one hop back: the same equations, on (W+1, B, .) at once.
                parts = win.parts
                pdh, pdc = parts[..., :H], parts[..., H:]
                xp.multiply(pdh, fc[t], out=ph)
                pdc += ph  # each part's dc
                xp.multiply(pdc[..., None, :], fac3[t], out=pa4[..., :3, :])
                xp.multiply(pdh, fac[t, :, 3 * H :], out=pa4[..., 3, :])
                xp.dot(pa.reshape(-1, G), Wh, out=ph.reshape(-1, H))  # dhnext = da Wh
                xp.multiply(pdc, f[t], out=win.spare[..., H:])  # dcnext = dc f
                win.spare[..., :H] = ph
                win.moved(win.spare)
            win.total(out=dh0)
        elif bptt == "naive":
            dh = dout  # the tutorial's section 4: no dhnext or dcnext, every step at once
            dc = ws.get("lstm-dcs", (T, B, H), dtype)
            xp.multiply(dh, fc, out=dc)
            xp.multiply(dc[..., None, :], fac3, out=dpre4[..., :3, :])
            xp.multiply(dh, fac[..., 3 * H :], out=dpre4[..., 3, :])
        flat = dpre.reshape(T * B, G)
        xp.matmul(flat.T, hs[:-1].reshape(T * B, H), out=grads[n_.recurrent])  # dWh (4H, H)
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
        scale, num = self._exp_scales(ws, H, dtype)
        a = ws.get("step-lstm-a", (B, 4 * H), dtype)
        xp.dot(h[:, :H], params[self.names(layer).recurrent].T, out=a)
        a *= scale
        pre *= scale
        act = ws.get("step-lstm-act", (B, 4 * H), dtype)
        tc = ws.get("step-lstm-tc", (B, H), dtype)
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


GRU = GRUCell()
LSTM = LSTMCell()
