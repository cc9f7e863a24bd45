"""The ``charrnn`` command: a thin argparse layer over the Python API.

User mistakes raise :class:`CharRNNError`; :func:`main` prints the message
without a traceback and exits with status 2. Ctrl-C exits with 130 after
saving what training had.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__
from .api import CharRNN, resolve_model_path
from .checkpoint import Checkpoint, RunState
from .checkpoint import load as load_checkpoint
from .config import (
    BPTT_RULES,
    CLIP_MODES,
    DTYPES,
    INITS,
    MODEL_FIELDS,
    MODES,
    OPTIMIZERS,
    REDUCTIONS,
    SCHEDULES,
    Config,
)
from .data import (
    builtin_names,
    corpus_chars,
    load_corpus,
    read_text,
    split_corpus,
    split_text,
)
from .errors import CharRNNError
from .novelty import sample_new, training_words
from .presets import PRESETS, preset
from .rundir import RunDir, fingerprint
from .sample import sample
from .textcache import cached_tokens, encode_to_file, open_tokens, scan_text
from .train import LogEvent, Trainer
from .vocab import Vocab

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# Config fields settable from `charrnn train`, and the ones a resume may change.
TRAIN_FIELDS = (
    "mode", "hidden", "layers", "dropout", "init", "init_scale", "dtype", "bptt", "seq_len",
    "batch_size", "steps", "epochs", "optimizer", "lr", "schedule", "warmup", "lr_min_ratio",
    "weight_decay", "ema", "clip", "clip_mode", "reduction", "val_fraction", "val_max", "seed",
)  # fmt: skip
RESUME_MAY_CHANGE = ("steps", "epochs", "lr", "clip", "clip_mode")


def say(msg: str) -> None:
    """A notice for the user, on stderr so that stdout stays data."""
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- train


def _config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user actually gave (``None`` means not given), over the preset's."""
    given = {k: getattr(args, k) for k in TRAIN_FIELDS if getattr(args, k) is not None}
    if "epochs" in given and "steps" not in given:
        given["steps"] = None  # --epochs alone means: budget by passes
    if args.preset is not None:
        given = {**preset(args.preset)["config"], **given}
    return given


def _resume_config(saved: Config, given: dict[str, Any]) -> Config:
    changed = sorted(
        k for k, v in given.items() if k not in RESUME_MAY_CHANGE and getattr(saved, k) != v
    )
    if changed:
        shown = ", ".join(
            f"--{k.replace('_', '-')} ({getattr(saved, k)!r} -> {given[k]!r})" for k in changed
        )
        kind = "model shape" if set(changed) & set(MODEL_FIELDS) else "run"
        raise CharRNNError(
            f"cannot change {shown} when resuming: they fix the {kind} of the saved run. "
            f"Only {', '.join('--' + k.replace('_', '-') for k in RESUME_MAY_CHANGE)} may change; "
            "start a new run (another --out, or --force) to change the rest"
        )
    return saved.replace(**{k: v for k, v in given.items() if k in RESUME_MAY_CHANGE})


def _data_source(data: str) -> str:
    return data if data.startswith("@") else os.path.abspath(data)


