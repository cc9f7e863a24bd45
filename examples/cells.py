"""RNN, GRU and LSTM at 1 and 2 layers on the same parameter budget, side by side.

    python examples/cells.py                       # names and Shakespeare, 2,000 steps each
    python examples/cells.py --data names --steps 6000 --budget 200000
    python examples/cells.py --minutes 10          # same wall clock instead (a quiet machine)
    python examples/cells.py --data names --minutes 2 --png docs/cells-names.png

Every model trains with the same recipe (Adam, cosine schedule, dropout, weight
decay, the moving average) and the same budget of steps (or of minutes, with
``--minutes``: each model first times 40 steps on its own and takes as its
step budget, the horizon of its cosine schedule, the steps that fit in the
minutes at that rate; the minutes also stop it); only the cell, the layers
and H differ. H is the largest that
keeps the model within ``--budget`` parameters (per corpus by default: 150,000
for names, 800,000 for Shakespeare), so a gated cell, whose step costs three
(GRU) or four (LSTM) matmuls of the tanh cell's, gets a smaller H. The held-out
split is the presets' (names: 1,000 names by seeded permutation; Shakespeare:
the last 10%). It prints one table, held-out nats/char at the end (the best
validation), parameters, steps and minutes of training, and writes the held-out
curves of every model to one PNG (``--png``; needs matplotlib).

A step budget is the fair comparison on a machine others share: the minutes
column then says what each model's steps cost here, which is how a step
budget translates into a wall-clock one (at the same parameter count the
matmuls of a step have about the same FLOPs whatever the cell; the gated cells
make more element-wise calls per step).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

from charrnn import Config
from charrnn.cli import run_script
from charrnn.core.cells import cell_names
from charrnn.core.model import param_specs
from charrnn.training.run import TrainingRun
from charrnn.training.trainer import LogEvent

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CORPORA = {
    "names": ("names.txt", {"mode": "words", "batch_size": 64, "val_max": 1000}, 150_000),
    "shakespeare": (
        "tinyshakespeare.txt",
        {"mode": "text", "batch_size": 32, "seq_len": 64},
        800_000,
    ),
}
CELLS = cell_names()  # every registered cell
COLOURS = {
    c: ("tab:red", "tab:blue", "tab:green")[i] if i < 3 else f"C{i}" for i, c in enumerate(CELLS)
}
LAYERS = (1, 2)


def n_params(V: int, H: int, layers: int, cell: str) -> int:
    """Parameters of a model: every spec's size."""
    return sum(math.prod(s.shape) for s in param_specs(V, H, layers, cell))


def hidden_for(budget: int, V: int, layers: int, cell: str) -> int:
    """The largest H whose model has at most ``budget`` parameters."""
    H = 1
    while n_params(V, H + 1, layers, cell) <= budget:
        H += 1
    return H


def config_for(
    corpus: str, cell: str, layers: int, H: int, steps: int, minutes: float | None, log_every: int
) -> Config:
    """The shared recipe, with this model's cell, layers and H."""
    return Config(
        cell=cell,
        layers=layers,
        hidden=H,
        init="scaled",
        dropout=0.2 if layers > 1 else 0.1,
        optimizer="adam",
        lr=0.003,
        schedule="cosine",
        warmup=100,
        weight_decay=0.05,
        ema=0.999,
        clip=1.0,
        clip_mode="norm",
        val_fraction=0.1,
        steps=steps,
        time_budget=minutes,
        log_every=log_every,
        **CORPORA[corpus][1],
    )


