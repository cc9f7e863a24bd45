"""``charrnn experiment gap``: the command's flags and output (the experiment is in
:mod:`charrnn.experiments.gap`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..common.errors import CharRNNError
from ..common.optional import require
from ..experiments.gap import DEFAULT_GAPS, RULES, GapSettings, SeedRun, available_cells
from .flags import count, number, seed, whole_number


def _list(kind: Any) -> Any:
    def parse(s: str) -> tuple[Any, ...]:
        items = [p.strip() for p in s.split(",") if p.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        return tuple(kind(p) for p in items)

    return parse


def add_parser(subparsers: Any) -> None:
    """Add ``experiment`` (with its ``gap`` subcommand) to the CLI's subparsers."""
    x = subparsers.add_parser(
        "experiment",
        help="experiments that measure what the model can learn",
        description="Experiments beyond the tutorial's; see docs/experiments.md.",
    )
    xs = x.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    d = GapSettings()
    g = xs.add_parser(
        "gap",
        help="latch task: success of each learning rule and cell against the distance k",
        description="Train many seeds on words 'c d1..dk q c' (a key, k random distractors, "
        "a query, the key again) for every gap k, learning rule and cell, with the same "
        "update budget; print the share of seeds whose accuracy at the query reaches the "
        "threshold, with Wilson 95% intervals. Rules: naive (the tutorial's 1-hop rule), "
        "window (full BPTT truncated to W=max(1,k//2) steps back, short of the key), full.",
    )
    g.add_argument(
        "--gaps",
        type=_list(whole_number),
        default=d.gaps,
        metavar="K,K,...",
        help=f"distractor counts (default {','.join(map(str, DEFAULT_GAPS))})",
    )
    g.add_argument(
        "--rules",
        type=_list(str),
        default=d.rules,
        metavar="R,R,...",
        help=f"among {','.join(RULES)} (default all)",
    )
    g.add_argument(
        "--cells",
        type=_list(str),
        default=d.cells,
        metavar="C,C,...",
        help=f"among {','.join(available_cells())} (default rnn, the tutorial's cell)",
    )
    g.add_argument("--seeds", type=whole_number, default=d.seeds, help=f"per point ({d.seeds})")
    g.add_argument(
        "--steps",
        type=whole_number,
        default=d.steps,
        help=f"Adam updates per model, the same everywhere ({d.steps})",
    )
    g.add_argument(
        "--batch-size",
        type=whole_number,
        default=d.batch_size,
        metavar="B",
        help=f"words per update ({d.batch_size})",
    )
    g.add_argument(
        "--hidden",
        type=whole_number,
        default=d.hidden,
        metavar="H",
        help=f"hidden size ({d.hidden})",
    )
    g.add_argument("--lr", type=number, default=d.lr, metavar="X", help=f"Adam rate ({d.lr})")
    g.add_argument(
        "--init", choices=("normal", "scaled"), default=d.init, help=f"initialisation ({d.init})"
    )
    g.add_argument("--keys", default=d.keys, help=f"key characters; chance is 1/len ({d.keys})")
    g.add_argument(
        "--distractors", default=d.distractors, help=f"distractor characters ({d.distractors})"
    )
    g.add_argument(
        "--words", type=whole_number, default=d.words, help=f"training words per model ({d.words})"
    )
    g.add_argument(
        "--test-words",
        type=whole_number,
        default=d.test_words,
        help=f"fresh words the query accuracy is measured on ({d.test_words})",
    )
    g.add_argument(
        "--threshold",
        type=number,
        default=d.threshold,
        metavar="A",
        help=f"a seed succeeds at query accuracy >= A ({d.threshold})",
    )
    g.add_argument(
        "--norm-gap",
        type=whole_number,
        default=d.norm_gap,
        metavar="K",
        help=f"the gap whose gradient norms are measured ({d.norm_gap})",
    )
    g.add_argument("--seed", type=seed, default=d.seed, help=f"base seed ({d.seed})")
    g.add_argument(
        "--jobs",
        type=count,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (default: 2, or 1 on one core); the results do not depend on it",
    )
    g.add_argument(
        "--png-dir",
        metavar="DIR",
        help="also draw DIR/gap-success.png and DIR/gap-norms.png "
        "(needs matplotlib: pip install 'charrnn[experiment]')",
    )
    g.add_argument("--json", action="store_true", help="print one JSON object, not the table")
    g.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    g.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the gap experiment; print its table (or JSON) and draw its pictures."""
    settings = GapSettings(
        gaps=args.gaps,
        rules=args.rules,
        cells=args.cells,
        seeds=args.seeds,
        steps=args.steps,
        batch_size=args.batch_size,
        hidden=args.hidden,
        lr=args.lr,
        init=args.init,
        keys=args.keys,
        distractors=args.distractors,
        words=args.words,
        test_words=args.test_words,
        threshold=args.threshold,
        norm_gap=args.norm_gap if args.norm_gap in args.gaps else None,
        seed=args.seed,
    )
    made_dir = False
    if args.png_dir is not None:
        if os.path.exists(args.png_dir) and not os.path.isdir(args.png_dir):
            raise CharRNNError(f"--png-dir {args.png_dir} is a file, not a directory")
        # No matplotlib: say so before the grid runs, not after.
        require("matplotlib", what="the experiment's pictures (--png-dir)", extra="experiment")
    if args.png_dir is not None and settings.norm_gap is None:
        raise CharRNNError(f"--norm-gap {args.norm_gap} must be one of --gaps for the pictures")
    if args.png_dir is not None and not os.path.isdir(args.png_dir):
        # Made now, as `train --out` makes its run directory, so that a folder
        # that cannot be made fails before the grid runs, not after.
        try:
            os.makedirs(args.png_dir)
        except OSError as exc:
            raise CharRNNError(f"cannot make --png-dir {args.png_dir}: {exc.strerror}") from None
        made_dir = True
    try:
        return _run_gap(args, settings)
    except BaseException:
        if made_dir and not os.listdir(args.png_dir):
            os.rmdir(args.png_dir)  # leave nothing behind
        raise


def _run_gap(args: argparse.Namespace, settings: GapSettings) -> int:
    from ..experiments.gap import format_table, plot_norms, plot_success, run_experiment, to_json

    def progress(r: SeedRun) -> None:
        if not args.quiet:
            print(
                f"{r.cell} k={r.gap:<3} {r.rule:<6} seed {r.seed:<3} query accuracy "
                f"{r.accuracy:.3f}",
                file=sys.stderr,
                flush=True,
            )

    points, runs, seconds = run_experiment(settings, jobs=args.jobs, on_result=progress)
    if args.json:
        print(json.dumps(to_json(settings, points, runs, seconds)))
    else:
        print(
            f"Latch task: key in {settings.keys!r}, k distractors from "
            f"{settings.distractors!r}, query {settings.query!r}; chance at the query "
            f"{settings.chance:.2f}."
        )
        s = settings
        print(
            f"Success: query accuracy >= {s.threshold:g} on {s.test_words} fresh words; "
            f"{s.seeds} seeds per point, {s.steps} Adam steps of {s.batch_size} words, "
            f"H={s.hidden}, init {s.init}."
        )
        print("Each entry: seeds that succeeded / seeds [Wilson 95% interval], mean accuracy.")
        print(format_table(settings, points))
        cpu = sum(r.cpu_seconds for r in runs)
        print(
            f"({seconds:.0f} s with {args.jobs} process{'es' if args.jobs > 1 else ''}; "
            f"{cpu:.0f} s of CPU time over all runs)"
        )
    if args.png_dir is not None:
        success = os.path.join(args.png_dir, "gap-success.png")
        norms = os.path.join(args.png_dir, "gap-norms.png")
        plot_success(settings, points, success)
        plot_norms(settings, runs, norms)
        print(f"wrote {success} and {norms}", file=sys.stderr)
    return 0
