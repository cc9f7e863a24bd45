"""``charrnn plot``: a PNG of a run's training and validation loss."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..common.errors import CharRNNError
from ..common.files import check_target
from ..training.rundir import RunDir
from .output import files_read


def add_parser(subparsers: Any) -> None:
    """Add ``plot`` to the CLI's subparsers."""
    pl = subparsers.add_parser(
        "plot",
        help="PNG of train and validation loss of a run",
        description="Draw RUN/metrics.jsonl against steps and wall time; "
        "needs matplotlib (pip install 'charrnn[plot]').",
    )
    pl.add_argument("run", metavar="RUN", help="run directory")
    pl.add_argument("--out", metavar="PNG", help="output file (default RUN/loss.png)")
    pl.add_argument("--title", help="figure title (default: the run's name)")
    pl.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the curves; print the file written."""
    from ..viz.curves import plot_metrics

    rundir = RunDir(args.run)
    if not os.path.isdir(args.run):
        raise CharRNNError(f"{args.run} is not a run directory")
    out_path = args.out or rundir.file("loss.png")
    reading = [f for f in files_read(args.run) if os.path.basename(f) != "loss.png"]
    check_target(out_path, reading=reading)
    # With --ema, validation measures the averaged model, training loss the raw one.
    saved = rundir.read_config().get("config")
    averaged = isinstance(saved, dict) and bool(saved.get("ema"))
    val_label = "validation (moving average)" if averaged else "validation"
    plot_metrics(
        rundir.read_metrics(),
        out_path,
        title=args.title or os.path.basename(os.path.abspath(args.run)),
        val_label=val_label,
    )
    print(out_path)
    return 0
