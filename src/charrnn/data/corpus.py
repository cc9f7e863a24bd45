"""The data of a training run: read and checked, its vocabulary built, its fingerprint taken.

Nothing here writes a file, except the memory-mapped token file a large text
is encoded into, in the folder the caller gives (:meth:`Corpus.split`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..core.config import Config
from ..core.vocab import Units, Vocab
from .dataset import DataFiles
from .files import corpus_chars
from .manifest import MemberRecord, check_same_data
from .sources import STDIN
from .split import split_corpus, split_text, split_words
from .textcache import TextScan, cached_tokens, scan_text

# A file, directory, glob, "-" or @builtin (str or path); several of them (paths);
# or the data itself (strings).
Data = str | os.PathLike[str] | Sequence[os.PathLike[str]] | Sequence[str]


def data_sources(data: Data) -> list[str] | None:
    """The DATA arguments ``data`` names, or None when it is the data itself (strings).

    A ``str`` or path is one argument; a sequence of paths (``pathlib.Path``)
    is several; a sequence of ``str`` is the words, or the lines of the text.

    Raises
    ------
    CharRNNError
        For an empty sequence, or one that mixes paths and strings.
    """
    if isinstance(data, str | os.PathLike):
        return [os.fspath(data)]
    items: list[object] = list(data)
    if not items:
        raise CharRNNError("no data given: the list is empty")
    paths = [x for x in items if isinstance(x, os.PathLike)]
    if len(paths) == len(items):
        return [os.fspath(x) for x in paths]
    if paths:
        raise CharRNNError(
            "data mixes paths and strings: give files as paths (pathlib.Path), or the "
            "data itself as strings, not both"
        )
    return None


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
        What the run records as its data: one file's (or directory's, or
        glob's) absolute path, ``@builtin`` or ``-``, several shell-quoted and
        joined by spaces; ``None`` for data given in memory.
    encoding : str
    fingerprint : str
    words : list of str or None
        Words mode: every word.
    text : str or None
        Text mode, data given in memory (or read whole without a run directory).
    scan : TextScan or None
        Text mode from files: what a streamed pass learnt; the ids are encoded
        into the run directory's memory-mapped token file by :meth:`split`.
    files : DataFiles or None
        The files read (text mode keeps them for :meth:`split`'s second pass).
    members : list of MemberRecord or None
        Each file read: path, size and sha256 (held-out data given apart marked
        so); ``None`` for data given in memory.
    notices : list of str
        What the user should hear about the reading (files skipped).
    """

    vocab: Vocab
    source: str | None
    encoding: str
    fingerprint: str
    words: list[str] | None = None
    text: str | None = None
    scan: TextScan | None = None
    val: list[str] | str | None = None  # held-out data given apart from the training data
    files: DataFiles | None = None
    members: list[MemberRecord] | None = None
    notices: list[str] = field(default_factory=list)

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
            assert self.files is not None  # a scan is of files
            # A large text trains from a memory map: memory does not grow with it.
            ids = cached_tokens(self.files, self.scan, self.vocab, cache_dir, self.encoding)
            self.files.close()  # standard input's spool is no longer needed
            return split_text(ids, config.val_fraction, config.val_max)
        assert self.text is not None or self.files is not None
        text = self.text if self.text is not None else self.files.read_text()  # type: ignore[union-attr]
        return split_text(self.vocab.encode(text), config.val_fraction, config.val_max)


