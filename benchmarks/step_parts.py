"""Where one training step's time goes, part by part, beside what its matmuls alone take.

:func:`step_parts` times a trainer's real step, then the parts it is made of on
the trainer's own arrays: the recurrence (the cell's forward and backward, the
kernels the config selects), the output head, the input gather, the input
weight's gradient, clipping and the optimiser, each with the library's own
functions where one exists and otherwise the model's few lines for it (the
gather, the head's matmuls). Softmax and loss is what the model's forward and
backward spend outside the parts above; "the rest" is what the step spends
outside its forward, backward, clipping and optimiser (the batch, the
carried state, the trainer's Python).

Each part also gets the time of its matmuls alone, timed on arrays of the same
shapes: the recurrence's T (B,H)x(H,gH) forward and T (B,gH)x(gH,H) backward
products (each the faster of the two ways round: on (B, .) rows, or transposed
states) plus dWh, the head's logits, dWhy and dh. Their sum is the
FLOP-limited bound of the step (``bench_train.py``'s "bound"), so the table
says what fraction of it the step reaches and which part's time above its own
matmuls holds it back most.

One layer, text mode: the shapes ``bench_train.py`` measures.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charrnn.core import kernels
from charrnn.core.cells import get_cell
from charrnn.core.model import backward, forward, zero_state
from charrnn.core.optim import clip_norm

REPEATS = 7  # medians of this many timings, each of enough calls to take ~40 ms


@dataclass(frozen=True)
class Part:
    """One part of a step: seconds per step, and seconds of its matmuls alone."""

    name: str
    seconds: float
    matmuls: float = 0.0

    @property
    def above(self) -> float:
        """Time spent beyond the part's matmuls: what a perfect fusion could win."""
        return max(0.0, self.seconds - self.matmuls)


