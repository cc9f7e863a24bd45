"""The Python API: a model object in scikit-learn's spirit, which the CLI wraps.

>>> from charrnn import CharRNN
>>> model = CharRNN(hidden=64, steps=300, random_state=0).fit(["vector", "victor"])
>>> model.sample(n=3, prefix="v")                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import checkpoint
from .backend import get_backend
from .config import Config
from .data import corpus_chars, load_corpus, split_corpus
from .errors import CharRNNError
from .evaluate import Loss, evaluate_text, evaluate_words
from .sample import Score, sample, score
from .train import LogEvent, Trainer, eval_batch_size, make_batches
from .vocab import Vocab


class CharRNN:
    """A character-level vanilla-RNN language model.

    The constructor only stores hyperparameters (see :class:`charrnn.Config`
    for their meaning); :meth:`fit` learns ``vocab_`` and ``params_``.

    Parameters
    ----------
    random_state : int
        Seed for initialisation, the validation split and the batch order.
    backend : {"numpy", "cupy"}
    **hyperparameters
        Any field of :class:`charrnn.Config` except ``seed``.

    Attributes
    ----------
    config_ : Config
    vocab_ : Vocab
    params_ : dict of numpy arrays
    history_ : list of LogEvent
    """

    def __init__(self, *, random_state: int = 0, backend: str = "numpy", **hyperparameters: Any):
        self.random_state = random_state
        self.backend = backend
        self.hyperparameters = hyperparameters

    def get_config(self) -> Config:
        """The :class:`Config` these hyperparameters describe (validated)."""
        try:
            return Config(seed=self.random_state, **self.hyperparameters)
        except TypeError as exc:
            raise CharRNNError(f"unknown hyperparameter: {exc}") from None

    # ------------------------------------------------------------------ training

    def fit(
        self,
        data: Sequence[str] | str | os.PathLike[str],
        *,
        log_every: int = 100,
        on_event: Callable[[LogEvent], None] | None = None,
    ) -> CharRNN:
        """Train on ``data``: a list of words, a text, or a file.

        In words mode a ``str`` is a file path or ``@builtin``; in text mode a
        ``str`` is the text itself (give a ``pathlib.Path`` for a file).

        A share ``val_fraction`` is held out and evaluated during training.
        """
        config = self.get_config()
        if isinstance(data, os.PathLike) or (isinstance(data, str) and config.mode == "words"):
            data = load_corpus(data, config.mode)
        if config.mode == "text" and not isinstance(data, str):
            data = "\n".join(data)
        corpus: list[str] | str = data if isinstance(data, str) else list(data)
        if not corpus:
            raise CharRNNError("no data to train on")
        train, val = split_corpus(
            corpus, config.mode, config.val_fraction, config.seed, config.val_max
        )
        vocab = Vocab(corpus_chars(corpus))
        trainer = Trainer(
            config, vocab, train, val, backend=get_backend(self.backend), log_every=log_every
        )
        self.history_ = trainer.run(on_event=on_event)
        self.config_ = config
        self.vocab_ = vocab
        self.params_ = trainer.host_params()
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
    ) -> list[str]:
        """Generate ``n`` strings; see :func:`charrnn.sample.sample`."""
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
        )

    def score(self, texts: Sequence[str]) -> list[Score]:
        """Log-probability (nats) of each string; see :func:`charrnn.sample.score`."""
        self._check_fitted()
        return score(self.params_, self.vocab_, list(texts), mode=self.config_.mode)

    def evaluate(self, data: Sequence[str] | str | np.ndarray) -> Loss:
        """Mean loss per character over ``data``: words, or in text mode a text or its ids."""
        self._check_fitted()
        cfg = self.config_
        if cfg.mode == "words":
            words = [data] if isinstance(data, str) else list(data)
            batches = make_batches(cfg, self.vocab_, words, eval_batch_size("words"))
            return evaluate_words(self.params_, batches)
        if not isinstance(data, np.ndarray):
            data = data if isinstance(data, str) else "\n".join(data)
        return evaluate_text(
            self.params_, make_batches(cfg, self.vocab_, data, eval_batch_size("text"))
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
