"""Data-parallel speed on one machine, and a model of many: MPI ranks against BLAS threads.

    pip install -e '.[bench,mpi]'
    python benchmarks/bench_scale.py          # about 3 minutes on 2 cores

For each of the four batched benchmark configurations (bench_train.py's text
shapes (H, B, T) = (100, 32, 64), (256, 32, 64), (512, 64, 128), and names in
words mode at H=128, B=64), three engines train the same model on the same
global batches, each in a fresh process, taking turns for several rounds:

- ``1x2``: one process, two BLAS threads (what a plain ``charrnn train`` gets
  on two cores);
- ``2x1``: ``mpiexec -n 2``, one BLAS thread per rank, each rank half the batch;
- ``1x1``: one process, one BLAS thread.

Each engine times its own steps after a warm-up (no start-up, no log, no
validation) and reports characters per second; the table gives the median,
the paired speed-up of 2x1 over 1x2 and over 1x1 (medians of per-round
ratios), and the parallel efficiency of the two ranks (2x1 / (2 * 1x1)).

Then it times an in-place Allreduce of each model's P gradient floats at K=2
(and K=3, 4 oversubscribed), and prints a time model of a step:
``t(K) = t_compute(B/K) + t_allreduce(P, K)``, with ``t_compute`` measured here
(one thread, per-rank batch B/K) and a ring Allreduce,
``2 (K-1)/K * 4P / bandwidth + 2 (K-1) * latency``, on a cluster link stated
below (10 Gbit/s Ethernet with 20 us latency; 100 Gbit/s InfiniBand-like with
2 us). From it, the predicted efficiency at 4 to 64 ranks on a fixed global
batch (strong scaling, while B/K >= 1) and on a fixed per-rank batch (weak
scaling, the global batch K*B). See docs/parallel.md ("How it scales") for where
the model stops holding.

Time it on a quiet machine: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CONFIGS = [
    ("text", 100, 32, 64),
    ("text", 256, 32, 64),
    ("text", 512, 64, 128),
    ("words", 128, 64, 0),
]
TARGET = {("text", 100, 32, 64): 1.3, ("text", 256, 32, 64): 1.3}
ENGINES = {"1x2": (1, 2), "2x1": (2, 1), "1x1": (1, 1)}  # name: (ranks, threads per rank)
LINKS = {"10 Gbit/s Ethernet": (10e9 / 8, 20e-6), "100 Gbit/s InfiniBand": (100e9 / 8, 2e-6)}
CLUSTER_K = (4, 8, 16, 32, 64)
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def label(cfg: tuple[str, int, int, int]) -> str:
    mode, H, B, T = cfg
    return f"names H={H} B={B}" if mode == "words" else f"H={H} B={B} T={T}"


def make_run(cfg: tuple[str, int, int, int], batch: int | None = None):
    """A TrainingRun (in memory) for configuration ``cfg``; bench_train.py's settings."""
    from charrnn.core.config import Config
    from charrnn.data.files import load_corpus
    from charrnn.training.run import TrainingRun
    from common import names_source, shakespeare_or_fallback

    mode, H, B, T = cfg
    config = Config(
        mode=mode,
        hidden=H,
        batch_size=batch or B,
        seq_len=max(T, 1),
        steps=10**9,
        optimizer="adam",
        lr=2e-3,
        clip=5.0,
        clip_mode="norm",
        init="scaled",
        val_fraction=0.0,
        dtype="float32",
    )
    data = [shakespeare_or_fallback()[0]] if mode == "text" else load_corpus(names_source(), mode)
    return TrainingRun(config, data)


# ----------------------------------------------------------------------------- children


def worker(cfg: tuple[str, int, int, int], steps: int) -> None:
    """Train ``steps`` timed steps after a warm-up (every rank); rank 0 prints chars/s."""
    from charrnn.training.parallel import limit_threads, world

    comm = world()
    threads = limit_threads(comm)
    trainer = make_run(cfg).trainer
    for _ in range(3):
        trainer.train_step()
    comm.barrier()
    t0 = time.perf_counter()
    chars = sum(trainer.train_step()[1] for _ in range(steps))
    comm.barrier()
    elapsed = time.perf_counter() - t0
    if comm.is_root:
        print(json.dumps({"chars_per_s": chars / elapsed, "ranks": comm.size, "threads": threads}))


def allreduce_worker(sizes: list[int], repeats: int) -> None:
    """Median seconds of an in-place float32 Allreduce of each size; rank 0 prints them."""
    from charrnn.training.parallel import world

    comm = world()
    times = {}
    for n in sizes:
        buf = np.ones(n, dtype=np.float32)
        for _ in range(5):
            comm.sum_inplace(buf)
        laps = []
        for _ in range(repeats):
            comm.barrier()
            t0 = time.perf_counter()
            comm.sum_inplace(buf)
            laps.append(time.perf_counter() - t0)
        times[n] = statistics.median(laps)
    if comm.is_root:
        print(json.dumps({str(k): v for k, v in times.items()}))


# ----------------------------------------------------------------------------- parent


def mpiexec() -> str:
    beside = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if found is None:
        sys.exit("bench_scale.py needs MPI: pip install -e '.[mpi]'")
    return found


