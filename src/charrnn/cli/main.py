"""The ``charrnn`` command: a thin argparse layer over the Python API.

User mistakes raise :class:`CharRNNError`; :func:`main` prints the message
without a traceback and exits with status 2. Ctrl-C exits with 130 after
saving what training had.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..api import CharRNN, resolve_model_path
from ..common.errors import CharRNNError
from ..common.version import __version__
from ..core.config import CELLS, TRAIN_FIELDS
from ..core.vocab import Vocab
from ..data.corpus import heldout_split
from ..data.files import builtin_names, load_corpus, read_text
from ..data.textcache import encode_to_file, open_tokens
from ..generation.novelty import sample_new, training_words
from ..generation.sample import sample
from ..training.checkpoint import load as load_checkpoint
from ..training.parallel import current, world
from ..training.presets import PRESETS, preset
from ..training.run import TrainingRun
from ..training.rundir import RunDir
from ..training.trainer import LogEvent, Trainer
from .experiment import add_experiment_parser
from .flags import Parser, add_config_flags, cli_message, number, whole_number

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE (13), as a shell reports a tool SIGPIPE ended


def say(msg: str) -> None:
    """A notice for the user, on stderr so that stdout stays data."""
    print(msg, file=sys.stderr, flush=True)


_say = say


def _silent(msg: str) -> None:
    """What a data-parallel rank other than 0 says: nothing (rank 0 speaks for the job)."""


# ----------------------------------------------------------------------------- train


def _config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user actually gave (``None`` means not given), over the preset's."""
    given = {k: getattr(args, k) for k in TRAIN_FIELDS if getattr(args, k) is not None}
    if "epochs" in given and "steps" not in given:
        given["steps"] = None  # --epochs alone means: budget by passes
    if args.preset is not None:
        given = {**preset(args.preset)["config"], **given}
    return given


def cmd_train(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signals: list[int] = []
    # Under MPI (mpiexec -n K) every rank runs this; rank 0 alone speaks and writes.
    comm = world()
    say = _say if comm.is_root else _silent

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signum)
        stop.set()
        # A second Ctrl-C ends at once; the atomic writes keep the files sound.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    with TrainingRun(
        _config_from_args(args),
        args.data,
        args.out,
        resume=args.resume,
        force=args.force,
        encoding=args.encoding,
        comm=comm,
    ) as run:
        for notice in run.notices:
            say(cli_message(notice))
        if run.resumed and run.finished:
            say(
                f"the run is already at step {run.trainer.step} of {run.trainer.total_steps}; "
                "raise --steps to train further"
            )
            return 0
        run.write_config()
        cfg, tr = run.config, run.trainer
        if not args.quiet:
            unit = "words" if cfg.mode == "words" else "characters"
            say(
                f"{'resuming' if run.resumed else 'training'} a {cfg.mode}-mode "
                f"{cfg.cell.upper()}: "
                f"H={cfg.hidden}, V={run.corpus.vocab.size}, {run.n_params:,} parameters, "
                f"{len(run.train_data):,} training {unit}, {len(run.val_data):,} held out; "
                f"{tr.total_steps:,} steps"
                + (f"; {comm.size} ranks × {_threads(run.blas_threads)}" if comm.size > 1 else "")
            )
        progress = _Progress(tr, args.quiet or not comm.is_root)
        seen = len(run.notices)
        old_int = signal.signal(signal.SIGINT, on_signal)
        old_term = signal.signal(signal.SIGTERM, on_signal)
        # mpiexec forwards SIGUSR1 to every rank (and ends the job on SIGTERM):
        # `kill -USR1 <mpiexec>` saves and stops a whole job.
        old_usr1 = signal.signal(signal.SIGUSR1, on_signal) if comm.size > 1 else None
        try:
            result = run.train(
                on_event=progress.event,
                on_step=progress.step,
                stop=stop,
                on_notice=progress.notice,
            )
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
            if old_usr1 is not None:
                signal.signal(signal.SIGUSR1, old_usr1)
            progress.close()
        for notice in run.notices[seen:]:
            if str(notice) not in progress.said:
                say(cli_message(notice))
    if result.reason == "stopped":
        say(
            f"interrupted at step {result.step}; saved {os.path.join(args.out, 'latest.npz')}. "
            f"Continue with: charrnn train {shlex.quote(args.data)} "
            f"--out {shlex.quote(args.out)} --resume"
        )
        if not signals or signals[0] == signal.SIGINT:  # another rank's signal stopped this one
            return EXIT_INTERRUPTED
        return 128 + signals[0]
    if result.reason == "time":
        say(f"time budget of {cfg.time_budget:g} minutes reached at step {result.step}")
    if not args.quiet:
        unit_name = "char" if cfg.units == "char" else "symbol"
        best = result.best_val
        say(
            f"done: {result.step} steps; model in {args.out}"
            + (f" (best validation loss {best:.4f} nats/{unit_name})" if best is not None else "")
        )
    return 0


