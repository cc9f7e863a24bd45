"""``charrnn demo``: the tutorial's experiment, then a names model."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.config import CELLS
from .flags import number, whole_number


def add_parser(subparsers: Any) -> None:
    """Add ``demo`` to the CLI's subparsers."""
    m = subparsers.add_parser(
        "demo",
        help="the tutorial's experiment, then a names model",
        description="Naive 1-hop rule vs full BPTT on the tutorial's data over "
        "several seeds, then a small model on the built-in names.",
    )
    m.add_argument("--seeds", type=whole_number, default=10, help="seeds per rule (10)")
    m.add_argument(
        "--names-seconds", type=number, default=15.0, help="training time for the names model (15)"
    )
    m.add_argument(
        "--cell",
        choices=CELLS,
        default="rnn",
        help="run it all with this cell (rnn: the tutorial's tanh RNN)",
    )
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; its exit status."""
    from ..experiments.demo import run_demo

    return run_demo(seeds=args.seeds, names_seconds=args.names_seconds, cell=args.cell)