def child(ranks: int, threads: int, args: list[str]) -> dict:
    env = {**os.environ, **MPI_ENV, **{v: str(threads) for v in THREAD_VARS}}
    cmd = [sys.executable, __file__, *args]
    if ranks > 1:
        cmd = [mpiexec(), "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"child {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compute_times(cfg: tuple[str, int, int, int], batches: list[int]) -> dict[int, float]:
    """Seconds per step at one BLAS thread for per-rank batches ``batches`` (in this process)."""
    from threadpoolctl import threadpool_limits

    from common import step_time

    times = {}
    with threadpool_limits(1, user_api="blas"):
        for b in batches:
            trainer = make_run(cfg, batch=b).trainer

            def run(steps: int, trainer=trainer) -> int:
                return sum(trainer.train_step()[1] for _ in range(steps))

            times[b] = min(step_time(run) for _ in range(3))
    return times


def ring_time(P: int, K: int, bandwidth: float, latency: float) -> float:
    """A ring Allreduce of P float32: 2(K-1) messages of 4P/K bytes each way."""
    return 2 * (K - 1) / K * 4 * P / bandwidth + 2 * (K - 1) * latency


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=1.5, help="per measurement (1.5)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of the three engines (3)")
    ap.add_argument("--only", help="one configuration: 256,32,64 or words")
    ap.add_argument("--ranks", default="2,3,4", help="K for the Allreduce timing (2,3,4)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--allreduce", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        mode, *nums = args.worker.split(",")
        worker((mode, *map(int, nums)), args.steps)  # type: ignore[arg-type]
        return
    if args.allreduce:
        allreduce_worker([int(n) for n in args.allreduce.split(",")], args.steps)
        return

    from common import blas_report, out

    out(blas_report())
    configs = [
        c
        for c in CONFIGS
        if not args.only or args.only == ("words" if c[0] == "words" else f"{c[1]},{c[2]},{c[3]}")
    ]
    sizes = {}
    out(f"\n{'configuration':<20} {'engine':<5} {'chars/s median [min-max]':>28}")
    results = {}
    for cfg in configs:
        t1 = compute_times(cfg, [cfg[2]])[cfg[2]]
        steps = max(5, int(args.seconds / t1))
        sizes[cfg] = int(make_run(cfg).trainer.flat.size)
        rates: dict[str, list[float]] = {name: [] for name in ENGINES}
        for _ in range(args.repeats):
            for name, (ranks, threads) in ENGINES.items():
                spec = ",".join(map(str, cfg))
                got = child(ranks, threads, ["--worker", spec, "--steps", str(steps)])
                rates[name].append(got["chars_per_s"])
        for name in ENGINES:
            v = rates[name]
            out(
                f"{label(cfg):<20} {name:<5} "
                f"{statistics.median(v):>12,.0f} [{min(v):,.0f}-{max(v):,.0f}]"
            )
        results[cfg] = rates
    out("\nspeed-up (median of per-round ratios) and parallel efficiency of 2 ranks")
    for cfg, rates in results.items():
        over2 = statistics.median(a / b for a, b in zip(rates["2x1"], rates["1x2"], strict=True))
        over1 = statistics.median(a / b for a, b in zip(rates["2x1"], rates["1x1"], strict=True))
        target = TARGET.get(cfg)
        verdict = ""
        if target:
            verdict = f"  (target >= {target}x: {'met' if over2 >= target else 'missed'})"
        out(
            f"{label(cfg):<20} 2x1 / 1x2 {over2:.2f}x   2x1 / 1x1 {over1:.2f}x   "
            f"efficiency {over1 / 2:.0%}{verdict}"
        )

    # Allreduce of the gradient on this machine (shared memory).
    out("\nin-place Allreduce of the gradient (float32) on this machine, median of 200")
    allsizes = sorted(set(sizes.values()) | {1})
    measured = {}
    for K in sorted({2, *map(int, args.ranks.split(","))}):
        got = child(K, 1, ["--allreduce", ",".join(map(str, allsizes)), "--steps", "200"])
        measured[K] = {int(k): v for k, v in got.items()}
        row = "  ".join(f"P={n:,}: {measured[K][n] * 1e6:,.0f} us" for n in allsizes)
        note = " (oversubscribed)" if K > (os.cpu_count() or 1) else ""
        out(f"K={K}{note}: {row}")
    lat = measured[2][1]
    big = max(allsizes)
    bw = 4 * big / max(measured[2][big] - lat, 1e-9)
    out(f"K=2 here: latency {lat * 1e6:.0f} us, bandwidth {bw / 1e9:.1f} GB/s (from P={big:,})")

    out("\ntime model: t(K) = t_compute(B/K, one thread) + ring Allreduce of P floats")
    compute = {}
    for cfg in configs:
        B = cfg[2]
        compute[cfg] = compute_times(cfg, sorted({B // k for k in CLUSTER_K if B // k} | {B}))
        row = "  ".join(f"B={b}: {t * 1e3:.2f} ms" for b, t in sorted(compute[cfg].items()))
        out(f"{label(cfg):<20} step at one thread, per-rank batch  {row}")
    for link, (bandwidth, latency) in LINKS.items():
        out(
            f"\n{link} ({bandwidth * 8 / 1e9:g} Gbit/s, {latency * 1e6:g} us latency): "
            "predicted efficiency at K ranks"
        )
        heads = " ".join(f"{f'K={k}':>6}" for k in CLUSTER_K)
        out(f"{'configuration':<20} {'scaling':<7} {heads}")
        for cfg in configs:
            B, P, tc = cfg[2], sizes[cfg], compute[cfg]
            strong, weak = [], []
            for K in CLUSTER_K:
                ar = ring_time(P, K, bandwidth, latency)
                strong.append(
                    f"{tc[B] / (K * (tc[B // K] + ar)):>6.0%}"
                    if B // K >= 1 and B % K == 0
                    else f"{'-':>6}"
                )
                weak.append(f"{tc[B] / (tc[B] + ar):>6.0%}")
            out(f"{label(cfg):<20} {'strong':<7} " + " ".join(strong))
            out(f"{'':<20} {'weak':<7} " + " ".join(weak))


if __name__ == "__main__":
    main()