def _threads(n: int | None) -> str:
    return "? BLAS threads" if n is None else f"{n} BLAS thread{'s' if n != 1 else ''}"


class _Progress:
    """Progress for a terminal (a tqdm bar) or a log (one line per event on stdout).

    When stdout goes away (``charrnn train ... | head -1``) training goes on:
    the log lines stop, ``metrics.jsonl`` keeps every event, and one notice
    says so on stderr.
    """

    def __init__(self, trainer: Trainer, quiet: bool):
        self.quiet = quiet
        self.said: set[str] = set()  # notices already shown while training
        self.bar = (
            _progress_bar(trainer) if not quiet and sys.stderr.isatty() and _has_tqdm() else None
        )

    def step(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def event(self, event: LogEvent) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"loss {event.train_loss:.3f}"
                + (f" val {event.val_loss:.3f}" if event.val_loss is not None else "")
                + f" {event.chars_per_s:,.0f} ch/s"
            )
        elif not self.quiet:
            try:
                print(event.format(), flush=True)
            except BrokenPipeError:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                self.quiet = True
                say("stdout was closed; training goes on, its log is in metrics.jsonl")

    def notice(self, exc: CharRNNError) -> None:
        """A notice from the run as it trains: above the bar, or in the log (stderr)."""
        self.said.add(str(exc))
        msg = cli_message(exc)
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            say(msg)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _has_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _progress_bar(trainer: Trainer) -> Any:
    from tqdm import tqdm

    return tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True)


# ----------------------------------------------------------------------------- using a model


def _clean(vocab: Vocab, text: str, unknown: str, what: str) -> str:
    """``vocab.clean``, with a notice naming what ``--unknown skip`` dropped."""
    cleaned = vocab.clean(text, unknown)  # type: ignore[arg-type]
    if cleaned != text:
        shown = ", ".join(repr(c) for c in vocab.unknown(text))
        say(
            f"notice: skipped {shown} (not in the model's vocabulary): {what} is read as "
            f"{cleaned!r}"
        )
    return cleaned


def _say_skipped(skipped: collections.Counter[str], what: str) -> None:
    """One notice for every character ``--unknown skip`` dropped from a corpus."""
    if skipped:
        shown = ", ".join(f"{c!r} ({n:,}x)" for c, n in sorted(skipped.items())[:20])
        more = " ..." if len(skipped) > 20 else ""
        say(
            f"notice: skipped {sum(skipped.values()):,} characters not in the model's "
            f"vocabulary in {what}: {shown}{more}"
        )


def _load_model(path: str) -> CharRNN:
    return CharRNN.from_checkpoint(load_checkpoint(resolve_model_path(path)))


