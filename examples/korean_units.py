"""Char, jamo and jamo3 units on Korean word lists, with the same wall-clock budget.

    python examples/korean_units.py                          # @ko-words and @ko-nouns, 2 minutes
    python examples/korean_units.py --minutes 5 --data @ko-nouns
    python examples/korean_units.py --units jamo jamo3 --minutes 1   # some units only
    python examples/korean_units.py --steps 3000 --minutes 0         # a step budget instead
    python examples/korean_units.py --set cell=gru --set weight_drop=0.3  # another recipe

For every corpus (a built-in ``@NAME`` or a file of words, named by its file name without
the extension) and unit kind it trains one words-mode model (runs/ko/<corpus>-<units>,
the same recipe and seed) for ``--minutes`` of training each (``Config.time_budget``: the
run times its first steps and plans as many as fit), then prints:

- V, the vocabulary (syllables in char units, jamo in jamo units; in jamo3 units the
  other characters and all 11,172 syllables, read and predicted as jamo), and the
  model's parameters;
- the steps the budget allowed, the seconds the whole fit took (validation and
  checkpoints included), and the training speed in characters of the shown text per
  second (a syllable counts once; jamo units predict about two symbols for each);
- the held-out loss of the best model in nats per character of the shown text (a
  syllable counts once, as does the closing end of word) -- the figure that compares
  the units -- and, in jamo units, in nats per symbol too;
- of ``-n`` samples at temperature 1: the share that are new words (not in the
  training split) and the number that are malformed (hold a conjoining jamo outside a
  syllable).

``--curves FILE.png`` also draws each run's held-out loss (nats per character) against
minutes of training, one line per unit and corpus, from the runs' ``metrics.jsonl``;
with ``--replot`` it trains nothing and draws the runs already in ``--out``.

Equal wall clock is the fair budget between units whose steps cost differently, but its
figures depend on the machine and its load: run the units on one idle machine, one after
another, and read the table as that machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np

from charrnn import CharRNN
from charrnn.cli import run_script
from charrnn.generation.novelty import training_words
from charrnn.generation.sample import sample
from charrnn.training.checkpoint import load as load_checkpoint

LOOSE = re.compile("[\u1100-\u11ff]")
UNITS = ("char", "jamo", "jamo3")

# The names preset's recipe, one layer of 128: small enough for a laptop in minutes.
RECIPE = dict(
    mode="words",
    hidden=128,
    layers=1,
    dropout=0.1,
    init="scaled",
    batch_size=64,
    optimizer="adam",
    lr=0.004,
    schedule="cosine",
    warmup=100,
    weight_decay=0.1,
    ema=0.999,
    clip=1.0,
    clip_mode="norm",
    val_fraction=0.1,
    val_max=1000,
)


def chars_per_second(model: CharRNN) -> float:
    """Training speed in characters of the shown text per second, over the logged windows.

    A log event's speed is in model symbols; in jamo units the per-character loss says
    how many symbols each character took (``loss_per_char = loss * symbols / chars``).
    """
    speeds = []
    for e in model.history_[1:] or model.history_:  # the first window holds the set-up
        ratio = e.train_loss / e.train_loss_per_char if e.train_loss_per_char else 1.0
        speeds.append(e.chars_per_s * ratio)
    return float(np.median(speeds))


def run_dir(data: str, units: str, out: str) -> str:
    """Where one unit kind's run on one corpus lives: ``<out>/<corpus>-<units>``."""
    # A file's name without its folder or extension: os.path.join drops --out before
    # an absolute path, which would put the runs beside the data.
    name = os.path.splitext(os.path.basename(data.lstrip("@")))[0]
    return os.path.join(out, f"{name}-{units}")


