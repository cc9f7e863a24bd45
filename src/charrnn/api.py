"""The Python API: a model object in scikit-learn's spirit, which the CLI wraps.

>>> from charrnn import CharRNN
>>> model = CharRNN(hidden=64, steps=300, random_state=0).fit(["vector", "victor"])
>>> model.sample(n=3, prefix="v")                                   # doctest: +SKIP
"""

from __future__ import annotations

import collections
import difflib
import html
import inspect
import os
import shlex
import tempfile
import threading
import typing
import warnings
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .common.errors import CharRNNError
from .common.optional import require
from .core.backend import get_backend
from .core.config import Config
from .data.batches import TextBatches, WordBatches
from .data.corpus import Data, data_sources, heldout_split
from .data.dataset import DataFiles
from .data.manifest import records_from
from .data.sources import is_glob
from .data.textcache import encode_to_file, open_tokens
from .generation import novelty
from .generation.complete import Completions, complete
from .generation.constraints import Constraint
from .generation.sample import Score, sample, score
from .generation.trace import TraceStep, trace
from .generation.views import Reading, influence, read, tracking_units
from .training import checkpoint
from .training.checkpoint import RunState
from .training.evaluate import Loss, evaluate_text, evaluate_words
from .training.pretrained import is_pretrained_ref, pretrained_path
from .training.run import Callbacks, TrainingRun, advance_bar
from .training.trainer import LogEvent, Trainer, eval_batch_size, make_batches


@dataclass(frozen=True)
class Evaluation:
    """A model's loss over a corpus file, and what reading the file left out.

    Attributes
    ----------
    loss : Loss
        Nats per character (``loss.per_char``), bits, perplexity; per symbol too.
    source : str
        The data evaluated as it was given (a file, ``@builtin``, directory,
        glob or ``-``; several shell-quoted and joined by spaces), or for the
        held-out split the data the run recorded.
    size : int
        Words (words mode) or symbols (text mode) evaluated.
    skipped : dict of str to int
        Characters left out as unknown (``unknown="skip"``), with their counts.
    dropped : int
        Words left out because nothing was left of them after skipping.
    split : str or None
        ``"held-out"`` for :meth:`CharRNN.evaluate_heldout`, else ``None``.
    """

    loss: Loss
    source: str
    size: int
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    split: str | None = None


