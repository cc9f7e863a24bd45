"""The data of a training run: read and checked, its vocabulary built, its fingerprint taken.

Nothing here writes a file, except the memory-mapped token file a large text
is encoded into, in the folder the caller gives (:meth:`Corpus.split`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..common.errors import CharRNNError
from ..core.config import Config
from ..core.vocab import Units, Vocab
from .files import corpus_chars, load_corpus, read_text
from .split import split_corpus, split_text, split_words
from .textcache import TextScan, cached_tokens, scan_text

Data = str | os.PathLike[str] | Sequence[str]


def fingerprint(corpus: list[str] | str) -> str:
    """A short hash of a corpus, so a resume can tell it was given the same data.

    For a text it is the start of the sha256 of its UTF-8 bytes, the digest a
    streamed scan of the same text computes.
    """
    h = hashlib.sha256()
    if isinstance(corpus, str):
        h.update(corpus.encode())
    else:
        for w in corpus:
            h.update(w.encode())
            h.update(b"\n")
    return h.hexdigest()[:16]


@dataclass
class Corpus:
    """The data of a run, read and checked before anything is written.

    Attributes
    ----------
    vocab : Vocab
    source : str or None
        The file's absolute path or ``@builtin``; ``None`` for data given in memory.
    encoding : str
    fingerprint : str
    words : list of str or None
        Words mode: every word.
    text : str or None
        Text mode, data given in memory (or read whole without a run directory).
    scan : TextScan or None
        Text mode from a file: what a streamed pass learnt; the ids are encoded
        into the run directory's memory-mapped token file by :meth:`split`.
    """

    vocab: Vocab
    source: str | None
    encoding: str
    fingerprint: str
    words: list[str] | None = None
    text: str | None = None
    scan: TextScan | None = None
    val: list[str] | str | None = None  # held-out data given apart from the training data

    def split(
        self, config: Config, cache_dir: str | None
    ) -> tuple[list[str] | str | np.ndarray, list[str] | str | np.ndarray]:
        """Training and held-out data: as the config says, or the held-out data given."""
        if self.val is not None:
            train = self.words if self.words is not None else self.vocab.encode(self.text or "")
            val = self.val if isinstance(self.val, list) else self.vocab.encode(self.val)
            return train, val
        if self.words is not None:
            return split_corpus(
                self.words, "words", config.val_fraction, config.seed, config.val_max
            )
        if self.scan is not None and cache_dir is not None:
            # A large text trains from a memory map: memory does not grow with it.
            ids = cached_tokens(self.source, self.scan, self.vocab, cache_dir, self.encoding)  # type: ignore[arg-type]
            return split_text(ids, config.val_fraction, config.val_max)
        text = self.text if self.text is not None else read_text(self.source, self.encoding)  # type: ignore[arg-type]
        return split_text(self.vocab.encode(text), config.val_fraction, config.val_max)


def read_corpus(
    data: Data,
    mode: str,
    encoding: str = "utf-8",
    val_data: Data | None = None,
    units: Units | None = None,
) -> Corpus:
    """Read and check ``data`` for ``mode``; build the vocabulary (the only place it is built).

    Words and text are held as the model's symbols (read in ``units``), and the
    fingerprint is of those, so a resume in other units is another run.

    Parameters
    ----------
    data : str, path or sequence of str
        A file path or ``@builtin`` (``str`` or ``os.PathLike``), or the data itself:
        a list of words, or (text mode) a list of lines joined by ``'\\n'``. A
        ``str`` is always a file name or ``@builtin``; give a text itself as
        ``[text]``.
    mode : {"words", "text"}
    encoding : str
    val_data : same kinds as ``data``, optional
        Held-out data given apart; then no share of ``data`` is held out. Both
        are read into memory, and the vocabulary covers both.
    units : Units, optional
        How text becomes the model's symbols (default: characters, NFC).

    Raises
    ------
    CharRNNError
        If the file is missing, unreadable, binary, undecodable or empty, or a
        words-mode line is too long.
    """
    units = units if units is not None else Units()
    if val_data is not None:
        train = read_corpus(data, mode, encoding, units=units)
        val = read_corpus(val_data, mode, encoding, units=units)
        if mode == "text":
            for part in (train, val):
                if part.text is None:
                    part.text = units.read(read_text(part.source, encoding))  # type: ignore[arg-type]
        train.vocab = Vocab(set(train.vocab.itos) | set(val.vocab.itos), units)
        train.fingerprint = fingerprint(train.fingerprint + val.fingerprint)
        train.scan, train.val = None, val.words if mode == "words" else val.text
        return train
    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        source = path if path.startswith("@") else os.path.abspath(path)
        if mode == "text":
            scan = scan_text(path, encoding, units)  # streamed: also checks the whole file
            return Corpus(Vocab(scan.chars, units), source, encoding, scan.digest[:16], scan=scan)
        words = load_corpus(path, "words", encoding)
        assert isinstance(words, list)
        words = [units.read(w) for w in words]
        return Corpus(
            Vocab(corpus_chars(words), units), source, encoding, fingerprint(words), words
        )
    items = list(data)
    if not all(isinstance(w, str) for w in items):
        raise CharRNNError("data must be a file name or a list of strings")
    text = units.read("\n".join(items))
    if not text.strip():
        raise CharRNNError("no data to train on: the strings are empty")
    if mode == "text":
        return Corpus(Vocab(set(text), units), None, encoding, fingerprint(text), text=text)
    words = split_words(text, source="the data")
    return Corpus(Vocab(corpus_chars(words), units), None, encoding, fingerprint(words), words)


def heldout_split(
    source: str | None,
    encoding: str,
    data_fingerprint: str | None,
    config: Config,
    cache_dir: str | None,
) -> list[str] | str | np.ndarray:
    """A run's own held-out data, rebuilt from what it recorded (``checkpoint.RunState``).

    The run's data is read again from ``source`` and split as the run split it
    (:meth:`Corpus.split` with the run's config), after checking that it is the
    data the run was trained on.

    Raises
    ------
    CharRNNError
        If the run does not record its data (it was trained from data in
        memory), the data is gone or has changed, or the run held nothing out.
    """
    if not source:
        raise CharRNNError(
            "this model does not record the data it was trained on (it came from data in "
            "memory); give the data to evaluate on"
        )
    if config.val_fraction <= 0:
        raise CharRNNError(
            "this run held nothing out (val_fraction 0); give the data to evaluate on"
        )
    try:
        corpus = read_corpus(source, config.mode, encoding, units=Units.of(config))
    except CharRNNError as exc:
        raise CharRNNError(
            f"the run's data is gone ({exc}); give the data to evaluate on", params=exc.params
        ) from None
    if data_fingerprint is not None and corpus.fingerprint != data_fingerprint:
        raise CharRNNError(
            f"{source} is not the data the run recorded (its fingerprint differs: the file "
            "changed, or held-out data was given apart); give the data to evaluate on"
        )
    return corpus.split(config, cache_dir)[1]
