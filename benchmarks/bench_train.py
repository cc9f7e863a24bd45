"""Training throughput: charrnn vs torch.nn.RNN vs the seed-style loop, side by side.

Every engine trains the same model the same way: a one-layer tanh RNN with
one-hot input, float32, Adam (lr 2e-3) and global-norm clipping at 5, on the
same batches (tinyshakespeare streams in text mode; names.txt in words mode).
The engines take turns, after a warm-up, for several rounds; the table gives
the median chars/s with min-max, the charrnn/torch ratio, and the FLOP-limited
bound computed from matmul rates measured in the same run for the shapes of
each configuration. Two floor engines, timed in the same rounds, add to the
bound's matmuls the element-wise work of the recurrence, then the rest of a
step no engine can skip: what a numpy engine could reach at best.

    pip install -e '.[bench]'          # torch (CPU build: pip install torch==2.13.0)
    python benchmarks/bench_train.py   # about 6 minutes on 2 cores

``--cell gru`` or ``--cell lstm`` runs the same table for a gated cell, against
``torch.nn.GRU`` / ``torch.nn.LSTM``. Its bound counts the gated matmuls (each
recurrent one is (B,H)x(H,gH) with g = 3 or 4 gates); its first floor makes
the element-wise calls of the gated cell's own recurrence (GatedCalls). The
seed-style loop runs for ``--cell rnn`` only.

The seed-style loop (charrnn.core.reference: one sequence, one-hot columns, dicts
of steps, float64, Adagrad as in min-char-rnn) runs at (H=100, B=1, T=25) only;
elsewhere it would take minutes per measurement.

What users run is a fresh process, so two more engines start one per
measurement, in the same rounds: "charrnn train (process)" runs the CLI
(``python -m charrnn train DATA ... --val-fraction 0 --quiet``, the same
config and data) and reads its rate from the run's ``metrics.jsonl``, and
"torch (process)" runs the torch engine in a child of this script. Each
takes the median chars/s of its log windows after the first, and the lines
under the table give its ratio to the in-process engine and the minor page
faults and system CPU time of a warm step (see fresh_process.ProcessEngine:
the child's getrusage totals less those of a one-window baseline child).
The CLI checkpoints only at the end (``--save-every`` the whole run), so its
windows time training steps alone, as a user's run with the default 100-step
windows nearly does. The in-process rows can hide what a step costs the
kernel: this process has read the whole corpus into one string, and glibc,
once such large blocks are freed, raises its thresholds and keeps a step's
temporaries instead of returning them; the CLI streams and memory-maps its
data, as a user's run does, and pays for them afresh.

Under each text configuration comes a breakdown of one step of the charrnn
rows (``step_parts.py``): each part's time per step, the time of its matmuls
alone and what it spends above them, so each row says which part holds it
back from the bound (``--no-parts`` skips it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from charrnn.core import kernels
from charrnn.core.cells.lstm import COLUMNS_FROM  # the bound turns its matmuls round from here
from charrnn.core.config import Config
from charrnn.core.optim import Adam
from charrnn.core.vocab import Vocab
from charrnn.data.files import load_corpus
from charrnn.training.run import TrainingRun
from common import (
    blas_report,
    names_source,
    out,
    paired,
    rounds,
    shakespeare_or_fallback,
    step_time,
    summary,
)
from fresh_process import WINDOWS, ProcessEngine, child_env, metrics_rates, printed_rates
from step_parts import step_parts, table

TEXT_CONFIGS = [(100, 1, 25), (100, 32, 64), (256, 32, 64), (512, 64, 128)]
# The speed issue's targets: charrnn / torch at these shapes (the gated cells': ahead of
# torch everywhere, 1.3x at (256, 32, 64)).
TARGETS = {(100, 32, 64): 2.0, (256, 32, 64): 2.0, (512, 64, 128): 1.5}
GATED_TARGETS = {(256, 32, 64): 1.3}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
LR = 2e-3
# The floor engines and what each adds to the one above it (see bound_engine).
FLOORS = {
    "floor": "+ recurrence element-wise calls:",
    "floor+": "+ gather, softmax, dWxh, norm, Adam:",
}
CLIP = 5.0
CLI = "charrnn train (process)"
NUMPY_ROW = "charrnn numpy kernels"  # beside compiled charrnn rows, in the same rounds
TORCH_PROCESS = "torch (process)"
# Each fresh-process engine and the in-process engine it is the fresh-process twin of.
TWINS = {CLI: "charrnn", TORCH_PROCESS: "torch"}


# ----------------------------------------------------------------------------- engines


def charrnn_engine(config: Config, data: list[str]):
    """charrnn's own steps, timed alone (no log, no validation): the trainer of a run."""
    trainer = TrainingRun(config, data).trainer

    def run(steps: int) -> int:
        chars = 0
        for _ in range(steps):
            chars += trainer.train_step()[1]
        return chars

    return run


