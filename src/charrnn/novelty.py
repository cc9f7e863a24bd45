"""Which samples are new: a words model's training set, and how much probability it holds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .checkpoint import Checkpoint
from .data import load_corpus, split_corpus
from .errors import CharRNNError
from .model import Params
from .sample import score
from .vocab import Vocab


def training_words(ckpt: Checkpoint) -> set[str]:
    """The distinct words a words-mode model was trained on: its split of its data.

    Raises
    ------
    CharRNNError
        If the checkpoint does not name its data, or the data is gone.
    """
    source = ckpt.extra.get("data")
    if not source:
        raise CharRNNError("this model does not record its training data; --novelty needs it")
    try:
        corpus = load_corpus(source, "words", ckpt.extra.get("encoding", "utf-8"))
    except CharRNNError as exc:
        raise CharRNNError(f"--novelty needs the training data, which is gone: {exc}") from None
    cfg = ckpt.config
    train, _ = split_corpus(corpus, "words", cfg.val_fraction, cfg.seed, cfg.val_max)
    return set(train)


def word_probabilities(
    params: Params, vocab: Vocab, words: Sequence[str], *, chunk: int = 2048
) -> np.ndarray:
    """p(word) under a words model, its end included, for every word (float64, (N,)).

    Summed over a set of words it is the share of temperature-1 samples that
    fall in that set, in the limit of many samples.
    """
    logp = [
        s.logprob
        for i in range(0, len(words), chunk)
        for s in score(params, vocab, list(words[i : i + chunk]), mode="words")
    ]
    return np.exp(np.array(logp, dtype=np.float64))
