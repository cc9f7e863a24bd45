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

from .backend import NUMPY, Backend
from .checkpoint import Checkpoint, RunState
from .config import Config
from .data import Batch, TextBatches, WordBatches
from .errors import CharRNNError
from .evaluate import EVAL_STREAMS, EVAL_WORDS_BATCH, Loss, evaluate_text, evaluate_words
from .model import (
    Params,
    Workspace,
    backward,
    flat_buffer,
    forward,
    init_params,
    param_specs,
    zero_state,
)
from .optim import clip_grads, clip_norm, make_optimizer
from .vocab import Vocab


@dataclass
class LogEvent:
    """One line of training progress."""

    step: int
    total_steps: int
    epoch: float
    train_loss: float  # mean nats/char since the previous event
    val_loss: float | None
    chars_per_s: float
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        val = f" val {self.val_loss:.4f}" if self.val_loss is not None else ""
        return (
            f"step {self.step:>{len(str(self.total_steps))}}/{self.total_steps}"
            f"  epoch {self.epoch:.2f}  train {self.train_loss:.4f}{val}"
            f"  {self.chars_per_s:,.0f} chars/s"
        )


class NonFiniteError(CharRNNError):
    """Raised when the loss or a gradient stops being a finite number."""


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
    return TextBatches(ids, B, config.seq_len)


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
    ):
        self.config = config
        self.vocab = vocab
        self.backend = backend
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
            )
        # Parameters and gradients each live in one flat buffer; the dicts hold
        # views, so the optimiser and clipping touch one array, not five.
        specs = param_specs(vocab.size, config.hidden, config.layers, config.cell)
        self.flat, self.params = flat_buffer(
            {s.name: backend.asarray(params[s.name]) for s in specs}, backend=backend
        )
        self.flat_grad, self.grads = flat_buffer(self.params, backend=backend)
        # What the optimiser and clipping see: one array each.
        self._flat_params, self._flat_grads = {"all": self.flat}, {"all": self.flat_grad}
        # param_specs puts the weight matrices first: weight decay is one slice.
        n_weights = sum(math.prod(s.shape) for s in specs if s.is_weight)
        self.weights = self.flat[:n_weights]
        # The moving average of the parameters (Config.ema), laid out like `flat`.
        self.avg_flat, self.avg_params = (
            flat_buffer(self.params, backend=backend) if config.ema else (None, None)
        )
        self._avg_tmp = backend.xp.empty_like(self.flat) if config.ema else None
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        # The step's large temporaries live here, reused every step (see model.Workspace);
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
        self.h: Any = None  # (L, B, S) carried state in text mode
        self._order: list[np.ndarray] | None = None

    @property
    def model_params(self) -> Params:
        """The parameters that are the model: the moving average when ``config.ema`` is on."""
        return self.avg_params if self.avg_params is not None else self.params

    @property
    def total_steps(self) -> int:
        """The step budget: ``config.steps`` or ``epochs`` passes."""
        if self.config.steps is not None:
            return self.config.steps
        return max(1, math.ceil(self.config.epochs * self.batches.batches_per_epoch))

    @property
    def clamped_batch_size(self) -> int | None:
        """The batch size actually used, when the data forced it below the config's."""
        B = self.batches.batch_size
        return B if B < self.config.batch_size else None

    def _next_batch(self) -> Batch:
        if self.batch_pos >= self.batches.batches_per_epoch:
            self.epoch += 1
            self.batch_pos = 0
            self._order = None
        if isinstance(self.batches, WordBatches):
            if self._order is None:
                self._order = self.batches.epoch_order(self.epoch)
            batch = self.batches.make(self._order[self.batch_pos])
        else:
            if self.batch_pos == 0:
                self.h = None  # a new pass starts every stream from a zero state
            batch = self.batches.make(self.batch_pos)
        self.batch_pos += 1
        return batch

    def train_step(self) -> tuple[float, int]:
        """One optimiser step; returns (summed loss in nats, predicted characters)."""
        cfg, be, xp = self.config, self.backend, self.backend.xp
        batch = self._next_batch()
        B = batch.inputs.shape[1]
        h0 = self.h if self.h is not None else zero_state(self.params, B, backend=be, ws=self.ws)
        mask = be.asarray(batch.mask) if batch.mask is not None else None
        # Dropout masks come from a generator keyed by the step, so a resumed run
        # draws the same masks without saving any generator state.
        drop_rng = np.random.default_rng([cfg.seed, self.step, 0xD209]) if cfg.dropout else None
        loss, cache = forward(
            self.params,
            be.asarray(batch.inputs),
            be.asarray(batch.targets),
            h0,
            mask,
            dropout=cfg.dropout,
            rng=drop_rng,
            backend=be,
            ws=self.ws,
        )
        scale = 1.0 / batch.n_targets if cfg.reduction == "mean" else 1.0
        backward(
            self.params, cache, scale=scale, bptt=cfg.bptt, out=self.grads, backend=be, ws=self.ws
        )
        grads, params = self._flat_grads, self._flat_params
        # One BLAS dot gives both the finiteness check and the norm for clipping.
        norm = math.sqrt(_sumsq(self.flat_grad))
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise self._non_finite("the loss or a gradient")
        if cfg.clip_mode == "norm":
            clip_norm(grads, cfg.clip, norm=norm)
        else:
            clip_grads(grads, cfg.clip_mode, cfg.clip)
        lr = cfg.lr_at(self.step, self.total_steps)
        self.optimizer.lr = lr
        self.optimizer.step(params, grads)
        if cfg.weight_decay:
            self.weights *= 1 - lr * cfg.weight_decay  # decoupled (AdamW) decay
        if not math.isfinite(_sumsq(self.flat)):
            raise self._non_finite("a parameter")
        if self.avg_flat is not None:
            self._update_average()
        if cfg.mode == "text":
            # The state lives in the workspace, which the next step overwrites.
            if self.h is None or self.h.shape != cache.final_state.shape:
                self.h = xp.empty_like(cache.final_state)
            self.h[...] = cache.final_state
        self.step += 1
        return loss, batch.n_targets

    def _update_average(self) -> None:
        # The decay ramps up from 0.1 so the average forgets the random
        # initialisation within the first few dozen steps, not thousands.
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        tmp = self._avg_tmp
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
        if self.val_batches is None:
            return None
        if isinstance(self.val_batches, WordBatches):
            return evaluate_words(
                self.model_params, self.val_batches, backend=self.backend, ws=self.eval_ws
            )
        return evaluate_text(
            self.model_params, self.val_batches, backend=self.backend, ws=self.eval_ws
        )

    def run(
        self,
        on_event: Callable[[LogEvent], None] | None = None,
        on_step: Callable[[Trainer], bool | None] | None = None,
        after_step: Callable[[Trainer], None] | None = None,
    ) -> list[LogEvent]:
        """Train until ``total_steps`` (or until a callback asks to stop); return the log events.

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
        """
        events: list[LogEvent] = []
        start = time.perf_counter()
        window_loss, window_chars, window_start = 0.0, 0, start
        total = self.total_steps
        while self.step < total:
            loss, n = self.train_step()
            window_loss += loss
            window_chars += n
            stop = bool(on_step(self)) if on_step is not None else False
            # A run that ends early still logs where it ends; it validates on its
            # cadence only, so a resumed run validates where an unbroken one does.
            last = self.step == total or stop
            if self.step % self.log_every == 0 or last:
                now = time.perf_counter()
                val = None
                if self.step % self.eval_every == 0 or self.step == total:
                    v = self.validate()
                    val = v.nats if v is not None else None
                event = LogEvent(
                    step=self.step,
                    total_steps=total,
                    epoch=self.epoch + self.batch_pos / self.batches.batches_per_epoch,
                    train_loss=window_loss / max(window_chars, 1),
                    val_loss=val,
                    chars_per_s=window_chars / max(now - window_start, 1e-9),
                    elapsed=now - start,
                )
                events.append(event)
                if on_event is not None:
                    stop = bool(on_event(event)) or stop
                window_loss, window_chars = 0.0, 0
                window_start = time.perf_counter()  # validation time is not training time
            if after_step is not None:
                after_step(self)
            if stop:
                break
        return events

    # ------------------------------------------------------------------ resume

    def to_checkpoint(self, run: RunState | None = None) -> Checkpoint:
        """Everything needed to continue this run exactly, with the run's state ``run``."""
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
            h=self.backend.asnumpy(self.h) if self.h is not None else None,
            # A copy: the caller goes on updating its run state after this save.
            run=replace(run) if run is not None else RunState(),
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
        self.h = be.asarray(ckpt.h.copy()) if ckpt.h is not None else None
        self._order = None

    def host_params(self) -> dict[str, np.ndarray]:
        """The model's parameters (the average with ``config.ema``) as host numpy arrays."""
        return self._host(self.model_params)

    def _host(self, params: Params) -> dict[str, np.ndarray]:
        return {k: self.backend.asnumpy(v).copy() for k, v in params.items()}