def torch_engine(vocab: Vocab, H: int, batches, words: bool, cell: str = "rnn"):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    V = vocab.size
    if cell == "rnn":
        rnn = torch.nn.RNN(V, H, nonlinearity="tanh")
    else:
        rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](V, H)
    head = torch.nn.Linear(H, V)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    state = {"k": 0, "h": None, "order": batches.epoch_order(0) if words else None}

    def run(steps: int) -> int:
        chars = 0
        for _ in range(steps):
            k = state["k"] % batches.batches_per_epoch
            state["k"] += 1
            b = batches.make(state["order"][k] if words else k)
            x = F.one_hot(torch.from_numpy(b.inputs).long(), V).float()  # (T, B, V)
            y = torch.from_numpy(b.targets).long().reshape(-1)
            h0 = None if words or k == 0 else state["h"]
            hs, h = rnn(x, h0)
            logits = head(hs).reshape(-1, V)
            if words:
                m = torch.from_numpy(b.mask.reshape(-1).astype(np.float32))
                loss = (F.cross_entropy(logits, y, reduction="none") * m).sum() / b.n_targets
            else:
                loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            opt.step()
            state["h"] = tuple(s.detach() for s in h) if cell == "lstm" else h.detach()
            chars += b.n_targets
        return chars

    return run


def reference_engine(vocab: Vocab, ids: np.ndarray, H: int, T: int):
    from charrnn.core.model import init_params
    from charrnn.core.reference import column_params, reference_train_chars

    params = column_params(init_params(vocab.size, H, np.random.default_rng(0), dtype="float64"))

    def run(steps: int) -> int:
        reference_train_chars(params, ids, T, steps)
        return steps * T

    return run


# ----------------------------------------------------------------------------- bound