def steps_in(cfg: Config, path: pathlib.Path, minutes: float) -> int:
    """The steps of ``cfg`` that fit in ``minutes`` here, timed over steps 20 to 60.

    The first steps are left out of the rate: they pay for warming the caches.
    """
    probe = cfg.replace(steps=60, time_budget=None, log_every=20, val_fraction=0.0)
    at: dict[int, float] = {}
    with TrainingRun(probe, str(path)) as run:
        run.train(on_event=lambda e: at.__setitem__(e.step, e.elapsed))
    return max(1, int(40 / (at[60] - at[20]) * minutes * 60))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=[*CORPORA, "both"], default="both")
    ap.add_argument("--steps", type=int, default=2000, help="optimiser steps per model")
    ap.add_argument("--minutes", type=float, help="stop each model after this wall clock too")
    ap.add_argument("--budget", type=int, help="parameters per model (default: per corpus)")
    ap.add_argument("--cells", default=",".join(CELLS), help="comma-separated (rnn,gru,lstm)")
    ap.add_argument("--layers", default="1,2", help="comma-separated layer counts (1,2)")
    ap.add_argument("--log-every", type=int, default=250, help="steps between validations")
    ap.add_argument("--png", default=str(ROOT / "docs" / "cells.png"), help="curves ('' skips)")
    args = ap.parse_args()
    corpora = list(CORPORA) if args.data == "both" else [args.data]
    cells = args.cells.split(",")
    layer_counts = [int(x) for x in args.layers.split(",")]
    rows, curves = [], {}
    for corpus in corpora:
        path = SHARED / CORPORA[corpus][0]
        if not path.is_file():
            sys.exit(f"{path} is absent: this script needs ../shared/data")
        budget = args.budget or CORPORA[corpus][2]
        for layers in layer_counts:
            for cell in cells:
                probe = config_for(corpus, cell, layers, 8, 1, None, 1)
                with TrainingRun(probe, str(path)) as run:  # the vocabulary, for H
                    V = run.corpus.vocab.size
                H = hidden_for(budget, V, layers, cell)
                cfg = config_for(corpus, cell, layers, H, args.steps, args.minutes, args.log_every)
                if args.minutes is not None:
                    cfg = cfg.replace(steps=steps_in(cfg, path, args.minutes))
                curve: list[tuple[float, float]] = []

                def on_event(e: LogEvent, curve: list[tuple[float, float]] = curve) -> None:
                    # Against minutes of training on a wall-clock budget, else against steps.
                    if e.val_loss is not None:
                        x = e.elapsed / 60 if args.minutes is not None else e.step
                        curve.append((x, e.val_loss))

                with TrainingRun(cfg, str(path)) as run:
                    result = run.train(on_event=on_event)
                    minutes = run.state.elapsed / 60
                    steps = result.step
                    count = run.n_params
                best = min(v for _, v in curve)
                label = f"{corpus} {cell.upper()} {layers}x{H}"
                rows.append((corpus, cell, layers, H, count, steps, minutes, best))
                curves[label] = curve
                print(
                    f"{label}: {best:.3f} nats/char held out, {count:,} parameters, "
                    f"{steps} steps, {minutes:.1f} min ({result.reason})"
                )
    print()
    print("| corpus | cell | layers x H | parameters | steps | minutes | held-out nats/char |")
    print("|---|---|---|---:|---:|---:|---:|")
    for corpus, cell, layers, H, count, steps, minutes, best in rows:
        print(
            f"| {corpus} | {cell.upper()} | {layers}x{H} | {count:,} | {steps:,} | "
            f"{minutes:.1f} | {best:.3f} |"
        )
    if args.png:
        plot(curves, corpora, args.png, "minutes of training" if args.minutes else "step")


def plot(
    curves: dict[str, list[tuple[float, float]]], corpora: list[str], png: str, xlabel: str
) -> None:
    """Every model's held-out curve, one panel per corpus, in one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no matplotlib: pip install 'charrnn[plot]' for the curves)")
        return
    fig, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 4), squeeze=False)
    for ax, corpus in zip(axes[0], corpora, strict=True):
        for label, curve in curves.items():
            if label.startswith(corpus + " "):
                style = "-" if " 1x" in label else "--"  # colour: the cell; dashes: 2 layers
                colour = COLOURS[label.split()[1].lower()]
                ax.plot(
                    *zip(*curve, strict=True), style, color=colour, label=label[len(corpus) + 1 :]
                )
        lows = [min(v for _, v in c) for k, c in curves.items() if k.startswith(corpus + " ")]
        if lows:  # the first evaluations sit far above the end: show the part that differs
            ax.set_ylim(min(lows) - 0.03, min(lows) + 0.6)
        ax.set_title(f"{corpus}: held-out loss, same parameter budget")
        ax.grid(alpha=0.3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("nats/char")
        ax.legend()
    fig.tight_layout()
    pathlib.Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    print(f"curves: {png}")


if __name__ == "__main__":
    run_script(main)
