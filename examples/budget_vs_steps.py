"""A time budget against a hand-chosen step count, on one preset and one budget.

    python examples/budget_vs_steps.py names-gru 2
    python examples/budget_vs_steps.py shakespeare-gru 2 --steps 850

Two runs of the preset on ../shared/data, one after the other:

- **budget**: ``--time-budget M`` alone. The run times its first steps, plans the
  steps that fit and decays its rate over them (charrnn.training.budget).
- **steps**: the way a budget was used before: the cosine schedule laid over a
  hand-chosen step count, the run cut off by the clock at M minutes if it has
  not finished. The count defaults to the preset's recorded steps scaled to M
  minutes (docs/recipes.md: names-gru 12,000 steps in 7.7 minutes, shakespeare-gru
  11,500 in 27.1), or ``--steps N``. ``Config.plan`` = ``"0:N"`` gives that
  schedule with no measuring, and ``time_budget`` the cut-off.

Prints, for each, the steps taken, the wall clock, the last learning rate and the best
held-out loss (nats/char), and their difference.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from charrnn.cli import run_script
from charrnn.training.presets import preset
from charrnn.training.run import TrainingRun

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FILES = {"names": "names.txt", "shakespeare": "tinyshakespeare.txt"}
# The presets' step counts before they became budgets, and the minutes those took.
RECORDED = {
    "names": (40000, 9.3),
    "shakespeare": (22000, 30.6),
    "names-gru": (12000, 7.7),
    "shakespeare-gru": (11500, 27.1),
}


def run(name: str, data: pathlib.Path, fields: dict, out: pathlib.Path | None) -> dict:
    with TrainingRun(fields, str(data), out, force=out is not None) as training:
        result = training.train()
        events = result.events
    val = [e.val_loss for e in events if e.val_loss is not None]
    return {
        "arm": name,
        "steps": result.step,
        "minutes": training.state.elapsed / 60,
        "last_lr": events[-1].lr,
        "best_val": min(val) if val else float("nan"),
        "reason": result.reason,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("preset", choices=sorted(RECORDED))
    ap.add_argument("minutes", type=float)
    ap.add_argument("--steps", type=int, help="the hand-chosen count (default: scaled)")
    ap.add_argument("--out", type=pathlib.Path, help="keep both runs under this folder")
    args = ap.parse_args()
    data = SHARED / FILES[args.preset.split("-")[0]]
    if not data.is_file():
        sys.exit(f"{data} is absent: this script needs ../shared/data")
    recipe = dict(preset(args.preset)["config"])
    steps, minutes = RECORDED[args.preset]
    chosen = args.steps or round(steps * args.minutes / minutes)
    arms = {
        "budget": {**recipe, "time_budget": args.minutes},
        "steps": {**recipe, "time_budget": args.minutes, "plan": f"0:{chosen}"},
    }
    rows = []
    for name, fields in arms.items():
        out = args.out / f"{args.preset}-{args.minutes:g}-{name}" if args.out else None
        rows.append(run(name, data, fields, out))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{args.preset}, {args.minutes:g} minutes (hand-chosen: {chosen:,} steps)")
    print("| arm | steps | minutes | last lr | best held-out nats/char | ended by |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['arm']} | {r['steps']:,} | {r['minutes']:.2f} | {r['last_lr']:.2g} | "
            f"{r['best_val']:.4f} | {r['reason']} |"
        )
    print(f"budget - steps: {rows[0]['best_val'] - rows[1]['best_val']:+.4f} nats/char")


if __name__ == "__main__":
    run_script(main)
