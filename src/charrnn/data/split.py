"""The train/validation split: seeded for word lists, the tail for running text."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from ..common.errors import CharRNNError

MAX_WORD_LEN = 1000  # longer lines in words mode are almost surely running text


def split_words(text: str, max_len: int = MAX_WORD_LEN, source: str = "corpus") -> list[str]:
    """The non-empty lines of ``text``, stripped of surrounding whitespace.

    Raises
    ------
    CharRNNError
        If a line is longer than ``max_len`` (running text belongs in ``--mode text``).
    """
    words = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        word = line.strip()
        if len(word) > max_len:
            raise CharRNNError(
                f"line {lineno} of {source} is {len(word)} characters long, too long for a "
                f"word (at most {max_len}); for running text use mode='text'",
                params=("mode",),
            )
        if word:
            words.append(word)
    if not words:
        raise CharRNNError(f"{source} has no non-empty lines")
    return words


def split_train_val(
    words: list[str], val_fraction: float, seed: int, val_max: int = 0
) -> tuple[list[str], list[str]]:
    """Seeded random split of a word list: ``round(val_fraction * N)`` held out,
    at most ``val_max`` of them when it is positive.

    At least one word stays in training.
    """
    n = len(words)
    n_val = min(round(val_fraction * n), n - 1) if val_fraction > 0 else 0
    if val_max > 0:
        n_val = min(n_val, val_max)
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    val = [words[i] for i in perm[:n_val]]
    train = [words[i] for i in perm[n_val:]]
    return train, val


TextLike = TypeVar("TextLike", str, np.ndarray)


def split_text(text: TextLike, val_fraction: float, val_max: int = 0) -> tuple[TextLike, TextLike]:
    """Hold out the last ``val_fraction`` of a text (or of its ids) by position,
    char-rnn's way; at most ``val_max`` characters when it is positive.

    Slices, so a memory-mapped id array stays memory-mapped.
    """
    n_val = 0 if val_fraction <= 0 else len(text) - int(len(text) * (1 - val_fraction))
    if val_max > 0:
        n_val = min(n_val, val_max)
    cut = len(text) - n_val
    return text[:cut], text[cut:]


def split_corpus(
    corpus: list[str] | str, mode: str, val_fraction: float, seed: int, val_max: int = 0
) -> tuple[list[str] | str, list[str] | str]:
    """Train/validation split: seeded for words, the tail of the text for text."""
    if mode == "words":
        return split_train_val(list(corpus), val_fraction, seed, val_max)
    return split_text(str(corpus), val_fraction, val_max)
