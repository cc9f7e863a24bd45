"""``charrnn serve``: the learner's page for a model (or two or three side by side), on a
local web server."""

from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any

from ..common.errors import CharRNNError
from .output import load_model, say, unknown_arg

WAIT_POLL = 0.5  # seconds between looks for a training run's first checkpoint


def add_parser(subparsers: Any) -> None:
    """Add ``serve`` to the CLI's subparsers."""
    sv = subparsers.add_parser(
        "serve",
        help="a local web page to look inside a model",
        description="Serve the learner's page for RUN: probabilities and next characters as "
        "you type, hidden units, influence of earlier characters, how far back a prediction "
        "reaches, sampling, completions; for a run directory, its loss curves and samples "
        "from its checkpoints as it trains. Two or three RUNs are shown side by side on the "
        "same text.",
    )
    sv.add_argument(
        "runs",
        metavar="RUN",
        nargs="+",
        help="run directory or .npz checkpoint; two or three to compare them side by side",
    )
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


def _wait_for_model(path: str) -> None:
    """A run directory that is training but has saved no model yet: wait for its first."""
    from ..viz.live import is_run_dir

    def has_model() -> bool:
        return any(os.path.isfile(os.path.join(path, n)) for n in ("best.npz", "latest.npz"))

    if not is_run_dir(path) or has_model():
        return
    say(f"waiting for the first checkpoint of {path} (Ctrl-C stops)")
    while not has_model():
        time.sleep(WAIT_POLL)


def model_names(paths: list[str]) -> list[str]:
    """Short labels for the models: the runs' folder names, or the paths when those repeat."""
    short = [os.path.basename(os.path.normpath(p)) or p for p in paths]
    return short if len(set(short)) == len(short) else paths


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    from ..viz.compare import MAX_MODELS
    from ..viz.live import is_run_dir
    from ..viz.server import default_text, make_server

    if len(args.runs) > MAX_MODELS:
        raise CharRNNError(f"give at most {MAX_MODELS} runs to compare; got {len(args.runs)}")
    try:
        for path in args.runs:
            _wait_for_model(path)
    except KeyboardInterrupt:
        say("stopped")
        return 0
    models = [load_model(p) for p in args.runs]
    model = models[0]
    if args.text is None:
        first = default_text(model)
    elif len(models) == 1:
        first = model.vocab_.clean(args.text, args.unknown)
    else:
        first = args.text  # side by side: each column leaves out what its model cannot read
    runs = [p if is_run_dir(p) else None for p in args.runs]
    if any(r is not None for r in runs) and hasattr(os, "nice"):
        # A run directory may be training on this machine's cores: the page, which only
        # reads it, yields them to the trainer whenever both want them.
        os.nice(10)
    server = make_server(
        models,
        args.host,
        args.port,
        first_text=first,
        quiet=not args.verbose,
        names=model_names(args.runs),
        runs=runs,
    )
    return serve_until_stopped(server, " and ".join(args.runs), args.host)


def serve_until_stopped(server: Any, what: str, host: str) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly; the exit status (0)."""
    from ..viz.server import is_loopback

    if not is_loopback(host):
        say(
            f"warning: serving on {host}, not this machine only: the page has no "
            "authentication, and anyone on that network can use it and the model's time"
        )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Inside the try: a signal that arrives as soon as the line is out stops cleanly too.
        print(f"serving {what} at {server.url} (Ctrl-C stops)", flush=True)
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
