"""Decoding a corpus file as text: encodings, BOM, line ends, binary or undecodable files."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from typing import BinaryIO

from ..common.errors import CharRNNError
from .sources import SNIFF_BYTES, Member, builtin_names, content, open_raw
from .split import split_words

__all__ = [
    "CHUNK_BYTES",
    "builtin_names",
    "corpus_chars",
    "decode",
    "empty_text_error",
    "is_wide",
    "iter_text",
    "load_corpus",
    "read_text",
]

CHUNK_BYTES = 1 << 18  # read and encode large files 256 KiB at a time


def _lines(text: str) -> int:
    """Line ends in ``text``, CRLF, CR and LF each counting one."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _unknown_encoding(encoding: str) -> CharRNNError:
    return CharRNNError(
        f"encoding {encoding!r} is unknown; try encoding='latin-1'", params=("encoding",)
    )


def is_wide(encoding: str) -> bool:
    """UTF-16 and UTF-32 text holds NUL bytes, so they do not mark it as binary.

    Raises
    ------
    CharRNNError
        If ``encoding`` names no codec.
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise _unknown_encoding(encoding) from None
    # rot13, base64, zlib and the like are codecs too, but turn bytes into bytes.
    if not getattr(info, "_is_text_encoding", True):
        raise CharRNNError(
            f"{encoding!r} is a codec for bytes, not for text (rot13, base64 and zlib are "
            "such); name the file's own, e.g. encoding='utf-8' or encoding='latin-1'",
            params=("encoding",),
        )
    return info.name.replace("-", "").startswith(("utf16", "utf32"))


def decode(
    f: BinaryIO, shown: str, encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """Yield the text of a byte stream in chunks, with ``'\n'`` line ends.

    A UTF-8 byte-order mark is dropped and CRLF / CR line ends become ``'\n'``,
    also where a CRLF straddles two chunks. Memory stays at one chunk.

    Raises
    ------
    CharRNNError
        Naming ``shown``: if the stream is binary (NUL bytes in its first
        8 KiB) or not decodable with ``encoding`` (with the line and byte).
    """
    wide = is_wide(encoding)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, first, held_cr, line = 0, True, False, 1
    while True:
        raw = f.read(chunk_bytes)
        final = not raw
        if first and b"\x00" in raw[:SNIFF_BYTES] and not wide:
            # UTF-32's little-endian mark starts with UTF-16's: it is tried first.
            for bom, wide_name in (
                (codecs.BOM_UTF32_LE, "utf-32"),
                (codecs.BOM_UTF32_BE, "utf-32"),
                (codecs.BOM_UTF16_LE, "utf-16"),
                (codecs.BOM_UTF16_BE, "utf-16"),
            ):
                if raw.startswith(bom):
                    raise CharRNNError(
                        f"{shown} is {wide_name.upper()} text (it starts with its "
                        f"byte-order mark); set encoding='{wide_name}'",
                        params=("encoding",),
                    )
            raise CharRNNError(
                f"{shown} looks like a binary file (it holds NUL bytes); give a plain text file"
            )
        try:
            text = decoder.decode(raw, final)
        except UnicodeDecodeError as exc:
            # exc.object is what the decoder held over from the last chunk, then raw.
            start = offset - (len(exc.object) - len(raw)) + exc.start
            before = exc.object[: exc.start].decode(encoding, errors="replace")
            at = line + _lines(("\r" if held_cr else "") + before)
            raise CharRNNError(
                f"{shown} is not valid {encoding} at line {at} (byte {start}: {exc.reason}); "
                "set encoding to the file's own, e.g. encoding='latin-1' or encoding='cp1252'",
                params=("encoding",),
            ) from None
        except UnicodeError as exc:  # e.g. UTF-16 without its byte-order mark
            raise CharRNNError(
                f"{shown} cannot be read as {encoding} ({exc}); set encoding to the file's "
                "own (without a byte-order mark: encoding='utf-16-le' or encoding='utf-16-be', "
                "and likewise utf-32-le or utf-32-be)",
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
        line += text.count("\n")
        if text:
            yield text
        if final:
            return


def iter_text(
    source: str | os.PathLike[str], encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """Yield the text of one file (or ``@builtin``) in chunks; see :func:`decode`.

    A gzip, bzip2 or xz file is decompressed as it is read.

    Raises
    ------
    CharRNNError
        If the file is missing, a directory, unreadable, binary, or not
        decodable with ``encoding``.
    """
    shown = os.fspath(source)
    path = shown if shown.startswith("@") else os.path.abspath(shown)
    with open_raw(Member(path, shown)) as raw, content(raw, shown) as f:
        yield from decode(f, shown, encoding, chunk_bytes)


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