def _as_data(data: Any) -> Data:
    """``data`` as :func:`read_corpus` reads it: any iterable of strings becomes a list."""
    if isinstance(data, str | os.PathLike | Sequence):
        return data
    try:
        return list(data)  # a generator, a set, a pandas Series' values
    except TypeError:
        raise CharRNNError(
            "data must be a file name, a list of paths or a list of strings; got "
            f"{type(data).__name__}"
        ) from None


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
    data : str, path, sequence of paths or sequence of str
        What to read (``str`` or ``os.PathLike``): a file (gzip, bzip2 or xz
        compressed or not), a directory, a glob pattern, ``-`` for standard
        input or ``@builtin`` (see :mod:`charrnn.data.sources`); several of
        them as a sequence of paths (``pathlib.Path``), read in that order and
        joined (see :mod:`charrnn.data.dataset`). Or the data itself: a list
        of words, or (text mode) a list of lines joined by ``'\\n'``. A
        ``str`` is never the data itself; give a text itself as ``[text]``.
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
        Naming the file: if one is missing, unreadable, binary, undecodable
        (with the line), damaged (compressed) or empty; if a words-mode line
        is too long; if a directory holds no text files or a glob matches none.
    """
    units = units if units is not None else Units()
    data = _as_data(data)
    if val_data is not None:
        train = read_corpus(data, mode, encoding, units=units)
        val = read_corpus(val_data, mode, encoding, units=units)
        if mode == "text":
            for part in (train, val):
                if part.text is None:
                    assert part.files is not None
                    part.text = units.read(part.files.read_text())
        train.vocab = Vocab(set(train.vocab.itos) | set(val.vocab.itos), units)
        train.fingerprint = fingerprint(train.fingerprint + val.fingerprint)
        train.scan, train.val = None, val.words if mode == "words" else val.text
        if train.members is not None and val.members is not None:
            held = [dataclasses.replace(r, held_out=True) for r in val.members]
            train.members = train.members + held
        train.notices += val.notices
        return train
    sources = data_sources(data)
    if sources is not None:
        files = DataFiles(sources, encoding)
        try:
            if mode == "text":
                scan = scan_text(files, encoding, units)  # streamed: also checks every file
            else:
                words = [units.read(w) for w in files.words()]
        except BaseException:
            files.close()
            raise
        if mode == "text":
            # The files stay open for the second pass (Corpus.split).
            return Corpus(
                Vocab(scan.chars, units),
                files.description,
                encoding,
                scan.digest[:16],
                scan=scan,
                files=files,
                members=files.records,
                notices=files.notices,
            )
        files.close()  # the words are read: standard input's spool can go
        return Corpus(
            Vocab(corpus_chars(words), units),
            files.description,
            encoding,
            fingerprint(words),
            words,
            files=files,
            members=files.records,
            notices=files.notices,
        )
    items = [w for w in data if isinstance(w, str)]  # type: ignore[union-attr]
    if len(items) != len(data):  # type: ignore[arg-type]
        raise CharRNNError("data must be a file name, a list of paths or a list of strings")
    text = "\n".join(items)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # what bytes decoded with errors="surrogateescape" hold
        raise CharRNNError(
            f"the data holds {text[exc.start]!r} at character {exc.start:,}: half of a "
            "surrogate pair, not a character; decode the bytes with their own encoding"
        ) from None
    text = units.read(text)
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
    members: Sequence[MemberRecord] | None = None,
) -> list[str] | str | np.ndarray:
    """A run's own held-out data, rebuilt from what it recorded (``checkpoint.RunState``).

    The run's data is read again, from the files it recorded (``members``; a
    run from before member lists recorded one file, ``source``), and split as
    the run split it (:meth:`Corpus.split` with the run's config), after
    checking that it is the data the run was trained on. Held-out data the
    run was given apart is read again as such.

    Raises
    ------
    CharRNNError
        If the run does not record its data (it was trained from data in
        memory), read standard input (it cannot be read again), the data is
        gone or has changed, or the run held nothing out.
    """
    if not source:
        raise CharRNNError(
            "this model does not record the data it was trained on (it came from data in "
            "memory); give the data to evaluate on"
        )
    train: Data = source
    val: Data | None = None
    if members is not None:
        if any(r.path == STDIN for r in members):
            raise CharRNNError(
                "this run read its data from standard input, which cannot be read again; "
                "give the data to evaluate on"
            )
        train = [pathlib.Path(r.path) for r in members if not r.held_out]
        val = [pathlib.Path(r.path) for r in members if r.held_out] or None
    if val is None and config.val_fraction <= 0:
        raise CharRNNError(
            "this run held nothing out (val_fraction 0); give the data to evaluate on"
        )
    try:
        corpus = read_corpus(train, config.mode, encoding, val_data=val, units=Units.of(config))
    except CharRNNError as exc:
        raise CharRNNError(
            f"the run's data is gone ({exc}); give the data to evaluate on", params=exc.params
        ) from None
    check_same_data(
        data_fingerprint,
        members,
        corpus.fingerprint,
        corpus.members,
        advice="the files changed, or held-out data was given apart; give the data to evaluate on"
        if members is None
        else "give the data to evaluate on",
    )
    try:
        return corpus.split(config, cache_dir)[1]
    finally:
        if corpus.files is not None:
            corpus.files.close()