def _median_time(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()
    t0 = time.perf_counter()
    fn()
    n = max(1, round(0.04 / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def step_parts(trainer, repeats: int = REPEATS) -> list[Part]:
    """The parts of ``trainer``'s step (one layer, text mode), slowest first, then "step".

    The trainer takes steps while it is measured: use one made for this.
    """
    cfg = trainer.config
    if cfg.layers != 1 or cfg.mode != "text":
        raise ValueError("step_parts measures one layer in text mode")
    with kernels.using(cfg.kernels):
        return _parts(trainer, repeats)


def _parts(trainer, repeats: int) -> list[Part]:
    cfg, be, xp, ws = trainer.config, trainer.backend, trainer.backend.xp, trainer.ws
    params, grads, cell = trainer.params, trainer.grads, get_cell(cfg.cell)
    step = _median_time(trainer.train_step, repeats)

    batch = trainer._next_batch()[0]
    inputs, targets = be.asarray(batch.inputs), be.asarray(batch.targets)
    T, B = inputs.shape
    h0 = zero_state(params, B, backend=be, ws=ws, cell=cfg.cell)
    n = cell.names(0)
    W, b, Why = params[n.input], params[n.bias], params["Why"]
    G, V, H = W.shape[0], W.shape[1], Why.shape[1]
    scale = 1.0 / (T * B)

    def fwd():
        return forward(params, inputs, targets, h0, backend=be, ws=ws, cell=cfg.cell)

    def fwd_bwd():
        _, cache = fwd()
        backward(params, cache, scale=scale, out=grads, backend=be, ws=ws, cell=cfg.cell)

    t_fwd, t_fwd_bwd = _median_time(fwd, repeats), _median_time(fwd_bwd, repeats)

    # The recurrence alone: its input terms and output gradients are restored
    # before each call (the cell writes into both), and the copies taken off.
    _, cache = fwd()
    pre0 = ws.get("pre", (T, B, G), W.dtype).copy()
    pre = np.empty_like(pre0)
    dout0 = np.asarray(cache.outs[0]).copy() * 0.01
    dout = np.empty_like(dout0)
    dh0 = ws.zeros("dh0", (1, *cell.state_shape(B, H)), W.dtype)

    def copies():
        pre[...] = pre0
        dout[...] = dout0

    def rec_fwd():
        copies()
        return cell.forward(params, 0, pre, h0[0], ws, xp)

    def rec_fwd_bwd():
        lcache = rec_fwd()[2]
        cell.backward(params, 0, lcache, dout, dh0[0], grads, cfg.bptt, ws, xp, cfg.bptt_window)

    t_copy = _median_time(copies, repeats)
    t_rec_fwd = _median_time(rec_fwd, repeats) - t_copy
    t_rec_bwd = _median_time(rec_fwd_bwd, repeats) - t_copy - t_rec_fwd

    # The model's own lines for the gather and the head (charrnn.core.model).
    table = np.empty((V, G), W.dtype)
    top = np.asarray(cache.outs[0]).reshape(T * B, H).copy()
    logits = np.empty((T * B, V), W.dtype)
    dy = np.asarray(cache.probs).copy() * 0.01
    dflat = np.empty((T * B, G), W.dtype)
    dflat[...] = 0.01
    dWhy, dby, dx = np.empty_like(Why), np.empty(V, W.dtype), np.empty((T * B, H), W.dtype)
    dW, db, flat_ids = np.empty_like(W), np.empty_like(b), inputs.reshape(-1)

    def gather():
        xp.add(W.T, b, out=table)
        xp.take(table, inputs, axis=0, out=pre, mode="clip")

    def head_fwd():
        xp.dot(top, Why.T, out=logits)
        xp.add(logits, params["by"], out=logits)

    def head_bwd():
        xp.matmul(dy.T, top, out=dWhy)
        dy.sum(axis=0, out=dby)
        xp.dot(dy, Why, out=dx)

    def input_grads():
        be.onehot_grad(flat_ids, dflat, dW, ws, bias=db)

    t_gather, t_head_fwd = _median_time(gather, repeats), _median_time(head_fwd, repeats)
    t_head_bwd, t_input = _median_time(head_bwd, repeats), _median_time(input_grads, repeats)

    # Clipping and the optimiser, as the trainer calls them on its flat buffers.
    flat_grads, flat_params = trainer._flat_grads, trainer._flat_params

    def clip():
        g = trainer.flat_grad
        clip_norm(flat_grads, cfg.clip, norm=math.sqrt(float(np.vdot(g, g))))

    def optimise():
        trainer.optimizer.step(flat_params, flat_grads)
        float(np.vdot(trainer.flat, trainer.flat))  # the trainer's finiteness check

    fwd_bwd()  # gradients of the size a step clips
    t_clip = _median_time(clip, repeats)
    t_opt = _median_time(optimise, repeats)

    m = _matmul_times(T, B, H, G, V, W.dtype, repeats)
    t_bwd = t_fwd_bwd - t_fwd
    softmax = (t_fwd - t_gather - t_rec_fwd - t_head_fwd) + (
        t_bwd - t_rec_bwd - t_head_bwd - t_input
    )
    parts = [
        Part("recurrence forward", t_rec_fwd, m["rec_fwd"]),
        Part("recurrence backward, dWh", t_rec_bwd, m["rec_bwd"]),
        Part("output head (3 matmuls)", t_head_fwd + t_head_bwd, m["head"]),
        Part("softmax and loss", max(0.0, softmax)),
        Part("input gather", t_gather),
        Part("input weight gradients", t_input),
        Part("clipping", t_clip),
        Part("optimiser", t_opt),
    ]
    rest = step - t_fwd_bwd - t_clip - t_opt
    parts.sort(key=lambda p: -p.above)
    parts.append(Part("the rest (batch, state, Python)", max(0.0, rest)))
    parts.append(Part("step", step, sum(p.matmuls for p in parts)))
    return parts


def _matmul_times(T: int, B: int, H: int, G: int, V: int, dtype, repeats: int) -> dict:
    """Seconds per step of each part's matmuls alone, on arrays of their shapes."""
    rng = np.random.default_rng(0)

    def a(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(dtype)

    hs, WhT, Wh = a(T + 1, B, H), a(H, G), a(G, H)
    out_g, out_h, dpre = np.empty((B, G), dtype), np.empty((B, H), dtype), a(T, B, G)
    dWh, top, Why, dy = np.empty((G, H), dtype), a(T * B, H), a(V, H), a(T * B, V)
    logits, dWhy, dx = np.empty((T * B, V), dtype), np.empty((V, H), dtype), np.empty_like(top)

    # Each recurrent product both ways round: h Wh^T on (B, H) rows, or Wh h^T on
    # transposed states, which numpy's BLAS may run faster; the bound is the faster.
    hsT, dpreT = np.ascontiguousarray(hs.transpose(0, 2, 1)), a(T, G, B)
    out_gT, out_hT = np.empty((G, B), dtype), np.empty((H, B), dtype)

    def rec_fwd():
        for t in range(T):
            np.dot(hs[t], WhT, out=out_g)

    def rec_fwd_cols():
        for t in range(T):
            np.dot(Wh, hsT[t], out=out_gT)

    def rec_bwd():
        for t in range(T - 1, -1, -1):
            np.dot(dpre[t], Wh, out=out_h)

    def rec_bwd_cols():
        for t in range(T - 1, -1, -1):
            np.dot(WhT, dpreT[t], out=out_hT)

    def dWh_all():
        np.matmul(dpre.reshape(T * B, G).T, hs[:-1].reshape(T * B, H), out=dWh)

    def head():
        np.dot(top, Why.T, out=logits)
        np.matmul(dy.T, top, out=dWhy)
        np.dot(dy, Why, out=dx)

    fastest = lambda *fns: min(_median_time(f, repeats) for f in fns)  # noqa: E731
    return {
        "rec_fwd": fastest(rec_fwd, rec_fwd_cols),
        "rec_bwd": fastest(rec_bwd, rec_bwd_cols) + _median_time(dWh_all, repeats),
        "head": _median_time(head, repeats),
    }


def table(parts: list[Part], chars_per_step: int) -> list[str]:
    """The breakdown as lines: ms per step, matmuls alone, time above them, share of the step."""
    step = parts[-1]
    lines = [f"{'part':<34}{'ms/step':>9}{'matmuls':>9}{'above':>8}{'of step':>9}"]
    for p in parts[:-1]:
        lines.append(
            f"{p.name:<34}{1e3 * p.seconds:9.2f}{1e3 * p.matmuls:9.2f}"
            f"{1e3 * p.above:8.2f}{100 * p.seconds / step.seconds:8.0f}%"
        )
    measured = sum(p.seconds for p in parts[:-1])
    lines.append(
        f"{'step':<34}{1e3 * step.seconds:9.2f}{1e3 * step.matmuls:9.2f}"
        f"{1e3 * (step.seconds - step.matmuls):8.2f}"
        f"  ({chars_per_step / step.seconds:,.0f} chars/s; parts sum to "
        f"{100 * measured / step.seconds:.0f}% of it)"
    )
    worst = parts[0]
    lines.append(
        f"its matmuls are {100 * step.matmuls / step.seconds:.0f}% of the step (the bound); "
        f"most time above its matmuls: {worst.name} ({1e3 * worst.above:.2f} ms)"
    )
    return lines


def main() -> None:
    """``python benchmarks/step_parts.py --cell lstm [--shape 256,32,64] [--kernels numpy]``:
    the breakdown of one configuration alone, on tinyshakespeare (or the fallback text)."""
    import argparse

    from charrnn.training.run import TrainingRun
    from common import blas_report, out, shakespeare_or_fallback

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--cell", default="rnn")
    ap.add_argument("--shape", default="256,32,64", help="H,B,T in text mode")
    ap.add_argument("--kernels", default="auto", choices=kernels.KERNELS)
    args = ap.parse_args()
    from bench_train import text_config  # the configuration bench_train times

    H, B, T = map(int, args.shape.split(","))
    text, _ = shakespeare_or_fallback()
    trainer = TrainingRun(text_config(H, B, T, args.cell, args.kernels), [text]).trainer
    for _ in range(5):  # warm: the workspace's buffers made, the library loaded
        trainer.train_step()
    out(blas_report())
    with kernels.using(args.kernels):
        out(kernels.describe())
    for line in table(step_parts(trainer), B * T):
        out(line)


if __name__ == "__main__":
    main()
