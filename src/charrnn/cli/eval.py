"""``charrnn eval``: mean loss of a model over a corpus, or over the run's held-out split."""

from __future__ import annotations

import argparse
from typing import Any

from .flags import DATA_HELP, data_paths
from .output import load_model, model_arg, print_loss, say, say_skipped, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``eval`` to the CLI's subparsers."""
    e = subparsers.add_parser(
        "eval",
        help="mean loss of a model over a corpus",
        description="Print nats/char, bits/char and perplexity over DATA; without DATA, "
        "over the run's own held-out split, rebuilt from the data file, encoding and "
        "split settings the run recorded (and checked against its fingerprint).",
    )
    model_arg(e)
    e.add_argument(
        "data",
        metavar="DATA",
        nargs="*",
        help=DATA_HELP + ", or @builtin (default: the run's held-out split)",
    )
    e.add_argument("--encoding", default="utf-8")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(e)
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the loss over DATA, or over the run's held-out split."""
    model = load_model(args.run)
    if not args.data:
        result = model.evaluate_heldout()
        what = "lines" if model.config_.mode == "words" else "characters"
        say(f"held-out split of {result.source}: {result.size:,} {what}, as the run held them out")
        print_loss(model, result.loss, args.json, data=result.source, split="held-out")
        return 0
    result = model.evaluate_file(
        data_paths(args.data), encoding=args.encoding, unknown=args.unknown
    )
    say_skipped(result.skipped, result.source)
    if result.dropped:
        say(f"notice: {result.dropped:,} words had nothing left and are left out")
    print_loss(model, result.loss, args.json)
    return 0