def cmd_sample(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(resolve_model_path(args.run))
    model = CharRNN.from_checkpoint(ckpt)
    if args.prefix is not None and args.prefix_file is not None:
        raise CharRNNError("give either --prefix or --prefix-file, not both")
    prefix = args.prefix or ""
    if args.prefix_file is not None:
        prefix = read_text(args.prefix_file, args.encoding)
        if model.config_.mode == "words":
            prefix = prefix.strip()
    prefix = _clean(model.vocab_, prefix, args.unknown, "the prefix")
    mode = model.config_.mode
    if args.novelty and args.only_new:
        raise CharRNNError(
            "--novelty counts how many of the model's samples are new, --only-new keeps "
            "only new ones (so they would all count): choose one"
        )
    if (args.novelty or args.only_new) and mode != "words":
        flag = "--novelty" if args.novelty else "--only-new"
        raise CharRNNError(f"{flag} applies to words-mode models only")
    # Jamo units print whole syllables, so they are composed before printing, not streamed.
    stream = mode == "text" and args.n == 1 and not args.json and model.vocab_.units.kind == "char"
    kwargs = dict(
        n=args.n,
        prefix=prefix,
        temperature=args.temperature,
        top_k=args.top_k,
        greedy=args.greedy,
        max_len=args.max_len,
        allow_empty=args.allow_empty,
    )
    rng = np.random.default_rng(args.seed)
    if stream:
        # The prefix goes out with the first generated character, so a request
        # that sample() refuses prints nothing.
        pending = [prefix]

        def write(chars: list[str]) -> None:
            sys.stdout.write(pending.pop() + chars[0] if pending else chars[0])
            sys.stdout.flush()

        sample(model.params_, model.vocab_, mode=mode, rng=rng, on_step=write, **kwargs)  # type: ignore[arg-type]
        sys.stdout.write("\n")
        return 0
    known = training_words(ckpt) if args.novelty else None
    if args.only_new:
        n = kwargs.pop("n")
        exclude = training_words(ckpt)
        samples, drawn = sample_new(model.params_, model.vocab_, exclude, n, rng=rng, **kwargs)
        if len(samples) < n:
            greedy = args.greedy or args.temperature == 0
            advice = (
                "greedy decoding draws one word over and over; leave out --greedy"
                if greedy
                else "a higher --temperature gives more new ones"
            )
            say(f"only {len(samples)} of {drawn:,} samples were not training words; {advice}")
    else:
        samples = sample(model.params_, model.vocab_, mode=mode, rng=rng, **kwargs)  # type: ignore[arg-type]
    if args.json:
        out: dict[str, Any] = {"samples": samples}
        if known is not None:
            out["new"] = [s not in known for s in samples]
            out["new_share"] = sum(out["new"]) / len(samples)
        print(json.dumps(out, ensure_ascii=False))
        return 0
    rule = separator_char(model.vocab_) * 8
    for i, s in enumerate(samples, 1):
        if known is not None:
            print(f"{s}\t{'new' if s not in known else 'in training set'}")
        elif mode == "words":
            print(s)
        else:
            print(f"{rule} sample {i} of {len(samples)} {rule}")
            print(s)
    if known is not None:
        new = sum(s not in known for s in samples)
        print(f"# new: {new} of {len(samples)} ({100 * new / len(samples):.1f}%)")
    return 0


def separator_char(vocab: Vocab) -> str:
    """A character the model cannot generate, for the line that heads each text sample.

    The box-drawing line (U+2500) unless the model knows it; then the next code
    point it does not know, so a heading can never be part of a sample.
    """
    return next(chr(c) for c in range(0x2500, 0x2500 + vocab.size + 1) if chr(c) not in vocab.stoi)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.data is None:
        return _eval_heldout(args)
    model = _load_model(args.run)
    mode = model.config_.mode
    if mode == "text":
        # Streamed into a temporary token file: a large text never sits in memory.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tokens.bin")
            skipped: collections.Counter[str] = collections.Counter()
            encode_to_file(
                args.data, model.vocab_, path, args.encoding, args.unknown, skipped=skipped
            )
            _say_skipped(skipped, f"{args.data}")
            ids = open_tokens(path, model.vocab_.size)
            if len(ids) < 2:
                raise CharRNNError(f"{args.data} has too little text to evaluate")
            loss = model.evaluate(ids)
            del ids  # release the memory map before the folder goes
    else:
        words = load_corpus(args.data, mode, args.encoding)
        if args.unknown == "skip":
            skipped = collections.Counter(c for w in words for c in w if c not in model.vocab_.stoi)
            _say_skipped(skipped, f"{args.data}")
            n_words = len(words)
            words = [w for w in (model.vocab_.clean(w, "skip") for w in words) if w]
            if len(words) < n_words:
                say(f"notice: {n_words - len(words):,} words had nothing left and are left out")
        loss = model.evaluate(words)
    _print_loss(model, loss, args.json)
    return 0


def _print_loss(model: CharRNN, loss: Any, as_json: bool, **extra: Any) -> None:
    if as_json:
        print(json.dumps({**loss.to_dict(), **extra}))
    else:
        print(
            f"{loss.per_char:.4f} nats/char  {loss.bits:.4f} bits/char  "
            f"perplexity {loss.perplexity:.3f}  ({loss.chars:,} characters)"
            + _per_symbol(model, loss.nats, loss.n_chars)
        )


def _eval_heldout(args: argparse.Namespace) -> int:
    """``charrnn eval RUN``: the run's own held-out split, rebuilt from what it recorded."""
    ckpt = load_checkpoint(resolve_model_path(args.run))
    model = CharRNN.from_checkpoint(ckpt)
    run = ckpt.run
    with tempfile.TemporaryDirectory() as tmp:
        val = heldout_split(run.data, run.encoding, run.data_fingerprint, ckpt.config, tmp)
        what = "lines" if ckpt.config.mode == "words" else "characters"
        say(f"held-out split of {run.data}: {len(val):,} {what}, as the run held them out")
        loss = model.evaluate(val)
        del val  # release a memory map before the folder goes
    _print_loss(model, loss, args.json, data=run.data, split="held-out")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    model = _load_model(args.run)
    words = [_clean(model.vocab_, w, args.unknown, repr(w)) for w in args.words]
    scores = model.score(words)
    if args.json:
        print(json.dumps({"scores": [s.to_dict() for s in scores]}, ensure_ascii=False))
        return 0
    for s in scores:
        print(
            f"{s.text}\t{s.logprob:.4f}\t({s.nats_per_char:.4f} nats/char"
            + _per_symbol(model, s.nats_per_symbol, len(s.char_nll)).replace("  ", ", ", 1)
            + ")"
        )
    return 0


def _per_symbol(model: CharRNN, nats: float, n: int) -> str:
    """Where the model's symbols are not characters, the loss per symbol beside."""
    if model.vocab_.units.kind == "char":
        return ""
    return f"  {nats:.4f} nats/symbol over {n:,} {model.vocab_.units.kind} symbols"


def cmd_trace(args: argparse.Namespace) -> int:
    from ..generation.trace import trace

    model = _load_model(args.run)
    text = _clean(model.vocab_, args.text, args.unknown, "the text")
    steps = trace(model.params_, model.vocab_, text, mode=model.config_.mode, top=args.top)
    H = model.config_.hidden
    shown = repr("\n" + text)
    units = "" if model.vocab_.units.kind == "char" else f", {model.vocab_.units.kind} units"
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
            print(f"       gates: {_format_gates(s.gates, H)}")
        print(f"       next: {tops}")
        print(
            f"       target {s.target_char!r} p={s.target_prob:.4f}  "
            f"loss so far {s.running_loss:.4f} nats/{model.unit_name}"
        )
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    model = _load_model(args.run)
    prefix = model.vocab_.clean(args.prefix, args.unknown)
    r = model.complete(
        prefix,
        args.k,
        max_len=args.max_len,
        method=args.method,
        beam=args.beam,
        allow_empty=args.allow_empty,
    )
    if args.json:
        print(json.dumps(r.to_dict(), ensure_ascii=False))
        return 0
    how = "exact: these are the most likely" if r.method == "exact" else "beam search"
    note = f"; {r.note}" if r.note else ""
    say(f"{how} ({r.expanded:,} model steps, {r.seconds:.3f} s){note}")
    for c in r.items:
        print(f"{c.text if model.config_.mode == 'words' else repr(c.text)}\t{c.prob:.6f}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ..viz.server import default_text, make_server

    model = _load_model(args.run)
    first = default_text(model) if args.text is None else model.vocab_.clean(args.text)
    server = make_server(model, args.host, args.port, first_text=first, quiet=not args.verbose)
    print(f"serving {args.run} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    from ..viz.page import payload, static_page

    model = _load_model(args.run)
    if (args.text is None) == (args.text_file is None):
        raise CharRNNError("give TEXT or --text-file (one of them)")
    text = args.text if args.text is not None else read_text(args.text_file, args.encoding)
    text = model.vocab_.clean(text, args.unknown)
    data = payload(model, text, with_influence=True)
    html = static_page(data)
    written = [args.out]
    if args.png:
        from ..viz.pictures import plot_views

        written += plot_views(model, text, os.path.splitext(args.out)[0])
    _write_atomic(args.out, html)
    for path in written:
        print(path)
    return 0


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CharRNNError(f"the folder of {path} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".viz-", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets; this is a page
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _format_gates(gates: dict[str, np.ndarray], H: int) -> str:
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


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from ..core.gradcheck import check, random_case

    worst = 0.0
    results = {}
    for ragged, carried in ((True, False), (False, True)):
        case = random_case(
            np.random.default_rng(args.seed), ragged=ragged, carried_state=carried, cell=args.cell
        )
        errs = check(case, "full")
        label = "words (padded, zero state)" if ragged else "text (carried state)"
        results[label] = errs
        worst = max(worst, *errs.values())
    if args.json:
        print(json.dumps({"max_relative_error": results, "ok": worst < 1e-6}))
    else:
        for label, errs in results.items():
            print(label)
            for k, v in errs.items():
                print(f"  {k:6} max relative error {v:.2e}")
        print("ok" if worst < 1e-6 else "FAILED: the backward pass disagrees with the numbers")
    return 0 if worst < 1e-6 else 1


def cmd_plot(args: argparse.Namespace) -> int:
    from ..viz.curves import plot_metrics

    run = RunDir(args.run)
    if not os.path.isdir(args.run):
        raise CharRNNError(f"{args.run} is not a run directory")
    out_path = args.out or run.file("loss.png")
    # With --ema, validation measures the averaged model, training loss the raw one.
    saved = run.read_config().get("config")
    averaged = isinstance(saved, dict) and bool(saved.get("ema"))
    val_label = "validation (moving average)" if averaged else "validation"
    plot_metrics(
        run.read_metrics(),
        out_path,
        title=args.title or os.path.basename(os.path.abspath(args.run)),
        val_label=val_label,
    )
    print(out_path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..experiments.demo import run_demo

    return run_demo(seeds=args.seeds, names_seconds=args.names_seconds, cell=args.cell)


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="charrnn",
        description="Character-level vanilla-RNN language model (numpy, hand-written BPTT).",
    )
    p.add_argument("--version", action="version", version=f"charrnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a model on a file of words or text",
        description="Train a model; writes RUN/latest.npz, RUN/best.npz, "
        "RUN/metrics.jsonl and RUN/config.json.",
    )
    t.add_argument(
        "data",
        metavar="DATA",
        help="corpus file, or a built-in corpus: " + ", ".join("@" + n for n in builtin_names()),
    )
    groups = add_config_flags(t)
    run_group = groups["run"]
    run_group.add_argument("--out", required=True, metavar="RUN", help="run directory")
    run_group.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a tuned recipe (see README, Results); other flags override it",
    )
    run_group.add_argument(
        "--encoding", help="text encoding of DATA (default utf-8; a resume keeps the run's)"
    )
    run_group.add_argument(
        "--resume", action="store_true", help="continue RUN from its latest checkpoint"
    )
    run_group.add_argument("--force", action="store_true", help="overwrite a run already in RUN")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar, no log lines")
    t.set_defaults(func=cmd_train)

    def model_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("run", metavar="RUN", help="run directory or .npz checkpoint")

    def unknown_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--unknown",
            choices=("error", "skip"),
            default="error",
            help="characters the model never saw: error (default) or skip them",
        )

    s = sub.add_parser(
        "sample",
        help="generate samples",
        description="Print the samples: one per line in words mode. In text mode each "
        "sample follows a heading line '──────── sample I of N ────────' drawn with a "
        "character the model cannot generate (U+2500, or the next one it does not know), "
        "so a heading is never part of a sample; a single sample streams without one.",
    )
    model_arg(s)
    s.add_argument("--prefix", metavar="P", help="text every sample starts with")
    s.add_argument("--prefix-file", metavar="FILE", help="read the prefix from a file")
    s.add_argument("--encoding", default="utf-8", help="encoding of --prefix-file")
    s.add_argument("-n", type=whole_number, default=10, help="number of samples (default 10)")
    s.add_argument(
        "--temperature",
        type=number,
        default=1.0,
        metavar="X",
        help="below 1 is safer, above 1 wilder; 0 is greedy (default 1)",
    )
    s.add_argument("--top-k", type=whole_number, metavar="K", help="sample among the K likeliest")
    s.add_argument("--greedy", action="store_true", help="always the most likely character")
    s.add_argument(
        "--max-len",
        type=whole_number,
        metavar="L",
        help="characters to generate (default 100 words / 500 text)",
    )
    s.add_argument("--seed", type=int, default=0, metavar="S", help="default 0")
    s.add_argument(
        "--novelty",
        action="store_true",
        help="words mode: mark each sample new or in the training set",
    )
    s.add_argument(
        "--only-new",
        action="store_true",
        help="words mode: leave out samples that are training words, drawing more until "
        "there are -n of them (a filter on sampling; --novelty measures the model)",
    )
    s.add_argument(
        "--allow-empty",
        action="store_true",
        help="words mode: let a sample without a prefix be the empty word. By default the "
        "boundary is masked at the first step and the other characters' probabilities are "
        "renormalised, so each word is drawn with p(word) / (1 - p(empty word)); score and "
        "eval report the unmasked model",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(s)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser(
        "eval",
        help="mean loss of a model over a corpus",
        description="Print nats/char, bits/char and perplexity over DATA; without DATA, "
        "over the run's own held-out split, rebuilt from the data file, encoding and "
        "split settings the run recorded (and checked against its fingerprint).",
    )
    model_arg(e)
    e.add_argument(
        "data",
        metavar="DATA",
        nargs="?",
        help="corpus file or @builtin (default: the run's held-out split)",
    )
    e.add_argument("--encoding", default="utf-8")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(e)
    e.set_defaults(func=cmd_eval)

    c = sub.add_parser(
        "score",
        help="log-probability of strings",
        description="Print each string with its log-probability (nats).",
    )
    model_arg(c)
    c.add_argument("words", nargs="+", metavar="WORD")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(c)
    c.set_defaults(func=cmd_score)

    r = sub.add_parser(
        "trace",
        help="walk the model through a text step by step",
        description="Per character: input, hidden state, likeliest next "
        "characters, the target's probability and the running loss.",
    )
    model_arg(r)
    r.add_argument("text", metavar="TEXT")
    r.add_argument("--top", type=whole_number, default=3, help="next characters shown (3)")
    unknown_arg(r)
    r.set_defaults(func=cmd_trace)

    k = sub.add_parser(
        "complete",
        help="the most likely completions of a prefix",
        description="Words mode: the K most probable whole words starting with PREFIX, "
        "exact (best-first search with a bound) when it can be proved, else beam search. "
        "Text mode: the K most likely continuations of --max-len characters (beam search). "
        "Probabilities are of what follows the prefix, given the prefix.",
    )
    model_arg(k)
    k.add_argument("prefix", metavar="PREFIX", nargs="?", default="")
    k.add_argument("-k", type=whole_number, default=10, help="how many (default 10)")
    k.add_argument(
        "--max-len",
        type=whole_number,
        metavar="L",
        help="words: most characters added; text: length of each (default 20)",
    )
    k.add_argument(
        "--method",
        choices=("auto", "exact", "beam"),
        default="auto",
        help="auto: exact in words mode when provable, beam otherwise",
    )
    k.add_argument("--beam", type=whole_number, metavar="W", help="beam width (default 4k)")
    k.add_argument("--json", action="store_true", help="print one JSON object")
    k.add_argument(
        "--allow-empty",
        action="store_true",
        help="words mode, empty prefix: keep the empty word among the completions "
        "(by default it is masked, as in sample, and the rest renormalised)",
    )
    unknown_arg(k)
    k.set_defaults(func=cmd_complete)

    sv = sub.add_parser(
        "serve",
        help="a local web page to look inside a model",
        description="Serve the learner's page for RUN: probabilities and next characters as "
        "you type, hidden units, influence of earlier characters, sampling, completions.",
    )
    model_arg(sv)
    sv.add_argument("--port", type=int, default=8000, help="default 8000; 0 picks a free port")
    sv.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    sv.add_argument("--text", help="the text the page starts with (default: a sample)")
    sv.add_argument("--verbose", action="store_true", help="log every request on stderr")
    sv.set_defaults(func=cmd_serve)

    vz = sub.add_parser(
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
    unknown_arg(vz)
    vz.set_defaults(func=cmd_viz)

    g = sub.add_parser(
        "gradcheck",
        help="numerical gradient check of the backward pass",
        description="Compare backward with float64 central differences on small "
        "random models (padded words; carried text state).",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--cell", choices=CELLS, default="rnn", help="the cell to check (rnn)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_gradcheck)

    pl = sub.add_parser(
        "plot",
        help="PNG of train and validation loss of a run",
        description="Draw RUN/metrics.jsonl against steps and wall time; "
        "needs matplotlib (pip install 'charrnn[plot]').",
    )
    pl.add_argument("run", metavar="RUN", help="run directory")
    pl.add_argument("--out", metavar="PNG", help="output file (default RUN/loss.png)")
    pl.add_argument("--title", help="figure title (default: the run's name)")
    pl.set_defaults(func=cmd_plot)

    m = sub.add_parser(
        "demo",
        help="the tutorial's experiment, then a names model",
        description="Naive 1-hop rule vs full BPTT on the tutorial's data over "
        "several seeds, then a small model on the built-in names.",
    )
    m.add_argument("--seeds", type=whole_number, default=10, help="seeds per rule (10)")
    m.add_argument(
        "--names-seconds", type=number, default=15.0, help="training time for the names model (15)"
    )
    m.add_argument(
        "--cell",
        choices=CELLS,
        default="rnn",
        help="run it all with this cell (rnn: the tutorial's tanh RNN)",
    )
    m.set_defaults(func=cmd_demo)
    add_experiment_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``charrnn`` command; returns the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`charrnn sample | head`): stop quietly. stdout now
        # points at devnull, so the interpreter's last flush finds nothing to fail on.
        # 141 (128 + SIGPIPE) is what `yes | head -1` and every tool SIGPIPE ends
        # give: the output was cut short, which a script under `set -o pipefail`
        # may want to know; an interactive user sees no message either way.
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (captured in tests): nothing will flush to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CharRNNError as exc:
        comm = current()
        if comm.size > 1 and not getattr(exc, "collective", False):
            # Only this rank failed: the others wait for it in a collective call.
            say(f"charrnn {args.command}: error on rank {comm.rank}: {cli_message(exc)}")
            comm.abort(EXIT_USER_ERROR)
        if comm.is_root:
            say(f"charrnn {args.command}: error: {cli_message(exc)}")
        return EXIT_USER_ERROR
    except BrokenPipeError:
        raise  # main's to handle, for every command alike
    except Exception:
        comm = current()
        if comm.size > 1:  # a bug on one rank must not leave the others waiting
            import traceback

            traceback.print_exc()
            comm.abort(1)
        raise
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
