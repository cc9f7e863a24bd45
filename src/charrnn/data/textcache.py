"""Large text corpora as memory-mapped token files.

A text (one file, or the members of a run's data joined: :class:`DataFiles`)
is read twice in chunks: once to learn its characters (and a digest), once to
write its ids as uint8 / uint16 to a cache file. Training then
indexes a memory map, so memory does not grow with the corpus, and encoding
runs at numpy speed, not one character at a time in Python.
"""

from __future__ import annotations

import collections
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..common.errors import CharRNNError
from ..common.files import atomic_write
from ..core.vocab import Units, UnknownPolicy, Vocab
from .dataset import DataFiles
from .files import empty_text_error

Source = str | os.PathLike[str] | DataFiles  # a file (or @builtin), or the members of DATA


def _files(source: Source, encoding: str) -> DataFiles:
    return source if isinstance(source, DataFiles) else DataFiles([os.fspath(source)], encoding)


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


@dataclass(frozen=True)
class TextScan:
    """What one pass over a text tells: its symbols, their number and a digest."""

    chars: frozenset[str]  # the model's symbols (characters, or jamo in jamo units)
    n_chars: int
    digest: str  # sha256 of the text as the model reads it (normalised), in UTF-8


def scan_text(source: Source, encoding: str = "utf-8", units: Units | None = None) -> TextScan:
    """First pass: symbols, length and digest, one chunk in memory at a time.

    The text is read in ``units`` (default: characters, NFC); a
    :class:`DataFiles` is read in its own encoding, and learns its members'
    records (:attr:`DataFiles.records`).

    Raises
    ------
    CharRNNError
        For every reading problem :func:`charrnn.data.iter_text` reports, and
        if the text is empty or only whitespace.
    """
    chars: set[str] = set()
    h = hashlib.sha256()
    n, blank = 0, True
    units = units if units is not None else Units()
    files = _files(source, encoding)
    for chunk in units.read_chunks(files.chunks()):
        chars.update(chunk)
        h.update(chunk.encode("utf-8"))
        n += len(chunk)
        blank = blank and chunk.isspace()
    if blank:
        raise empty_text_error(files.description)
    return TextScan(frozenset(chars), n, h.hexdigest())


def encode_to_file(
    source: Source,
    vocab: Vocab,
    dest: str | os.PathLike[str],
    encoding: str = "utf-8",
    unknown: UnknownPolicy = "error",
    skipped: collections.Counter[str] | None = None,
) -> int:
    """Second pass: write the ids of ``source`` (read in the vocabulary's units) to ``dest``
    atomically; return their count.

    With ``unknown="skip"``, ``skipped`` (if given) counts each symbol dropped.
    """
    dest = os.fspath(dest)
    dtype = token_dtype(vocab.size)
    n = 0
    with atomic_write(dest, "wb") as f:
        for chunk in vocab.units.read_chunks(_files(source, encoding).chunks()):
            if unknown == "skip":
                if skipped is not None:
                    skipped.update(c for c in chunk if c not in vocab.stoi)
                chunk = "".join(c for c in chunk if c in vocab.stoi)
            ids = vocab.encode(chunk, dtype=dtype, symbols=True)
            f.write(ids.tobytes())
            n += len(ids)
    return n


def open_tokens(path: str | os.PathLike[str], vocab_size: int) -> np.ndarray:
    """Memory-map a token file written by :func:`encode_to_file` (read-only)."""
    dtype = token_dtype(vocab_size)
    if os.path.getsize(path) == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def token_cache_name(digest: str) -> str:
    """The file name of the token cache of a text whose digest is ``digest`` (``"*"``:
    the pattern every cache matches)."""
    return f"tokens-{digest[:16]}.bin"


def cached_tokens(
    source: Source,
    scan: TextScan,
    vocab: Vocab,
    cache_dir: str | os.PathLike[str],
    encoding: str = "utf-8",
) -> np.ndarray:
    """Memory-mapped ids of a scanned text, encoded once into ``cache_dir``.

    The cache file is named after the text's digest, so an edited corpus is
    encoded anew and an unchanged one (a resumed run) is not.
    """
    path = os.path.join(os.fspath(cache_dir), token_cache_name(scan.digest))
    itemsize = token_dtype(vocab.size).itemsize
    if not (os.path.isfile(path) and os.path.getsize(path) == scan.n_chars * itemsize):
        n = encode_to_file(source, vocab, path, encoding)
        if n != scan.n_chars:  # a file grew or shrank between the two passes
            os.remove(path)
            raise CharRNNError(
                "the data changed while it was read; start again once the files stay as they are"
            )
    return open_tokens(path, vocab.size)
