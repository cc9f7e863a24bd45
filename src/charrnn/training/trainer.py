"""The training loop: batches in, optimiser steps, validation, log events.

The loop state (parameters, optimiser state, step, pass and position within
the pass, carried hidden state) is all in :class:`Trainer`, and the batch
order of every pass is a pure function of ``(seed, pass)``, so a run can be
stopped and continued exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..core import kernels
from ..core.backend import NUMPY, Backend
from ..core.config import DEFAULT_STEPS, Config
from ..core.masks import KeyedBits
from ..core.model import (
    Params,
    Workspace,
    backward,
    flat_buffer,
    forward,
    init_params,
    param_specs,
    zero_state,
)
from ..core.optim import clip_grads, clip_norm, make_optimizer
from ..core.vocab import Vocab
from ..data.batches import Batch, TextBatches, WordBatches
from .budget import PlanEntry, Schedule
from .checkpoint import Checkpoint, RunState
from .evaluate import EVAL_STREAMS, EVAL_WORDS_BATCH, Loss, evaluate_text, evaluate_words
from .parallel import SERIAL, RankError, SerialComm, shares


@dataclass(frozen=True)
class Decision:
    """What the run decided in a step, from its clock; under MPI, what the ranks agreed.

    Attributes
    ----------
    stop, time_up : bool
        A stop was asked for; the time budget is spent.
    validate : bool
        Validate after this step (the time cadence).
    total : int
        A new planned step count from this step on (0: unchanged).
    """

    stop: bool = False
    time_up: bool = False
    validate: bool = False
    total: int = 0


NO_DECISION = Decision()

Vote = Callable[[], Decision]
"""The run's :class:`Decision` in each step, before its Allreduce (see :meth:`Trainer.run`)."""


@dataclass
class LogEvent:
    """One line of training progress."""

    step: int
    total_steps: int | None  # None: a time-budgeted run not yet planned
    epoch: float
    train_loss: float  # mean nats/char since the previous event
    val_loss: float | None
    chars_per_s: float  # predicted symbols per second
    elapsed: float
    # Units with several symbols per character (jamo): the same losses per
    # character of the shown text, to compare with a char model. None otherwise.
    train_loss_per_char: float | None = None
    val_loss_per_char: float | None = None
    lr: float | None = None  # the learning rate of the event's step

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.train_loss_per_char is None:  # char units: the losses are already per char
            del d["train_loss_per_char"], d["val_loss_per_char"]
        if self.lr is None:
            del d["lr"]
        return d

    def format(self, time_budget: float | None = None) -> str:
        """The log line; with ``time_budget`` (seconds), progress is shown against that
        budget instead of a step count the run is not meant to reach."""
        val = f" val {self.val_loss:.4f}" if self.val_loss is not None else ""
        if time_budget is not None:
            of = f" of {self.total_steps:,}" if self.total_steps is not None else ""
            where = f"step {self.step}{of}  {self.elapsed:4.1f}/{time_budget:g} s"
        elif self.total_steps is None:
            where = f"step {self.step}"
        else:
            where = f"step {self.step:>{len(str(self.total_steps))}}/{self.total_steps}"
        per_char = ""
        if self.train_loss_per_char is not None:
            per_char = f"  per char: train {self.train_loss_per_char:.4f}" + (
                f" val {self.val_loss_per_char:.4f}" if self.val_loss_per_char is not None else ""
            )
        lr = f"  lr {self.lr:.2g}" if self.lr is not None else ""
        return (
            f"{where}  epoch {self.epoch:.2f}  train {self.train_loss:.4f}{val}{per_char}"
            f"  {self.chars_per_s:,.0f} {'symbols' if per_char else 'chars'}/s{lr}"
        )


class NonFiniteError(CharRNNError):
    """Raised when the loss or a gradient stops being a finite number.

    Every data-parallel rank sees the same reduced numbers, so every rank raises it.
    """

    collective = True


