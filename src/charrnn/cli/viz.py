"""``charrnn viz``: the learner's page for one text, as a self-contained HTML file."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..common.errors import CharRNNError
from ..common.files import check_target, write_atomic
from ..data.files import read_text
from ..generation.views import align
from .output import files_read, load_model, model_arg, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``viz`` to the CLI's subparsers."""
    vz = subparsers.add_parser(
        "viz",
        help="the learner's page for one text, as a self-contained HTML file",
        description="Write the page's views of TEXT to one HTML file that works from a file "
        "URL (no server, no network); --png also draws the activations and influence "
        "(needs matplotlib: pip install 'charrnn[plot]').",
    )
    model_arg(vz)
    vz.add_argument("text", metavar="TEXT", nargs="?", help="the text to read")
    vz.add_argument("--text-file", metavar="FILE", help="read the text from a file")
    vz.add_argument("--encoding", default="utf-8", help="encoding of --text-file")
    vz.add_argument("--out", required=True, metavar="HTML", help="the HTML file to write")
    vz.add_argument(
        "--png", action="store_true", help="also write OUT-activations.png and OUT-influence.png"
    )
    vz.add_argument(
        "--with",
        dest="others",
        metavar="RUN",
        action="append",
        default=[],
        help="another model to show side by side with RUN (up to two); each reads the text "
        "with its own vocabulary",
    )
    unknown_arg(vz)
    vz.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the page (and the pictures), then print the paths written."""
    from ..viz.compare import MAX_MODELS, static_compare
    from ..viz.page import payload, static_page
    from .serve import model_names

    if len(args.others) > MAX_MODELS - 1:
        raise CharRNNError(f"give at most {MAX_MODELS - 1} runs with --with")
    model = load_model(args.run)
    if (args.text is None) == (args.text_file is None):
        raise CharRNNError("give TEXT or --text-file (one of them)")
    text = args.text if args.text is not None else read_text(args.text_file, args.encoding)
    shared = text
    if args.others:
        # Side by side, each column leaves out what its model cannot read; the views of the
        # first model below read the same text without them.
        text = align(model.vocab_, text, model.config_.mode).readable
    else:
        text = model.vocab_.clean(text, args.unknown)
    data = payload(model, text, with_influence=True)
    if args.others:
        models = [model, *(load_model(p) for p in args.others)]
        data["compare"] = static_compare(models, model_names([args.run, *args.others]), shared)
    html = static_page(data)
    check_target(args.out, reading=files_read(args.run, args.text_file, *args.others))
    written = [args.out]
    if args.png:
        from ..viz.pictures import plot_views

        written += plot_views(model, text, os.path.splitext(args.out)[0])
    write_atomic(args.out, html)
    for path in written:
        print(path)
    return 0
