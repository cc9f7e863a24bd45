"""Candidate default learning-rate schedules, measured on tinyshakespeare by step budget.

    python examples/defaults.py                       # every candidate at 1x, 2x, 4x
    python examples/defaults.py --long --steps 6000   # H=256, --init scaled, 12 passes
    python examples/defaults.py --long                # the same for 16,000 steps
    python examples/defaults.py --only cosine --steps 1000

A long run is measured in passes over the data as much as in steps: 16,000 steps
of B=32, T=64 (33 million characters) were about 9 passes over the training part
of the 3.9 MB novel where a constant rate went wrong; 6,000 steps are 12 passes
over tinyshakespeare's 1.0 million training characters.

Each run is ``charrnn train tinyshakespeare.txt --mode text`` with the default
``charrnn.Config`` except the candidate's fields (and, with ``--long``, H=256
and ``init="scaled"``), trained through :class:`charrnn.training.run.TrainingRun` on
the last 10% held out. Budgets are steps, not seconds, so the figures do not
depend on the machine or on what else runs on it. For each run it prints the
best held-out loss and its step, the held-out and training loss at the end,
and how far the held-out loss rose from its best: a default that rises on a
long run is what docs/recipes.md ("How the default schedule was chosen") warns against.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

from charrnn import Config
from charrnn.cli import run_script
from charrnn.training.run import TrainingRun
from charrnn.training.trainer import LogEvent

DATA = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"

# Fields over the defaults. "constant 0.005" is what the defaults were before
# the cosine schedule; the others are the alternatives the issue names.
CANDIDATES: dict[str, dict[str, object]] = {
    "constant": {"schedule": "constant", "lr": 0.005},
    "constant-low": {"schedule": "constant", "lr": 0.002},
    "cosine": {"schedule": "cosine", "lr": 0.005, "lr_min_ratio": 0.1},
    "cosine-low": {"schedule": "cosine", "lr": 0.002, "lr_min_ratio": 0.1},
}


def measure(fields: dict[str, object], steps: int, path: pathlib.Path) -> dict[str, float]:
    """Train one run; return its best, final and rise figures."""
    # About 20 validations per run, so a rise and its best step are both seen.
    every = max(50, steps // 20)
    config = Config(
        mode="text",
        steps=steps,
        log_every=every,
        val_fraction=0.1,
        **fields,  # type: ignore[arg-type]
    )
    vals: list[tuple[int, float]] = []
    trains: list[float] = []

    def on_event(e: LogEvent) -> None:
        trains.append(e.train_loss)
        if e.val_loss is not None:
            vals.append((e.step, e.val_loss))
        # The curve as it goes, on stderr: a long run's shape is the point.
        print(
            f"  {e.step:>6}/{steps}  train {e.train_loss:.4f}  val {e.val_loss:.4f}",
            file=sys.stderr,
            flush=True,
        )

    with TrainingRun(config, str(path)) as run:
        run.train(on_event=on_event)
    best_step, best = min(vals, key=lambda sv: sv[1])
    final = vals[-1][1]
    return {
        "steps": steps,
        "best_val": round(best, 4),
        "best_step": best_step,
        "final_val": round(final, 4),
        "rise": round(final - best, 4),
        "final_train": round(trains[-1], 4),
        "min_train": round(min(trains), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--long", action="store_true", help="H=256, init scaled, 16,000 steps")
    ap.add_argument("--only", choices=list(CANDIDATES), action="append", help="these candidates")
    ap.add_argument("--steps", type=int, action="append", help="these step budgets")
    ap.add_argument("--json", action="store_true", help="one JSON object per run")
    args = ap.parse_args()
    path = DATA / "tinyshakespeare.txt"
    if not path.is_file():
        sys.exit(f"{path} is absent")
    base_steps = Config().steps or 1000
    budgets = args.steps or ([16000] if args.long else [base_steps, 2 * base_steps, 4 * base_steps])
    extra = {"hidden": 256, "init": "scaled"} if args.long else {}
    names = args.only or list(CANDIDATES)
    print(
        f"{'candidate':<14}{'steps':>7}{'best val':>10}{'at step':>9}{'final val':>11}"
        f"{'rise':>8}{'final train':>13}"
    )
    for name in names:
        for steps in budgets:
            r = measure({**CANDIDATES[name], **extra}, steps, path)
            if args.json:
                print(json.dumps({"candidate": name, **extra, **r}), flush=True)
                continue
            assert math.isfinite(r["best_val"])
            print(
                f"{name:<14}{steps:>7}{r['best_val']:>10.4f}{r['best_step']:>9}"
                f"{r['final_val']:>11.4f}{r['rise']:>+8.4f}{r['final_train']:>13.4f}",
                flush=True,
            )


if __name__ == "__main__":
    run_script(main)
