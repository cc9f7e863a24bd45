"""The one configuration dataclass: everything that rebuilds a model and its training."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from .cells import CELL_NAMES
from .kernels import KERNELS
from .masks import DROPOUT_MASKS
from .vocab import NORMALIZATIONS, UNITS, Units

MODES = ("words", "text")
OPTIMIZERS = ("sgd", "adagrad", "adam")
CLIP_MODES = ("value", "norm", "none")
BPTT_RULES = ("full", "naive")
DTYPES = ("float32", "float64")
INITS = ("normal", "scaled")
REDUCTIONS = ("mean", "sum")
SCHEDULES = ("constant", "cosine")
CELLS = CELL_NAMES  # the cell registry's names, read live (a registered cell is a choice)

# Sections of `charrnn train --help`, in the order they are shown.
GROUPS = ("model", "data", "optimisation", "regularisation", "run")


def _field(
    default: Any,
    help: str,
    group: str,
    *,
    metavar: str | None = None,
    choices: Sequence[str] | None = None,
    default_help: str | None = None,
    resume_may_change: bool = False,
    fixes_shape: bool = False,
) -> Any:
    """A Config field with what the CLI and a resume need to know about it.

    The metadata keys: ``help`` (one line of CLI help), ``group`` (one of
    :data:`GROUPS`), ``metavar``, ``choices``, ``default_help`` (how the help
    shows the default, where its value alone would not say what it means),
    ``resume_may_change`` and ``fixes_shape`` (the parameters' shape or meaning
    depends on it, so a checkpoint is only valid with the value it was saved with).
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}; got {group!r}")
    meta = {
        "help": help,
        "group": group,
        "metavar": metavar,
        "choices": choices,
        "default_help": default_help,
        "resume_may_change": resume_may_change,
        "fixes_shape": fixes_shape,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Config:
    """Hyperparameters of a model and of its training; saved with every model.

    Together with the vocabulary it rebuilds the model exactly. Each field's
    metadata (see :func:`_field`) gives its command-line help and section, and
    says whether a resumed run may change it and whether it fixes the
    parameters' shape; :data:`MODEL_FIELDS`, :data:`RESUME_MAY_CHANGE` and
    :data:`TRAIN_FIELDS` are read from it.

    Parameters
    ----------
    mode : {"words", "text"}
        ``words``: every line is one sequence read as ``'\\n' + word`` predicting
        ``word + '\\n'``, state reset per word. ``text``: running text in
        ``batch_size`` parallel streams, state carried between chunks.
    hidden : int
        Hidden size H (of every layer).
    layers : int
        Stacked RNN layers, L; layer 1 keeps the tutorial's parameter names.
    cell : str
        The recurrence, by its name in the cell registry
        (:mod:`charrnn.core.cells`): ``rnn``, the tutorial's tanh RNN, or
        PyTorch's gated ``gru`` or ``lstm``. Checkpoints saved before there
        was a choice hold ``rnn`` models.
    forget_bias : float
        The LSTM's forget-gate bias at initialisation (other biases start at
        0): 1 keeps most of the cell's memory from the first step on.
    dropout : float
        Probability of zeroing a unit of each layer's output during training
        (between layers and before the output layer); 0 turns it off.
    dropout_masks : {"step", "sequence"}
        ``step``: a fresh dropout mask at every time step. ``sequence``: one
        mask per sequence and layer, the same at every step of the batch
        (AWD-LSTM's locked dropout, after Gal & Ghahramani's variational dropout,
        on the layers' outputs only): a unit dropped is dropped for the whole sequence.
    weight_drop : float
        Probability of zeroing an entry of each layer's recurrent weight ``Whh``
        during a training step (DropConnect, as in AWD-LSTM), one draw for the
        whole batch; 0 turns it off.
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
    bptt_window : int or None
        Truncated BPTT with a sliding window of W steps (``bptt="full"``, one
        layer): the loss at step t sends gradient to the states at t, t-1, ...,
        t-W and no further, so every loss reaches exactly as far back (text
        mode's chunks of ``seq_len`` still cut it too). ``None``: no limit. For
        experiments on how far back a model must learn to remember (``charrnn
        experiment gap``); it costs (W+1) times the recurrence's backward work.
    seq_len : int
        Chunk length T in text mode (truncated BPTT window).
    batch_size : int
        Sequences (words mode) or streams (text mode) per step, B.
    steps : int or None
        Optimiser steps to run. ``None``: ``epochs`` passes when given, else
        as many as ``time_budget`` allows when given, else
        :data:`DEFAULT_STEPS`. Given with a time budget, the run stops at
        whichever comes first.
    epochs : float or None
        Passes over the training data when ``steps`` is ``None``.
    plan : str or None
        Replay a time-budgeted run's plan, ``"STEP:TOTAL,..."`` (its
        ``config.json`` gives it): from each STEP on the run has TOTAL steps,
        and the schedule is laid over them exactly as in that run, so the rerun
        takes the same steps at the same rates (see :mod:`charrnn.training.budget`).
    optimizer : {"sgd", "adagrad", "adam"}
        The update rule: the tutorial's SGD, min-char-rnn's Adagrad, or Adam.
    lr : float
        Learning rate (the peak, when a schedule is used).
    schedule : {"cosine", "constant"}
        ``cosine`` (the default) decays the rate from ``lr`` to ``lr * lr_min_ratio``
        over the run's steps, so a run ends on small steps whatever its budget: at a
        constant rate a long run's losses rose again (``examples/defaults.py``
        measures both). ``constant`` keeps ``lr`` (the tutorial's SGD).
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
        Clip each gradient element (the tutorial), the global norm, or nothing.
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
    units : {"char", "jamo", "jamo3"}
        The model's symbols: characters, or (``jamo``) every Hangul syllable as
        its initial, medial and optional final jamo, composed back into
        syllables in everything a user sees, or (``jamo3``) one step per
        character with every syllable read as the sum of its jamo and predicted
        jamo by jamo (see :class:`charrnn.core.vocab.Units`).
    normalize : {"nfc", "none"}
        Read text as Unicode NFC (so a word stored decomposed is the word typed
        normally), or as it is (``none``, char units only).
    seed : int
        Seeds initialisation, the split and the batch order.
    log_every : int
        Optimiser steps between log lines.
    eval_every : int or None
        Steps between validations; ``None`` means every ``log_every`` steps.
    save_every : int or None
        Steps between checkpoints; ``None`` means at every validation
        (``eval_every``).
    patience : int or None
        Stop after this many validations in a row without a new best
        validation loss; ``None`` never stops early.
    time_budget : float or None
        Minutes of training wall clock. Without ``steps`` the run measures its
        speed, plans as many steps as fit, and lays the schedule over them
        (:mod:`charrnn.training.budget`); it always stops and saves when the
        budget is spent, after one last validation. ``None`` is no limit.
    eval_minutes : float or None
        Validate also whenever this many minutes of training have passed since
        the last validation; ``None``: a tenth of ``time_budget`` when there is
        one, else only on the ``eval_every`` step cadence.
    kernels : {"auto", "numpy", "compiled"}
        What runs each step's element-wise work between the matmuls: the
        numpy cells, or the fused compiled kernels (:mod:`charrnn.core.kernels`,
        built by ``make``). ``auto`` takes the compiled ones where built; both
        give the same model to float32 rounding, so a resume may change it.
    """

    mode: str = _field(
        "words",
        "words: one sequence per line; text: running text",
        "model",
        choices=MODES,
        fixes_shape=True,
    )
    hidden: int = _field(128, "hidden size", "model", metavar="H", fixes_shape=True)
    layers: int = _field(1, "stacked RNN layers", "model", metavar="L", fixes_shape=True)
    cell: str = _field(
        "rnn",
        "recurrent cell: the tutorial's tanh RNN, or a gated GRU or LSTM",
        "model",
        choices=CELLS,
        fixes_shape=True,
    )
    forget_bias: float = _field(
        1.0, "LSTM: the forget gate's bias at initialisation", "model", metavar="X"
    )
    dropout: float = _field(
        0.0,
        "dropout between layers and before the output, training only",
        "regularisation",
        metavar="P",
    )
    dropout_masks: str = _field(
        "step",
        "step: a fresh dropout mask at every time step; sequence: one per sequence "
        "(locked dropout)",
        "regularisation",
        choices=DROPOUT_MASKS,
    )
    weight_drop: float = _field(
        0.0,
        "drop entries of the recurrent weights for each step (DropConnect), training only",
        "regularisation",
        metavar="P",
    )
    init: str = _field(
        "normal",
        "normal: tutorial's N(0,1)*init-scale; scaled: 1/sqrt(H) and orthogonal "
        "Whh, better for large H",
        "model",
        choices=INITS,
    )
    init_scale: float = _field(0.01, "std of normal init", "model", metavar="X")
    dtype: str = _field(
        "float32",
        "floating type of the parameters and of the computation",
        "model",
        choices=DTYPES,
        fixes_shape=True,
    )
    bptt: str = _field(
        "full",
        "full BPTT or the tutorial's naive 1-hop rule",
        "optimisation",
        choices=BPTT_RULES,
    )
    bptt_window: int | None = _field(
        None,
        "full BPTT truncated to a sliding window: each loss sends gradient at most W steps back",
        "optimisation",
        metavar="W",
        default_help="none: no limit",
    )
    seq_len: int = _field(64, "text mode: characters per chunk", "data", metavar="T")
    batch_size: int = _field(32, "words or streams per step", "data", metavar="B")
    steps: int | None = _field(
        None,
        "total optimiser steps; with --time-budget, whichever comes first",
        "optimisation",
        metavar="N",
        default_help="1000, or as many as --time-budget allows",
        resume_may_change=True,
    )
    epochs: float | None = _field(
        None,
        "passes over the data, used when --steps is not given",
        "optimisation",
        metavar="E",
        default_help="none",
        resume_may_change=True,
    )
    plan: str | None = _field(
        None,
        "replay a time-budgeted run's step plan, STEP:TOTAL,... as its config.json "
        "gives it: the same steps at the same learning rates",
        "optimisation",
        metavar="PLAN",
        default_help="none",
    )
    optimizer: str = _field(
        "adam",
        "update rule: the tutorial's SGD, min-char-rnn's Adagrad, or Adam",
        "optimisation",
        choices=OPTIMIZERS,
    )
    lr: float = _field(0.005, "learning rate", "optimisation", metavar="X", resume_may_change=True)
    schedule: str = _field(
        "cosine",
        "learning-rate schedule after warm-up: cosine decays --lr to "
        "--lr-min-ratio of it over the run's steps; constant keeps it",
        "optimisation",
        choices=SCHEDULES,
    )
    warmup: int = _field(0, "steps of linear learning-rate warm-up", "optimisation", metavar="N")
    lr_min_ratio: float = _field(
        0.1, "cosine schedule's final rate as a share of --lr", "optimisation", metavar="R"
    )
    weight_decay: float = _field(
        0.0, "decoupled weight decay on weight matrices", "regularisation", metavar="W"
    )
    ema: float = _field(
        0.0,
        "keep a moving average of the parameters with decay D (e.g. 0.999) and make "
        "it the model: validation, checkpoints and samples use it",
        "regularisation",
        metavar="D",
        default_help="0: off",
    )
    clip: float = _field(5.0, "clip bound", "optimisation", metavar="C", resume_may_change=True)
    clip_mode: str = _field(
        "norm",
        "value: element-wise (tutorial); norm: global norm; none: off",
        "optimisation",
        choices=CLIP_MODES,
        resume_may_change=True,
    )
    reduction: str = _field(
        "mean",
        "gradient of the mean loss per character, or of the summed loss as in the tutorial",
        "optimisation",
        choices=REDUCTIONS,
    )
    val_fraction: float = _field(
        0.1, "share held out for validation; 0 trains on all", "data", metavar="F"
    )
    val_max: int = _field(
        0,
        "hold out at most N lines (words) or characters (text), e.g. to keep validation "
        "quick on a large corpus; --val-fraction 0.1 --val-max 1000 is makemore's split",
        "data",
        metavar="N",
        default_help="0: no cap",
    )
    units: str = _field(
        "char",
        "char: one symbol per character; jamo: each Hangul syllable as its "
        "initial, medial and final jamo, composed back on output; jamo3: one step per "
        "character, each syllable read as the sum of its jamo and predicted jamo by jamo",
        "data",
        choices=UNITS,
        fixes_shape=True,
    )
    normalize: str = _field(
        "nfc",
        "nfc: read text as Unicode NFC, so a word stored decomposed is the word typed "
        "normally; none: as it is (char units only)",
        "data",
        choices=NORMALIZATIONS,
        fixes_shape=True,
    )
    seed: int = _field(0, "seeds initialisation, the split and the batch order", "run", metavar="S")
    log_every: int = _field(
        100, "steps between log lines", "run", metavar="K", resume_may_change=True
    )
    eval_every: int | None = _field(
        None,
        "steps between validations",
        "run",
        metavar="K",
        default_help="--log-every",
        resume_may_change=True,
    )
    save_every: int | None = _field(
        None,
        "steps between checkpoints",
        "run",
        metavar="K",
        default_help="--eval-every",
        resume_may_change=True,
    )
    patience: int | None = _field(
        None,
        "stop after P validations without improvement",
        "run",
        metavar="P",
        default_help="none: never stop early",
        resume_may_change=True,
    )
    time_budget: float | None = _field(
        None,
        "minutes of training wall clock after which the run stops and saves",
        "run",
        metavar="MINUTES",
        default_help="none: no limit",
        resume_may_change=True,
    )
    eval_minutes: float | None = _field(
        None,
        "validate also every MINUTES of training",
        "run",
        metavar="MINUTES",
        default_help="a tenth of --time-budget, else none",
        resume_may_change=True,
    )
    kernels: str = _field(
        "auto",
        "the recurrence's element-wise work: compiled (fused C, built by `make`) or numpy",
        "run",
        choices=KERNELS,
        default_help="auto: compiled where built, numpy otherwise",
        resume_may_change=True,
    )

    def __post_init__(self) -> None:
        # numpy's scalars (a grid search's np.int64(128)) as the Python numbers they
        # stand for: the checks below and the JSON a checkpoint holds take those.
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.generic) and not isinstance(v, np.str_):
                object.__setattr__(self, f.name, v.item())
        self.validate()

    def validate(self) -> None:
        """Raise :class:`CharRNNError` naming the first out-of-range field."""
        for f in fields(self):
            allowed = f.metadata["choices"]
            if allowed is not None and getattr(self, f.name) not in allowed:
                raise CharRNNError(
                    f"{f.name} must be one of {', '.join(allowed)}; got {getattr(self, f.name)!r}",
                    params=(f.name,),
                )
        for name in ("hidden", "seq_len", "batch_size", "layers"):
            v = getattr(self, name)
            if not _is_count(v):
                raise CharRNNError(f"{name} must be a positive integer; got {v!r}", params=(name,))
        if self.hidden > 8192:
            raise CharRNNError(
                f"hidden={self.hidden} is too large; use at most 8192", params=("hidden",)
            )
        if self.steps is not None and not _is_count(self.steps):
            raise CharRNNError(
                f"steps must be a positive integer; got {self.steps!r}", params=("steps",)
            )
        for name in ("lr", "init_scale", "epochs", "eval_minutes"):
            v = getattr(self, name)
            if v is None and name in ("epochs", "eval_minutes"):
                continue
            if not _is_positive(v):
                raise CharRNNError(f"{name} must be a positive number; got {v!r}", params=(name,))
        if self.clip_mode != "none" and not (math.isfinite(self.clip) and self.clip > 0):
            raise CharRNNError(
                f"clip must be a positive number; got {self.clip!r}", params=("clip",)
            )
        if self.layers > 16:
            raise CharRNNError(
                f"layers={self.layers} is too many; use at most 16", params=("layers",)
            )
        if not (isinstance(self.forget_bias, int | float) and math.isfinite(self.forget_bias)):
            raise CharRNNError(
                f"forget_bias must be a finite number; got {self.forget_bias!r}",
                params=("forget_bias",),
            )
        for name in ("dropout", "weight_drop"):
            rate = getattr(self, name)
            if not (isinstance(rate, int | float) and 0.0 <= rate < 1.0):
                raise CharRNNError(f"{name} must be in [0, 1); got {rate!r}", params=(name,))
        if not (isinstance(self.warmup, int) and self.warmup >= 0):
            raise CharRNNError(
                f"warmup must be a whole number of steps >= 0; got {self.warmup!r}",
                params=("warmup",),
            )
        if not (0.0 <= self.lr_min_ratio <= 1.0):
            raise CharRNNError(
                f"lr_min_ratio must be in [0, 1]; got {self.lr_min_ratio!r}",
                params=("lr_min_ratio",),
            )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise CharRNNError(
                f"weight_decay must be >= 0; got {self.weight_decay!r}", params=("weight_decay",)
            )
        if not (isinstance(self.ema, int | float) and 0.0 <= self.ema < 1.0):
            raise CharRNNError(
                f"ema must be in [0, 1) (0 is off, e.g. 0.999); got {self.ema!r}",
                params=("ema",),
            )
        if not (isinstance(self.val_max, int) and self.val_max >= 0):
            raise CharRNNError(
                f"val_max must be a whole number >= 0; got {self.val_max!r}", params=("val_max",)
            )
        if not (0.0 <= self.val_fraction < 1.0):
            raise CharRNNError(
                f"val_fraction must be in [0, 1); got {self.val_fraction!r} (0 trains on all)",
                params=("val_fraction",),
            )
        Units.of(self)  # the units and the normalisation must go together
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0):
            raise CharRNNError(
                f"seed must be a whole number >= 0; got {self.seed!r}", params=("seed",)
            )
        for name in ("log_every", "eval_every", "save_every", "patience"):
            v = getattr(self, name)
            if not (_is_count(v) or (v is None and name != "log_every")):
                raise CharRNNError(f"{name} must be a whole number >= 1; got {v!r}", params=(name,))
        if self.bptt_window is not None:
            if not _is_count(self.bptt_window):
                raise CharRNNError(
                    f"bptt_window must be a whole number of steps >= 1; got {self.bptt_window!r}"
                    " (the naive rule is bptt='naive')",
                    params=("bptt_window", "bptt"),
                )
            if self.bptt != "full" or self.layers != 1:
                raise CharRNNError(
                    "bptt_window truncates full BPTT in a one-layer model; it needs "
                    f"bptt='full' and layers=1 (got bptt={self.bptt!r}, layers={self.layers})",
                    params=("bptt_window", "bptt", "layers"),
                )
        if self.plan is not None:
            plan_pairs(self.plan)
        if self.time_budget is not None and not _is_positive(self.time_budget):
            raise CharRNNError(
                f"time_budget must be a positive number of minutes; got {self.time_budget!r}",
                params=("time_budget",),
            )

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based) of ``total``."""
        span = max(1, total - self.warmup)
        return self.lr_for(step, min(1.0, max(0.0, (step - self.warmup) / span)))

    def lr_for(self, step: int, progress: float) -> float:
        """The learning rate for step ``step`` (0-based) at schedule ``progress``
        (0 when warm-up ends, 1 at the end of the run)."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.schedule == "constant":
            return self.lr
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


