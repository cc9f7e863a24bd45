"""``charrnn info``: the version, and which kernels run the recurrence, and why."""

from __future__ import annotations

import argparse
from typing import Any

from ..common.version import __version__
from ..core import kernels


def add_parser(subparsers: Any) -> None:
    """Add ``info`` to the CLI's subparsers."""
    c = subparsers.add_parser(
        "info",
        help="version and the active kernels",
        description="Print charrnn's version and which kernels run the recurrence "
        "(compiled or numpy), and why. CHARRNN_KERNELS=auto|numpy|compiled sets the "
        "choice outside training (a training run takes its --kernels).",
    )
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the version and the kernels line."""
    print(f"charrnn {__version__}")
    print(kernels.describe())
    return 0
