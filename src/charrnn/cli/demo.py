"""``charrnn demo``: the tutorial's experiment, then a names model; with ``--page``, the
tutorial's two rules side by side on the learner's page."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from typing import Any

from ..common.errors import CharRNNError
from ..core.config import CELLS
from .flags import count, number


def add_parser(subparsers: Any) -> None:
    """Add ``demo`` to the CLI's subparsers."""
    m = subparsers.add_parser(
        "demo",
        help="the tutorial's experiment, then a names model",
        description="Naive 1-hop rule vs full BPTT on the tutorial's data over "
        "several seeds, then a small model on the built-in names.",
    )
    m.add_argument("--seeds", type=count, default=10, help="seeds per rule (10)")
    m.add_argument(
        "--names-seconds", type=number, default=15.0, help="training time for the names model (15)"
    )
    m.add_argument(
        "--cell",
        choices=CELLS,
        default="rnn",
        help="run it all with this cell (rnn: the tutorial's tanh RNN)",
    )
    m.add_argument(
        "--page",
        action="store_true",
        help="instead: train the tutorial's 'vector' experiment with full BPTT and with the "
        "naive rule (a seed where the naive rule fails) and serve both side by side",
    )
    m.add_argument(
        "--out",
        metavar="DIR",
        help="with --page: keep the two runs in DIR (default: a temp folder)",
    )
    m.add_argument(
        "--port", type=int, default=8000, help="with --page: default 8000; 0: a free one"
    )
    m.add_argument("--host", default="127.0.0.1", help="with --page: default 127.0.0.1")
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; its exit status."""
    from ..experiments.demo import run_demo

    # Checked before any training, not when the part that uses each is reached.
    if not (math.isfinite(args.names_seconds) and args.names_seconds > 0):
        raise CharRNNError(
            f"--names-seconds must be a positive number of seconds; got {args.names_seconds}"
        )
    if not 0 <= args.port <= 65535:
        raise CharRNNError(f"--port must be between 0 and 65535; got {args.port}")
    if args.page and not args.host.strip():
        raise CharRNNError("--host is empty; give 127.0.0.1 (this machine only) or 0.0.0.0")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CharRNNError(f"--out {args.out} is a file; give a folder for the two runs")
    if args.page:
        return page(args)
    return run_demo(seeds=args.seeds, names_seconds=args.names_seconds, cell=args.cell)


def page(args: argparse.Namespace) -> int:
    """Train the pair, then serve it side by side until Ctrl-C; a folder made for
    them (no ``--out``) goes when the page does."""
    if args.out is not None:
        return _page(args, args.out)
    out = tempfile.mkdtemp(prefix="charrnn-vector-")
    try:
        return _page(args, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)  # the two runs were only for this page


def _page(args: argparse.Namespace, out: str) -> int:
    from ..api import CharRNN
    from ..experiments.demo import vector_pair
    from ..viz.server import make_server
    from .output import say
    from .serve import serve_until_stopped

    say(f"training the tutorial's 'vector' experiment with both rules into {out}")
    pair = vector_pair(out, seeds=range(args.seeds), cell=args.cell, say=say)
    if not pair.shows_the_lesson:
        say(
            f"note: in seeds 0 to {args.seeds - 1} the naive rule never failed here; "
            "the page shows the last (try --seeds 20)"
        )
    models = [CharRNN.load(pair.full), CharRNN.load(pair.naive)]
    names = [f"full BPTT (seed {pair.seed})", f"naive 1-hop rule (seed {pair.seed})"]
    server = make_server(
        models, args.host, args.port, first_text="vector", names=names, runs=[pair.full, pair.naive]
    )
    say("click the 'r' of 'vector': full BPTT expects it, the naive rule does not")
    return serve_until_stopped(server, f"{pair.full} and {pair.naive}", args.host)
