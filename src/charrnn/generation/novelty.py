"""Which samples are new: a words model's training set, and how much probability it holds."""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..core.cells import Cell
from ..core.model import Params
from ..core.vocab import Vocab
from ..data.dataset import DataFiles
from ..data.files import load_corpus
from ..data.manifest import records_from
from ..data.sources import STDIN
from ..data.split import split_corpus
from ..training.checkpoint import Checkpoint
from .sample import MAX_CHARS, MAX_SAMPLES, check_sampling_args, sample, score


def words_split(ckpt: Checkpoint) -> tuple[list[str], list[str]]:
    """The training and held-out words of a words-mode model: its split of its data.

    Raises
    ------
    CharRNNError
        If the checkpoint does not name its data, or the data is gone.
    """
    source = ckpt.run.data
    if not source:
        raise CharRNNError("this model does not record its training data, which novelty needs")
    members = records_from(ckpt.run.members)
    if members is not None and any(r.path == STDIN for r in members):
        raise CharRNNError(
            "novelty needs the training data, which came from standard input and cannot be "
            "read again"
        )
    try:
        if members is None:  # a run from before member lists read one file
            corpus = load_corpus(source, "words", ckpt.run.encoding)
        else:
            files = DataFiles([r.path for r in members if not r.held_out], ckpt.run.encoding)
            corpus = files.words()
    except CharRNNError as exc:
        raise CharRNNError(
            f"novelty needs the training data, which is gone: {exc}", params=exc.params
        ) from None
    cfg = ckpt.config
    train, val = split_corpus(corpus, "words", cfg.val_fraction, cfg.seed, cfg.val_max)
    # As a user reads them (NFC), so that they compare with samples.
    shown = [ckpt.vocab.clean(w, "skip") for w in (*train, *val)]
    return shown[: len(train)], shown[len(train) :]


def training_words(ckpt: Checkpoint) -> set[str]:
    """The distinct words a words-mode model was trained on (see :func:`words_split`)."""
    return set(words_split(ckpt)[0])


def word_probabilities(
    params: Params,
    vocab: Vocab,
    words: Sequence[str],
    *,
    chunk: int = 2048,
    cell: str | Cell | None = None,
) -> np.ndarray:
    """p(word) under a words model, its end included, for every word (float64, (N,)).

    Summed over a set of words it is the share of temperature-1 samples that
    fall in that set, in the limit of many samples.
    """
    logp = [
        s.logprob
        for i in range(0, len(words), chunk)
        for s in score(params, vocab, list(words[i : i + chunk]), mode="words", cell=cell)
    ]
    return np.exp(np.array(logp, dtype=np.float64))


@dataclass(frozen=True)
class Memorisation:
    """How much probability a words model gives its training set, against unseen words.

    Attributes
    ----------
    seen : list of str
        The distinct training words, sorted.
    seen_p : numpy.ndarray
        p(word) of each of ``seen``.
    unseen_p : numpy.ndarray
        p(word) of every distinct held-out word that is not a training word.
    """

    seen: list[str]
    seen_p: np.ndarray
    unseen_p: np.ndarray

    @property
    def n_train(self) -> int:
        """Distinct training words."""
        return len(self.seen)

    @property
    def training_p(self) -> float:
        """Sum of p over the training set: the share of temperature-1 samples that
        repeat a training word, in the limit."""
        return float(self.seen_p.sum())

    @property
    def unmemorised_p(self) -> float:
        """The training set's share if training words got what unseen ones get on average."""
        return float(self.unseen_p.mean()) * self.n_train if len(self.unseen_p) else math.nan


def memorisation(
    params: Params,
    vocab: Vocab,
    train: Iterable[str],
    heldout: Iterable[str],
    *,
    cell: str | Cell | None = None,
) -> Memorisation:
    """Score the distinct training words and the held-out words outside them.

    ``cell`` is the model's (``Config.cell``); ``None`` recognises it from ``params``.
    """
    seen = sorted(set(train))
    unseen = sorted(set(heldout) - set(seen))
    return Memorisation(
        seen=seen,
        seen_p=word_probabilities(params, vocab, seen, cell=cell),
        unseen_p=word_probabilities(params, vocab, unseen, cell=cell),
    )


def sample_new(
    params: Params,
    vocab: Vocab,
    known: Container[str],
    n: int,
    *,
    rng: np.random.Generator,
    max_draws: int | None = None,
    **options: Any,
) -> tuple[list[str], int]:
    """Words-mode samples that are not in ``known``, drawn in batches until there are ``n``.

    A filter on the sampler, not a property of the model: the model's own
    novelty is what :func:`memorisation` measures.

    Parameters
    ----------
    known : container of str
        Words to leave out, usually the training words.
    n : int
        How many new words to return.
    rng : numpy.random.Generator
    max_draws : int, optional
        Give up after drawing this many samples (default ``100 * n``), so a
        model that only repeats ``known`` (or greedy decoding) cannot loop forever.
    **options
        Passed to :func:`charrnn.generation.sample.sample` (prefix, temperature, top_k, ...).

    Returns
    -------
    words : list of str
        At most ``n`` words, in the order drawn; fewer only if ``max_draws`` ran out.
    drawn : int
        Samples drawn in all.
    """
    # Checked here, on the caller's own numbers: a batch below may be larger than
    # n, and its refusal would name a number the caller never gave.
    max_len = options.get("max_len") or 100  # sample()'s words-mode default
    check_sampling_args(n, max_len, options.get("temperature", 1.0), options.get("top_k"))
    largest = min(MAX_SAMPLES, MAX_CHARS // max_len)  # at least n, as n passed the check
    limit = 100 * n if max_draws is None else max_draws
    found: list[str] = []
    drawn = 0
    while len(found) < n and drawn < limit:
        # Twice what is missing, so that one or two batches usually suffice.
        batch = min(limit - drawn, max(64, 2 * (n - len(found))), largest)
        words = sample(params, vocab, n=batch, mode="words", rng=rng, **options)
        drawn += batch
        found += [w for w in words if w not in known]
    return found[:n], drawn
