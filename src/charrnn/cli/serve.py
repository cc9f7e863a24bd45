"""``charrnn serve``: the learner's page for a model, on a local web server."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from .output import load_model, model_arg, say, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``serve`` to the CLI's subparsers."""
    sv = subparsers.add_parser(
        "serve",
        help="a local web page to look inside a model",
        description="Serve the learner's page for RUN: probabilities and next characters as "
        "you type, hidden units, influence of earlier characters, sampling, completions.",
    )
    model_arg(sv)
    sv.add_argument("--port", type=int, default=8000, help="default 8000; 0 picks a free port")
    sv.add_argument(
        "--host",
        default="127.0.0.1",
        help="default 127.0.0.1 (this machine only); another address lets anyone on that "
        "network use the page (it has no authentication)",
    )
    sv.add_argument("--text", help="the text the page starts with (default: a sample)")
    unknown_arg(sv)
    sv.add_argument("--verbose", action="store_true", help="log every request on stderr")
    sv.set_defaults(func=run)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server as Ctrl-C does: cleanly, status 0


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    from ..viz.server import default_text, is_loopback, make_server

    model = load_model(args.run)
    first = (
        default_text(model) if args.text is None else model.vocab_.clean(args.text, args.unknown)
    )
    server = make_server(model, args.host, args.port, first_text=first, quiet=not args.verbose)
    if not is_loopback(args.host):
        say(
            f"warning: serving on {args.host}, not this machine only: the page has no "
            "authentication, and anyone on that network can use it and the model's time"
        )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Inside the try: a signal that arrives as soon as the line is out stops cleanly too.
        print(f"serving {args.run} at {server.url} (Ctrl-C stops)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        # Requests already computing finish and answer (their threads go on); new ones wait
        # in the closed socket's queue and are refused when it closes.
        server.wait_until_idle(10.0)
        say("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    return 0