def _time(fn, repeat: int = 20) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def bound_engine(
    H: int, B: int, T: int, V: int, elementwise: bool = False, rest: bool = False, gates: int = 1
):
    """The matmuls of one training step and nothing else: its rate is the FLOP-limited bound.

    ``gates`` > 1 (the GRU's 3, the LSTM's 4) makes every recurrent matmul and
    the recurrent weight's gradient that many times wider: (B,H)x(H,gH) forward,
    (B,gH)x(gH,H) backward; only the matmuls are then modelled.

    Per step: 2T recurrence matmuls (B,H)x(H,H) (forward h@Whh^T, backward dh@Whh),
    chained through preallocated buffers as the engine does, plus the four big
    ones over all T*B positions: logits, dWhy, dh from the output, dWhh. About
    6(H^2 + H*V) FLOPs per character. It runs in the same rounds as the engines,
    so the same machine noise hits it.

    From :data:`COLUMNS_FROM` rows of a batch up, each recurrent matmul is taken
    the other way round, (H,H)x(H,B) on transposed states: the same products,
    which numpy's BLAS runs up to 1.4x faster there (``step_parts.py`` times
    both), so the bound is the faster of the two, not the engine's choice.

    With ``elementwise`` it also makes the four element-wise numpy calls per
    time step that any engine stepping through time with numpy must make: the
    input term added and tanh after each forward matmul, ``dhnext`` added and
    the tanh derivative applied before each backward one. Nothing else (no
    softmax, no optimiser): its rate is a ceiling for such an engine.

    For a gated cell, ``elementwise`` makes the element-wise calls of charrnn's
    own recurrence instead (:class:`GatedCalls`): no model plumbing, no
    workspace, no Python beyond the calls themselves.

    With ``rest`` as well it does the other work a training step cannot skip,
    with the fewest numpy calls we know: the input rows gathered for all
    steps, softmax without the max shift (exp, row sums, divide), one at the
    targets subtracted, the input-weight gradient as a one-hot matmul, the
    gradient norm, and an Adam step (charrnn's own, on one flat buffer).
    """
    rng = np.random.default_rng(0)
    f32 = np.float32
    G = gates * H
    W = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(f32)
    WT = (rng.standard_normal((H, G)) / np.sqrt(H)).astype(f32)  # the gated cells' Wh^T
    gated_out = np.empty((B, G), f32)
    dgates = rng.standard_normal((T * B, G)).astype(f32)
    hs = np.tanh(rng.standard_normal((T + 1, B, H))).astype(f32)
    flat = rng.standard_normal((T * B, H)).astype(f32)
    dflat = rng.standard_normal((T * B, H)).astype(f32)  # not flat: a.T @ a would be syrk
    Why = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(f32)  # logits of order 1
    dy = rng.standard_normal((T * B, V)).astype(f32)
    inputs = rng.integers(0, V, (T, B))
    targets = rng.integers(0, V, T * B)
    rows = np.arange(T * B)
    table = rng.standard_normal((V, G)).astype(f32)  # (Wx^T + b), read by the gather
    n_params = G * V + H * V + G * H + G + V
    params, grads = rng.standard_normal((2, n_params)).astype(f32) * 0.01
    adam = Adam(LR)
    buf = np.zeros((B, H), f32)  # dhnext in the backward
    pre = rng.standard_normal((T, B, G)).astype(f32)  # input terms of the forward
    cell = GatedCalls(gates, hs, pre, dgates.reshape(T, B, G), rng) if gates > 1 else None
    cols = B >= COLUMNS_FROM  # the recurrent matmuls on transposed states (see above)
    if cols:
        W_g, hsT = np.ascontiguousarray(WT.T), np.ascontiguousarray(hs.transpose(0, 2, 1))
        dgT = np.ascontiguousarray(dgates.reshape(T, B, G).transpose(0, 2, 1))  # (T, gH, B)
        gated_T, buf_T = np.empty((G, B), f32), np.empty((H, B), f32)
    dout = rng.standard_normal((T, B, H)).astype(f32)  # output gradients of the backward
    dhraw = np.empty((T, B, H), f32)
    dtanh = (1 - hs[1:] ** 2).astype(f32)

    def run(steps: int) -> int:
        for _ in range(steps):
            if rest:
                np.take(table, inputs, axis=0, out=pre, mode="clip")
            for t in range(T if gates > 1 else 0):
                if cols and not elementwise:
                    np.dot(W_g, hsT[t], out=gated_T)  # (gH, H) x (H, B)
                    continue
                np.dot(hs[t], WT, out=gated_out)  # (B, H) x (H, gH)
                if elementwise:
                    cell.forward(t, gated_out)
            for t in range(T - 1 if gates > 1 else -1, -1, -1):
                if cols and not elementwise:
                    np.dot(WT, dgT[t], out=buf_T)  # (H, gH) x (gH, B)
                    continue
                if elementwise:
                    cell.backward(t, buf)
                np.dot(dgates[t * B : (t + 1) * B], WT.T, out=buf)  # (B, gH) x (gH, H)
            for t in range(T if gates == 1 else 0):
                if cols and not elementwise:
                    np.dot(W, hsT[t], out=buf_T)  # (H, H) x (H, B)
                    continue
                h = hs[t + 1]
                np.dot(hs[t], W, out=h)
                if elementwise:
                    h += pre[t]
                    np.tanh(h, out=h)
            buf.fill(0)
            for t in range(T - 1 if gates == 1 else -1, -1, -1):
                if elementwise:
                    d = dhraw[t]
                    np.add(dout[t], buf, out=d)
                    d *= dtanh[t]
                    np.dot(d, W, out=buf)
                elif cols:
                    np.dot(W, hsT[t + 1], out=buf_T)
                else:
                    np.dot(hs[t + 1], W, out=buf)
            logits = flat @ Why.T
            if rest:
                np.exp(logits, out=logits)
                logits /= logits.sum(axis=1)[:, None]
                logits[rows, targets] -= 1
            dy.T @ flat
            dy @ Why
            if gates > 1:
                dgates.T @ flat  # dWh (gH, H)
            else:
                dflat.T @ flat
            if rest:
                onehot = np.zeros((V, T * B), f32)
                onehot[inputs.reshape(-1), rows] = 1
                onehot @ (dgates if gates > 1 else dflat)  # dWx^T
                np.vdot(grads, grads)  # the norm for clipping
                adam.step({"p": params}, {"p": grads})
        return steps * T * B

    return run


