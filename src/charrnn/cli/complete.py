"""``charrnn complete``: the most likely completions of a prefix."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .flags import whole_number
from .output import load_model, model_arg, say, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``complete`` to the CLI's subparsers."""
    k = subparsers.add_parser(
        "complete",
        help="the most likely completions of a prefix",
        description="Words mode: the K most probable whole words starting with PREFIX, "
        "exact (best-first search with a bound) when it can be proved, else beam search. "
        "Text mode: the K most likely continuations of --max-len characters (beam search). "
        "Probabilities are of what follows the prefix, given the prefix.",
    )
    model_arg(k)
    k.add_argument("prefix", metavar="PREFIX", nargs="?", default="")
    k.add_argument("-k", type=whole_number, default=10, help="how many (default 10)")
    k.add_argument(
        "--max-len",
        type=whole_number,
        metavar="L",
        help="words: most characters added; text: length of each (default 20)",
    )
    k.add_argument(
        "--method",
        choices=("auto", "exact", "beam"),
        default="auto",
        help="auto: exact in words mode when provable, beam otherwise",
    )
    k.add_argument("--beam", type=whole_number, metavar="W", help="beam width (default 4k)")
    k.add_argument("--json", action="store_true", help="print one JSON object")
    k.add_argument(
        "--allow-empty",
        action="store_true",
        help="words mode, empty prefix: keep the empty word among the completions "
        "(by default it is masked, as in sample, and the rest renormalised)",
    )
    unknown_arg(k)
    k.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the completions with their probabilities."""
    model = load_model(args.run)
    prefix = model.vocab_.clean(args.prefix, args.unknown)
    r = model.complete(
        prefix,
        args.k,
        max_len=args.max_len,
        method=args.method,
        beam=args.beam,
        allow_empty=args.allow_empty,
    )
    if args.json:
        print(json.dumps(r.to_dict(), ensure_ascii=False))
        return 0
    how = "exact: these are the most likely" if r.method == "exact" else "beam search"
    note = f"; {r.note}" if r.note else ""
    say(f"{how} ({r.expanded:,} model steps, {r.seconds:.3f} s){note}")
    for c in r.items:
        print(f"{c.text if model.config_.mode == 'words' else repr(c.text)}\t{c.prob:.6f}")
    return 0