def sampler_rng(random_state: Any) -> np.random.Generator:
    """The generator a sampling method draws from: a seed (a whole number >= 0), a
    ``numpy.random.Generator`` used as it is, None for fresh entropy, or whatever else
    ``numpy.random.default_rng`` takes (a ``SeedSequence``, a list of seeds)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    bad = CharRNNError(
        f"random_state must be a whole number >= 0, a numpy Generator or None; got {random_state!r}"
    )
    if isinstance(random_state, bool | float | str):
        raise bad
    try:  # also what numpy's default_rng takes: a SeedSequence, a BitGenerator, ints
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise bad from None


class CharRNN:
    """A character-level RNN language model (tanh RNN, GRU, LSTM).

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
    run_ : RunState
        What training recorded: the data's source (a file or ``@builtin``;
        ``None`` for data given in memory), its encoding and fingerprint, the
        best validation loss. :meth:`evaluate_heldout` and the novelty methods
        (:meth:`training_words`, :meth:`sample_new`) read the data again from it.
    """

    # The hyperparameters that are not Config fields (those are set by name in __init__).
    random_state: int
    backend: str

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
        data: Data | None = None,
        y: None = None,
        *,
        text: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        force: bool = False,
        val_data: Data | None = None,
        val_text: str | None = None,
        encoding: str = "utf-8",
        patience: int | None = None,
        time_budget: float | None = None,
        verbose: bool = False,
        on_event: Callable[[LogEvent], bool | None] | None = None,
        stop: threading.Event | None = None,
        progress: bool = False,
    ) -> CharRNN:
        """Train on ``data`` (a file or a list of strings) or on ``text`` (a literal text).

        The same run as ``charrnn train`` (:class:`charrnn.training.run.TrainingRun`):
        with ``out_dir`` it writes checkpoints, the best model and the metrics
        log there, and ``resume=True`` continues it exactly. Afterwards
        ``params_`` is the model :meth:`load` would give: the best validated
        one, or the latest when nothing is held out.

        Parameters
        ----------
        data : str, path, list of paths or list of str, optional
            A ``str`` or ``pathlib.Path`` is always a file (gzip, bzip2 or xz
            compressed or not), a directory, a glob pattern, ``-`` (standard
            input) or ``@builtin``, in both modes, as on the command line; a
            list of paths is several of those, read in order; a list of
            ``str`` holds the words (words mode) or the lines of the text (text
            mode). How files are found, ordered and joined is in
            :func:`charrnn.data.corpus.read_corpus`. Give either ``data`` or
            ``text``.
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
        y : None
            Not used: a language model learns from the text alone. Here so
            that scikit-learn's tools, which call ``fit(X, y)``, work.
        patience, time_budget : optional
            Deprecated: hyperparameters belong in the constructor
            (``CharRNN(patience=3)``, or :meth:`set_params`), as in
            scikit-learn. Still override the constructor's values for this
            fit, with a ``DeprecationWarning``, until they are removed.
        verbose : bool
            Print what ``charrnn train`` prints: a line per log event (every
            ``log_every`` steps) and the run's notices, on stdout.
        on_event : callable, optional
            Called with each :class:`LogEvent`; returning ``True`` stops
            training after that step (``stop_reason_`` is then "stopped"), as
            setting ``stop`` does.
        stop : threading.Event, optional
            Set it to end training after the current step (the run saves first).
        progress : bool
            Show a progress bar (tqdm's auto mode: a notebook widget in Jupyter,
            text on a terminal; needs ``charrnn[progress]``). Its total follows a
            time budget's plan. For a live loss curve in a notebook, pass
            ``on_event=charrnn.viz.notebook.LiveLoss()``.

        Raises
        ------
        CharRNNError
            If neither or both of ``data`` and ``text`` are given, if a ``str``
            ``data`` names no file (literal text goes in ``text``), or for any
            error of :class:`charrnn.training.run.TrainingRun`.
        """
        _check_no_target(y)
        overrides = {
            k: v for k, v in (("patience", patience), ("time_budget", time_budget)) if v is not None
        }
        for name, value in overrides.items():
            warnings.warn(
                f"fit({name}={value!r}) is deprecated and will be removed in the next release: "
                f"set {name} in the constructor, CharRNN({name}={value!r}), or with "
                f"set_params({name}={value!r}) (Config.{name})",
                DeprecationWarning,
                stacklevel=2,
            )
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
            callbacks = _FitCallbacks(verbose, on_event, progress)
            if verbose:
                for notice in run.notices:
                    _verbose_print(str(notice))
            try:
                result = run.train(callbacks, stop=stop)
            finally:
                callbacks.close()
            self.config_ = run.config
            self.vocab_ = run.corpus.vocab
            self.params_ = run.best_params()
            self.run_ = run.state
        self.history_ = result.events
        self.stop_reason_ = result.reason
        return self

    @property
    def unit_name(self) -> str:
        """The model's units: ``"char"``, ``"jamo"`` or ``"jamo3"`` (``Config.units``).

        A step of a ``jamo`` model reads one jamo, and its per-step losses
        (:meth:`read`, ``charrnn trace``) are nats per jamo; :meth:`evaluate`
        and :meth:`score` report both per character and per jamo. A step of a
        ``char`` or ``jamo3`` model reads one character.
        """
        self._check_fitted()
        return self.vocab_.units.kind

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
        on_step: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Generate ``n`` strings; see :func:`charrnn.generation.sample.sample`.

        In words mode no sample is the empty word unless ``allow_empty``: the
        boundary is masked at the first step and the rest renormalised.

        Parameters
        ----------
        n : int
            How many samples (1 to 100,000).
        prefix : str
            Text every sample starts with.
        temperature : float
            Below 1 is safer, above 1 wilder; 0 is greedy.
        top_k : int, optional
            Sample among the ``top_k`` likeliest characters only.
        greedy : bool
            Always the likeliest character.
        max_len : int, optional
            Symbols to generate (default 100 in words mode, 500 in text mode).
        random_state : int, numpy.random.Generator or None
            Seed of the sampler (a whole number >= 0), a generator to draw
            from, or None for a fresh one.
        allow_empty : bool
            Words mode: let a sample without a prefix be the empty word.
        on_step : callable, optional
            Called after every step with the symbol each sample drew (a list of
            ``n`` strings): to stream a sample as it is made.

        Returns
        -------
        list of str
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
            rng=sampler_rng(random_state),
            allow_empty=allow_empty,
            on_step=on_step,
            cell=self.config_.cell,
        )

    def training_words(self) -> set[str]:
        """The distinct words a words-mode model was trained on (its split of its data).

        The data is read again from the file the model recorded (``run_.data``)
        and split as training split it, so held-out words are not among them.

        Returns
        -------
        set of str
            As a user reads them (NFC), so they compare with :meth:`sample`'s.

        Raises
        ------
        CharRNNError
            For a text-mode model, or when the model does not record its data
            (it was trained on data in memory) or the data is gone.
        """
        self._check_fitted()
        self._check_words_mode("training_words")
        return novelty.training_words(self._as_checkpoint())

    def sample_new(
        self,
        n: int = 10,
        *,
        exclude: Container[str] | None = None,
        max_draws: int | None = None,
        prefix: str = "",
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        max_len: int | None = None,
        random_state: int | None = 0,
        allow_empty: bool = False,
    ) -> tuple[list[str], int]:
        """Words-mode samples that are not training words, drawn until there are ``n``.

        A filter on sampling, not a property of the model: how much of its
        probability the model gives its training set is what
        :func:`charrnn.generation.novelty.memorisation` measures.

        Parameters
        ----------
        n : int
            How many new words (1 to 100,000).
        exclude : container of str, optional
            The words to leave out; by default :meth:`training_words`.
        max_draws : int, optional
            Give up after this many samples (default ``100 * n``), so that a
            model that only repeats training words, or greedy decoding, ends.
        prefix, temperature, top_k, greedy, max_len, random_state, allow_empty
            As in :meth:`sample`.

        Returns
        -------
        words : list of str
            At most ``n`` new words in the order drawn; fewer only when
            ``max_draws`` ran out (``greedy`` draws one word over and over; a
            higher ``temperature`` gives more new ones).
        drawn : int
            Samples drawn in all.

        Raises
        ------
        CharRNNError
            For a text-mode model, settings :meth:`sample` refuses (named by
            the values given here), or training words that cannot be read.
        """
        self._check_fitted()
        self._check_words_mode("sample_new")
        known = self.training_words() if exclude is None else exclude
        return novelty.sample_new(
            self.params_,
            self.vocab_,
            known,
            n,
            rng=sampler_rng(random_state),
            max_draws=max_draws,
            prefix=prefix,
            temperature=temperature,
            top_k=top_k,
            greedy=greedy,
            max_len=max_len,
            allow_empty=allow_empty,
            cell=self.config_.cell,
        )

    def _check_words_mode(self, what: str) -> None:
        if self.config_.mode != "words":
            raise CharRNNError(f"{what} applies to words-mode models only")

    def _as_checkpoint(self) -> checkpoint.Checkpoint:
        run = getattr(self, "run_", None) or RunState()
        return checkpoint.Checkpoint(self.config_, self.vocab_, self.params_, run=run)

    def score(self, X: Sequence[str], y: None = None) -> float:
        """Mean log-likelihood per character of ``X``, in nats: higher is better.

        scikit-learn's convention (``GridSearchCV`` and ``cross_val_score``
        maximise it): the log-probability of all the strings together divided
        by their characters (in words mode each word's closing boundary
        counts, as in :meth:`evaluate`), so it is ``-evaluate(X).per_char``
        for a list of words.

        .. versionchanged:: 0.2
           ``score`` returned the per-string scores, a list; they are now
           :meth:`score_samples` (log-probabilities) and
           :meth:`score_details` (everything). Changed outright rather than
           through a release of warnings: a list where scikit-learn expects a
           float breaks its model selection for as long as it lasts, and code
           that still indexes or iterates the result fails at once (a float
           is neither), never quietly.

        Parameters
        ----------
        X : sequence of str
            Strings to score (words in words mode, texts in text mode).
        y : None
            Not used; for scikit-learn.

        Returns
        -------
        float
        """
        _check_no_target(y)
        scores = self.score_details(X)
        chars = sum(s.n_chars if s.n_chars is not None else len(s.char_nll) for s in scores)
        return float(sum(s.logprob for s in scores) / max(chars, 1))

    def score_samples(self, X: Sequence[str]) -> np.ndarray:
        """Log-probability (nats) of each string of ``X``, as scikit-learn's density estimators.

        Returns
        -------
        numpy.ndarray
            (len(X),) float64: ``log p(string)`` (with its closing boundary in
            words mode). :meth:`score_details` gives the per-character losses.
        """
        return np.array([s.logprob for s in self.score_details(X)], dtype=np.float64)

    def score_details(self, X: Sequence[str]) -> list[Score]:
        """Everything about each string's score: log-probability, per character, per symbol.

        See :func:`charrnn.generation.sample.score`; ``charrnn score`` prints these.

        Returns
        -------
        list of Score
        """
        self._check_fitted()
        if isinstance(X, str):
            raise CharRNNError(
                "give a list of strings to score (a str alone would be scored character by "
                f"character); for one string use [{X[:20]!r}]"
            )
        cfg = self.config_
        return score(self.params_, self.vocab_, list(X), mode=cfg.mode, cell=cfg.cell)

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's description of this estimator (imported only when asked).

        An unsupervised model of strings: ``X`` is a list of strings, not a
        numeric array; no target.
        """
        from sklearn.utils import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            InputTags,
            Tags,
            TargetTags,
        )

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
            no_validation=True,  # X is text; CharRNN checks it itself
            non_deterministic=False,
            requires_fit=True,
        )

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
        """The ``k`` most likely completions of ``prefix``: see :mod:`charrnn.generation.complete`.

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

        Returns a :class:`charrnn.generation.views.Reading`: each character's probability
        (``probs``), the ``top`` most likely next characters after it
        (``top_ids`` with ``vocab_.itos``, ``top_probs``) and every layer's
        activations (``activations[l]``, (N, H)); see :func:`charrnn.generation.views.read`.
        """
        self._check_fitted()
        cfg = self.config_
        return read(self.params_, self.vocab_, text, mode=cfg.mode, top=top, cell=cfg.cell)

    def trace(self, text: str, *, top: int = 3) -> list[TraceStep]:
        """The model walked through ``text`` step by step, as ``charrnn trace`` prints it.

        Parameters
        ----------
        text : str
            Read after the boundary ``'\\n'`` (and predicted up to the closing
            boundary in words mode).
        top : int
            How many likeliest next characters each step lists.

        Returns
        -------
        list of TraceStep
            Per step: the input, the hidden state, the gates of a gated cell,
            the likeliest next symbols, the target's probability and the
            running loss (nats per :attr:`unit_name`). See
            :func:`charrnn.generation.trace.trace`.
        """
        self._check_fitted()
        cfg = self.config_
        return trace(self.params_, self.vocab_, text, mode=cfg.mode, top=top, cell=cfg.cell)

    def influence(
        self, text: str, *, window: int = 64, tokens: Sequence[int] | None = None
    ) -> np.ndarray:
        """How much each earlier character mattered to each prediction, (N, window).

        Row i explains the prediction of character i of :meth:`read`'s text;
        column ``window - 1`` is the input just before it, ``window - 1 - d``
        the one d steps earlier (NaN: no such input). See
        :func:`charrnn.generation.views.influence`.
        """
        self._check_fitted()
        if not text:
            raise CharRNNError("influence needs a text to explain; got an empty one")
        cfg = self.config_
        return influence(
            self.params_,
            self.vocab_,
            text,
            mode=cfg.mode,
            window=window,
            tokens=None if tokens is None else list(tokens),
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
            if not words:
                raise CharRNNError(
                    "no words to score: the list is empty (or every word was left out); "
                    "give at least one word"
                )
            batches = make_batches(cfg, self.vocab_, words, eval_batch_size("words"))
            assert isinstance(batches, WordBatches)  # words mode makes word batches
            return evaluate_words(self.params_, batches, cell=cfg.cell)
        if not isinstance(data, np.ndarray):
            data = data if isinstance(data, str) else "\n".join(data)
        streams = make_batches(cfg, self.vocab_, data, eval_batch_size("text"))
        assert isinstance(streams, TextBatches)
        return evaluate_text(self.params_, streams, cell=cfg.cell)

    def evaluate_file(
        self,
        path: str | os.PathLike[str] | Sequence[os.PathLike[str]],
        *,
        encoding: str = "utf-8",
        unknown: str = "error",
    ) -> Evaluation:
        """Mean loss per character over corpus files (or ``@builtin``), as ``charrnn eval``.

        In text mode the files are streamed through a temporary token file, so a
        large text never sits in memory; in words mode every line is a word.

        Parameters
        ----------
        path : str, path or sequence of paths
            What ``fit`` reads as data: a file (compressed or not), a
            directory, a glob pattern, ``-`` (standard input) or ``@name``;
            several as a list of paths, read in order (see
            :func:`charrnn.data.corpus.read_corpus`).
        encoding : str
            The files' text encoding.
        unknown : {"error", "skip"}
            Characters the model never saw: an error, or left out (counted in
            ``Evaluation.skipped``; a word with nothing left is left out and
            counted in ``Evaluation.dropped``).

        Returns
        -------
        Evaluation

        Raises
        ------
        CharRNNError
            For a file that cannot be read, unknown characters with
            ``unknown="error"``, or too little text to evaluate.
        """
        self._check_fitted()
        sources = data_sources(path)
        if sources is None:
            raise CharRNNError(
                "evaluate_file reads files: give a path, or a list of paths; "
                "evaluate() takes the data itself"
            )
        vocab, mode = self.vocab_, self.config_.mode
        skipped: collections.Counter[str] = collections.Counter()
        dropped = 0
        files = DataFiles(sources, encoding)
        try:
            if mode == "text":
                with tempfile.TemporaryDirectory(prefix="charrnn-") as tmp:
                    tokens = os.path.join(tmp, "tokens.bin")
                    encode_to_file(files, vocab, tokens, encoding, unknown, skipped=skipped)  # type: ignore[arg-type]
                    ids = open_tokens(tokens, vocab.size)
                    if len(ids) < 2:
                        raise CharRNNError(f"{' '.join(sources)} has too little text to evaluate")
                    size = len(ids)
                    loss = self.evaluate(ids)
                    del ids  # release the memory map before the folder goes
            else:
                words = files.words()
                if unknown == "skip":
                    skipped.update(c for w in words for c in w if c not in vocab.stoi)
                    cleaned = [vocab.clean(w, "skip") for w in words]
                    words = [w for w in cleaned if w]
                    dropped = len(cleaned) - len(words)
                size = len(words)
                loss = self.evaluate(words)
        finally:
            files.close()
        shown = sources[0] if len(sources) == 1 else shlex.join(sources)
        return Evaluation(loss, shown, size, dict(skipped), dropped)

    def evaluate_heldout(self) -> Evaluation:
        """Mean loss per character over the model's own held-out split, as ``charrnn eval RUN``.

        The split is rebuilt from what training recorded (``run_``: the data
        file, its encoding, the split settings of ``config_``) after checking
        the data's fingerprint, so it is exactly the data the run held out.

        Returns
        -------
        Evaluation
            With ``split="held-out"``; ``size`` counts lines (words mode) or
            characters (text mode).

        Raises
        ------
        CharRNNError
            When the model does not record its data (trained on data in
            memory), the data is gone or changed, or the run held nothing out.
        """
        self._check_fitted()
        run = getattr(self, "run_", None) or RunState()
        with tempfile.TemporaryDirectory(prefix="charrnn-") as tmp:
            val = heldout_split(
                run.data,
                run.encoding,
                run.data_fingerprint,
                self.config_,
                tmp,
                records_from(run.members),
            )
            size = len(val)
            loss = self.evaluate(val)
            del val  # release a memory map before the folder goes
        assert run.data is not None  # heldout_split refuses a run without its data
        return Evaluation(loss, run.data, size, split="held-out")

    # ------------------------------------------------------------------ notebooks

    def _repr_html_(self) -> str:
        """How Jupyter shows the model: its settings, size, held-out loss and a few samples."""
        cfg = self.get_config() if not hasattr(self, "config_") else self.config_
        rows = [
            ("model", f"{cfg.mode}-mode {cfg.cell.upper()}, {cfg.layers} x {cfg.hidden}"),
            ("units", cfg.units),
        ]
        if not hasattr(self, "params_"):
            rows.append(("state", "not trained yet: call fit() or CharRNN.load()"))
        else:
            n = sum(int(v.size) for v in self.params_.values())
            rows += [("parameters", f"{n:,}"), ("vocabulary", f"{self.vocab_.size} symbols")]
            best = getattr(self, "run_", None) and self.run_.best_val
            if best is not None:
                rows.append(("held-out loss", f"{best:.4f} nats/{self.unit_name}"))
            max_len = 60 if cfg.mode == "text" else None
            shown = self.sample(3, random_state=0, max_len=max_len)
            rows.append(("samples (seed 0)", " · ".join(repr(s) for s in shown)))
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>CharRNN</caption>{cells}</table>"

    def explain(self, text: str, *, unknown: str = "error", height: int = 720) -> Any:
        """The learner's page for ``text``, shown inline in a notebook.

        The same self-contained page ``charrnn viz`` writes (probabilities,
        activations, reach and influence per character), in a frame; ``.save(path)``
        writes it to a file. See :func:`charrnn.viz.notebook.explain`.
        """
        # The one call from the API up into the page layer, made at call time:
        # the page builds on this class, so the module cannot import it at load.
        from .viz.notebook import explain

        return explain(self, text, unknown=unknown, height=height)

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to a ``.npz`` checkpoint (no pickle)."""
        self._check_fitted()
        # The run state goes along, so the saved model still knows its data
        # (held-out evaluation, novelty).
        checkpoint.save(path, self._as_checkpoint())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharRNN:
        """Load a model from a ``.npz`` checkpoint, a run directory (its best model), or
        ``"@name"``, a model shipped with the package (``"@names"``, ``"@shakespeare"``,
        ``"@ko"``: :func:`charrnn.training.pretrained.pretrained_names` lists them)."""
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
        model.run_ = ckpt.run
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


class _FitCallbacks(Callbacks):
    """What ``fit`` hears while it trains: printed with ``verbose``, passed to ``on_event``."""

    def __init__(
        self,
        verbose: bool,
        on_event: Callable[[LogEvent], bool | None] | None,
        progress: bool = False,
    ):
        self.verbose = verbose
        self.user_event = on_event
        self.bar: Any = None
        if progress:
            tqdm = require("tqdm.auto", what="fit(progress=True)", extra="progress")
            self.bar = tqdm.tqdm(total=None, unit="step")

    def on_step(self, trainer: Trainer) -> None:
        if self.bar is not None:
            advance_bar(self.bar, trainer)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def on_event(self, event: LogEvent) -> bool:
        if self.verbose:
            _verbose_print(event.format())
        return bool(self.user_event(event)) if self.user_event is not None else False

    def on_notice(self, notice: CharRNNError) -> None:
        if self.verbose:
            _verbose_print(str(notice))


def _data_or_text(
    data: Data | None,
    text: str | None,
    data_name: str,
    text_name: str,
    *,
    required: bool,
) -> Data | None:
    """What :func:`charrnn.data.corpus.read_corpus` takes, from ``fit``'s file-or-text pair.

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
    if isinstance(data, str) and (
        "\n" in data
        or not (data == "-" or data.startswith("@") or is_glob(data) or os.path.exists(data))
    ):
        shown = data if len(data) <= 60 else data[:57] + "..."
        raise CharRNNError(
            f"{data_name} {shown!r} is not a file; a str {data_name} is a file, directory, "
            f"glob pattern, - or @builtin. To train on a string itself, pass {text_name}=...",
            params=(data_name, text_name),
        )
    return data


def _check_no_target(y: object) -> None:
    if y is not None:
        raise CharRNNError(
            "y is not used: a language model learns from the strings alone; leave y out"
        )


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
    """The checkpoint file a model argument names.

    ``@name`` is a model shipped with the package (:mod:`charrnn.training.pretrained`),
    a run directory means its best model (or latest when there is no best), and
    anything else is the checkpoint file itself.
    """
    if is_pretrained_ref(path):
        return pretrained_path(os.fspath(path))
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.npz", "latest.npz"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return candidate
        raise CharRNNError(f"{path} holds no model (no best.npz or latest.npz); train one first")
    return path