class GatedCalls:
    """The element-wise calls of a gated cell's recurrence, as charrnn makes them.

    The forward step is the cell's own ``_recur``; the backward step its
    ``_factors`` and the calls of its full-BPTT loop, on preallocated arrays.
    What :func:`bound_engine` adds with them to the matmuls is the time of
    these calls alone: the rest of the engine (the model's plumbing, its
    workspace, the Python of the loops) is not in it.
    """

    def __init__(self, gates: int, hs, pre, da, rng: np.random.Generator):
        from charrnn.core.cells import GRU, LSTM

        T, B, G = pre.shape
        H = G // gates
        self.H, self.hs, self.pre, self.da = H, hs, pre, da  # da (T, B, gH): the backward's
        self.lstm = gates == 4
        self.cell = LSTM if self.lstm else GRU
        f32 = np.float32
        self.acts = rng.random((T, B, G)).astype(f32)  # gates in (0, 1)
        self.c = np.tanh(rng.standard_normal((T + 1, B, H))).astype(f32)  # cs, or the GRU's hn
        self.tc = np.empty((T, B, H), f32)
        self.ig = np.empty((B, H), f32)
        self.num = np.ones(G, f32)  # the LSTM's numerators after the exp: 2 on g
        self.num[2 * H : 3 * H] = 2
        self.bhn = np.full(H, 0.1, f32)  # the GRU's candidate bias
        self.fac = np.empty((B, G if self.lstm else 3 * H), f32).reshape(-1)
        self.fc = np.empty((B, H), f32)
        self.dout = rng.standard_normal((T, B, H)).astype(f32)
        self.dh, self.dc, self.dcnext = np.zeros((3, B, H), f32)

    def forward(self, t: int, a) -> None:
        """Step t after its recurrent matmul ``a`` (B, gH)."""
        hs, acts, c = self.hs, self.acts, self.c
        with np.errstate(over="ignore", under="ignore"):
            if self.lstm:
                self.cell._recur(
                    np,
                    self.pre[t],
                    a,
                    self.num,
                    c[t],
                    acts[t],
                    self.tc[t],
                    hs[t + 1],
                    c[t + 1],
                    self.ig,
                )
            else:
                H = self.H
                self.cell._recur(
                    np,
                    self.pre[t],
                    a,
                    self.bhn,
                    acts[t, :, : 2 * H],
                    c[t],
                    acts[t, :, 2 * H :],
                    hs[t],
                    hs[t + 1],
                )

    def backward(self, t: int, dhnext) -> None:
        """Step t of full BPTT before its matmul: ``dhnext`` (B, H) in, da written."""
        H, acts, da, dc, dh = self.H, self.acts[t], self.da[t], self.dc, self.dh
        B = dh.shape[0]
        if not self.lstm:
            dhnext += dc  # the GRU's dhnext = da Wh + dh z, the second term from step t+1
        np.add(self.dout[t], dhnext, out=dh)  # dout kept as it is, for the next run
        if self.lstm:
            fac, fc = self.fac.reshape(B, 4 * H), self.fc
            self.cell._factors(np, acts, self.c[t], self.tc[t], fac, fc)
            np.multiply(dh, fc, out=dc)
            dc += self.dcnext
            da4 = da.reshape(B, 4, H)
            np.multiply(dc[:, None], fac.reshape(B, 4, H)[:, :3], out=da4[:, :3])
            np.multiply(dh, fac[:, 3 * H :], out=da4[:, 3])
            np.multiply(dc, acts[:, H : 2 * H], out=self.dcnext)
        else:
            fac = self.fac.reshape(3, B, H)
            r, z, n = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H :]
            self.cell._factors(np, r, z, n, self.c[t], self.hs[t], fac, dc)
            fn, fr, fz = fac
            dn = self.fc
            np.multiply(dh, fn, out=dn)
            np.multiply(dn, r, out=da[:, 2 * H :])
            np.multiply(dn, fr, out=da[:, :H])
            np.multiply(dh, fz, out=da[:, H : 2 * H])
            np.multiply(dh, z, out=dc)  # added to the matmul's dhnext at step t-1


