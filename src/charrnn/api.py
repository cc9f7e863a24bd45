"""The Python API: a model object in scikit-learn's spirit, which the CLI wraps.

>>> from charrnn import CharRNN
>>> model = CharRNN(hidden=64, steps=300, random_state=0).fit(["vector", "victor"])
>>> model.sample(n=3, prefix="v")                                   # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import inspect
import os
import threading
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from .common.errors import CharRNNError
from .core.backend import get_backend
from .core.config import Config
from .generation.complete import Completions, complete
from .generation.constraints import Constraint
from .generation.sample import Score, sample, score
from .generation.views import Reading, influence, read, tracking_units
from .training import checkpoint
from .training.evaluate import Loss, evaluate_text, evaluate_words
from .training.run import TrainingRun
from .training.trainer import LogEvent, eval_batch_size, make_batches


class CharRNN:
    """A character-level vanilla-RNN language model.

    The constructor only stores its keyword arguments, as attributes of the
    same names (scikit-learn's convention, so :meth:`get_params`,
    :meth:`set_params` and ``sklearn.base.clone`` work); :meth:`fit` checks
    them and learns ``vocab_`` and ``params_``.

    Parameters
    ----------
    mode, hidden, layers, ..., time_budget
        Every field of :class:`charrnn.Config` except ``seed``, with the same
        name, default and meaning.
    random_state : int
        Seed for initialisation, the validation split and the batch order
        (``Config.seed``).
    backend : {"numpy", "cupy"}
        Where the arrays of training live.

    Attributes
    ----------
    config_ : Config
    vocab_ : Vocab
    params_ : dict of numpy arrays
    history_ : list of LogEvent
    stop_reason_ : str
        How the last fit ended: "done", "patience", "time" or "stopped".
    """

    # The real signature is set below from Config's fields (see _init_signature),
    # so that Config stays the one list of hyperparameters.
    def __init__(self, **params: Any) -> None:
        _check_param_names(params)
        for name, default in _PARAM_DEFAULTS.items():
            setattr(self, name, params.get(name, default))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, by name.

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn; a CharRNN holds no nested estimators.

        Returns
        -------
        dict
            Every constructor parameter and its current value.
        """
        return {name: getattr(self, name) for name in _PARAM_DEFAULTS}

    def set_params(self, **params: Any) -> CharRNN:
        """Set constructor parameters by name; they take effect at the next :meth:`fit`.

        Raises
        ------
        TypeError
            If a name is not a constructor parameter.
        """
        _check_param_names(params)
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def get_config(self) -> Config:
        """The :class:`Config` these hyperparameters describe (validated).

        Raises
        ------
        CharRNNError
            If a hyperparameter is out of range.
        """
        return Config(
            seed=self.random_state, **{name: getattr(self, name) for name in _CONFIG_PARAMS}
        )

    # ------------------------------------------------------------------ training

    def fit(
        self,
        data: Sequence[str] | str | os.PathLike[str] | None = None,
        *,
        text: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        force: bool = False,
        val_data: Sequence[str] | str | os.PathLike[str] | None = None,
        val_text: str | None = None,
        encoding: str = "utf-8",
        patience: int | None = None,
        time_budget: float | None = None,
        verbose: bool = False,
        on_event: Callable[[LogEvent], bool | None] | None = None,
        stop: threading.Event | None = None,
    ) -> CharRNN:
        """Train on ``data`` (a file or a list of strings) or on ``text`` (a literal text).

        The same run as ``charrnn train`` (:class:`charrnn.run.TrainingRun`):
        with ``out_dir`` it writes checkpoints, the best model and the metrics
        log there, and ``resume=True`` continues it exactly. Afterwards
        ``params_`` is the model :meth:`load` would give: the best validated
        one, or the latest when nothing is held out.

        Parameters
        ----------
        data : str, path or list of str, optional
            A ``str`` or ``pathlib.Path`` is always a file (or ``@builtin``), in
            both modes, as on the command line; a list holds the words (words
            mode) or the lines of the text (text mode). Give either ``data``
            or ``text``.
        text : str, optional
            The training text itself (text mode: running text; words mode: one
            word per line). A warning says so when it is the name of a file.
        out_dir : str or path, optional
            The run directory; ``None`` keeps everything in memory.
        resume, force : bool
            Continue the run in ``out_dir``, or replace it.
        val_data, val_text : optional
            Held-out data given apart, as ``data`` and ``text``; then
            ``val_fraction`` is not used.
        encoding : str
            Of a data file.
        patience, time_budget : optional
            Override the hyperparameters of the same names for this fit.
        verbose : bool
            Print what ``charrnn train`` prints: a line per log event (every
            ``log_every`` steps) and the run's notices, on stdout.
        on_event : callable, optional
            Called with each :class:`LogEvent`; returning ``True`` stops
            training after that step (``stop_reason_`` is then "stopped"), as
            setting ``stop`` does.
        stop : threading.Event, optional
            Set it to end training after the current step (the run saves first).

        Raises
        ------
        CharRNNError
            If neither or both of ``data`` and ``text`` are given, if a ``str``
            ``data`` names no file (literal text goes in ``text``), or for any
            error of :class:`charrnn.run.TrainingRun`.
        """
        overrides = {
            k: v for k, v in (("patience", patience), ("time_budget", time_budget)) if v is not None
        }
        config = self.get_config().replace(**overrides)
        data = _data_or_text(data, text, "data", "text", required=True)
        val_data = _data_or_text(val_data, val_text, "val_data", "val_text", required=False)
        with TrainingRun(
            config,
            data,  # type: ignore[arg-type]
            out_dir,
            resume=resume,
            force=force,
            encoding=encoding,
            val_data=val_data,
            backend=get_backend(self.backend),
        ) as run:
            run.write_config()
            say = _verbose_print if verbose else None
            if say is not None:
                for notice in run.notices:
                    say(str(notice))

            def event(e: LogEvent) -> bool:
                if say is not None:
                    say(e.format())
                return bool(on_event(e)) if on_event is not None else False

            result = run.train(
                on_event=event,
                stop=stop,
                on_notice=(lambda exc: say(str(exc))) if say is not None else None,
            )
            self.config_ = run.config
            self.vocab_ = run.corpus.vocab
            self.params_ = run.best_params()
        self.history_ = result.events
        self.stop_reason_ = result.reason
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise CharRNNError("this model is not trained yet: call fit() or CharRNN.load()")

    # ------------------------------------------------------------------ using

    def sample(
        self,
        n: int = 10,
        *,
        prefix: str = "",
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        max_len: int | None = None,
        random_state: int | None = 0,
        allow_empty: bool = False,
    ) -> list[str]:
        """Generate ``n`` strings; see :func:`charrnn.sample.sample`.

        In words mode no sample is the empty word unless ``allow_empty``: the
        boundary is masked at the first step and the rest renormalised.
        """
        self._check_fitted()
        return sample(
            self.params_,
            self.vocab_,
            n=n,
            prefix=prefix,
            mode=self.config_.mode,
            temperature=temperature,
            top_k=top_k,
            greedy=greedy,
            max_len=max_len,
            rng=np.random.default_rng(random_state),
            allow_empty=allow_empty,
            cell=self.config_.cell,
        )

    def score(self, texts: Sequence[str]) -> list[Score]:
        """Log-probability (nats) of each string; see :func:`charrnn.sample.score`."""
        self._check_fitted()
        cfg = self.config_
        return score(self.params_, self.vocab_, list(texts), mode=cfg.mode, cell=cfg.cell)

    def complete(
        self,
        prefix: str = "",
        k: int = 10,
        *,
        max_len: int | None = None,
        method: str = "auto",
        beam: int | None = None,
        constraints: Sequence[Constraint] = (),
        allow_empty: bool = False,
    ) -> Completions:
        """The ``k`` most likely completions of ``prefix``; see :func:`charrnn.complete.complete`.

        Words mode: whole words that start with ``prefix``, exactly when the
        search can prove it (``result.method == "exact"``), else by beam search;
        never the empty word unless ``allow_empty`` (as in :meth:`sample`).
        Text mode: the most likely continuations of ``max_len`` characters.
        """
        self._check_fitted()
        return complete(
            self.params_,
            self.vocab_,
            prefix,
            k=k,
            mode=self.config_.mode,
            max_len=max_len,
            method=method,
            beam=beam,
            constraints=constraints,
            allow_empty=allow_empty,
            cell=self.config_.cell,
        )

    def read(self, text: str, *, top: int = 5) -> Reading:
        """What the model does at every character of ``text``: the numbers behind the page.

        Returns a :class:`charrnn.views.Reading`: each character's probability
        (``probs``), the ``top`` most likely next characters after it
        (``top_ids`` with ``vocab_.itos``, ``top_probs``) and every layer's
        activations (``activations[l]``, (N, H)); see :func:`charrnn.views.read`.
        """
        self._check_fitted()
        cfg = self.config_
        return read(self.params_, self.vocab_, text, mode=cfg.mode, top=top, cell=cfg.cell)

    def influence(
        self, text: str, *, window: int = 64, tokens: Sequence[int] | None = None
    ) -> np.ndarray:
        """How much each earlier character mattered to each prediction, (N, window).

        Row i explains the prediction of character i of :meth:`read`'s text;
        column ``window - 1`` is the input just before it, ``window - 1 - d``
        the one d steps earlier (NaN: no such input). See
        :func:`charrnn.views.influence`.
        """
        self._check_fitted()
        cfg = self.config_
        return influence(
            self.params_,
            self.vocab_,
            text,
            mode=cfg.mode,
            window=window,
            tokens=tokens,
            cell=cfg.cell,
        )

    def tracking_units(self, text: str, *, top: int = 8) -> dict[str, list[tuple[int, int, float]]]:
        """Units whose activation correlates with simple properties of ``text``.

        For each property (position in word, inside quotes, inside brackets,
        after a space, line length): (layer, unit, Pearson r), largest |r| first.
        """
        return tracking_units(self.read(text), top=top)

    def evaluate(self, data: Sequence[str] | str | np.ndarray) -> Loss:
        """Mean loss per character over ``data``: words, or in text mode a text or its ids."""
        self._check_fitted()
        cfg = self.config_
        if cfg.mode == "words":
            words = [data] if isinstance(data, str) else list(data)
            batches = make_batches(cfg, self.vocab_, words, eval_batch_size("words"))
            return evaluate_words(self.params_, batches, cell=cfg.cell)
        if not isinstance(data, np.ndarray):
            data = data if isinstance(data, str) else "\n".join(data)
        return evaluate_text(
            self.params_,
            make_batches(cfg, self.vocab_, data, eval_batch_size("text")),
            cell=cfg.cell,
        )

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to a ``.npz`` checkpoint (no pickle)."""
        self._check_fitted()
        checkpoint.save(path, checkpoint.Checkpoint(self.config_, self.vocab_, self.params_))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharRNN:
        """Load a model from a ``.npz`` checkpoint or a run directory (its best model)."""
        ckpt = checkpoint.load(resolve_model_path(path))
        return cls.from_checkpoint(ckpt)

    @classmethod
    def from_checkpoint(cls, ckpt: checkpoint.Checkpoint) -> CharRNN:
        """Wrap a loaded checkpoint."""
        hp = ckpt.config.to_dict()
        seed = hp.pop("seed")
        model = cls(random_state=seed, **hp)
        model.config_ = ckpt.config
        model.vocab_ = ckpt.vocab
        model.params_ = ckpt.params
        model.history_ = []
        return model


# Constructor parameters and their defaults: Config's fields, with the seed
# called random_state as in scikit-learn, then the backend.
_CONFIG_PARAMS = tuple(f.name for f in fields(Config) if f.name != "seed")
_PARAM_DEFAULTS: dict[str, Any] = {
    **{f.name: f.default for f in fields(Config) if f.name != "seed"},
    "random_state": next(f.default for f in fields(Config) if f.name == "seed"),
    "backend": "numpy",
}


def _verbose_print(line: str) -> None:
    print(line, flush=True)


def _data_or_text(
    data: Sequence[str] | str | os.PathLike[str] | None,
    text: str | None,
    data_name: str,
    text_name: str,
    *,
    required: bool,
) -> Sequence[str] | str | os.PathLike[str] | None:
    """What :func:`charrnn.corpus.read_corpus` takes, from ``fit``'s file-or-text pair.

    A ``str`` in ``data`` is a file name and nothing else, so a path can never
    be trained on as if it were text; literal text comes only through ``text``.
    """
    if data is not None and text is not None:
        raise CharRNNError(
            f"give {data_name} (a file or a list of strings) or {text_name} (the text "
            "itself), not both",
            params=(data_name, text_name),
        )
    if text is not None:
        if not isinstance(text, str):
            raise CharRNNError(
                f"{text_name} must be a str (the text itself); got {type(text).__name__}",
                params=(text_name,),
            )
        if "\n" not in text and len(text) < 4096 and os.path.isfile(text):
            warnings.warn(
                f"{text_name}={text!r} names a file, but {text_name} is the text itself, so "
                f"this trains on the name; pass {data_name}={text!r} to train on the file",
                UserWarning,
                stacklevel=3,
            )
        return [text]
    if data is None:
        if required:
            raise CharRNNError(
                f"give {data_name} (a file, @builtin or a list of strings) or {text_name} "
                "(the text itself)",
                params=(data_name, text_name),
            )
        return None
    if isinstance(data, str) and not data.startswith("@") and not os.path.exists(data):
        shown = data if len(data) <= 60 else data[:57] + "..."
        raise CharRNNError(
            f"{data_name} {shown!r} is not a file; a str {data_name} is a file name or "
            f"@builtin. To train on a string itself, pass {text_name}=...",
            params=(data_name, text_name),
        )
    return data


def _check_param_names(params: dict[str, Any]) -> None:
    for name in params:
        if name in _PARAM_DEFAULTS:
            continue
        hint = "; the seed is random_state" if name == "seed" else ""
        close = difflib.get_close_matches(name, list(_PARAM_DEFAULTS), n=1)
        if close and not hint:
            hint = f"; did you mean {close[0]!r}?"
        raise TypeError(
            f"CharRNN has no parameter {name!r}{hint} (CharRNN().get_params() lists them)"
        )


def _init_signature() -> inspect.Signature:
    """``CharRNN.__init__``'s keyword-only signature, built from Config's fields."""
    hints = typing.get_type_hints(Config)
    hints.update(random_state=hints["seed"], backend=str)
    kw = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(name, kw, default=default, annotation=hints[name])
            for name, default in _PARAM_DEFAULTS.items()
        ],
        return_annotation=None,
    )


CharRNN.__init__.__signature__ = _init_signature()  # type: ignore[attr-defined]


def resolve_model_path(path: str | os.PathLike[str]) -> str:
    """A run directory means its best model (or latest when there is no best)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.npz", "latest.npz"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return candidate
        raise CharRNNError(f"{path} holds no model (no best.npz or latest.npz); train one first")
    return path
