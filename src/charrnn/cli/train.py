"""``charrnn train``: train a model on a file of words or text."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from typing import Any

from ..common.errors import CharRNNError
from ..common.optional import optional
from ..core.config import TRAIN_FIELDS
from ..data.files import builtin_names
from ..training.parallel import world
from ..training.presets import PRESETS, preset_config, ranks_line, scale_line
from ..training.run import Callbacks, TrainingRun, advance_bar
from ..training.trainer import LogEvent, Trainer
from .flags import DATA_HELP, add_config_flags, cli_message, data_paths
from .output import EXIT_INTERRUPTED, say, silent


def add_parser(subparsers: Any) -> None:
    """Add ``train`` to the CLI's subparsers."""
    t = subparsers.add_parser(
        "train",
        help="train a model on a file of words or text",
        description="Train a model; writes RUN/latest.npz, RUN/best.npz, "
        "RUN/metrics.jsonl and RUN/config.json.",
    )
    t.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help=DATA_HELP + "; built-in corpora: " + ", ".join("@" + n for n in builtin_names()),
    )
    groups = add_config_flags(t)
    run_group = groups["run"]
    run_group.add_argument("--out", required=True, metavar="RUN", help="run directory")
    run_group.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a tuned recipe (see docs/recipes.md); other flags override it",
    )
    run_group.add_argument(
        "--encoding", help="text encoding of DATA (default utf-8; a resume keeps the run's)"
    )
    run_group.add_argument(
        "--val-data",
        action="append",
        metavar="DATA",
        help="held-out data given apart (any kind DATA takes; repeat for several); "
        "then no share of DATA is held out",
    )
    run_group.add_argument(
        "--resume", action="store_true", help="continue RUN from its latest checkpoint"
    )
    run_group.add_argument("--force", action="store_true", help="overwrite a run already in RUN")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar, no log lines")
    t.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user actually gave (``None`` means not given), over the preset's."""
    given = {k: getattr(args, k) for k in TRAIN_FIELDS if getattr(args, k) is not None}
    if "epochs" in given and "steps" not in given:
        given["steps"] = None  # --epochs alone means: budget by passes
    if args.preset is not None:
        # The recipe for the budget given (a preset's scale rows), under the flags given.
        given = {**preset_config(args.preset, given.get("time_budget")), **given}
    return given


class _Signals:
    """Ctrl-C, SIGTERM (and SIGUSR1 under MPI) end training after the current step.

    The first signal sets ``stop``; the run saves and returns. A second Ctrl-C
    ends at once (the atomic writes keep the files sound).
    """

    def __init__(self, ranks: int):
        self.stop = threading.Event()
        self.received: list[int] = []
        self._ranks = ranks
        self._old: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        self.stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> _Signals:
        wanted = [signal.SIGINT, signal.SIGTERM]
        if self._ranks > 1:
            # mpiexec forwards SIGUSR1 to every rank (and ends the job on SIGTERM):
            # `kill -USR1 <mpiexec>` saves and stops a whole job.
            wanted.append(signal.SIGUSR1)
        self._old = {s: signal.signal(s, self._on_signal) for s in wanted}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    def exit_status(self) -> int:
        """130 for Ctrl-C, or for a stop another rank's signal caused; else 128 + signal."""
        if not self.received or self.received[0] == signal.SIGINT:
            return EXIT_INTERRUPTED
        return 128 + self.received[0]