def matmul_rates() -> tuple[float, float]:
    """GFLOP/s of a large square float32 matmul and of a (64,512)x(512,512) step."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    big = 2 * 1024**3 / _time(lambda: a @ a, 10) / 1e9
    h = rng.standard_normal((64, 512)).astype(np.float32)
    W = rng.standard_normal((512, 512)).astype(np.float32)
    step = 2 * 64 * 512 * 512 / _time(lambda: h @ W, 200) / 1e9
    return big, step


# ----------------------------------------------------------------------------- fresh processes


def build_engine(
    engine: str, mode: str, H: int, B: int, T: int, cell: str = "rnn"
) -> Callable[[int], int]:
    """The in-process ``engine`` ("charrnn" or "torch") on the data and config main gives it."""
    from charrnn.data.batches import TextBatches, WordBatches

    if mode == "text":
        text, _ = shakespeare_or_fallback()
        vocab = Vocab.from_text(text)
        ids = vocab.encode(text)
        if engine == "torch":
            return torch_engine(vocab, H, TextBatches(ids, B, T), words=False, cell=cell)
        return charrnn_engine(text_config(H, B, T, cell), [text])
    words = load_corpus(names_source(), "words")
    wv = Vocab.from_text("".join(words))
    if engine == "torch":
        return torch_engine(wv, H, WordBatches(words, wv, B, 0), words=True, cell=cell)
    return charrnn_engine(words_config(H, B, cell), words)


def process_child(
    engine: str,
    mode: str,
    shape: str,
    steps: int,
    log_every: int,
    threads: int,
    cell: str = "rnn",
) -> None:
    """Train in this fresh process; print chars/s of every ``log_every``-step window."""
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)  # as many as the parent gives the in-process torch
    H, B, T = map(int, shape.split(","))
    run = build_engine(engine, mode, H, B, T, cell)
    rates = []
    for done in range(0, steps, log_every):
        t0 = time.perf_counter()
        chars = run(min(log_every, steps - done))
        rates.append(chars / (time.perf_counter() - t0))
    print(json.dumps({"rates": rates}))


def child_engine(
    engine: str, mode: str, shape: str, threads: int, log_every: int, cell: str = "rnn"
):
    """``engine`` trained in a fresh child of this script per measurement."""

    def command(steps: int, log_every: int, folder: str) -> list[str]:
        return [
            sys.executable,
            __file__,
            "--process-child",
            engine,
            "--mode",
            mode,
            "--shape",
            shape,
            "--steps",
            str(steps),
            "--log-every",
            str(log_every),
            "--threads",
            str(threads),
            "--cell",
            cell,
        ]

    return ProcessEngine(command, printed_rates, log_every)


def config_flags(config: Config) -> list[str]:
    """The ``charrnn train`` flags that give ``config``: each field that differs from
    the defaults, except ``steps`` (every run sets its own)."""
    default = Config()
    flags = []
    for f in dataclasses.fields(Config):
        value = getattr(config, f.name)
        if f.name != "steps" and value != getattr(default, f.name):
            flags += [f"--{f.name.replace('_', '-')}", str(value)]
    return flags


def cli_engine(config: Config, data: str, log_every: int) -> ProcessEngine:
    """``charrnn train DATA`` with ``config`` in a fresh process per measurement.

    It checkpoints only at the last step, so its log windows time training alone.
    """
    flags = config_flags(config)

    def command(steps: int, log_every: int, folder: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "charrnn",
            "train",
            data,
            *flags,
            "--steps",
            str(steps),
            "--log-every",
            str(log_every),
            "--save-every",
            str(steps),
            "--quiet",
            "--out",
            folder,
        ]

    return ProcessEngine(command, metrics_rates, log_every)


def window_steps(run: Callable[[int], int], seconds: float) -> int:
    """Steps per log window for a process engine, from its in-process twin's step time:
    its ``WINDOWS`` timed windows take about ``seconds`` in all, as one in-process measurement."""
    return max(1, round(seconds / WINDOWS / step_time(run)))


def process_lines(rates: dict[str, list[float]], engines: dict) -> list[str]:
    """Under the table: each fresh-process engine against its in-process twin, and its
    page faults and system CPU time per warm step."""
    lines = []
    for name, twin in TWINS.items():
        if name not in rates:
            continue
        vs = [f"{paired(rates, name, twin):.2f}x {twin} in-process"]
        if name == CLI and TORCH_PROCESS in rates:
            vs.append(f"{paired(rates, name, TORCH_PROCESS):.2f}x {TORCH_PROCESS}")
        cost = engines[name].per_step()
        kernel = (
            f"{cost[0]:,.0f} minor page faults, {1e3 * cost[1]:.2f} ms system CPU per step"
            if cost is not None
            else "page faults not measured (no resource module)"
        )
        lines.append(f"{name}: {', '.join(vs)}; {kernel}")
    return lines


# ----------------------------------------------------------------------------- memory


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark (VmHWM; unlike ru_maxrss it is
    not inherited from the parent across fork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(engine: str, H: int, B: int, T: int, steps: int, cell: str = "rnn") -> None:
    """Train a few steps in a fresh process; print peak RSS before and after (MiB)."""
    run = build_engine(engine, "text", H, B, T, cell)  # torch is imported before the baseline
    base = peak_rss_mib()
    run(steps)
    peak = peak_rss_mib()
    print(json.dumps({"baseline_mib": base, "peak_mib": peak}))


def measure_memory(H: int, B: int, T: int, cell: str = "rnn") -> dict[str, dict[str, float]]:
    res = {}
    for engine in ("charrnn", "torch"):
        p = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                engine,
                "--shape",
                f"{H},{B},{T}",
                "--cell",
                cell,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=child_env(),
        )
        res[engine] = json.loads(p.stdout.strip().splitlines()[-1])
    return res


# ----------------------------------------------------------------------------- main


def text_config(H: int, B: int, T: int, cell: str = "rnn", kind: str = "auto") -> Config:
    return Config(
        kernels=kind,
        mode="text",
        hidden=H,
        batch_size=B,
        seq_len=T,
        steps=10**9,
        optimizer="adam",
        lr=LR,
        clip=CLIP,
        clip_mode="norm",
        init="scaled",
        val_fraction=0.0,
        dtype="float32",
        cell=cell,
    )


def words_config(H: int, B: int, cell: str = "rnn", kind: str = "auto") -> Config:
    return text_config(H, B, 1, cell, kind).replace(mode="words")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--only", help="run one configuration, e.g. 256,32,64 or words")
    ap.add_argument(
        "--cell",
        choices=tuple(GATES),
        default="rnn",
        help="the recurrent cell, against torch.nn.RNN/GRU/LSTM (rnn)",
    )
    ap.add_argument(
        "--kernels",
        choices=kernels.KERNELS,
        default="auto",
        help="the charrnn rows' kernels (Config.kernels); where the compiled ones run, "
        f"a '{NUMPY_ROW}' row runs beside them (auto)",
    )
    ap.add_argument(
        "--no-parts",
        dest="parts",
        action="store_false",
        help="skip the per-part breakdown of a step under each text configuration",
    )
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--process-child", help=argparse.SUPPRESS)
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="text", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--log-every", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        H, B, T = map(int, args.shape.split(","))
        memory_child(args.memory_child, H, B, T, steps=5, cell=args.cell)
        return
    if args.process_child:
        process_child(
            args.process_child,
            args.mode,
            args.shape,
            args.steps,
            args.log_every,
            args.threads,
            args.cell,
        )
        return

    from charrnn.data.batches import TextBatches, WordBatches

    use_torch = not args.no_torch
    threads = 1
    if use_torch:
        import torch
        from threadpoolctl import threadpool_info

        threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        torch.set_num_threads(threads)
    out(blas_report())
    if use_torch:
        out(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    big, step = matmul_rates()
    out(f"float32 matmul: {big:.0f} GFLOP/s (1024^3), {step:.0f} GFLOP/s ((64,512)x(512,512))")
    text, text_name = shakespeare_or_fallback()
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    cell, gates = args.cell, GATES[args.cell]
    with kernels.using(args.kernels):
        compiled = kernels.active(np) is not None
    out(
        f"charrnn kernels: {'compiled' if compiled else 'numpy'} (--kernels {args.kernels}; "
        f"{kernels.library()[1]})"
    )
    kc = args.kernels
    out(f"cell: {cell}" + (f" ({gates} gates) vs torch.nn.{cell.upper()}" if gates > 1 else ""))
    out(
        f"text: {text_name}, {len(text):,} chars, V={vocab.size}; "
        f"{args.repeats} rounds of ~{args.seconds} s per engine"
    )
    out()
    head = f"{'config':<22}{'engine':<25}{'chars/s median [min-max]':>34}{'vs torch':>10}"
    out(head + f"{'% of bound':>12}")
    configs = [("text", *c) for c in TEXT_CONFIGS] + [("words", 128, 64, 0)]
    scratch = tempfile.TemporaryDirectory()
    # The CLI reads a file: the very text the in-process engines train on.
    text_file = os.path.join(scratch.name, "text.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write(text)
    for mode, H, B, T in configs:
        label = f"H={H} B={B} T={T}" if mode == "text" else f"names H={H} B={B}"
        if args.only and args.only != ("words" if mode == "words" else f"{H},{B},{T}"):
            continue
        engines = {}
        if mode == "text":
            engines["charrnn"] = charrnn_engine(text_config(H, B, T, cell, kc), [text])
            if compiled:
                engines[NUMPY_ROW] = charrnn_engine(text_config(H, B, T, cell, "numpy"), [text])
            if use_torch:
                engines["torch"] = torch_engine(
                    vocab, H, TextBatches(ids, B, T), words=False, cell=cell
                )
            if B == 1 and cell == "rnn":
                engines["seed-loop"] = reference_engine(vocab, ids, H, T)
            engines["bound"] = bound_engine(H, B, T, vocab.size, gates=gates)
            engines["floor"] = bound_engine(H, B, T, vocab.size, elementwise=True, gates=gates)
            engines["floor+"] = bound_engine(
                H, B, T, vocab.size, elementwise=True, rest=True, gates=gates
            )
            engines[CLI] = cli_engine(
                text_config(H, B, T, cell, kc),
                text_file,
                window_steps(engines["charrnn"], args.seconds),
            )
        else:
            words = load_corpus(names_source(), "words")
            wv = Vocab.from_text("".join(words))
            engines["charrnn"] = charrnn_engine(words_config(H, B, cell, kc), words)
            if compiled:
                engines[NUMPY_ROW] = charrnn_engine(words_config(H, B, cell, "numpy"), words)
            if use_torch:
                engines["torch"] = torch_engine(
                    wv, H, WordBatches(words, wv, B, 0), words=True, cell=cell
                )
            mean_len = round(float(np.mean([len(w) + 1 for w in words])))
            engines["bound"] = bound_engine(H, B, mean_len, wv.size, gates=gates)
            engines[CLI] = cli_engine(
                words_config(H, B, cell, kc),
                names_source(),
                window_steps(engines["charrnn"], args.seconds),
            )
        if use_torch:
            engines[TORCH_PROCESS] = child_engine(
                "torch",
                mode,
                f"{H},{B},{T}",
                threads,
                window_steps(engines["torch"], args.seconds),
                cell,
            )
        fixed = {name: e.steps for name, e in engines.items() if isinstance(e, ProcessEngine)}
        rates = rounds(engines, args.seconds, args.repeats, fixed)

        for name, vals in rates.items():
            if name == "bound" or name in FLOORS:
                continue
            ratio = f"{paired(rates, name, 'torch'):.2f}x" if "torch" in rates else ""
            bounded = name in ("charrnn", CLI, NUMPY_ROW)
            pct = f"{100 * paired(rates, name, 'bound'):.0f}%" if bounded else ""
            out(f"{label:<22}{name:<25}{summary(vals):>34}{ratio:>10}{pct:>12}")
        for line in process_lines(rates, engines):
            out(f"{'':<22}{line}")
        if "seed-loop" in rates:
            out(f"{'':<22}charrnn / seed-loop: {paired(rates, 'charrnn', 'seed-loop'):.1f}x")
        out(f"{'':<22}FLOP-limited bound (matmuls alone): {summary(rates['bound'])} chars/s")
        for name, what in FLOORS.items():
            if name in rates:
                share = 100 * paired(rates, name, "bound")
                vs = f", {paired(rates, name, 'torch'):.2f}x torch" if "torch" in rates else ""
                out(
                    f"{'':<22}{what:<37}{summary(rates[name])} chars/s"
                    f" = {share:.0f}% of the bound{vs}"
                )
        if mode == "text" and args.parts:
            for name, kind in (("charrnn", kc), (NUMPY_ROW, "numpy")):
                if name in rates:
                    out(f"{'':<22}where a step of '{name}' goes (medians, ms):")
                    trainer = TrainingRun(text_config(H, B, T, cell, kind), [text]).trainer
                    for line in table(step_parts(trainer), B * T):
                        out(f"{'':<24}{line}")
        targets = TARGETS if cell == "rnn" else GATED_TARGETS
        target = targets.get((H, B, T)) if mode == "text" else None
        if target and "torch" in rates:
            lead = paired(rates, "bound", "torch")
            out(
                f"{'':<22}bound / torch: {lead:.2f}x, so {target:.1f}x torch needs "
                f"{100 * target / lead:.0f}% of the bound"
            )
    scratch.cleanup()
    if (use_torch and not args.only) or args.only == "512,64,128":
        mem = measure_memory(512, 64, 128, cell)
        out()
        out("peak memory, training H=512 B=64 T=128 (fresh process, MiB):")
        for name, m in mem.items():
            out(
                f"  {name:<8} peak {m['peak_mib']:7.0f}  "
                f"(after imports and setup {m['baseline_mib']:.0f}, "
                f"training adds {m['peak_mib'] - m['baseline_mib']:.0f})"
            )
        if "torch" in mem:
            ratio = mem["charrnn"]["peak_mib"] / mem["torch"]["peak_mib"]
            out(f"  charrnn / torch peak: {ratio:.2f}")


if __name__ == "__main__":
    main()
