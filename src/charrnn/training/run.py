"""One training run: data checks, vocabulary, run directory, resume, validation, best model.

This is the only place that builds a :class:`charrnn.training.trainer.Trainer`. The CLI
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

import dataclasses
import itertools
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..common.version import __version__
from ..core.backend import NUMPY, Backend
from ..core.config import MODEL_FIELDS, RESUME_MAY_CHANGE, Config
from ..core.vocab import Units
from ..data.corpus import Data, data_sources, read_corpus
from ..data.manifest import check_same_data, records_from
from ..data.sources import STDIN
from ..data.textcache import token_cache_name
from .budget import PlanEntry, Planner, format_plan
from .checkpoint import RunState
from .parallel import SerialComm, limit_threads, world
from .rundir import RunDir
from .trainer import Decision, LogEvent, Trainer

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
            f"cannot change {shown} when resuming: the saved run's {kind} depends on it. "
            f"Only {', '.join(RESUME_MAY_CHANGE)} may change; start a new run (another "
            "out_dir, or force) to change the rest",
            params=(*changed, *RESUME_MAY_CHANGE, "out_dir", "force"),
        )
    return saved.replace(**{k: v for k, v in given.items() if k in RESUME_MAY_CHANGE})


def given_fields(config: Config | Mapping[str, Any]) -> dict[str, Any]:
    """The fields a caller set: all of a :class:`Config`, or the keys of a mapping."""
    return config.to_dict() if isinstance(config, Config) else dict(config)


# ----------------------------------------------------------------------------- notices

RISING_EVALS = 3
"""Validations in a row that must each be higher than the one before for the run to say so."""


def rising(recent: list[float]) -> bool:
    """The last :data:`RISING_EVALS` validations each rose over the one before them."""
    tail = recent[-(RISING_EVALS + 1) :]
    return len(tail) == RISING_EVALS + 1 and all(b > a for a, b in itertools.pairwise(tail))


# A words-mode file whose lines look like running text: long, and mostly with spaces.
PROSE_MEDIAN_CHARS = 30
PROSE_SPACED_SHARE = 0.5


def prose_notice(words: list[str]) -> CharRNNError | None:
    """A notice when words-mode data looks like prose, else ``None``.

    Words mode learns each line as one word (from a zero state, up to its
    end), which suits names and word lists; running text wants text mode.
    Lines whose median length is at least 30 characters, most of them with a
    space, are prose rather than words (the built-in word lists have a median
    under 10 and no spaces).
    """
    if not words:
        return None
    lengths = sorted(len(w) for w in words)
    median = lengths[len(lengths) // 2]
    spaced = sum(" " in w for w in words) / len(words)
    if median < PROSE_MEDIAN_CHARS or spaced < PROSE_SPACED_SHARE:
        return None
    return CharRNNError(
        f"notice: the data looks like running text ({len(words):,} lines of "
        f"{median} characters at the median, {spaced:.0%} with spaces), but each line is "
        "learnt as one word here; for prose, train with mode='text'",
        params=("mode",),
    )


def rising_notice(
    cfg: Config, step: int, recent: list[float], best: float | None, best_step: int | None
) -> CharRNNError:
    """What a run says when its validation loss has risen several times in a row."""
    at = f" at step {best_step}" if best_step is not None else ""
    best_txt = f"; the best was {best:.4f}{at}" if best is not None else ""
    advice = []
    if cfg.patience is None:
        advice.append("patience=P to stop once it stops improving")
    if cfg.schedule == "constant":
        advice.append("schedule='cosine'")
    advice.append(f"a lower lr than {cfg.lr:g}")
    return CharRNNError(
        f"notice: validation loss has risen for {RISING_EVALS} evaluations in a row, to "
        f"{recent[-1]:.4f} at step {step}{best_txt} (the best model is kept). Try "
        + ", ".join(advice),
        params=("patience", "schedule", "lr"),
    )


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


class Callbacks:
    """What a run tells its caller as it trains: subclass it and override what you need.

    Each method does nothing here. Time spent in them is not counted as
    training time (neither by the time budget nor in the logged wall time).
    """

    def on_step(self, trainer: Trainer) -> None:
        """After every step (progress bars)."""

    def on_event(self, event: LogEvent) -> bool | None:
        """Every log event (every ``log_every`` steps, and the last).

        Returns
        -------
        bool or None
            ``True`` ends training after this step, as setting ``stop`` does
            (the run saves and returns with reason "stopped").
        """
        return None

    def on_notice(self, notice: CharRNNError) -> None:
        """A notice the run gives while it trains, as it happens (a validation loss
        that keeps rising), whose ``params`` name the settings it mentions; every
        notice is also kept in :attr:`TrainingRun.notices`."""


def advance_bar(bar: Any, trainer: Trainer) -> None:
    """Move a tqdm progress bar one step; its total follows a time budget's plan (and
    its ETA with it), ``None`` while the run still times its first steps."""
    if bar.n < trainer.step - 1:  # a resumed run starts the bar where it stands
        bar.n = trainer.step - 1
    if bar.total != trainer.total_steps:
        bar.total = trainer.total_steps
        bar.refresh()
    bar.update(1)


@dataclass
class FunctionCallbacks(Callbacks):
    """:class:`Callbacks` from separate functions, any of them left out."""

    event: Callable[[LogEvent], bool | None] | None = None
    step: Callable[[Trainer], None] | None = None
    notice: Callable[[CharRNNError], None] | None = None

    def on_step(self, trainer: Trainer) -> None:
        if self.step is not None:
            self.step(trainer)

    def on_event(self, event: LogEvent) -> bool | None:
        return self.event(event) if self.event is not None else None

    def on_notice(self, notice: CharRNNError) -> None:
        if self.notice is not None:
            self.notice(notice)


@dataclass
class _Loop:
    """The state of one :meth:`TrainingRun.train`: its clock, how it ends, what it has said."""

    callbacks: Callbacks
    stop: threading.Event | None
    budget: float  # seconds of training time; inf without a time budget
    save_every: int  # steps between saves of latest.npz
    start: float  # perf_counter() at the run's zero of training time
    planner: Planner | None = None  # a time budget that plans the steps
    cadence: float | None = None  # seconds of training between timed validations
    last_val: float = 0.0  # training time of the last validation
    aside: float = 0.0  # seconds spent in callbacks: not training time
    reason: str = "done"  # "done", "patience", "time" or "stopped"
    recent: list[float] = field(default_factory=list)  # last validations, to see a steady rise
    said_rising: bool = False

    def elapsed(self) -> float:
        """Training time so far, resumes included, callbacks excluded."""
        return time.perf_counter() - self.start - self.aside

    def stop_requested(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def aside_call(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """Call a callback; its time is set aside, not counted as training."""
        t0 = time.perf_counter()
        try:
            return fn(arg)
        finally:
            self.aside += time.perf_counter() - t0


def _reads_stdin(data: Data | None) -> bool:
    """True when ``data`` names standard input (``-``) among its sources."""
    if not isinstance(data, str | os.PathLike | list | tuple):
        return False  # the data itself, or an iterable this check must not consume
    try:
        return STDIN in (data_sources(data) or [])
    except CharRNNError:
        return False  # an empty list: read_corpus says so, on every rank


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
    encoding : str, optional
        Text encoding of a data file: utf-8 for a new run, the run's own on a resume.
    val_data : same kinds as ``data``, optional
        Held-out data given apart (see :func:`read_corpus`).
    backend : Backend
    comm : SerialComm, optional
        The data-parallel ranks; by default :func:`charrnn.training.parallel.world` (every
        rank of an MPI job, else one process). Every rank reads the data and
        trains its share of each batch; only rank 0 writes the run directory.
        A check that fails on one rank fails on all, with that rank's message.

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
        encoding: str | None = None,
        val_data: Data | None = None,
        backend: Backend = NUMPY,
        comm: SerialComm | None = None,
    ):
        if resume and force:
            raise CharRNNError(
                "resume and force contradict each other; choose one", params=("resume", "force")
            )
        if resume and out_dir is None:
            raise CharRNNError("resume needs the run's directory (out_dir)", params=("out_dir",))
        self.comm = comm = comm if comm is not None else world()
        if comm.size > 1 and (_reads_stdin(data) or _reads_stdin(val_data)):
            # Every rank reads the data, and mpirun gives standard input to rank 0 only:
            # the others would wait on theirs for ever. Each rank raises this alike.
            refused = CharRNNError(
                "standard input (-) cannot be the data of a run on several ranks: mpirun "
                "gives it to rank 0 alone; save it to a file and give the file"
            )
            refused.collective = True  # type: ignore[attr-defined]
            raise refused
        # Ranks share the cores: one BLAS thread each, unless the environment says otherwise.
        self.blas_threads = limit_threads(comm) if comm.size > 1 else None
        given = given_fields(config)
        self.notices: list[CharRNNError] = []  # said, not raised: the CLI prints them
        # Only rank 0 holds the directory (lock, logs, checkpoints); `saves` tells
        # every rank that the run saves, since gathering what it saves takes them all.
        self.saves = out_dir is not None
        self.dir = RunDir(out_dir) if out_dir is not None and comm.is_root else None
        self.resumed = resume
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._made_dir = False
        ckpt = None
        error: BaseException | None = None
        try:
            if resume and self.dir is not None:
                if self.dir.holds_run():
                    self.dir.lock()  # first: a live run may not have saved yet
                self.dir.check_resumable()
                ckpt = self.dir.load_latest()
        except BaseException as exc:
            error = exc
        try:
            comm.agree(error)  # the other ranks read the checkpoint once rank 0 holds the run
            self._set_up(given, data, out_dir, ckpt, resume, force, encoding, val_data, backend)
        except BaseException:
            self.close()
            if self._made_dir and self.dir is not None:
                shutil.rmtree(self.dir.path, ignore_errors=True)  # leave nothing behind
            raise
        self._best: dict[str, np.ndarray] | None = None  # in memory, without a directory
        self._best_step: int | None = None  # known once this process validates, or from the log
        self._loop: _Loop | None = None  # while train() runs

    def _set_up(
        self,
        given: dict[str, Any],
        data: Data,
        out_dir: str | os.PathLike[str] | None,
        ckpt: Any,
        resume: bool,
        force: bool,
        encoding: str | None,
        val_data: Data | None,
        backend: Backend,
    ) -> None:
        """Data, vocabulary, directory, trainer and resume; every rank agrees it went well."""
        comm, error = self.comm, None
        try:
            if resume and ckpt is None:
                assert out_dir is not None
                ckpt = RunDir(out_dir).load_latest()  # rank 0 holds the run's lock
            if ckpt is not None:
                self.config = resume_config(ckpt.config, given)
                encoding = encoding or ckpt.run.encoding  # the run's own, unless told otherwise
            else:
                self.config = Config(**given)
            encoding = encoding or "utf-8"
            self.corpus = read_corpus(
                data, self.config.mode, encoding, val_data, units=Units.of(self.config)
            )
            members = self.corpus.members
            if ckpt is not None:
                check_same_data(
                    ckpt.run.data_fingerprint,
                    records_from(ckpt.run.members),
                    self.corpus.fingerprint,
                    members,
                )
            if self.dir is not None and not resume:
                self._made_dir = not os.path.exists(self.dir.path)
                self.dir.create()
                self.dir.lock()
                self.dir.refuse_to_overwrite(force=force)
            if self.dir is not None:
                cache = self.dir.path
            elif self.corpus.scan is not None:
                # A large text trains from a memory-mapped token file in a scratch
                # folder, so fit() on a file needs no more memory than the CLI.
                self._scratch = tempfile.TemporaryDirectory(prefix="charrnn-")
                cache = self._scratch.name
            else:
                cache = None
            train, val = self.corpus.split(self.config, cache)
            self.train_data, self.val_data = train, val
            self.trainer = Trainer(
                self.config, self.corpus.vocab, train, val, backend=backend, comm=comm
            )
            self.state = RunState(
                data=self.corpus.source,
                encoding=encoding,
                data_fingerprint=self.corpus.fingerprint,
                members=None if members is None else [r.to_dict() for r in members],
            )
            if ckpt is not None:
                self.trainer.restore(ckpt)
                self.state.best_val = ckpt.run.best_val
                self.state.bad_evals = ckpt.run.bad_evals
                self.state.elapsed = ckpt.run.elapsed
        except BaseException as exc:
            error = exc
        comm.agree(error)
        if self.dir is not None and force:
            # Only now that nothing can fail before training; the token cache this
            # run reads (text mode) is named after its data's digest.
            self.dir.clear_run(keep=token_cache_name(self.corpus.fingerprint))
        self.notices += [CharRNNError(n) for n in self.corpus.notices]
        if self.trainer.clamped_batch_size is not None:
            self.notices.append(
                CharRNNError(
                    f"notice: batch_size {self.config.batch_size} is larger than the data "
                    f"allows; using {self.trainer.clamped_batch_size}",
                    params=("batch_size",),
                )
            )
        if self.config.mode == "words" and self.corpus.words is not None:
            prose = prose_notice(self.corpus.words)
            if prose is not None:
                self.notices.append(prose)
        if ckpt is not None and self.dir is not None:
            self.dir.truncate_metrics(ckpt.step)  # a crash may have logged past the save
        self.trainer.check_ranks_agree()  # same seed, same data, same checkpoint: same model

    # ------------------------------------------------------------------ context

    def close(self) -> None:
        """Release the run directory's lock (and a scratch token folder)."""
        if self.dir is not None:
            self.dir.unlock()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

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
        total = self.trainer.total_steps
        return total is not None and self.trainer.step >= total

    def plan_line(self) -> str:
        """How the run decides its length, for the first log line."""
        cfg, tr = self.config, self.trainer
        total, cap = tr.total_steps, tr.schedule.cap
        if not tr.schedule.planned:
            return f"{total:,} steps"
        clock = (
            f", or {cfg.time_budget:g} minutes, whichever comes first"
            if cfg.time_budget is not None
            else ""
        )
        if cfg.plan is not None:
            return f"the steps of the given plan {cfg.plan}{clock}"
        capped = f", at most {cap:,} steps (whichever comes first)" if cap is not None else ""
        if total is not None:  # a resume
            return f"{total:,} steps planned for {cfg.time_budget:g} minutes{capped}"
        return (
            f"as many steps as fit {cfg.time_budget:g} minutes{capped}, planned from "
            "the speed of the first steps, the learning rate decaying over them"
        )

    def best_params(self) -> dict[str, np.ndarray]:
        """The model a later load gives: the best validated one, else the latest."""
        if self.dir is not None and os.path.isfile(self.dir.file("best.npz")):
            return self.dir.load_best().params
        if self._best is not None:
            return {k: v.copy() for k, v in self._best.items()}
        return self.trainer.host_params()

    def best_step(self) -> int | None:
        """The step of the best validation so far (from the run's log after a resume)."""
        if self._best_step is None and self.dir is not None and self.state.best_val is not None:
            try:
                rows = self.dir.read_metrics()
            except CharRNNError:
                rows = []  # the step is only for a notice; a damaged log costs it, nothing else
            for row in rows:
                if row.get("val_loss") == self.state.best_val:
                    self._best_step = int(row["step"])
        return self._best_step

    # ------------------------------------------------------------------ training

    def train(
        self,
        callbacks: Callbacks | None = None,
        *,
        stop: threading.Event | None = None,
        on_event: Callable[[LogEvent], bool | None] | None = None,
        on_step: Callable[[Trainer], None] | None = None,
        on_notice: Callable[[CharRNNError], None] | None = None,
    ) -> RunResult:
        """Train until the step budget, the time budget, patience, or ``stop``.

        Parameters
        ----------
        callbacks : Callbacks, optional
            What the caller hears as the run trains: every step, every log
            event (whose answer may stop training), every notice.
        stop : threading.Event, optional
            Set it (from a signal handler, another thread or a callback) to end
            training after the current step; the run saves and returns.
        on_event, on_step, on_notice : callable, optional
            The same as ``callbacks``, one function at a time (see
            :class:`Callbacks`); give these or ``callbacks``, not both.

        Returns
        -------
        RunResult
            Time spent in the callbacks is not counted as training time (the
            time budget and the logged wall time).
        """
        functions = (on_event, on_step, on_notice)
        if callbacks is not None and any(f is not None for f in functions):
            raise TypeError("give callbacks or on_event/on_step/on_notice, not both")
        if callbacks is None:
            callbacks = FunctionCallbacks(*functions)
        cfg, tr = self.config, self.trainer
        budget = cfg.time_budget * 60 if cfg.time_budget is not None else math.inf
        planner = None
        if cfg.time_budget is not None and tr.schedule.planned and cfg.plan is None:
            planner = Planner(budget)
            # A cap's provisional plan is not a measured one: a run with only that measures.
            measured = any(e.why != "steps cap" for e in tr.schedule.entries)
            planner.resume(tr.step, self.state.elapsed, planned=measured)
        cadence = cfg.eval_minutes * 60 if cfg.eval_minutes is not None else budget / 10
        if tr.val_batches is None:
            cadence = math.inf  # nothing held out: no timed validation to make
        self._loop = loop = _Loop(
            callbacks=callbacks,
            stop=stop,
            budget=budget,
            save_every=cfg.save_every or tr.eval_every,
            start=time.perf_counter() - self.state.elapsed,  # the run's clock, across resumes
            planner=planner,
            cadence=cadence if math.isfinite(cadence) else None,
            last_val=self.state.elapsed,
        )
        events: list[LogEvent] = []
        try:
            if not self.finished:
                # Overflow shows up as a non-finite loss, which the trainer reports
                # with advice; numpy's own warnings would only add noise.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    events = tr.run(
                        on_event=self._event_done,
                        on_step=self._step_done,
                        after_step=self._save_on_cadence,
                        vote=self._vote,
                    )
                self.state.elapsed = loop.elapsed()
        finally:
            self._loop = None
        if self.saves:
            self._save(self.dir.save_latest if self.dir is not None else None)
        if self.dir is not None and tr.val_batches is None:
            self.dir.copy_latest_to_best()
        # No rank leaves (and no launcher ends the job) before rank 0 has written.
        self.comm.barrier()
        return RunResult(loop.reason, tr.step, self.state.best_val, events)

    # What the trainer calls during train(), in the order of a step: the step's
    # Allreduce (vote), the step done, its log event, then the cadence's save.

    def _vote(self) -> Decision:
        """This rank's decision in a step (under MPI, for its Allreduce); rank 0's clock
        rules the time budget, the plan and the timed validations."""
        loop = self._running()
        if not self.comm.is_root:
            return Decision(stop=loop.stop_requested())
        elapsed, tr, total = loop.elapsed(), self.trainer, 0
        if loop.planner is not None:
            decided = loop.planner.decide(tr.step, elapsed, tr.schedule)
            if decided is not None:
                new, rate, why = decided
                entry = tr.schedule.apply(tr.step, new, elapsed=elapsed, rate=rate, why=why)
                total = entry.total
                self._planned(entry)
        return Decision(
            stop=loop.stop_requested(),
            time_up=elapsed >= loop.budget,
            validate=loop.cadence is not None and elapsed - loop.last_val >= loop.cadence,
            total=total,
        )

    def _planned(self, entry: PlanEntry) -> None:
        """Say a plan decision, and record it in config.json (the checkpoints carry it too)."""
        loop, cfg = self._running(), self.config
        assert cfg.time_budget is not None
        fit = f"fit {cfg.time_budget:g} minutes at {entry.rate:.3g} s a step"
        if entry.why == "first plan":
            what = f"plan: {entry.total:,} steps {fit}; the learning rate decays over them"
        elif entry.why == "steps cap":
            what = f"plan: {entry.total:,} steps, the cap given by steps (more would {fit})"
        else:
            what = (
                f"re-plan at step {entry.step:,} ({entry.why} than planned): "
                f"{entry.total:,} steps {fit}"
            )
        notice = CharRNNError(what, params=("time_budget",))
        self.notices.append(notice)
        loop.aside_call(loop.callbacks.on_notice, notice)
        self.write_config()

    def _step_done(self, trainer: Trainer) -> bool:
        """After every step: tell the caller, then stop on a request or the time budget."""
        loop = self._running()
        loop.aside_call(loop.callbacks.on_step, trainer)
        self.state.elapsed = loop.elapsed()
        if self.comm.size > 1:
            # Ranks stop together, on what they voted in this step's Allreduce:
            # a signal on any rank, or rank 0's clock.
            stopping, time_up = trainer.decision.stop, trainer.decision.time_up
        else:
            stopping, time_up = loop.stop_requested(), self.state.elapsed >= loop.budget
        if stopping:
            loop.reason = "stopped"
        elif time_up:
            loop.reason = "time"
            # A run that spent its budget ends validated: it has a held-out loss and best.npz.
            trainer.decision = dataclasses.replace(trainer.decision, validate=True)
        return loop.reason != "done"

    def _event_done(self, event: LogEvent) -> bool:
        """A log event: log it, keep the best model, early-stop, notice a rise, tell the caller."""
        loop, state = self._running(), self.state
        state.elapsed = event.elapsed = loop.elapsed()  # the run's clock, across resumes
        if self.dir is not None:
            self.dir.log({**event.to_dict(), "wall_time": state.elapsed})
        halt = False
        if event.val_loss is not None:
            loop.last_val = state.elapsed
            halt = self._validated(event)
            loop.recent = [*loop.recent[-RISING_EVALS:], event.val_loss]
            if not loop.said_rising and rising(loop.recent):
                loop.said_rising = True  # once per run is enough
                notice = rising_notice(
                    self.config, event.step, loop.recent, state.best_val, self.best_step()
                )
                self.notices.append(notice)
                loop.aside_call(loop.callbacks.on_notice, notice)
        if loop.aside_call(loop.callbacks.on_event, event):
            loop.reason = "stopped"
            halt = True
        return halt

    def _validated(self, event: LogEvent) -> bool:
        """Keep a better model, or count one more validation without gain; True: patience is out."""
        loop, state, cfg = self._running(), self.state, self.config
        assert event.val_loss is not None
        if state.best_val is None or event.val_loss < state.best_val:
            state.best_val, state.bad_evals = event.val_loss, 0
            self._best_step = event.step
            if self.saves:
                self._save(self.dir.save_best if self.dir is not None else None)
            else:
                self._best = self.trainer.host_params()
            return False
        state.bad_evals += 1
        if cfg.patience is None or state.bad_evals < cfg.patience:
            return False
        loop.reason = "patience"
        self.notices.append(
            CharRNNError(
                f"early stop at step {event.step}: validation loss has not "
                f"improved for {cfg.patience} evaluations "
                f"(best {state.best_val:.4f})"
            )
        )
        return True

    def _save_on_cadence(self, trainer: Trainer) -> None:
        # After the step's log event: the checkpoint's run state has counted
        # its validation, and its clock is not behind the log it keeps.
        loop = self._running()
        if self.saves and trainer.step % loop.save_every == 0:
            self.state.elapsed = loop.elapsed()
            self._save(self.dir.save_latest if self.dir is not None else None)

    def _running(self) -> _Loop:
        assert self._loop is not None, "only while train() runs"
        return self._loop

    def _save(self, write: Callable[[Any], None] | None) -> None:
        # Every rank builds the checkpoint (its text states are gathered from them
        # all); rank 0 alone writes it.
        ckpt = self.trainer.to_checkpoint(self.state)
        if write is not None:
            write(ckpt)

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
                "members": self.state.members,
                "encoding": self.corpus.encoding,
                "charrnn_version": __version__,
                # A time-budgeted run's plan: `plan` replays it (Config.plan / --plan).
                **self._plan_record(),
            }
        )

    def _plan_record(self) -> dict[str, Any]:
        entries = self.trainer.schedule.entries
        if not entries:
            return {}
        return {"plan": format_plan(entries), "plan_decisions": [e.to_dict() for e in entries]}
