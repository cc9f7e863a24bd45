"""One training run: data checks, vocabulary, run directory, resume, validation, best model.

This is the only place that builds a :class:`charrnn.train.Trainer`. The CLI
(``charrnn train``), the API (``CharRNN.fit``), the demo, the tutorial's
experiment and the example scripts all train through :class:`TrainingRun`,
so the same configuration and seed give the same model whichever door it
came in by.

A run may own a directory (``out_dir``): it locks it, writes ``config.json``,
appends to ``metrics.jsonl``, saves ``latest.npz`` on cadence and at the end,
``best.npz`` whenever validation improves, and can be resumed bit-identically.
Without one, the best model is kept in memory.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__
from .backend import NUMPY, Backend
from .checkpoint import RunState
from .config import MODEL_FIELDS, RESUME_MAY_CHANGE, Config
from .data import corpus_chars, load_corpus, read_text, split_corpus, split_text, split_words
from .errors import CharRNNError
from .rundir import RunDir
from .textcache import TextScan, cached_tokens, scan_text
from .train import LogEvent, Trainer
from .vocab import Vocab

Data = str | os.PathLike[str] | Sequence[str]


def fingerprint(corpus: list[str] | str) -> str:
    """A short hash of a corpus, so a resume can tell it was given the same data.

    For a text it is the start of the sha256 of its UTF-8 bytes, the digest a
    streamed scan of the same text computes.
    """
    h = hashlib.sha256()
    if isinstance(corpus, str):
        h.update(corpus.encode())
    else:
        for w in corpus:
            h.update(w.encode())
            h.update(b"\n")
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- data


@dataclass
class Corpus:
    """The data of a run, read and checked before anything is written.

    Attributes
    ----------
    vocab : Vocab
    source : str or None
        The file's absolute path or ``@builtin``; ``None`` for data given in memory.
    encoding : str
    fingerprint : str
    words : list of str or None
        Words mode: every word.
    text : str or None
        Text mode, data given in memory (or read whole without a run directory).
    scan : TextScan or None
        Text mode from a file: what a streamed pass learnt; the ids are encoded
        into the run directory's memory-mapped token file by :meth:`split`.
    """

    vocab: Vocab
    source: str | None
    encoding: str
    fingerprint: str
    words: list[str] | None = None
    text: str | None = None
    scan: TextScan | None = None
    val: list[str] | str | None = None  # held-out data given apart from the training data

    def split(
        self, config: Config, cache_dir: str | None
    ) -> tuple[list[str] | str | np.ndarray, list[str] | str | np.ndarray]:
        """Training and held-out data: as the config says, or the held-out data given."""
        if self.val is not None:
            train = self.words if self.words is not None else self.vocab.encode(self.text or "")
            val = self.val if isinstance(self.val, list) else self.vocab.encode(self.val)
            return train, val
        if self.words is not None:
            return split_corpus(
                self.words, "words", config.val_fraction, config.seed, config.val_max
            )
        if self.scan is not None and cache_dir is not None:
            # A large text trains from a memory map: memory does not grow with it.
            ids = cached_tokens(self.source, self.scan, self.vocab, cache_dir, self.encoding)  # type: ignore[arg-type]
            return split_text(ids, config.val_fraction, config.val_max)
        text = self.text if self.text is not None else read_text(self.source, self.encoding)  # type: ignore[arg-type]
        return split_text(self.vocab.encode(text), config.val_fraction, config.val_max)


def read_corpus(
    data: Data, mode: str, encoding: str = "utf-8", val_data: Data | None = None
) -> Corpus:
    """Read and check ``data`` for ``mode``; build the vocabulary (the only place it is built).

    Parameters
    ----------
    data : str, path or sequence of str
        A file path or ``@builtin`` (``str`` or ``os.PathLike``), or the data itself:
        a list of words, or (text mode) a list of lines joined by ``'\\n'``. A
        ``str`` is always a file name or ``@builtin``; give a text itself as
        ``[text]``.
    mode : {"words", "text"}
    encoding : str
    val_data : same kinds as ``data``, optional
        Held-out data given apart; then no share of ``data`` is held out. Both
        are read into memory, and the vocabulary covers both.

    Raises
    ------
    CharRNNError
        If the file is missing, unreadable, binary, undecodable or empty, or a
        words-mode line is too long.
    """
    if val_data is not None:
        train, val = read_corpus(data, mode, encoding), read_corpus(val_data, mode, encoding)
        if mode == "text":
            train.text = train.text if train.text is not None else read_text(train.source, encoding)  # type: ignore[arg-type]
            val.text = val.text if val.text is not None else read_text(val.source, encoding)  # type: ignore[arg-type]
        train.vocab = Vocab(set(train.vocab.itos) | set(val.vocab.itos))
        train.fingerprint = fingerprint(train.fingerprint + val.fingerprint)
        train.scan, train.val = None, val.words if mode == "words" else val.text
        return train
    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        source = path if path.startswith("@") else os.path.abspath(path)
        if mode == "text":
            scan = scan_text(path, encoding)  # streamed: also checks the whole file
            return Corpus(Vocab(scan.chars), source, encoding, scan.digest[:16], scan=scan)
        words = load_corpus(path, "words", encoding)
        assert isinstance(words, list)
        return Corpus(Vocab(corpus_chars(words)), source, encoding, fingerprint(words), words)
    items = list(data)
    if not all(isinstance(w, str) for w in items):
        raise CharRNNError("data must be a file name or a list of strings")
    text = "\n".join(items)
    if not text.strip():
        raise CharRNNError("no data to train on: the strings are empty")
    if mode == "text":
        return Corpus(Vocab(set(text)), None, encoding, fingerprint(text), text=text)
    words = split_words(text, source="the data")
    return Corpus(Vocab(corpus_chars(words)), None, encoding, fingerprint(words), words)


# ----------------------------------------------------------------------------- config


def resume_config(saved: Config, given: Mapping[str, Any]) -> Config:
    """The saved run's config with the changes a resume may make.

    Raises
    ------
    CharRNNError
        If ``given`` changes a field that fixes the model or the run.
    """
    changed = sorted(
        k for k, v in given.items() if k not in RESUME_MAY_CHANGE and getattr(saved, k) != v
    )
    if changed:
        shown = ", ".join(f"{k} ({getattr(saved, k)!r} -> {given[k]!r})" for k in changed)
        kind = "model shape" if set(changed) & set(MODEL_FIELDS) else "run"
        raise CharRNNError(
            f"cannot change {shown} when resuming: they fix the {kind} of the saved run. "
            f"Only {', '.join(RESUME_MAY_CHANGE)} may change; start a new run (another "
            "out_dir, or force) to change the rest",
            params=(*changed, *RESUME_MAY_CHANGE, "out_dir", "force"),
        )
    return saved.replace(**{k: v for k, v in given.items() if k in RESUME_MAY_CHANGE})


def given_fields(config: Config | Mapping[str, Any]) -> dict[str, Any]:
    """The fields a caller set: all of a :class:`Config`, or the keys of a mapping."""
    return config.to_dict() if isinstance(config, Config) else dict(config)


# ----------------------------------------------------------------------------- the run


@dataclass
class RunResult:
    """How a run ended.

    Attributes
    ----------
    reason : {"done", "patience", "time", "stopped"}
        Finished its steps; early-stopped; ran out of its time budget; asked to stop.
    step : int
    best_val : float or None
    events : list of LogEvent
    """

    reason: str
    step: int
    best_val: float | None
    events: list[LogEvent] = field(default_factory=list)


class TrainingRun:
    """One training run, from a configuration and data to a trained model.

    The constructor does every check and all the set-up (data, vocabulary, run
    directory, resume); :meth:`train` trains. Use it as a context manager, or
    call :meth:`close`, to release the run directory's lock.

    Parameters
    ----------
    config : Config or mapping
        A whole :class:`Config`, or the fields the user gave (a resume keeps
        the saved run's other fields).
    data : str, path or sequence of str
        See :func:`read_corpus`.
    out_dir : str or path, optional
        The run directory; ``None`` trains in memory only.
    resume : bool
        Continue the run in ``out_dir`` from its latest checkpoint.
    force : bool
        Replace a run already in ``out_dir``.
    encoding : str
        Text encoding of a data file.
    val_data : same kinds as ``data``, optional
        Held-out data given apart (see :func:`read_corpus`).
    backend : Backend

    Raises
    ------
    CharRNNError
        For bad data, a bad configuration, a directory in use by another
        process, a run that would be overwritten, or a resume that changes
        what it may not.
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any],
        data: Data,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        resume: bool = False,
        force: bool = False,
        encoding: str = "utf-8",
        val_data: Data | None = None,
        backend: Backend = NUMPY,
    ):
        if resume and force:
            raise CharRNNError(
                "resume and force contradict each other; choose one", params=("resume", "force")
            )
        if resume and out_dir is None:
            raise CharRNNError("resume needs the run's directory (out_dir)", params=("out_dir",))
        given = given_fields(config)
        self.notices: list[str] = []
        self.dir = RunDir(out_dir) if out_dir is not None else None
        self.resumed = resume
        ckpt = None
        try:
            if resume:
                assert self.dir is not None
                if os.path.isdir(self.dir.path):
                    self.dir.lock()  # first: a live run may not have saved yet
                self.dir.check_resumable()
                ckpt = self.dir.load_latest()
                self.config = resume_config(ckpt.config, given)
            else:
                self.config = Config(**given)
            self.corpus = read_corpus(data, self.config.mode, encoding, val_data)
            if ckpt is not None and ckpt.run.data_fingerprint not in (
                None,
                self.corpus.fingerprint,
            ):
                raise CharRNNError(
                    "this is not the data the run was trained on (its fingerprint differs); "
                    "resume with the same data"
                )
            if self.dir is not None and not resume:
                self.dir.create()
                self.dir.lock()
                self.dir.prepare_new(force=force)
            cache = self.dir.path if self.dir is not None else None
            train, val = self.corpus.split(self.config, cache)
            self.train_data, self.val_data = train, val
            self.trainer = Trainer(self.config, self.corpus.vocab, train, val, backend=backend)
            if self.trainer.clamped_batch_size is not None:
                self.notices.append(
                    f"notice: batch_size {self.config.batch_size} is larger than the data "
                    f"allows; using {self.trainer.clamped_batch_size}"
                )
            self.state = RunState(
                data=self.corpus.source,
                encoding=encoding,
                data_fingerprint=self.corpus.fingerprint,
            )
            if ckpt is not None:
                self.trainer.restore(ckpt)
                self.state.best_val = ckpt.run.best_val
                self.state.bad_evals = ckpt.run.bad_evals
                self.state.elapsed = ckpt.run.elapsed
                assert self.dir is not None
                self.dir.truncate_metrics(ckpt.step)  # a crash may have logged past the save
        except BaseException:
            self.close()
            raise
        self._best: dict[str, np.ndarray] | None = None  # in memory, without a directory

    # ------------------------------------------------------------------ context

    def close(self) -> None:
        """Release the run directory's lock."""
        if self.dir is not None:
            self.dir.unlock()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ facts

    @property
    def n_params(self) -> int:
        """Number of trainable parameters."""
        return int(self.trainer.flat.size)

    @property
    def finished(self) -> bool:
        """True when the step budget is already spent (a resume with nothing to do)."""
        return self.trainer.step >= self.trainer.total_steps

    def best_params(self) -> dict[str, np.ndarray]:
        """The model a later load gives: the best validated one, else the latest."""
        if self.dir is not None and os.path.isfile(self.dir.file("best.npz")):
            return self.dir.load_best().params
        if self._best is not None:
            return {k: v.copy() for k, v in self._best.items()}
        return self.trainer.host_params()

    # ------------------------------------------------------------------ training

    def train(
        self,
        *,
        on_event: Callable[[LogEvent], None] | None = None,
        on_step: Callable[[Trainer], None] | None = None,
        stop: threading.Event | None = None,
    ) -> RunResult:
        """Train until the step budget, the time budget, patience, or ``stop``.

        Parameters
        ----------
        on_event : callable, optional
            Called with every :class:`LogEvent` (progress lines).
        on_step : callable, optional
            Called with the trainer after every step (progress bars).
        stop : threading.Event, optional
            Set it (from a signal handler, another thread or a callback) to end
            training after the current step; the run saves and returns.

        Returns
        -------
        RunResult
            Time spent in ``on_event`` and ``on_step`` is not counted as training
            time (the time budget and the logged wall time).
        """
        cfg, tr, state = self.config, self.trainer, self.state
        save_every = cfg.save_every or tr.eval_every
        budget = cfg.time_budget * 60 if cfg.time_budget is not None else math.inf
        clock = {"start": time.perf_counter() - state.elapsed, "aside": 0.0}
        reason = ["done"]

        def elapsed() -> float:
            return time.perf_counter() - clock["start"] - clock["aside"]

        def call(fn: Callable[..., Any] | None, arg: Any) -> None:
            if fn is not None:
                t0 = time.perf_counter()
                fn(arg)
                clock["aside"] += time.perf_counter() - t0

        def step_done(trainer: Trainer) -> bool:
            call(on_step, trainer)
            state.elapsed = elapsed()
            if stop is not None and stop.is_set():
                reason[0] = "stopped"
            elif state.elapsed >= budget:
                reason[0] = "time"
            return reason[0] != "done"

        def save(trainer: Trainer) -> None:
            # After the step's log event: the checkpoint's run state has counted
            # its validation, and its clock is not behind the log it keeps.
            if self.dir is not None and trainer.step % save_every == 0:
                state.elapsed = elapsed()
                self.dir.save_latest(trainer.to_checkpoint(state))

        def event_done(event: LogEvent) -> bool:
            state.elapsed = elapsed()
            if self.dir is not None:
                self.dir.log({**event.to_dict(), "wall_time": state.elapsed})
            halt = False
            if event.val_loss is not None:
                if state.best_val is None or event.val_loss < state.best_val:
                    state.best_val, state.bad_evals = event.val_loss, 0
                    if self.dir is not None:
                        self.dir.save_best(tr.to_checkpoint(state))
                    else:
                        self._best = tr.host_params()
                else:
                    state.bad_evals += 1
                    if cfg.patience is not None and state.bad_evals >= cfg.patience:
                        reason[0] = "patience"
                        self.notices.append(
                            f"early stop at step {event.step}: validation loss has not "
                            f"improved for {cfg.patience} evaluations (best {state.best_val:.4f})"
                        )
                        halt = True
            call(on_event, event)
            return halt

        events: list[LogEvent] = []
        if not self.finished:
            # Overflow shows up as a non-finite loss, which the trainer reports with
            # advice; numpy's own warnings would only add noise.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                events = tr.run(on_event=event_done, on_step=step_done, after_step=save)
            state.elapsed = elapsed()
        if self.dir is not None:
            self.dir.save_latest(tr.to_checkpoint(state))
            if tr.val_batches is None:
                self.dir.copy_latest_to_best()
        return RunResult(reason[0], tr.step, state.best_val, events)

    def write_config(self) -> None:
        """Write the run's readable ``config.json`` (nothing without a directory)."""
        if self.dir is None:
            return
        self.dir.write_config(
            {
                "config": self.config.to_dict(),
                "vocab_size": self.corpus.vocab.size,
                "train_chars_per_pass": self.trainer.batches.n_targets,
                "data": self.corpus.source,
                "encoding": self.corpus.encoding,
                "charrnn_version": __version__,
            }
        )