def curve(folder: str) -> list[tuple[float, float]]:
    """A run's held-out loss in nats per character against minutes, from its metrics."""
    points = []
    with open(os.path.join(folder, "metrics.jsonl"), encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:  # a line cut short by a run stopped mid-write
                continue
            val = e.get("val_loss_per_char", e.get("val_loss"))
            if val is not None and "elapsed" in e:
                points.append((e["elapsed"] / 60, val))
    return points


def draw_curves(args: argparse.Namespace) -> None:
    """One panel per corpus: every unit's held-out loss against minutes of training."""
    from charrnn.common.optional import pyplot

    plt = pyplot(what="the curves", extra="plot")
    fig, axes = plt.subplots(1, len(args.data), figsize=(6 * len(args.data), 4), squeeze=False)
    for ax, data in zip(axes[0], args.data, strict=True):
        lowest = float("inf")
        for units in args.units:
            folder = run_dir(data, units, args.out)
            try:
                points = curve(folder)
            except OSError:
                sys.exit(f"no run in {folder}: train it first (leave out --replot)")
            if not points:
                sys.exit(f"the run in {folder} holds no held-out loss to draw")
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=f"{units} (best {min(ys):.3f})", lw=1.3)
            lowest = min(lowest, *ys)
        ax.set_ylim(lowest - 0.03, lowest + 0.4)  # the first minutes' losses flatten the rest
        ax.set_title(os.path.basename(data))
        ax.set_xlabel("minutes of training")
        ax.set_ylabel("held-out loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.curves, dpi=110)
    print(f"wrote {args.curves}")


def run(data: str, units: str, args: argparse.Namespace) -> dict[str, object]:
    """Train one unit kind on one corpus for the budget; its row's figures."""
    out = run_dir(data, units, args.out)
    budget = dict(time_budget=args.minutes) if args.minutes else dict(steps=args.steps)
    if args.minutes and args.steps:
        budget["steps"] = args.steps  # a cap beside the budget
    t0 = time.perf_counter()
    recipe = {**RECIPE, **args.recipe, **budget}
    model = CharRNN(**recipe, units=units, log_every=50, random_state=args.seed).fit(
        data, out_dir=out, force=True
    )
    seconds = time.perf_counter() - t0
    best = model.params_
    ckpt = load_checkpoint(os.path.join(out, "best.npz"))
    events = [e for e in model.history_ if e.val_loss is not None]
    top = min(events, key=lambda e: e.val_loss)  # the event whose model is best.npz
    drawn = sample(best, model.vocab_, n=args.n, rng=np.random.default_rng(args.seed))
    known = training_words(ckpt)
    return {
        "data": data,
        "units": units,
        "V": model.vocab_.size,
        "params": sum(p.size for p in best.values()),
        "steps": model.history_[-1].step,
        "chars_s": chars_per_second(model),
        "val_char": top.val_loss_per_char if top.val_loss_per_char is not None else top.val_loss,
        "val_symbol": top.val_loss,
        "new": float(np.mean([s not in known for s in drawn])),
        "malformed": sum(bool(LOOSE.search(s)) for s in drawn),
        "seconds": seconds,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=["@ko-words", "@ko-nouns"])
    p.add_argument("--units", nargs="+", default=list(UNITS), choices=UNITS)
    p.add_argument("--minutes", type=float, default=2.0, help="training minutes per run (2)")
    p.add_argument("--steps", type=int, default=None, help="a step budget (with --minutes 0)")
    p.add_argument("-n", type=int, default=1000, help="samples per model (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("runs", "ko"))
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the recipe for every unit (repeatable), e.g. dropout=0.3",
    )
    p.add_argument("--curves", metavar="PNG", help="draw held-out loss against minutes here")
    p.add_argument("--replot", action="store_true", help="train nothing: draw --out's runs")
    args = p.parse_args()
    if args.replot:
        if not args.curves:
            p.error("--replot draws the curves: give --curves FILE.png")
        draw_curves(args)
        return
    args.recipe = {}
    for item in args.set:
        field, eq, value = item.partition("=")
        if not eq:
            p.error(f"--set takes FIELD=VALUE; got {item!r}")
        try:
            args.recipe[field] = json.loads(value)  # numbers, true/false, null
        except ValueError:
            args.recipe[field] = value  # a word: gru, cosine
    if not args.minutes and not args.steps:
        p.error("give --minutes, or --minutes 0 and --steps")
    budget = f"{args.minutes:g} minutes" if args.minutes else f"{args.steps} steps"
    changed = "".join(f", {k}={v}" for k, v in args.recipe.items())
    print(f"{budget} of training each{changed}; held-out loss of the best model; {args.n} samples")
    print(
        "| corpus | units | V | parameters | steps | fit s | chars/s | held-out nats/char "
        "| nats/symbol | new words | malformed |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for data in args.data:
        for units in args.units:
            r = run(data, units, args)
            per_symbol = f"{r['val_symbol']:.3f}" if units == "jamo" else "="
            print(
                f"| `{r['data']}` | {r['units']} | {r['V']:,} | {r['params']:,} | {r['steps']:,} "
                f"| {r['seconds']:.0f} | {r['chars_s']:,.0f} | {r['val_char']:.3f} | {per_symbol} "
                f"| {r['new']:.1%} | {r['malformed']} of {args.n} |",
                flush=True,
            )
    if args.curves:
        draw_curves(args)


if __name__ == "__main__":
    run_script(main)
