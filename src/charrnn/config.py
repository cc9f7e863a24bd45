"""The one configuration dataclass: everything that rebuilds a model and its training."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from .errors import CharRNNError

MODES = ("words", "text")
OPTIMIZERS = ("sgd", "adagrad", "adam")
CLIP_MODES = ("value", "norm", "none")
BPTT_RULES = ("full", "naive")
DTYPES = ("float32", "float64")
INITS = ("normal", "scaled")
REDUCTIONS = ("mean", "sum")
SCHEDULES = ("constant", "cosine")

# Fields that fix the shape or meaning of the parameters: a resumed run may not change them.
MODEL_FIELDS = ("mode", "hidden", "layers", "dtype")


@dataclass(frozen=True)
class Config:
    """Hyperparameters of a model and of its training; saved with every model.

    Together with the vocabulary it rebuilds the model exactly.

    Parameters
    ----------
    mode : {"words", "text"}
        ``words``: every line is one sequence read as ``'\\n' + word`` predicting
        ``word + '\\n'``, state reset per word. ``text``: running text in
        ``batch_size`` parallel streams, state carried between chunks.
    hidden : int
        Hidden size H (of every layer).
    layers : int
        Stacked tanh RNN layers, L; layer 1 keeps the tutorial's parameter names.
    dropout : float
        Probability of zeroing a unit of each layer's output during training
        (between layers and before the output layer); 0 turns it off.
    init : {"normal", "scaled"}
        ``normal``: the tutorial's N(0, 1) * ``init_scale`` (0.01) for every weight.
        ``scaled``: N(0, 1/fan_in) for ``Wxh`` and ``Why`` and a random orthogonal
        ``Whh``, which keeps activations alive for large H.
    init_scale : float
        Standard deviation of the ``normal`` initialisation.
    dtype : {"float32", "float64"}
        Floating type of parameters and of the whole computation.
    bptt : {"full", "naive"}
        ``full``: backpropagation through time (tutorial section 5, ``dhnext``).
        ``naive``: the 1-hop rule of section 4 (``dhnext`` always zero), kept as an ablation.
    seq_len : int
        Chunk length T in text mode (truncated BPTT window).
    batch_size : int
        Sequences (words mode) or streams (text mode) per step, B.
    steps : int or None
        Optimiser steps to run; ``None`` means use ``epochs``.
    epochs : float
        Passes over the training data when ``steps`` is ``None``.
    optimizer : {"sgd", "adagrad", "adam"}
    lr : float
        Learning rate (the peak, when a schedule is used).
    schedule : {"constant", "cosine"}
        ``cosine`` decays the rate from ``lr`` to ``lr * lr_min_ratio`` over the run.
    warmup : int
        Steps of linear warm-up from 0 to ``lr`` at the start.
    lr_min_ratio : float
        Final rate of the cosine schedule, as a share of ``lr``.
    weight_decay : float
        Decoupled weight decay (AdamW style) on the weight matrices, not the biases.
    ema : float
        Decay of an exponential moving average of the parameters kept during
        training (Polyak averaging); 0 turns it off. Validation, saved models
        and everything that uses them read the average, which smooths out the
        noise of the last updates; training itself goes on from the raw
        parameters. 0.999 averages over roughly the last thousand steps.
    clip : float
        Bound for ``clip_mode``: element-wise bound (``value``) or global norm (``norm``).
    clip_mode : {"value", "norm", "none"}
    reduction : {"mean", "sum"}
        Gradient of the mean loss per predicted character (default), or of the
        summed loss as in the tutorial (whose ``lr=0.1`` is on the sum).
    val_fraction : float
        Share of the corpus held out for validation (0 trains on everything):
        seeded random lines in words mode, the end of the text in text mode.
    val_max : int
        Hold out at most this many lines (words mode) or characters (text
        mode); 0 is no cap. Validation runs on the whole held-out part, so a cap
        keeps it quick on a large corpus. With ``val_fraction=0.1`` and
        ``val_max=1000`` words mode uses makemore's split.
    seed : int
        Seeds initialisation, the split and the batch order.
    """

    mode: str = "words"
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    init: str = "normal"
    init_scale: float = 0.01
    dtype: str = "float32"
    bptt: str = "full"
    seq_len: int = 64
    batch_size: int = 32
    steps: int | None = 1000
    epochs: float = 1.0
    optimizer: str = "adam"
    lr: float = 0.005
    schedule: str = "constant"
    warmup: int = 0
    lr_min_ratio: float = 0.1
    weight_decay: float = 0.0
    ema: float = 0.0
    clip: float = 5.0
    clip_mode: str = "norm"
    reduction: str = "mean"
    val_fraction: float = 0.1
    val_max: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`CharRNNError` naming the first out-of-range field."""
        choices = {
            "mode": MODES,
            "optimizer": OPTIMIZERS,
            "clip_mode": CLIP_MODES,
            "bptt": BPTT_RULES,
            "dtype": DTYPES,
            "init": INITS,
            "reduction": REDUCTIONS,
            "schedule": SCHEDULES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise CharRNNError(
                    f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}"
                )
        for name in ("hidden", "seq_len", "batch_size", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise CharRNNError(f"{name} must be a positive integer; got {v!r}")
        if self.hidden > 8192:
            raise CharRNNError(f"hidden={self.hidden} is too large; use at most 8192")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise CharRNNError(f"steps must be a positive integer; got {self.steps!r}")
        for name in ("lr", "init_scale", "epochs"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise CharRNNError(f"{name} must be a positive number; got {v!r}")
        if self.clip_mode != "none" and not (math.isfinite(self.clip) and self.clip > 0):
            raise CharRNNError(f"clip must be a positive number; got {self.clip!r}")
        if self.layers > 16:
            raise CharRNNError(f"layers={self.layers} is too many; use at most 16")
        if not (0.0 <= self.dropout < 1.0):
            raise CharRNNError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if not (isinstance(self.warmup, int) and self.warmup >= 0):
            raise CharRNNError(f"warmup must be a whole number of steps >= 0; got {self.warmup!r}")
        if not (0.0 <= self.lr_min_ratio <= 1.0):
            raise CharRNNError(f"lr_min_ratio must be in [0, 1]; got {self.lr_min_ratio!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise CharRNNError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        if not (isinstance(self.ema, int | float) and 0.0 <= self.ema < 1.0):
            raise CharRNNError(f"ema must be in [0, 1) (0 is off, e.g. 0.999); got {self.ema!r}")
        if not (isinstance(self.val_max, int) and self.val_max >= 0):
            raise CharRNNError(f"val_max must be a whole number >= 0; got {self.val_max!r}")
        if not (0.0 <= self.val_fraction < 1.0):
            raise CharRNNError(
                f"val_fraction must be in [0, 1); got {self.val_fraction!r} (0 trains on all)"
            )

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based) of ``total``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.schedule == "constant":
            return self.lr
        span = max(1, total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        low = self.lr * self.lr_min_ratio
        return low + 0.5 * (self.lr - low) * (1 + math.cos(math.pi * progress))

    def replace(self, **changes: Any) -> Config:
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        extra = set(d) - names
        if extra:
            raise CharRNNError(
                f"unknown config keys {sorted(extra)}: the file is from another version"
            )
        return cls(**d)