# Data-parallel ranks compare a checksum of their parameters this often (in steps).
DRIFT_CHECK_EVERY = 100


def _sumsq(a: Any) -> float:
    """Sum of squares of a flat array: inf or nan when any entry is (BLAS, so no warnings)."""
    return float(np.vdot(a, a))


def eval_batch_size(mode: str) -> int:
    """Batch size for evaluation: many words at once, few long text streams."""
    return EVAL_WORDS_BATCH if mode == "words" else EVAL_STREAMS


def make_batches(
    config: Config, vocab: Vocab, data: list[str] | str | np.ndarray, batch_size: int | None = None
) -> WordBatches | TextBatches:
    """Batches over ``data`` (word list in words mode, text or ids in text mode)."""
    B = batch_size or config.batch_size
    if config.mode == "words":
        return WordBatches(list(data), vocab, B, config.seed)
    ids = data if isinstance(data, np.ndarray) else vocab.encode(str(data), dtype=np.int64)
    starts = vocab.char_starts(ids) if vocab.units.splits_chars else None
    return TextBatches(ids, B, config.seq_len, starts)


class Trainer:
    """Trains one model; holds every piece of state a resume needs.

    Parameters
    ----------
    config : Config
    vocab : Vocab
    train : list of str or str or int array
        Training words (words mode) or text / encoded ids (text mode).
    val : same kind as ``train``, optional
        Held-out data evaluated every ``eval_every`` steps.
    params : dict, optional
        Start from these parameters instead of a fresh initialisation.
    backend : Backend
    comm : SerialComm
        The data-parallel ranks (:func:`charrnn.training.parallel.world`). Each rank
        reads its share of every global batch (words: every K-th word of it;
        text: a block of B/K streams); one Allreduce sums the gradients, and
        every rank takes the same optimiser step. Only the batch is split: the
        batch order, the number of steps and the model are those of one process.
    """

    def __init__(
        self,
        config: Config,
        vocab: Vocab,
        train: list[str] | str | np.ndarray,
        val: list[str] | str | np.ndarray | None = None,
        *,
        params: Params | None = None,
        backend: Backend = NUMPY,
        comm: SerialComm = SERIAL,
    ):
        kernels.check(config.kernels)  # kernels="compiled" where none are built: say how
        self.config = config
        self.vocab = vocab
        self.backend = backend
        self.comm = comm
        self.batches = make_batches(config, vocab, train)
        # Text needs two characters to predict one; a shorter held-out tail is none.
        enough = 1 if config.mode == "words" else 2
        self.val_batches = (
            make_batches(config, vocab, val, batch_size=eval_batch_size(config.mode))
            if val is not None and len(val) >= enough
            else None
        )
        if params is None:
            params = init_params(
                vocab.size,
                config.hidden,
                np.random.default_rng(config.seed),
                layers=config.layers,
                init=config.init,
                scale=config.init_scale,
                dtype=config.dtype,
                cell=config.cell,
                forget_bias=config.forget_bias,
                units=config.units,
            )
        # Parameters and gradients each live in one flat buffer; the dicts hold
        # views, so the optimiser and clipping touch one array, not five.
        specs = param_specs(vocab.size, config.hidden, config.layers, config.cell, config.units)
        self.flat, self.params = flat_buffer(
            {s.name: backend.asarray(params[s.name]) for s in specs}, backend=backend
        )
        self.flat_grad, self.grads = flat_buffer(self.params, backend=backend)
        if comm.size > 1:
            self._split_data()
        # What the optimiser and clipping see: one array each.
        self._flat_params, self._flat_grads = {"all": self.flat}, {"all": self.flat_grad}
        # param_specs puts the weight matrices first: weight decay is one slice.
        n_weights = sum(math.prod(s.shape) for s in specs if s.is_weight)
        self.weights = self.flat[:n_weights]
        # The moving average of the parameters (Config.ema), laid out like `flat`.
        self.avg_flat: Any | None = None
        self.avg_params: Params | None = None
        if config.ema:
            self.avg_flat, self.avg_params = flat_buffer(self.params, backend=backend)
        self._avg_tmp = backend.xp.empty_like(self.flat) if config.ema else None
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.schedule = self._schedule()
        # The step's large temporaries live here, reused every step (see core.workspace.Workspace);
        # validation has its own, sized for its batches.
        self.ws = Workspace(backend)
        self.eval_ws = Workspace(backend)
        self.log_every = config.log_every
        self.eval_every = config.eval_every or config.log_every
        # Position: `step` optimiser steps done; the next batch is number
        # `batch_pos` of pass `epoch`.
        self.step = 0
        self.epoch = 0
        self.batch_pos = 0
        self.h: Any = None  # (L, B, S) carried state in text mode (this rank's streams)
        self._order: list[np.ndarray] | None = None
        self.last_chars = 0
        self._columns: dict[int, np.ndarray] = {}  # arange(B) by B: one process's dropout keys
        # What the run decided in the last step (under MPI: what the ranks agreed).
        self.decision = NO_DECISION

    # ------------------------------------------------------------------ data-parallel

    def _split_data(self) -> None:
        """This rank's share of the data, and the buffer the one Allreduce sums."""
        K, r, xp = self.comm.size, self.comm.rank, self.backend.xp
        if isinstance(self.batches, TextBatches):
            B = self.batches.batch_size
            if B < K:
                raise CharRNNError(
                    f"batch_size {B} gives fewer text streams than there are ranks ({K}); "
                    f"use batch_size of at least {K}, or fewer ranks",
                    params=("batch_size",),
                )
            self.stream_counts = shares(B, K)
            self.part = self.batches.part(sum(self.stream_counts[:r]), self.stream_counts[r])
            if isinstance(self.val_batches, TextBatches):
                counts = shares(self.val_batches.batch_size, K)
                self.val_part = self.val_batches.part(sum(counts[:r]), counts[r])
        # The gradients, then the summed loss, the shown characters and the step's
        # decision (stop, time, validate, planned total): one Allreduce. A float32
        # buffer holds a planned total exactly up to 2**24 steps.
        P = self.flat.size
        self.reduce_buf = xp.zeros(P + 6, dtype=self.flat.dtype)
        self.flat_grad = self.reduce_buf[:P]
        offset = 0
        for k, v in self.params.items():
            self.grads[k] = self.flat_grad[offset : offset + v.size].reshape(v.shape)
            offset += v.size
        self._flat_grads = {"all": self.flat_grad}

    def checksum(self) -> float:
        """A float64 sum of the parameters: ranks that drifted apart disagree on it."""
        return float(np.sum(self.backend.asnumpy(self.flat), dtype=np.float64))

    def check_ranks_agree(self) -> None:
        """Raise on every rank unless all hold the same model at the same position.

        Raises
        ------
        RankError
            If the ranks' parameter counts, steps or parameters differ.
        """
        if self.comm.size == 1:
            return
        mine = np.array([self.flat.size, self.step, self.epoch, self.batch_pos, self.checksum()])
        lo, hi = self.comm.allreduce(mine, "min"), self.comm.allreduce(mine, "max")
        if (lo != hi).any():
            raise RankError(
                f"the {self.comm.size} ranks no longer hold the same model at step "
                f"{self.step} (parameter checksums {lo[4]!r} .. {hi[4]!r}); every rank must "
                "run the same charrnn and numpy on the same data. Resume from the last "
                "checkpoint"
            )

    @property
    def model_params(self) -> Params:
        """The parameters that are the model: the moving average when ``config.ema`` is on."""
        return self.avg_params if self.avg_params is not None else self.params

    def _schedule(self) -> Schedule:
        """A fixed step count (``steps``, ``epochs``, or the default), or a plan
        (``config.plan``, or a time budget), capped by ``steps``/``epochs`` if given."""
        cfg = self.config
        count: int | None = cfg.steps
        if count is None and cfg.epochs is not None:
            count = max(1, math.ceil(cfg.epochs * self.batches.batches_per_epoch))
        if cfg.plan is not None or cfg.time_budget is not None:
            schedule = Schedule(cfg, None, cap=count)
            if count is not None and cfg.plan is None:
                # Until the clock says fewer fit the budget, the steps given are the plan.
                schedule.apply(0, count, why="steps cap")
            return schedule
        return Schedule(cfg, count if count is not None else DEFAULT_STEPS)

    @property
    def total_steps(self) -> int | None:
        """The run's step count; ``None`` while a time-budgeted run measures its speed."""
        return self.schedule.total()

    @property
    def clamped_batch_size(self) -> int | None:
        """The batch size actually used, when the data forced it below the config's."""
        B = self.batches.batch_size
        return B if B < self.config.batch_size else None

    def _next_batch(self) -> tuple[Batch | None, int, np.ndarray]:
        """This rank's share of the next global batch (None if it has no sequence in it),
        the global batch's predicted characters, and the share's columns in it."""
        if self.batch_pos >= self.batches.batches_per_epoch:
            self.epoch += 1
            self.batch_pos = 0
            self._order = None
        K, r = self.comm.size, self.comm.rank
        if isinstance(self.batches, WordBatches):
            if self._order is None:
                self._order = self.batches.epoch_order(self.epoch)
            index = self._order[self.batch_pos]
            batch: Batch | None
            if K == 1:
                batch = self.batches.make(index)
                n, columns = batch.n_targets, self._arange(len(index))
            else:
                # Every K-th word: each rank gets words of every length in the batch.
                columns = np.arange(r, len(index), K)
                batch = self.batches.make(index[columns]) if len(columns) else None
                n = int(self.batches.lengths[index].sum())
        else:
            if self.batch_pos == 0:
                self.h = None  # a new pass starts every stream from a zero state
            if K == 1:
                batch = self.batches.make(self.batch_pos)
                n, columns = batch.n_targets, self._arange(batch.inputs.shape[1])
            else:
                batch = self.part.make(self.batch_pos)
                n = batch.inputs.shape[0] * self.batches.batch_size
                columns = self.part.first + self._arange(self.part.batch_size)
        self.batch_pos += 1
        return batch, n, columns

    def _arange(self, n: int) -> np.ndarray:
        a = self._columns.get(n)
        if a is None:
            a = self._columns[n] = np.arange(n)
        return a

    def train_step(self, vote: Vote | None = None) -> tuple[float, int]:
        """One optimiser step; returns (summed loss in nats, predicted characters)."""
        with kernels.using(self.config.kernels):  # the cells' element-wise kernels
            return self._train_step(vote)

    def _train_step(self, vote: Vote | None = None) -> tuple[float, int]:
        cfg, be, xp = self.config, self.backend, self.backend.xp
        self.schedule.follow_given(self.step)  # a replayed plan's entry for this step
        batch, n_targets, columns = self._next_batch()
        # The mean is over the global batch, so the ranks' gradients sum to its gradient.
        scale = 1.0 / n_targets if cfg.reduction == "mean" else 1.0
        cache = None
        if batch is None:  # a short last batch left this rank without a word
            loss = 0.0
            self.flat_grad.fill(0)
        else:
            B = batch.inputs.shape[1]
            h0 = self.h
            if h0 is None:
                h0 = zero_state(self.params, B, backend=be, ws=self.ws, cell=cfg.cell)
            mask = be.asarray(batch.mask) if batch.mask is not None else None
            # Dropout masks are keyed by (seed, step, sequence's place in the global batch):
            # a resumed run, or K ranks, draw the masks of one unbroken process.
            keyed = cfg.dropout or cfg.weight_drop
            drop = KeyedBits(cfg.seed, self.step, columns) if keyed else None
            loss, cache = forward(
                self.params,
                be.asarray(batch.inputs),
                be.asarray(batch.targets),
                h0,
                mask,
                dropout=cfg.dropout,
                weight_drop=cfg.weight_drop,
                dropout_masks=cfg.dropout_masks,
                rng=drop,
                backend=be,
                ws=self.ws,
                cell=cfg.cell,  # the config names the cell: never guessed from the parameters
            )
            backward(
                self.params,
                cache,
                scale=scale,
                bptt=cfg.bptt,
                out=self.grads,
                backend=be,
                ws=self.ws,
                cell=cfg.cell,
                window=cfg.bptt_window,
            )
        # Characters of the shown text this step predicted (fewer than symbols in jamo units).
        chars = 0
        if batch is not None:
            chars = batch.n_chars if batch.n_chars is not None else batch.n_targets
        decision = vote() if vote is not None else NO_DECISION
        if self.comm.size > 1:
            loss, chars, decision = self._reduce(loss, chars, decision)
            if decision.total and not self.comm.is_root:
                self.schedule.apply(self.step, decision.total)  # rank 0 applied it in its vote
        self.decision = decision
        self.last_chars = chars
        grads, params = self._flat_grads, self._flat_params
        # One BLAS dot gives both the finiteness check and the norm for clipping.
        norm = math.sqrt(_sumsq(self.flat_grad))
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise self._non_finite("the loss or a gradient")
        if cfg.clip_mode == "norm":
            clip_norm(grads, cfg.clip, norm=norm)
        else:
            clip_grads(grads, cfg.clip_mode, cfg.clip)
        lr = self.schedule.lr(self.step)
        self.optimizer.lr = lr
        self.optimizer.step(params, grads)
        if cfg.weight_decay:
            self.weights *= 1 - lr * cfg.weight_decay  # decoupled (AdamW) decay
        if not math.isfinite(_sumsq(self.flat)):
            raise self._non_finite("a parameter")
        if self.avg_flat is not None:
            self._update_average()
        if cfg.mode == "text" and cache is not None:
            # The state lives in the workspace, which the next step overwrites.
            if self.h is None or self.h.shape != cache.final_state.shape:
                self.h = xp.empty_like(cache.final_state)
            self.h[...] = cache.final_state
        self.step += 1
        if self.comm.size > 1 and self.step % DRIFT_CHECK_EVERY == 0:
            self.check_ranks_agree()
        return loss, n_targets

    def _reduce(self, loss: float, chars: int, mine: Decision) -> tuple[float, int, Decision]:
        """Sum gradients, loss, shown characters and decisions over the ranks (one
        Allreduce); the global loss and characters, and what the ranks agreed (any
        rank's stop; rank 0's clock, the only one that votes on time and plans)."""
        P, buf = self.flat.size, self.reduce_buf
        buf[P : P + 6] = (
            loss,
            chars,
            mine.stop,
            mine.time_up,
            mine.validate,
            mine.total if self.comm.is_root else 0,
        )
        self.comm.sum_inplace(buf)
        agreed = Decision(
            stop=bool(buf[P + 2] > 0),
            time_up=bool(buf[P + 3] > 0),
            validate=bool(buf[P + 4] > 0),
            total=round(float(buf[P + 5])),
        )
        return float(buf[P]), round(float(buf[P + 1])), agreed

    def _update_average(self) -> None:
        # The decay ramps up from 0.1 so the average forgets the random
        # initialisation within the first few dozen steps, not thousands.
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        tmp = self._avg_tmp
        assert tmp is not None  # called only with a moving average on
        self.backend.xp.subtract(self.flat, self.avg_flat, out=tmp)
        tmp *= 1 - decay
        self.avg_flat += tmp  # avg = decay * avg + (1 - decay) * params

    def _non_finite(self, what: str) -> NonFiniteError:
        return NonFiniteError(
            f"{what} became non-finite at step {self.step + 1}; checkpoints already "
            "written are intact. Lower the learning rate (lr) or bound the gradients "
            "(clip_mode='norm' clip=1), then train again",
            params=("lr", "clip_mode", "clip"),
        )

    def validate(self) -> Loss | None:
        """Loss on the held-out data, or ``None`` if there is none."""
        with kernels.using(self.config.kernels):
            return self._validate()

    def _validate(self) -> Loss | None:
        if self.val_batches is None:
            return None
        if self.comm.size > 1:
            return self._validate_share()
        be, ws, cell = self.backend, self.eval_ws, self.config.cell
        if isinstance(self.val_batches, WordBatches):
            return evaluate_words(self.model_params, self.val_batches, backend=be, ws=ws, cell=cell)
        return evaluate_text(self.model_params, self.val_batches, backend=be, ws=ws, cell=cell)

    def _validate_share(self) -> Loss:
        # Each rank evaluates its share (words: every K-th batch; text: its streams).
        K, r, be = self.comm.size, self.comm.rank, self.backend
        if isinstance(self.val_batches, WordBatches):
            loss = evaluate_words(
                self.model_params,
                self.val_batches,
                backend=be,
                ws=self.eval_ws,
                share=(r, K),
                cell=self.config.cell,
            )
        elif self.val_part.batch_size > 0:
            loss = evaluate_text(
                self.model_params, self.val_part, backend=be, ws=self.eval_ws, cell=self.config.cell
            )
        else:
            loss = Loss(0.0, 0)
        total, count, chars = self.comm.allreduce(
            np.array([loss.nats * loss.n_chars, loss.n_chars, loss.chars])
        )
        return Loss(float(total / count), int(count), int(chars) if chars != count else None)

    def run(
        self,
        on_event: Callable[[LogEvent], bool | None] | None = None,
        on_step: Callable[[Trainer], bool | None] | None = None,
        after_step: Callable[[Trainer], None] | None = None,
        vote: Vote | None = None,
    ) -> list[LogEvent]:
        """Train until ``total_steps`` (or until a callback asks to stop); return the log events.

        The last step validates, as do the steps on the ``eval_every`` cadence
        and those whose :class:`Decision` says so (the run's time cadence, and
        the step that spends its time budget).

        Parameters
        ----------
        on_event : callable, optional
            Called with every :class:`LogEvent`; returning True stops training
            (early stopping).
        on_step : callable, optional
            Called with the trainer after every step (progress bars, budgets,
            signals); returning True stops training after this step, which is
            then logged as the last one (validated only if on the cadence).
        after_step : callable, optional
            Called with the trainer at the very end of every step, after its log
            event (checkpoints: what they save has counted this step's validation).
        vote : callable, optional
            Called in every step, before the optimiser update (and under MPI
            before its Allreduce), for this rank's :class:`Decision`; what the
            ranks agreed lands in ``decision`` after the step. A decision's new
            total has been applied to ``schedule`` by rank 0's vote; the other
            ranks apply it here.
        """
        events: list[LogEvent] = []
        start = time.perf_counter()
        window_loss, window_chars, window_start = 0.0, 0, start
        window_text = 0  # characters of the shown text, where units make them fewer
        per_char = self.vocab.units.splits_chars
        while self.total_steps is None or self.step < self.total_steps:
            loss, n = self.train_step(vote)
            window_loss += loss
            window_chars += n
            window_text += self.last_chars
            stop = bool(on_step(self)) if on_step is not None else False
            # A run that ends early still logs where it ends; it validates there
            # only when its decision says so (a spent time budget), not when asked
            # to stop, so a resumed run validates where an unbroken one does.
            total = self.total_steps
            last = self.step == total or stop
            timed = self.decision.validate
            if self.step % self.log_every == 0 or last or timed:
                now = time.perf_counter()
                val, val_per_char = None, None
                if self.step % self.eval_every == 0 or self.step == total or timed:
                    v = self.validate()
                    val = v.nats if v is not None else None
                    val_per_char = v.per_char if v is not None and per_char else None
                event = LogEvent(
                    step=self.step,
                    total_steps=total,
                    epoch=self.epoch + self.batch_pos / self.batches.batches_per_epoch,
                    train_loss=window_loss / max(window_chars, 1),
                    val_loss=val,
                    chars_per_s=window_chars / max(now - window_start, 1e-9),
                    elapsed=now - start,
                    train_loss_per_char=(window_loss / max(window_text, 1) if per_char else None),
                    val_loss_per_char=val_per_char,
                    lr=self.optimizer.lr,
                )
                events.append(event)
                if on_event is not None:
                    stop = bool(on_event(event)) or stop
                window_loss, window_chars, window_text = 0.0, 0, 0
                window_start = time.perf_counter()  # validation time is not training time
            if after_step is not None:
                after_step(self)
            if stop:
                break
        return events

    # ------------------------------------------------------------------ resume

    def to_checkpoint(self, run: RunState | None = None) -> Checkpoint:
        """Everything needed to continue this run exactly, with the run's state ``run``.

        Under MPI every rank must call it (the text streams' states are gathered).
        """
        return Checkpoint(
            config=self.config,
            vocab=self.vocab,
            params=self.host_params(),
            step=self.step,
            epoch=self.epoch,
            batch_pos=self.batch_pos,
            optimizer_t=self.optimizer.t,
            optimizer_state={
                k: self.backend.asnumpy(v) for k, v in self.optimizer.state_arrays().items()
            },
            h=self._global_state(),
            # A copy: the caller goes on updating its run state after this save.
            run=replace(
                run if run is not None else RunState(),
                plan=[e.to_dict() for e in self.schedule.entries],
            ),
            train_params=self._host(self.params) if self.avg_params is not None else None,
        )

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue from ``ckpt`` (parameters, optimiser, position, carried state)."""
        if ckpt.vocab != self.vocab:
            raise CharRNNError(
                "the data's characters differ from those the checkpoint was trained on; "
                "resume with the same data"
            )
        be = self.backend
        for k, v in (ckpt.train_params or ckpt.params).items():
            self.params[k][...] = be.asarray(v)
        if self.avg_params is not None:
            for k, v in ckpt.params.items():
                self.avg_params[k][...] = be.asarray(v)
        self.optimizer.load_state_arrays(
            {k: be.asarray(v) for k, v in ckpt.optimizer_state.items()}, ckpt.optimizer_t
        )
        self.step, self.epoch, self.batch_pos = ckpt.step, ckpt.epoch, ckpt.batch_pos
        self.schedule.restore([PlanEntry.from_dict(e) for e in ckpt.run.plan], ckpt.step)
        h = ckpt.h
        if h is not None and self.comm.size > 1:
            # The checkpoint holds every stream's state; this rank carries its own.
            h = h[:, self.part.first : self.part.first + self.part.batch_size]
        self.h = be.asarray(h.copy()) if h is not None else None
        self._order = None

    def _global_state(self) -> np.ndarray | None:
        """The carried state of every stream, (L, B, H), on the host (collective under MPI)."""
        if self.h is None:
            return None
        h = self.backend.asnumpy(self.h)
        if self.comm.size > 1:
            return self.comm.allgather_columns(np.ascontiguousarray(h), self.stream_counts)
        return h

    def host_params(self) -> dict[str, np.ndarray]:
        """The model's parameters (the average with ``config.ema``) as host numpy arrays."""
        return self._host(self.model_params)

    def _host(self, params: Params) -> dict[str, np.ndarray]:
        return {k: self.backend.asnumpy(v).copy() for k, v in params.items()}
