"""Char units against jamo units on Korean word lists, with the same step budget.

    python examples/korean_units.py                       # @ko-words and @ko-nouns, 3000 steps
    python examples/korean_units.py --steps 300 --data @ko-words   # a quick look
    python examples/korean_units.py --data @ko-nouns --units jamo  # one corpus, one unit

For every corpus and both units it trains one words-mode model (runs/ko/<corpus>-<units>,
the same recipe and seed), then prints:

- V, the vocabulary size (syllables in char units, jamo in jamo units);
- the held-out loss of the best model in nats per character of the shown text (a
  syllable counts once, as does the closing end of word) -- the figure that compares
  the two units -- and, in jamo units, in nats per symbol too;
- of ``-n`` samples at temperature 1: the share that are new words (not in the
  training split) and the number that are malformed (hold a conjoining jamo outside
  a syllable), and the training time (seconds of this machine, for orientation only).

A budget in steps, not in time, so the figures do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import numpy as np

from charrnn import CharRNN
from charrnn.generation.novelty import training_words
from charrnn.generation.sample import sample
from charrnn.training.checkpoint import load as load_checkpoint

LOOSE = re.compile("[\u1100-\u11ff]")

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


def run(data: str, units: str, args: argparse.Namespace) -> dict[str, object]:
    out = os.path.join(args.out, f"{data.lstrip('@')}-{units}")
    t0 = time.perf_counter()
    model = CharRNN(
        **RECIPE, units=units, steps=args.steps, log_every=args.steps // 6, random_state=args.seed
    ).fit(data, out_dir=out, force=True)
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
        "val_char": top.val_loss_per_char if top.val_loss_per_char is not None else top.val_loss,
        "val_symbol": top.val_loss,
        "new": float(np.mean([s not in known for s in drawn])),
        "malformed": sum(bool(LOOSE.search(s)) for s in drawn),
        "seconds": seconds,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=["@ko-words", "@ko-nouns"])
    p.add_argument("--units", nargs="+", default=["char", "jamo"], choices=["char", "jamo"])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("-n", type=int, default=1000, help="samples per model (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("runs", "ko"))
    args = p.parse_args()
    print(f"{args.steps} steps each; held-out loss of the best model; {args.n} samples")
    print(
        "| corpus | units | V | held-out nats/char | nats/symbol | new words | malformed "
        "| train s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for data in args.data:
        for units in args.units:
            r = run(data, units, args)
            per_symbol = f"{r['val_symbol']:.3f}" if units == "jamo" else "="
            print(
                f"| `{r['data']}` | {r['units']} | {r['V']} | {r['val_char']:.3f} | {per_symbol} "
                f"| {r['new']:.1%} | {r['malformed']} of {args.n} | {r['seconds']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
