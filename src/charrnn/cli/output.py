"""What every command shares: exit statuses, notices on stderr, the model argument,
reading a model, cleaning input the model cannot read, printing a loss.

Data goes to stdout and everything said to the user to stderr, so that
``charrnn sample RUN > words.txt`` holds samples and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from ..api import CharRNN
from ..core.vocab import Vocab
from ..training.evaluate import Loss
from ..training.pretrained import pretrained_names

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE (13), as a shell reports a tool SIGPIPE ended


def say(msg: str) -> None:
    """A notice for the user, on stderr so that stdout stays data."""
    print(msg, file=sys.stderr, flush=True)


def silent(msg: str) -> None:
    """What a data-parallel rank other than 0 says: nothing (rank 0 speaks for the job)."""


def model_arg(parser: argparse.ArgumentParser) -> None:
    """The ``RUN`` argument of the commands that use a model."""
    parser.add_argument(
        "run",
        metavar="RUN",
        help="run directory, .npz checkpoint, or a pretrained model: "
        + ", ".join("@" + n for n in pretrained_names()),
    )


def unknown_arg(parser: argparse.ArgumentParser) -> None:
    """``--unknown``: what to do with characters the model never saw."""
    parser.add_argument(
        "--unknown",
        choices=("error", "skip"),
        default="error",
        help="characters the model never saw: error (default) or skip them",
    )


def load_model(path: str) -> CharRNN:
    """The model of a run directory (its best), of a ``.npz`` checkpoint, or ``@name``
    shipped with the package."""
    return CharRNN.load(path)


def files_read(*paths: str | None) -> list[str]:
    """The files behind what a command reads: a run directory's files, or the file given.

    For :func:`~charrnn.common.files.check_target`, so that an output path never names
    the model, log or text the command is reading.
    """
    found: list[str] = []
    for path in paths:
        if path is None:
            continue
        if os.path.isdir(path):
            found += [os.path.join(path, name) for name in sorted(os.listdir(path))]
        elif os.path.isfile(path):
            found.append(path)
    return found


def clean(vocab: Vocab, text: str, unknown: str, what: str) -> str:
    """``vocab.clean``, with a notice naming what ``--unknown skip`` dropped."""
    cleaned = vocab.clean(text, unknown)  # type: ignore[arg-type]
    skipped = vocab.unknown(text)
    if cleaned != text and skipped:  # not when only composing jamo (NFC) changed it
        shown = ", ".join(repr(c) for c in skipped)
        say(
            f"notice: skipped {shown} (not in the model's vocabulary): {what} is read as "
            f"{cleaned!r}"
        )
    return cleaned


def say_skipped(skipped: Mapping[str, int], what: str) -> None:
    """One notice for every character ``--unknown skip`` dropped from a corpus."""
    if skipped:
        shown = ", ".join(f"{c!r} ({n:,}x)" for c, n in sorted(skipped.items())[:20])
        more = " ..." if len(skipped) > 20 else ""
        say(
            f"notice: skipped {sum(skipped.values()):,} characters not in the model's "
            f"vocabulary in {what}: {shown}{more}"
        )


def print_loss(model: CharRNN, loss: Loss, as_json: bool, **extra: Any) -> None:
    """A loss as ``charrnn eval`` prints it: one line, or one JSON object."""
    if as_json:
        print(json.dumps({**loss.to_dict(), **extra}))
    else:
        print(
            f"{loss.per_char:.4f} nats/char  {loss.bits:.4f} bits/char  "
            f"perplexity {loss.perplexity:.3f}  ({loss.chars:,} characters)"
            + per_symbol(model, loss.nats, loss.n_chars)
        )


def per_symbol(model: CharRNN, nats: float, n: int) -> str:
    """Where the model's symbols are not characters, the loss per symbol beside."""
    if not model.vocab_.units.splits_chars:
        return ""
    return f"  {nats:.4f} nats/symbol over {n:,} {model.unit_name} symbols"
