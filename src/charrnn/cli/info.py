"""``charrnn info``: the version, which kernels run the recurrence and why, the shipped models."""

from __future__ import annotations

import argparse
from typing import Any

from ..common.version import __version__
from ..core import kernels
from ..training.pretrained import pretrained_names


def add_parser(subparsers: Any) -> None:
    """Add ``info`` to the CLI's subparsers."""
    c = subparsers.add_parser(
        "info",
        help="version, the active kernels and the pretrained models",
        description="Print charrnn's version, which kernels run the recurrence "
        "(compiled or numpy) and why, and the pretrained models (@name). "
        "CHARRNN_KERNELS=auto|numpy|compiled sets the choice outside training (a training "
        "run takes its --kernels).",
    )
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the version, the kernels line and the pretrained models."""
    print(f"charrnn {__version__}")
    print(kernels.describe())
    print("pretrained models: " + (", ".join("@" + n for n in pretrained_names()) or "none"))
    return 0
