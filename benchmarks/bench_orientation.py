"""One recurrent matmul both ways round: h Wh^T on (B, H) rows, or Wh h^T on transposed states.

The same products; numpy's BLAS may run one faster than the other, which is why
the compiled LSTM forward turns its matmul round from ``lstm.COLUMNS_FROM`` rows
up and why ``bench_train.py``'s bound takes the faster. Microseconds per call,
best of 5 runs of 1,500 calls, with torch's ``mm`` beside them where it is installed.

    python benchmarks/bench_orientation.py [--calls N] [--shape B,H,G ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import blas_report, out

SHAPES = [(32, 256, 1), (32, 256, 3), (32, 256, 4), (64, 512, 4), (1, 100, 4)]  # (B, H, gates)


def _us(fn, calls: int = 1500) -> float:
    fn()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1e6 * best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1500, help="calls per timed run (5 runs)")
    ap.add_argument(
        "--shape", action="append", metavar="B,H,G", help="(batch, hidden, gates); repeatable"
    )
    args = ap.parse_args(argv)
    shapes = [tuple(map(int, s.split(","))) for s in args.shape] if args.shape else SHAPES
    try:
        import torch
    except ImportError:
        torch = None
    out(blas_report())
    rng = np.random.default_rng(0)
    out(
        f"{'(B, H, gates)':<16}{'forward rows':>14}{'transposed':>12}{'backward rows':>15}"
        f"{'transposed':>12}{'torch mm fwd':>14}"
    )
    for B, H, g in shapes:
        fwd, fwd_t, bwd, bwd_t, tm = _row(B, H, g, rng, torch, args.calls)
        mm = f"{tm:14.0f}" if tm is not None else ""
        out(
            f"{(B, H, g)!s:<16}{fwd:14.0f}{fwd_t:7.0f} ({fwd / fwd_t:.2f}x)"
            f"{bwd:10.0f}{bwd_t:7.0f} ({bwd / bwd_t:.2f}x){mm}"
        )


def _row(B: int, H: int, g: int, rng: np.random.Generator, torch, calls: int) -> tuple:
    """µs of the forward and backward products each way round, and torch's forward mm."""
    G, f32 = g * H, np.float32
    h, Wh = rng.standard_normal((B, H)).astype(f32), rng.standard_normal((G, H)).astype(f32)
    hT, WhT = np.ascontiguousarray(h.T), np.ascontiguousarray(Wh.T)
    dp = rng.standard_normal((B, G)).astype(f32)
    dpT = np.ascontiguousarray(dp.T)
    a, aT = np.empty((B, G), f32), np.empty((G, B), f32)
    dh, dhT = np.empty((B, H), f32), np.empty((H, B), f32)
    fwd = _us(lambda: np.dot(h, WhT, out=a), calls)
    fwd_t = _us(lambda: np.dot(Wh, hT, out=aT), calls)
    bwd = _us(lambda: np.dot(dp, Wh, out=dh), calls)
    bwd_t = _us(lambda: np.dot(WhT, dpT, out=dhT), calls)
    tm = None
    if torch is not None:
        th, tW, to = torch.from_numpy(h), torch.from_numpy(WhT), torch.from_numpy(a)
        tm = _us(lambda: torch.mm(th, tW, out=to), calls)
    return fwd, fwd_t, bwd, bwd_t, tm


if __name__ == "__main__":
    main()
