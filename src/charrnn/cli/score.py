"""``charrnn score``: the log-probability of strings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .output import clean, load_model, model_arg, per_symbol, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``score`` to the CLI's subparsers."""
    c = subparsers.add_parser(
        "score",
        help="log-probability of strings",
        description="Print each string with its log-probability (nats).",
    )
    model_arg(c)
    c.add_argument("words", nargs="+", metavar="WORD")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(c)
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each string with its log-probability."""
    model = load_model(args.run)
    words = [clean(model.vocab_, w, args.unknown, repr(w)) for w in args.words]
    scores = model.score_details(words)
    if args.json:
        print(json.dumps({"scores": [s.to_dict() for s in scores]}, ensure_ascii=False))
        return 0
    for s in scores:
        print(
            f"{s.text}\t{s.logprob:.4f}\t({s.nats_per_char:.4f} nats/char"
            + per_symbol(model, s.nats_per_symbol, len(s.char_nll)).replace("  ", ", ", 1)
            + ")"
        )
    return 0