def cmd_train(args: argparse.Namespace) -> int:
    given = _config_from_args(args)
    run = RunDir(args.out)
    ckpt = None
    if args.resume:
        if args.force:
            raise CharRNNError("--resume and --force contradict each other; choose one")
        run.prepare(resume=True, force=False)
        ckpt = run.load_latest()
        config = _resume_config(ckpt.config, given)
    else:
        config = Config(**given)
    for name in ("log_every", "save_every", "eval_every", "patience"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise CharRNNError(f"--{name.replace('_', '-')} must be at least 1; got {v}")
    trainer, run_state, (n_train, n_val) = _make_trainer(args, config, run, ckpt)
    if ckpt is not None and trainer.step >= trainer.total_steps:
        say(
            f"the run is already at step {trainer.step} of {trainer.total_steps}; "
            "raise --steps to train further"
        )
        return 0
    run.write_config(
        {
            "config": config.to_dict(),
            "vocab_size": trainer.vocab.size,
            "train_chars_per_pass": trainer.batches.n_targets,
            "data": run_state.data,
            "encoding": run_state.encoding,
            "charrnn_version": __version__,
        }
    )
    if not args.quiet:
        n_params = sum(v.size for v in trainer.params.values())
        say(
            f"{'resuming' if ckpt else 'training'} a {config.mode}-mode RNN: H={config.hidden}, "
            f"V={trainer.vocab.size}, {n_params:,} parameters, {n_train:,} training "
            f"{'words' if config.mode == 'words' else 'characters'}, "
            f"{n_val:,} held out; {trainer.total_steps:,} steps"
        )
    stop_signal = _train_until_done(args, run, trainer, run_state)
    run.save_latest(trainer.to_checkpoint(run_state))
    if trainer.val_batches is None:
        run.copy_latest_to_best()
    if stop_signal:
        say(
            f"interrupted at step {trainer.step}; saved {run.file('latest.npz')}. "
            f"Continue with: charrnn train {args.data} --out {args.out} --resume"
        )
        return EXIT_INTERRUPTED if stop_signal[0] == signal.SIGINT else 128 + stop_signal[0]
    if not args.quiet:
        best = run_state.best_val
        say(
            f"done: {trainer.step} steps; model in {args.out}"
            + (f" (best validation loss {best:.4f} nats/char)" if best is not None else "")
        )
    return 0


def _make_trainer(
    args: argparse.Namespace, config: Config, run: RunDir, ckpt: Checkpoint | None
) -> tuple[Trainer, RunState, tuple[int, int]]:
    """Read and check the data, create the run directory, build (and restore) the trainer.

    Returns the trainer, the run state saved with every checkpoint, and
    the sizes of the training and held-out data (words or characters).
    The run directory is created only once the data has passed its checks, so a
    bad file leaves nothing behind.
    """
    if config.mode == "text":
        # Large texts: a streaming scan now (it also validates the file), the
        # memory-mapped token file once the run directory exists.
        scan = scan_text(args.data, args.encoding)
        vocab, data_id = Vocab(scan.chars), scan.digest[:16]
    else:
        corpus = load_corpus(args.data, config.mode, args.encoding)
        vocab, data_id = Vocab(corpus_chars(corpus)), fingerprint(corpus)
    if ckpt is not None and ckpt.run.data_fingerprint not in (None, data_id):
        raise CharRNNError(
            f"{args.data} is not the data this run was trained on; resume with the same DATA"
        )
    if not args.resume:
        run.prepare(resume=False, force=args.force)
    if config.mode == "text":
        ids = cached_tokens(args.data, scan, vocab, run.path, args.encoding)
        train, val = split_text(ids, config.val_fraction, config.val_max)
    else:
        train, val = split_corpus(
            corpus, config.mode, config.val_fraction, config.seed, config.val_max
        )
    preset_log = preset(args.preset)["log_every"] if args.preset else None
    log_every = args.log_every or preset_log or 100
    trainer = Trainer(
        config, vocab, train, val, log_every=log_every, eval_every=args.eval_every or log_every
    )
    if trainer.clamped_batch_size is not None:
        say(
            f"notice: --batch-size {config.batch_size} is larger than the data allows; "
            f"using {trainer.clamped_batch_size}"
        )
    run_state = RunState(
        data=_data_source(args.data), encoding=args.encoding, data_fingerprint=data_id
    )
    if ckpt is not None:
        trainer.restore(ckpt)
        run_state.best_val, run_state.bad_evals = ckpt.run.best_val, ckpt.run.bad_evals
    return trainer, run_state, (len(train), len(val))


def _train_until_done(
    args: argparse.Namespace, run: RunDir, trainer: Trainer, run_state: RunState
) -> list[int]:
    """Train with logging, checkpoints, best model, early stopping and signal handling.

    Returns the signals that stopped training (empty if it ran to the end).
    """
    save_every = args.save_every or trainer.eval_every
    use_bar = not args.quiet and sys.stderr.isatty() and _has_tqdm()
    bar = _progress_bar(trainer) if use_bar else None
    start_time = time.time()
    stop_signal: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        stop_signal.append(signum)
        # A second Ctrl-C ends at once; the atomic writes keep the files sound.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_step(tr: Trainer) -> bool:
        if bar is not None:
            bar.update(1)
        if tr.step % save_every == 0:
            run.save_latest(tr.to_checkpoint(run_state))
        return bool(stop_signal)

    def on_event(event: LogEvent) -> bool:
        record = {**event.to_dict(), "wall_time": time.time() - start_time}
        run.log(record)
        stop = False
        if event.val_loss is not None:
            if run_state.best_val is None or event.val_loss < run_state.best_val:
                run_state.best_val, run_state.bad_evals = event.val_loss, 0
                run.save_best(trainer.to_checkpoint(run_state))
            else:
                run_state.bad_evals += 1
                if args.patience is not None and run_state.bad_evals >= args.patience:
                    say(
                        f"early stop at step {event.step}: validation loss has not improved "
                        f"for {args.patience} evaluations (best {run_state.best_val:.4f})"
                    )
                    stop = True
        if bar is not None:
            bar.set_postfix_str(
                f"loss {event.train_loss:.3f}"
                + (f" val {event.val_loss:.3f}" if event.val_loss is not None else "")
                + f" {event.chars_per_s:,.0f} ch/s"
            )
        elif not args.quiet:
            print(event.format(), flush=True)
        return stop

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        # Overflow shows up as a non-finite loss, which the trainer reports with
        # advice; numpy's own warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.run(on_event=on_event, on_step=on_step)
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        if bar is not None:
            bar.close()
    return stop_signal


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
    prefix = model.vocab_.clean(prefix, args.unknown)
    mode = model.config_.mode
    if args.novelty and args.only_new:
        raise CharRNNError(
            "--novelty counts how many of the model's samples are new, --only-new keeps "
            "only new ones (so they would all count): choose one"
        )
    if (args.novelty or args.only_new) and mode != "words":
        flag = "--novelty" if args.novelty else "--only-new"
        raise CharRNNError(f"{flag} applies to words-mode models only")
    stream = mode == "text" and args.n == 1 and not args.json
    kwargs = dict(
        n=args.n,
        prefix=prefix,
        temperature=args.temperature,
        top_k=args.top_k,
        greedy=args.greedy,
        max_len=args.max_len,
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
            advice = ("greedy decoding draws one word over and over; leave out --greedy"
                      if greedy else "a higher --temperature gives more new ones")  # fmt: skip
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
    for s in samples:
        if known is not None:
            print(f"{s}\t{'new' if s not in known else 'in training set'}")
        elif mode == "words":
            print(s)
        else:
            print(s + "\n")
    if known is not None:
        new = sum(s not in known for s in samples)
        print(f"# new: {new} of {len(samples)} ({100 * new / len(samples):.1f}%)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    model = _load_model(args.run)
    mode = model.config_.mode
    if mode == "text":
        # Streamed into a temporary token file: a large text never sits in memory.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tokens.bin")
            encode_to_file(args.data, model.vocab_, path, args.encoding, args.unknown)
            ids = open_tokens(path, model.vocab_.size)
            if len(ids) < 2:
                raise CharRNNError(f"{args.data} has too little text to evaluate")
            loss = model.evaluate(ids)
            del ids  # release the memory map before the folder goes
    else:
        words = load_corpus(args.data, mode, args.encoding)
        if args.unknown == "skip":
            words = [w for w in (model.vocab_.clean(w, "skip") for w in words) if w]
        loss = model.evaluate(words)
    if args.json:
        print(json.dumps(loss.to_dict()))
    else:
        print(
            f"{loss.nats:.4f} nats/char  {loss.bits:.4f} bits/char  "
            f"perplexity {loss.perplexity:.3f}  ({loss.n_chars:,} characters)"
        )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    model = _load_model(args.run)
    words = [model.vocab_.clean(w, args.unknown) for w in args.words]
    scores = model.score(words)
    if args.json:
        print(json.dumps({"scores": [s.to_dict() for s in scores]}, ensure_ascii=False))
        return 0
    for s in scores:
        print(f"{s.text}\t{s.logprob:.4f}\t({s.nats_per_char:.4f} nats/char)")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from .trace import trace

    model = _load_model(args.run)
    text = model.vocab_.clean(args.text, args.unknown)
    steps = trace(model.params_, model.vocab_, text, mode=model.config_.mode, top=args.top)
    H = model.config_.hidden
    shown = repr("\n" + text)
    print(f"model: {model.config_.mode} mode, H={H}, V={model.vocab_.size}; reading {shown}")
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
        print(f"       next: {tops}")
        print(
            f"       target {s.target_char!r} p={s.target_prob:.4f}  "
            f"loss so far {s.running_loss:.4f} nats/char"
        )
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from .gradcheck import check, random_case

    worst = 0.0
    results = {}
    for ragged, carried in ((True, False), (False, True)):
        case = random_case(np.random.default_rng(args.seed), ragged=ragged, carried_state=carried)
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
                print(f"  {k:4} max relative error {v:.2e}")
        print("ok" if worst < 1e-6 else "FAILED: the backward pass disagrees with the numbers")
    return 0 if worst < 1e-6 else 1


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_metrics

    run = RunDir(args.run)
    if not os.path.isdir(args.run):
        raise CharRNNError(f"{args.run} is not a run directory")
    out_path = args.out or run.file("loss.png")
    # With --ema, validation measures the averaged model, training loss the raw one.
    saved = run.read_config().get("config")
    averaged = isinstance(saved, dict) and bool(saved.get("ema"))
    val_label = "validation (moving average)" if averaged else "validation"
    plot_metrics(run.read_metrics(), out_path, title=args.title or os.path.basename(
        os.path.abspath(args.run)), val_label=val_label)  # fmt: skip
    print(out_path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(seeds=args.seeds, names_seconds=args.names_seconds)


# ----------------------------------------------------------------------------- parser


def _whole_number(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    return v


def _number(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if math.isnan(v):
        raise argparse.ArgumentTypeError("expected a number, got nan")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    t.add_argument("--out", required=True, metavar="RUN", help="run directory")
    t.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a tuned recipe (see README, Results); other flags override it",
    )
    d = Config()
    t.add_argument(
        "--mode",
        choices=MODES,
        help=f"words: one sequence per line; text: running text (default {d.mode})",
    )
    t.add_argument(
        "--hidden", type=_whole_number, metavar="H", help=f"hidden size (default {d.hidden})"
    )
    t.add_argument(
        "--layers", type=_whole_number, metavar="L",
        help=f"stacked tanh RNN layers (default {d.layers})",
    )  # fmt: skip
    t.add_argument(
        "--dropout", type=_number, metavar="P",
        help=f"dropout between layers and before the output, training only (default {d.dropout})",
    )  # fmt: skip
    t.add_argument(
        "--init",
        choices=INITS,
        help="normal: tutorial's N(0,1)*init-scale; scaled: 1/sqrt(H) and orthogonal "
        f"Whh, better for large H (default {d.init})",
    )
    t.add_argument(
        "--init-scale", type=_number, help=f"std of normal init (default {d.init_scale})"
    )
    t.add_argument("--dtype", choices=DTYPES, help=f"default {d.dtype}")
    t.add_argument(
        "--bptt",
        choices=BPTT_RULES,
        help=f"full BPTT or the tutorial's naive 1-hop rule (default {d.bptt})",
    )
    t.add_argument(
        "--seq-len",
        type=_whole_number,
        metavar="T",
        help=f"text mode: characters per chunk (default {d.seq_len})",
    )
    t.add_argument(
        "--batch-size",
        type=_whole_number,
        metavar="B",
        help=f"words or streams per step (default {d.batch_size})",
    )
    t.add_argument(
        "--steps",
        type=_whole_number,
        metavar="N",
        help=f"total optimiser steps (default {d.steps})",
    )
    t.add_argument(
        "--epochs",
        type=_number,
        metavar="E",
        help="passes over the data, used when --steps is not given",
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    t.add_argument("--lr", type=_number, metavar="X", help=f"learning rate (default {d.lr})")
    t.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help=f"learning-rate schedule after warm-up (default {d.schedule})",
    )
    t.add_argument(
        "--warmup",
        type=int,
        metavar="N",
        help=f"steps of linear learning-rate warm-up (default {d.warmup})",
    )
    t.add_argument(
        "--lr-min-ratio",
        type=_number,
        metavar="R",
        help=f"cosine schedule's final rate as a share of --lr (default {d.lr_min_ratio})",
    )
    t.add_argument(
        "--weight-decay",
        type=_number,
        metavar="W",
        help=f"decoupled weight decay on weight matrices (default {d.weight_decay})",
    )
    t.add_argument(
        "--ema",
        type=_number,
        metavar="D",
        help="keep a moving average of the parameters with decay D (e.g. 0.999) and make "
        f"it the model: validation, checkpoints and samples use it (default {d.ema}: off)",
    )
    t.add_argument("--clip", type=_number, metavar="C", help=f"clip bound (default {d.clip})")
    t.add_argument(
        "--clip-mode",
        choices=CLIP_MODES,
        help=f"value: element-wise (tutorial); norm: global norm (default {d.clip_mode})",
    )
    t.add_argument(
        "--reduction",
        choices=REDUCTIONS,
        help="gradient of the mean loss per character, or of the summed loss as in "
        f"the tutorial (default {d.reduction})",
    )
    t.add_argument(
        "--val-fraction",
        type=_number,
        metavar="F",
        help=f"share held out for validation; 0 trains on all (default {d.val_fraction})",
    )
    t.add_argument(
        "--val-max", type=int, metavar="N",
        help="hold out at most N lines (words) or characters (text), e.g. to keep validation "
        "quick on a large corpus; --val-fraction 0.1 --val-max 1000 is makemore's split "
        "(default no cap)",
    )  # fmt: skip
    t.add_argument("--seed", type=int, metavar="S", help=f"default {d.seed}")
    t.add_argument("--encoding", default="utf-8", help="text encoding of DATA (default utf-8)")
    t.add_argument("--resume", action="store_true", help="continue RUN from its latest checkpoint")
    t.add_argument("--force", action="store_true", help="overwrite a run already in RUN")
    t.add_argument(
        "--log-every", type=_whole_number, metavar="K", help="steps between log lines (100)"
    )
    t.add_argument(
        "--eval-every",
        type=_whole_number,
        metavar="K",
        help="steps between validations (default: --log-every)",
    )
    t.add_argument(
        "--save-every",
        type=_whole_number,
        metavar="K",
        help="steps between checkpoints (default: --eval-every)",
    )
    t.add_argument(
        "--patience",
        type=_whole_number,
        metavar="P",
        help="stop after P validations without improvement",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar, no log lines")
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

    s = sub.add_parser("sample", help="generate samples", description="Print one sample per line.")
    model_arg(s)
    s.add_argument("--prefix", metavar="P", help="text every sample starts with")
    s.add_argument("--prefix-file", metavar="FILE", help="read the prefix from a file")
    s.add_argument("--encoding", default="utf-8", help="encoding of --prefix-file")
    s.add_argument("-n", type=_whole_number, default=10, help="number of samples (default 10)")
    s.add_argument(
        "--temperature",
        type=_number,
        default=1.0,
        metavar="X",
        help="below 1 is safer, above 1 wilder; 0 is greedy (default 1)",
    )
    s.add_argument("--top-k", type=_whole_number, metavar="K", help="sample among the K likeliest")
    s.add_argument("--greedy", action="store_true", help="always the most likely character")
    s.add_argument(
        "--max-len",
        type=_whole_number,
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
    s.add_argument("--json", action="store_true", help="print one JSON object")
    unknown_arg(s)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser(
        "eval",
        help="mean loss of a model over a corpus",
        description="Print nats/char, bits/char and perplexity over DATA.",
    )
    model_arg(e)
    e.add_argument("data", metavar="DATA", help="corpus file or @builtin")
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
    r.add_argument("--top", type=_whole_number, default=3, help="next characters shown (3)")
    unknown_arg(r)
    r.set_defaults(func=cmd_trace)

    g = sub.add_parser(
        "gradcheck",
        help="numerical gradient check of the backward pass",
        description="Compare backward with float64 central differences on small "
        "random models (padded words; carried text state).",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_gradcheck)

    pl = sub.add_parser("plot", help="PNG of train and validation loss of a run",
                        description="Draw RUN/metrics.jsonl against steps and wall time; "
                        "needs matplotlib (pip install 'charrnn[plot]').")  # fmt: skip
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
    m.add_argument("--seeds", type=_whole_number, default=10, help="seeds per rule (10)")
    m.add_argument(
        "--names-seconds", type=_number, default=15.0, help="training time for the names model (15)"
    )
    m.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``charrnn`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CharRNNError as exc:
        say(f"charrnn {args.command}: error: {exc}")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`charrnn sample | head`); nothing to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