DEFAULT_STEPS = 1000
"""Steps of a run given neither ``steps``, ``epochs`` nor a time budget."""


_STEP = re.compile(r"[0-9]{1,15}")


def plan_pairs(plan: Any) -> list[tuple[int, int]]:
    """``Config.plan``'s ``"STEP:TOTAL,..."`` as ``(step, total)`` pairs.

    Raises
    ------
    CharRNNError
        Unless the steps increase and each total is past its step.
    """
    pairs: list[tuple[int, int]] = []
    for part in plan.split(",") if isinstance(plan, str) and plan else [""]:
        step_s, sep, total_s = part.strip().partition(":")
        # ASCII digits only ("²".isdigit() is true, and int() refuses it), and no more
        # of them than a step count can use.
        ok = bool(sep) and all(_STEP.fullmatch(x) for x in (step_s, total_s))
        if ok:
            step, total = int(step_s), int(total_s)
            ok = total > step and (not pairs or step > pairs[-1][0])
        if not ok:
            raise CharRNNError(
                "plan must be STEP:TOTAL pairs separated by commas, the steps increasing and "
                "each total past its step, as a budgeted run's config.json gives it "
                f"(e.g. '40:5200,1800:5600'); got {_shorten(plan)}",
                params=("plan",),
            )
        pairs.append((step, total))
    return pairs


def _shorten(v: Any, most: int = 80) -> str:
    """``repr(v)``, cut to ``most`` characters for a message."""
    shown = repr(v)
    return shown if len(shown) <= most else shown[: most - 3] + "..."


def _is_count(v: Any) -> bool:
    """A whole number >= 1 (``True`` is not one)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _is_positive(v: Any) -> bool:
    """A finite number > 0."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0


# Read from the fields' metadata, so a new field says once what it is.
TRAIN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Config))
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Config) if f.metadata["fixes_shape"])
RESUME_MAY_CHANGE: tuple[str, ...] = tuple(
    f.name for f in fields(Config) if f.metadata["resume_may_change"]
)