def run(args: argparse.Namespace) -> int:
    """Train; 0 when done, 130 (or 128 + signal) when a signal stopped it."""
    # Under MPI (mpiexec -n K) every rank runs this; rank 0 alone speaks and writes.
    comm = world()
    tell = say if comm.is_root else silent
    with TrainingRun(
        config_from_args(args),
        data_paths(args.data),
        args.out,
        resume=args.resume,
        force=args.force,
        encoding=args.encoding,
        val_data=data_paths(args.val_data) if args.val_data else None,
        comm=comm,
    ) as training:
        for notice in training.notices:
            tell(cli_message(notice))
        if training.resumed and training.finished:
            tell(
                f"the run is already at step {training.trainer.step} of "
                f"{training.trainer.total_steps}; raise --steps (or start a new run with a "
                "longer --time-budget) to train further"
            )
            return 0
        training.write_config()
        cfg, tr = training.config, training.trainer
        if not args.quiet:
            if args.preset and not training.resumed:
                for line in (
                    scale_line(args.preset, args.time_budget),
                    ranks_line(args.preset, comm.size, args.time_budget),
                ):
                    if line:
                        tell(line)
            unit = "words" if cfg.mode == "words" else "characters"
            vocab = training.corpus.vocab
            V = f"V={vocab.size}"
            if cfg.units == "jamo3":  # the other characters, then every syllable as its jamo
                V = f"V={vocab.n_other}+{vocab.size - vocab.n_other} syllables"
            tell(
                f"{'resuming' if training.resumed else 'training'} a {cfg.mode}-mode "
                f"{cfg.cell.upper()}: "
                f"H={cfg.hidden}, {V}, "
                f"{training.n_params:,} parameters, "
                f"{len(training.train_data):,} training {unit}, "
                f"{len(training.val_data):,} held out; {training.plan_line()}"
                + (
                    f"; {comm.size} ranks × {_threads(training.blas_threads)}"
                    if comm.size > 1
                    else ""
                )
            )
        progress = Progress(tr, args.quiet or not comm.is_root, cfg.time_budget)
        seen = len(training.notices)
        signals = _Signals(comm.size)
        try:
            with signals:
                result = training.train(callbacks=progress, stop=signals.stop)
        finally:
            progress.close()
        for notice in training.notices[seen:]:
            if str(notice) not in progress.said:
                tell(cli_message(notice))
    if result.reason == "stopped":
        tell(
            f"interrupted at step {result.step}; saved {os.path.join(args.out, 'latest.npz')}. "
            f"Continue with: charrnn train {shlex.join(args.data)} "
            f"--out {shlex.quote(args.out)} --resume"
        )
        return signals.exit_status()
    if result.reason == "time":
        tell(f"time budget of {cfg.time_budget:g} minutes reached at step {result.step}")
    if not args.quiet:
        unit_name = "symbol" if cfg.units == "jamo" else "char"
        best = result.best_val
        tell(
            f"done: {result.step} steps; model in {args.out}"
            + (f" (best validation loss {best:.4f} nats/{unit_name})" if best is not None else "")
        )
    if args.out.startswith("@"):
        # `sample @ko` reads the shipped model, never this folder.
        tell(
            f"notice: read this run back as ./{args.out}: a name that starts with @ names a "
            "shipped model or corpus"
        )
    return 0


def _threads(n: int | None) -> str:
    return "? BLAS threads" if n is None else f"{n} BLAS thread{'s' if n != 1 else ''}"


class Progress(Callbacks):
    """Progress for a terminal (a tqdm bar) or a log (one line per event on stdout).

    The run's callbacks (:class:`charrnn.training.run.Callbacks`). When stdout
    goes away (``charrnn train ... | head -1``) training goes on: the log lines
    stop, ``metrics.jsonl`` keeps every event, and one notice says so on stderr.
    """

    def __init__(self, trainer: Trainer, quiet: bool, time_budget: float | None = None):
        self.quiet = quiet
        # With a time budget the log lines show the clock against it (in seconds).
        self.budget_s = time_budget * 60 if time_budget is not None else None
        self.said: set[str] = set()  # notices already shown while training
        # Without tqdm (charrnn[progress]) a terminal gets the log lines instead.
        tqdm = optional("tqdm") if not quiet and sys.stderr.isatty() else None
        self.bar = (
            tqdm.tqdm(
                total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True
            )
            if tqdm is not None
            else None
        )

    def on_step(self, trainer: Trainer) -> None:
        """One step done: move the bar (whose total follows a time budget's plan)."""
        if self.bar is not None:
            advance_bar(self.bar, trainer)

    def on_event(self, event: LogEvent) -> bool:
        """A log event: on the bar, or one line on stdout. Never asks to stop."""
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"loss {event.train_loss:.3f}"
                + (f" val {event.val_loss:.3f}" if event.val_loss is not None else "")
                + f" {event.chars_per_s:,.0f} ch/s"
            )
        elif not self.quiet:
            try:
                print(event.format(self.budget_s), flush=True)
            except OSError as exc:  # a closed pipe, a full disk: the log is not the run
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                self.quiet = True
                why = "was closed" if isinstance(exc, BrokenPipeError) else f"failed ({exc})"
                say(f"stdout {why}; training goes on, its log is in metrics.jsonl")
        return False

    def on_notice(self, exc: CharRNNError) -> None:
        """A notice from the run as it trains: above the bar, or in the log (stderr)."""
        self.said.add(str(exc))
        msg = cli_message(exc)
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            say(msg)

    def close(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()
