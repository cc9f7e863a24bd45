"""Reading a corpus as it comes: files, ``@builtin`` corpora, encodings, words or text."""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from importlib import resources
from typing import BinaryIO

from ..common.errors import CharRNNError
from .split import split_words

_SNIFF_BYTES = 8192


def builtin_names() -> list[str]:
    """Names of the corpora shipped inside the package (used as ``@name``)."""
    root = resources.files("charrnn.data") / "corpora"
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".txt"))


def _builtin_bytes(name: str) -> bytes:
    if name not in builtin_names():
        raise CharRNNError(
            f"no built-in corpus @{name}; built-in corpora: "
            + ", ".join("@" + n for n in builtin_names())
        )
    return (resources.files("charrnn.data") / "corpora" / f"{name}.txt").read_bytes()


CHUNK_BYTES = 1 << 18  # read and encode large files 256 KiB at a time


def _open_source(source: str) -> BinaryIO:
    if source.startswith("@"):
        return io.BytesIO(_builtin_bytes(source[1:]))
    if not os.path.exists(source):
        raise CharRNNError(f"no such file: {source}")
    if os.path.isdir(source):
        raise CharRNNError(f"{source} is a directory; give a text file")
    try:
        return open(source, "rb")  # the caller closes it (with-statement)
    except OSError as exc:
        raise CharRNNError(f"cannot read {source}: {exc.strerror}") from None


def iter_text(
    source: str | os.PathLike[str], encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """Yield the text of a file (or ``@builtin``) in chunks, with ``'\n'`` line ends.

    A UTF-8 byte-order mark is dropped and CRLF / CR line ends become ``'\n'``,
    also where a CRLF straddles two chunks. Memory stays at one chunk.

    Raises
    ------
    CharRNNError
        If the file is missing, a directory, binary, or not decodable with ``encoding``.
    """
    source = os.fspath(source)
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise CharRNNError(
            f"encoding {encoding!r} is unknown; try encoding='latin-1'", params=("encoding",)
        ) from None
    wide = codecs.lookup(encoding).name.replace("-", "").startswith(("utf16", "utf32"))
    offset, first, held_cr = 0, True, False
    with _open_source(source) as f:
        while True:
            raw = f.read(chunk_bytes)
            final = not raw
            if first and b"\x00" in raw[:_SNIFF_BYTES] and not wide:
                raise CharRNNError(
                    f"{source} looks like a binary file (it holds NUL bytes); "
                    "give a plain text file"
                )
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                raise CharRNNError(
                    f"{source} is not valid {encoding} (byte {offset + exc.start}: {exc.reason}); "
                    "set encoding to the file's own, e.g. encoding='latin-1' or encoding='cp1252'",
                    params=("encoding",),
                ) from None
            offset += len(raw)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            if held_cr:
                text, held_cr = "\r" + text, False
            if text.endswith("\r") and not final:
                text, held_cr = text[:-1], True  # its "\n" may start the next chunk
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if final:
                return


def empty_text_error(source: str | os.PathLike[str]) -> CharRNNError:
    """The error for a corpus that holds nothing but whitespace."""
    return CharRNNError(
        f"{os.fspath(source)} is empty (or only whitespace); give a file with text in it"
    )


def read_text(source: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Read a whole corpus file (or ``@builtin``) as text; see :func:`iter_text`.

    Raises
    ------
    CharRNNError
        As :func:`iter_text`, and if the text is empty or only whitespace.
    """
    text = "".join(iter_text(source, encoding))
    if not text.strip():
        raise empty_text_error(source)
    return text


def load_corpus(
    source: str | os.PathLike[str], mode: str, encoding: str = "utf-8"
) -> list[str] | str:
    """Read ``source`` (a path or ``@builtin``) as a word list or as running text."""
    text = read_text(source, encoding)
    if mode == "words":
        return split_words(text, source=os.fspath(source))
    return text


def corpus_chars(corpus: list[str] | str) -> set[str]:
    """Every distinct character of a corpus."""
    if isinstance(corpus, str):
        return set(corpus)
    chars: set[str] = set()
    for w in corpus:
        chars.update(w)
    return chars
