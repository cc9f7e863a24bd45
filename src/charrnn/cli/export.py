"""``charrnn export``: a model as an ONNX graph, a PyTorch state dict or a safetensors file."""

from __future__ import annotations

import argparse
from typing import Any

from ..common.files import check_target
from .output import files_read, load_model, model_arg


def add_parser(subparsers: Any) -> None:
    """Add ``export`` to the CLI's subparsers."""
    from ..export import FORMATS

    e = subparsers.add_parser(
        "export",
        help="write a model for ONNX Runtime, PyTorch or safetensors",
        description="Write the model of RUN to OUT, with its vocabulary, units and config: "
        "--to onnx a step graph (and, for a words-mode model, OUT's .scorer.onnx, a "
        "whole-word scorer; needs pip install 'charrnn[export]'), --to torch a PyTorch "
        "state dict (needs torch), --to safetensors the weights (needs nothing). Prints the "
        "files written. docs/export.md shows them used outside charrnn.",
    )
    model_arg(e)
    e.add_argument(
        "--to", required=True, choices=FORMATS, help="the format: onnx, torch or safetensors"
    )
    e.add_argument("out", metavar="OUT", help="the file to write")
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export, then print each file written."""
    from ..export import export_model

    model = load_model(args.run)
    check_target(args.out, reading=files_read(args.run))
    for path in export_model(model, args.out, args.to):
        print(path)
    return 0
