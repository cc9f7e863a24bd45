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
from ..data.corpus import Data, read_corpus
from .checkpoint import RunState
from .parallel import SerialComm, limit_threads, world
from .rundir import RunDir
from .trainer import LogEvent, Trainer

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
        The data-parallel ranks; by default :func:`charrnn.parallel.world` (every
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
            if ckpt is not None and ckpt.run.data_fingerprint not in (
                None,
                self.corpus.fingerprint,
            ):
                raise CharRNNError(
                    "this is not the data the run was trained on (its fingerprint differs); "
                    "resume with the same data"
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
            self.dir.clear_run()  # only now that nothing can fail before training
        if self.trainer.clamped_batch_size is not None:
            self.notices.append(
                CharRNNError(
                    f"notice: batch_size {self.config.batch_size} is larger than the data "
                    f"allows; using {self.trainer.clamped_batch_size}",
                    params=("batch_size",),
                )
            )
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
        return self.trainer.step >= self.trainer.total_steps

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
        *,
        on_event: Callable[[LogEvent], bool | None] | None = None,
        on_step: Callable[[Trainer], None] | None = None,
        stop: threading.Event | None = None,
        on_notice: Callable[[CharRNNError], None] | None = None,
    ) -> RunResult:
        """Train until the step budget, the time budget, patience, or ``stop``.

        Parameters
        ----------
        on_event : callable, optional
            Called with every :class:`LogEvent` (progress lines); returning
            ``True`` ends training after that step, as ``stop`` does (the run
            saves and returns with reason "stopped").
        on_step : callable, optional
            Called with the trainer after every step (progress bars).
        stop : threading.Event, optional
            Set it (from a signal handler, another thread or a callback) to end
            training after the current step; the run saves and returns.
        on_notice : callable, optional
            Called with each notice the run gives while it trains, as it
            happens (a validation loss that keeps rising), as a
            :class:`CharRNNError` whose ``params`` name the settings it
            mentions; every notice is also kept in :attr:`notices`.

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

        def call(fn: Callable[..., Any] | None, arg: Any) -> Any:
            if fn is None:
                return None
            t0 = time.perf_counter()
            try:
                return fn(arg)
            finally:
                clock["aside"] += time.perf_counter() - t0

        def notice(exc: CharRNNError) -> None:
            self.notices.append(exc)
            call(on_notice, exc)

        def step_done(trainer: Trainer) -> bool:
            call(on_step, trainer)
            state.elapsed = elapsed()
            if self.comm.size > 1:
                # Ranks stop together, on what they voted in this step's Allreduce:
                # a signal on any rank, or rank 0's clock.
                stopping, time_up = trainer.agreed_stop, trainer.agreed_time
            else:
                stopping = stop is not None and stop.is_set()
                time_up = state.elapsed >= budget
            if stopping:
                reason[0] = "stopped"
            elif time_up:
                reason[0] = "time"
            return reason[0] != "done"

        def vote() -> tuple[bool, bool]:
            stopping = stop is not None and stop.is_set()
            return stopping, self.comm.is_root and elapsed() >= budget

        tr.vote = vote

        def save(trainer: Trainer) -> None:
            # After the step's log event: the checkpoint's run state has counted
            # its validation, and its clock is not behind the log it keeps.
            if self.saves and trainer.step % save_every == 0:
                state.elapsed = elapsed()
                self._save(self.dir.save_latest if self.dir is not None else None)

        def event_done(event: LogEvent) -> bool:
            state.elapsed = event.elapsed = elapsed()  # the run's clock, across resumes
            if self.dir is not None:
                self.dir.log({**event.to_dict(), "wall_time": state.elapsed})
            halt = False
            if event.val_loss is not None:
                if state.best_val is None or event.val_loss < state.best_val:
                    state.best_val, state.bad_evals = event.val_loss, 0
                    self._best_step = event.step
                    if self.saves:
                        self._save(self.dir.save_best if self.dir is not None else None)
                    else:
                        self._best = tr.host_params()
                else:
                    state.bad_evals += 1
                    if cfg.patience is not None and state.bad_evals >= cfg.patience:
                        reason[0] = "patience"
                        self.notices.append(
                            CharRNNError(
                                f"early stop at step {event.step}: validation loss has not "
                                f"improved for {cfg.patience} evaluations "
                                f"(best {state.best_val:.4f})"
                            )
                        )
                        halt = True
            if event.val_loss is not None:
                recent[:] = [*recent[-RISING_EVALS:], event.val_loss]
                if not said_rising and rising(recent):
                    said_rising.append(True)
                    notice(rising_notice(cfg, event.step, recent, state.best_val, self.best_step()))
            if call(on_event, event):
                reason[0] = "stopped"
                halt = True
            return halt

        recent: list[float] = []  # the last validation losses, to see a steady rise
        said_rising: list[bool] = []  # once per run is enough
        events: list[LogEvent] = []
        if not self.finished:
            # Overflow shows up as a non-finite loss, which the trainer reports with
            # advice; numpy's own warnings would only add noise.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                events = tr.run(on_event=event_done, on_step=step_done, after_step=save)
            state.elapsed = elapsed()
        if self.saves:
            self._save(self.dir.save_latest if self.dir is not None else None)
        if self.dir is not None and tr.val_batches is None:
            self.dir.copy_latest_to_best()
        # No rank leaves (and no launcher ends the job) before rank 0 has written.
        self.comm.barrier()
        return RunResult(reason[0], tr.step, state.best_val, events)

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
                "encoding": self.corpus.encoding,
                "charrnn_version": __version__,
            }
        )
