"""``charrnn trace``: walk the model through a text, step by step."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .flags import count
from .output import clean, load_model, model_arg, unknown_arg


def add_parser(subparsers: Any) -> None:
    """Add ``trace`` to the CLI's subparsers."""
    r = subparsers.add_parser(
        "trace",
        help="walk the model through a text step by step",
        description="Per character: input, hidden state, likeliest next "
        "characters, the target's probability and the running loss.",
    )
    model_arg(r)
    r.add_argument("text", metavar="TEXT")
    r.add_argument("--top", type=count, default=3, help="next characters shown (3)")
    unknown_arg(r)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print every step: input, hidden state, gates, next characters, running loss."""
    model = load_model(args.run)
    text = clean(model.vocab_, args.text, args.unknown, "the text")
    steps = model.trace(text, top=args.top)
    H = model.config_.hidden
    shown = repr("\n" + text)
    units = "" if model.unit_name == "char" else f", {model.unit_name} units"
    print(f"model: {model.config_.mode} mode{units}, H={H}, V={model.vocab_.size}; reading {shown}")
    for s in steps:
        if H <= 8:
            hid = "[" + " ".join(f"{v:+.2f}" for v in s.hidden) + "]"
        else:
            hid = (
                f"mean {s.hidden.mean():+.2f} std {s.hidden.std():.2f} "
                f"|h|>0.9: {(np.abs(s.hidden) > 0.9).mean():.0%}"
            )
        tops = "  ".join(f"{c!r} {p:.3f}" for c, p in s.top)
        print(f"t={s.t:<3d} in {s.input_char!r:6} (id {s.input_id:>3})  h: {hid}")
        if s.gates:
            print(f"       gates: {format_gates(s.gates, H)}")
        print(f"       next: {tops}")
        # One step reads one of the model's symbols: a jamo, in jamo units.
        per = "jamo" if model.vocab_.units.splits_chars else "char"
        print(
            f"       target {s.target_char!r} p={s.target_prob:.4f}  "
            f"loss so far {s.running_loss:.4f} nats/{per}"
        )
        if s.factors:  # jamo3 units: the syllable's probability, factor by factor
            print("       = " + " x ".join(_factor(*f) for f in s.factors))
    return 0


def _factor(name: str, jamo: str, p: float) -> str:
    """One factor of a jamo3 syllable, as ``p(initial ㄱ) 0.312``."""
    what = f"{name} {jamo}" if jamo else "no final" if name == "final" else name
    return f"p({what}) {p:.4f}"


def format_gates(gates: dict[str, np.ndarray], H: int) -> str:
    """A gated cell's gates of one step: every value for small H, else a summary.

    A gate near 1 passes (keeps, writes, shows) and near 0 blocks; the shares of
    units that are nearly open or nearly shut say what the cell does at the step.
    """
    parts = []
    for name, g in gates.items():
        if H <= 8:
            parts.append(f"{name} [" + " ".join(f"{v:.2f}" for v in g) + "]")
        else:
            parts.append(
                f"{name} mean {g.mean():.2f} (>0.9: {(g > 0.9).mean():.0%}, "
                f"<0.1: {(g < 0.1).mean():.0%})"
            )
    return "; ".join(parts)
