"""``charrnn gradcheck``: the backward pass against float64 central differences."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..core.config import CELLS
from .flags import seed

TOLERANCE = 1e-6  # largest relative error a correct float64 backward pass shows


def add_parser(subparsers: Any) -> None:
    """Add ``gradcheck`` to the CLI's subparsers."""
    g = subparsers.add_parser(
        "gradcheck",
        help="numerical gradient check of the backward pass",
        description="Compare backward with float64 central differences on small "
        "random models (padded words; carried text state).",
    )
    g.add_argument("--seed", type=seed, default=0)
    g.add_argument("--cell", choices=CELLS, default="rnn", help="the cell to check (rnn)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the largest relative error per gradient; 1 when one is too large."""
    from ..core.gradcheck import check, random_case

    worst = 0.0
    results = {}
    for ragged, carried in ((True, False), (False, True)):
        case = random_case(
            np.random.default_rng(args.seed), ragged=ragged, carried_state=carried, cell=args.cell
        )
        errs = check(case, "full")
        label = "words (padded, zero state)" if ragged else "text (carried state)"
        results[label] = errs
        worst = max(worst, *errs.values())
    if args.json:
        print(json.dumps({"max_relative_error": results, "ok": worst < TOLERANCE}))
    else:
        for label, errs in results.items():
            print(label)
            for k, v in errs.items():
                print(f"  {k:6} max relative error {v:.2e}")
        print("ok" if worst < TOLERANCE else "FAILED: the backward pass disagrees with the numbers")
    return 0 if worst < TOLERANCE else 1
