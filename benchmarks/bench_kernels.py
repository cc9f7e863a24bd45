"""One cell's recurrence, numpy cells against the compiled kernels, beside its matmuls alone.

Times ``cell.forward`` and ``cell.forward`` + ``cell.backward`` (full BPTT) of
one layer at one shape, under each choice of kernels, in interleaved rounds
(the best of each), and the T recurrence matmuls alone: what is left above
that line is the element-wise work the kernels fuse. Beside them, the compiled
forward step kernels alone, T calls on arrays in cache with no matmul between
(the LSTM's on rows): what the element-wise work costs one core, to read against
what it adds to the loop over time, where it runs between products on every BLAS
thread (``--threads 1``: on one). A probe of the recurrence alone; whole
training steps are ``bench_train.py``'s.

    python -m charrnn.core.kernels.build            # the compiled kernels (make test does it)
    python benchmarks/bench_kernels.py              # (H, B, T) = (256, 32, 64), every cell
    python benchmarks/bench_kernels.py --shape 512,64,128 --cells lstm
    python benchmarks/bench_kernels.py --threads 1  # BLAS on one thread, as an MPI rank
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

from charrnn.core import kernels
from charrnn.core.cells import get_cell
from charrnn.core.model import init_params
from charrnn.core.workspace import Workspace
from common import blas_report


def timings(cell_name: str, H: int, B: int, T: int, kind: str, number: int) -> tuple[float, float]:
    """Best-of-5 seconds of one forward, and of one forward + backward, under ``kind``."""
    cell = get_cell(cell_name)
    p = init_params(65, H, np.random.default_rng(0), cell=cell_name, init="scaled")
    grads = {k: np.empty_like(v) for k, v in p.items()}
    rng = np.random.default_rng(1)
    pre0 = rng.standard_normal((T, B, cell.gates * H)).astype(np.float32)
    dout0 = (rng.standard_normal((T, B, H)) * 0.01).astype(np.float32)
    h0 = np.zeros(cell.state_shape(B, H), np.float32)
    ws, pre, dout, dh0 = Workspace(), np.empty_like(pre0), np.empty_like(dout0), np.zeros_like(h0)

    def fwd() -> object:
        pre[...] = pre0
        return cell.forward(p, 0, pre, h0, ws, np)[2]

    def fwd_bwd() -> None:
        cache = fwd()
        dout[...], dh0[...] = dout0, 0
        cell.backward(p, 0, cache, dout, dh0, grads, "full", ws, np)

    with kernels.using(kind):
        fwd_bwd()  # warm the workspace
        f = min(timeit.repeat(fwd, number=number, repeat=5)) / number
        fb = min(timeit.repeat(fwd_bwd, number=number, repeat=5)) / number
    return f, fb


def matmuls(cell_name: str, H: int, B: int, T: int, number: int) -> float:
    """Seconds of the forward's T recurrence matmuls alone, (B, H) x (H, gates H)."""
    G = get_cell(cell_name).gates * H
    h, W, a = (
        np.zeros((B, H), np.float32),
        np.ones((H, G), np.float32),
        np.empty((B, G), np.float32),
    )

    def run() -> None:
        for _ in range(T):
            np.dot(h, W, out=a)

    return min(timeit.repeat(run, number=number, repeat=5)) / number


def step_kernels(cell_name: str, H: int, B: int, T: int, number: int) -> float | None:
    """Seconds of the compiled forward step kernel called T times, no matmuls between.

    ``None`` where the kernels are not built. The arrays hold what a forward step
    reads (its input projection and its product, drawn small so no gate saturates)
    and stay in cache between calls, as they would not between products. Each call
    goes through ctypes from Python (about a microsecond, included), where the loop
    over time calls it from C.
    """
    fused = kernels.library()[0]
    if fused is None:
        return None
    G = get_cell(cell_name).gates * H
    rng = np.random.default_rng(2)
    pre = (rng.standard_normal((T, B, G)) * 0.5).astype(np.float32)
    a = (rng.standard_normal((B, G)) * 0.5).astype(np.float32)
    h, c = np.zeros((T + 1, B, H), np.float32), np.zeros((T + 1, B, H), np.float32)
    acts, side = np.empty((T, B, G), np.float32), np.empty((T, B, H), np.float32)
    bhn, A = np.zeros(H, np.float32), kernels.address
    step = fused.fn(f"{cell_name}_forward", np.float32)
    calls = {
        # rnn_forward(B, H, pre_t, a, lda): h_t = tanh(a + pre_t) written over a.
        "rnn": lambda t: step(B, H, A(pre[t]), A(h[t + 1]), H),
        # gru_forward(B, H, pre_t, g, bhn, h, ldh, acts_t, hn_t, out, ldo)
        "gru": lambda t: step(
            B, H, A(pre[t]), A(a), A(bhn), A(h[t]), H, A(acts[t]), A(side[t]), A(h[t + 1]), H
        ),
        # lstm_forward(B, H, pre_t, a, c, ldc, acts_t, tanh(c)_t, h_out, ldh, c_out, ldco)
        "lstm": lambda t: step(
            B,
            H,
            A(pre[t]),
            A(a),
            A(c[t]),
            H,
            A(acts[t]),
            A(side[t]),
            A(h[t + 1]),
            H,
            A(c[t + 1]),
            H,
        ),
    }
    call = calls[cell_name]

    def run() -> None:
        for t in range(T):
            call(t)

    run()
    return min(timeit.repeat(run, number=number, repeat=5)) / number


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="256,32,64", help="H,B,T")
    ap.add_argument("--cells", default="rnn,gru,lstm")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best counts")
    ap.add_argument("--number", type=int, default=10, help="calls per timing")
    ap.add_argument("--threads", type=int, help="BLAS threads (all of them)")
    args = ap.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    H, B, T = map(int, args.shape.split(","))
    print(kernels.describe())
    print(blas_report())
    kinds = ["numpy"] + (["compiled"] if kernels.library()[0] is not None else [])
    print(f"(H, B, T) = ({H}, {B}, {T}), float32; ms, best of {args.rounds} rounds")
    print(f"{'cell':<6}{'kernels':<10}{'forward':>10}{'fwd+bwd':>10}{'fwd - matmuls':>15}")
    for name in args.cells.split(","):
        best: dict[str, tuple[float, float]] = {}
        mm = alone = float("inf")
        for _ in range(args.rounds):
            for kind in kinds:
                f, fb = timings(name, H, B, T, kind, args.number)
                old = best.get(kind, (f, fb))
                best[kind] = (min(old[0], f), min(old[1], fb))
            mm = min(mm, matmuls(name, H, B, T, args.number))
            k = step_kernels(name, H, B, T, args.number)
            alone = min(alone, k if k is not None else alone)
        for kind in kinds:
            f, fb = best[kind]
            print(f"{name:<6}{kind:<10}{1e3 * f:>10.2f}{1e3 * fb:>10.2f}{1e3 * (f - mm):>15.2f}")
        print(f"{name:<6}{'matmuls':<10}{1e3 * mm:>10.2f}")
        if alone < float("inf"):
            print(f"{name:<6}{'kernel':<10}{1e3 * alone:>10.2f}   (the step kernel alone, T calls)")


if __name__ == "__main__":
    main()
