"""What DATA names, made into the files a run reads (its members), in order.

A DATA argument is one of:

- ``@name``: a corpus shipped with the package (``charrnn/data/corpora``);
- ``-``: standard input, read once into a temporary spool file;
- a file (compressed with gzip, bzip2 or xz, told by its first bytes, or not);
- a directory: every file under it, by relative path in code-point order (as
  ``find DIR -type f | LC_ALL=C sort`` lists them), leaving out hidden files and
  folders (names starting with ``.``) and links to folders (not followed),
  and skipping files that are empty or binary (a NUL byte in their first
  8 KiB) with one notice;
- a glob pattern (``*``, ``?``, ``[...]``, ``**`` for any depth) that names no
  existing file: the files it matches, in code-point order, skipped as in a
  directory; matched folders are left out.

Several arguments are read in the order given; a file reached twice is read
once, at its first place. Nothing here decodes text: that is :mod:`.files`.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import shlex
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import BinaryIO

from ..common.errors import CharRNNError

STDIN = "-"
SNIFF_BYTES = 8192  # how much of a file is looked at to tell text from binary
_GLOB_MAGIC = re.compile(r"[*?[]")
_SKIPS_SHOWN = 5  # skipped files a notice names before it counts the rest

# The first bytes of each compressed format, and how to open it.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


def builtin_names() -> list[str]:
    """Names of the corpora shipped inside the package (used as ``@name``)."""
    root = resources.files("charrnn.data") / "corpora"
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".txt"))


def builtin_bytes(name: str) -> bytes:
    """The bytes of the built-in corpus ``@name``."""
    if name not in builtin_names():
        raise CharRNNError(
            f"no built-in corpus @{name}; built-in corpora: "
            + ", ".join("@" + n for n in builtin_names())
        )
    return (resources.files("charrnn.data") / "corpora" / f"{name}.txt").read_bytes()


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` when ``head`` starts like that format, else None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            # bzip2's three letters could start a text: its block header must follow.
            if kind == "bzip2" and not (len(head) >= 10 and head[3:4].isdigit()):
                continue
            if kind == "bzip2" and head[4:10] not in (b"1AY&SY", b"\x17rE8P\x90"):
                continue
            return kind
    return None


@dataclass(frozen=True)
class Member:
    """One file of a run's data.

    Attributes
    ----------
    path : str
        What the run records: an absolute path, ``@name``, or ``-`` for
        standard input.
    shown : str
        How messages name it: the path as the user wrote it (or as found
        under the directory or glob the user wrote).
    named : bool
        Named by the user itself, not found under a directory or by a glob;
        a found file that is empty or binary is skipped, a named one refused.
    """

    path: str
    shown: str
    named: bool = True

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN


class Spool:
    """Standard input, read once into an unnamed temporary file, to be read again from there."""

    def __init__(self) -> None:
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise CharRNNError("DATA '-' reads standard input, but there is none here")
        if stream.isatty():
            raise CharRNNError(
                "DATA '-' reads standard input, which is a terminal here; pipe the data in "
                "(e.g. zcat corpus.gz | charrnn train - --out RUN)"
            )
        self.file: BinaryIO | None = tempfile.TemporaryFile(prefix="charrnn-stdin-")
        while block := stream.read(1 << 20):
            self.file.write(block)
        self.file.flush()

    def open(self) -> BinaryIO:
        """A reader of what was piped in, from its start (each reader has its own offset)."""
        if self.file is None:
            raise CharRNNError(
                "standard input was read once and cannot be read again; pipe the data again"
            )
        return os.fdopen(os.dup(self.file.fileno()), "rb", closefd=True)

    def close(self) -> None:
        """Let the spooled bytes go (the temporary file has no name, so it is gone)."""
        if self.file is not None:
            self.file.close()
            self.file = None


def open_raw(member: Member, spool: Spool | None = None) -> BinaryIO:
    """The member's bytes as stored (compressed or not).

    Raises
    ------
    CharRNNError
        If the file is missing, a directory or unreadable.
    """
    if member.path.startswith("@"):
        return io.BytesIO(builtin_bytes(member.path[1:]))
    if member.is_stdin:
        if spool is None:
            raise CharRNNError("standard input cannot be read here")
        f = spool.open()
        f.seek(0)
        return f
    if not os.path.exists(member.path):
        raise CharRNNError(f"no such file: {member.shown}")
    if os.path.isdir(member.path):
        raise CharRNNError(f"{member.shown} is a directory; give a text file")
    try:
        return open(member.path, "rb")  # the caller closes it (with-statement)
    except OSError as exc:
        raise CharRNNError(f"cannot read {member.shown}: {exc.strerror}") from None


class _Decompressed(io.RawIOBase):
    """A compressed stream read as its content, its format's errors made CharRNNErrors."""

    def __init__(self, inner: BinaryIO, kind: str, shown: str):
        opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
        self._f = opener(fileobj=inner) if kind == "gzip" else opener(inner)
        self._kind, self._shown = kind, shown

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise CharRNNError(
                f"{self._shown} is {self._kind}-compressed but damaged ({exc}); "
                "check the file (e.g. gzip -t / bzip2 -t / xz -t)"
            ) from None

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def content(raw: BinaryIO, shown: str) -> BinaryIO:
    """The text bytes of a stored stream: decompressed when its first bytes say it is compressed.

    ``raw`` must be at its start; it is read through (never seeked).
    """
    if isinstance(raw, io.BufferedReader):
        buffered = raw
    else:
        buffered = io.BufferedReader(raw if isinstance(raw, io.RawIOBase) else _Raw(raw))
    kind = compression_of(buffered.peek(10)[:10])
    if kind is None:
        return buffered
    return io.BufferedReader(_Decompressed(buffered, kind, shown))


class _Raw(io.RawIOBase):
    """Any binary reader as a raw stream, so that it can be buffered and peeked at."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


@dataclass
class Sources:
    """DATA made into members, with what was skipped on the way."""

    members: list[Member]
    description: str  # what the run records as its data (RunState.data)
    spool: Spool | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (shown, why)

    def notice(self) -> str | None:
        """One line naming the files skipped under directories and globs, or None."""
        if not self.skipped:
            return None
        shown = ", ".join(f"{name} ({why})" for name, why in self.skipped[:_SKIPS_SHOWN])
        more = len(self.skipped) - _SKIPS_SHOWN
        n = len(self.skipped)
        return (
            f"notice: skipped {n} file{'s that are' if n != 1 else ' that is'} not text: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def is_glob(arg: str) -> bool:
    """A DATA argument is a glob pattern when it has ``*?[`` and names no existing file."""
    return bool(_GLOB_MAGIC.search(arg)) and not os.path.exists(arg)


def _sniff(member: Member, wide: bool) -> str | None:
    """Why a found file is skipped ("empty" or "binary"), or None to read it."""
    with open_raw(member) as raw, content(raw, member.shown) as f:
        head = f.read(SNIFF_BYTES)
        whole = len(head) < SNIFF_BYTES or not f.read(1)
    if whole and not head.strip():
        return "empty"
    if b"\x00" in head and not wide:
        return "binary"
    return None


def _under_directory(arg: str) -> Iterator[Member]:
    root = os.path.abspath(arg)
    found: list[str] = []

    def refuse(exc: OSError) -> None:
        raise CharRNNError(f"cannot read {exc.filename}: {exc.strerror}")

    for folder, dirs, files in os.walk(root, onerror=refuse):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    for rel in sorted(found):  # code-point order of the relative path, '/' between parts
        path = os.path.join(root, *rel.split("/"))
        if os.path.isfile(path):  # not a dangling link, a socket or a fifo
            yield Member(path, os.path.join(arg, *rel.split("/")), named=False)


def _by_glob(arg: str) -> Iterator[Member]:
    for shown in sorted(glob.glob(arg, recursive=True)):
        if os.path.isfile(shown):
            yield Member(os.path.abspath(shown), shown, named=False)


def resolve(data: Sequence[str], wide: bool = False) -> Sources:
    """Make DATA arguments into the ordered members a run reads.

    Parameters
    ----------
    data : sequence of str
        DATA arguments (see the module's docstring).
    wide : bool
        The encoding is UTF-16 or UTF-32, whose text holds NUL bytes: then
        NUL bytes do not mark a file as binary.

    Raises
    ------
    CharRNNError
        For a missing file, a directory with no text files, a glob matching no
        file, ``-`` given twice or standard input that is a terminal, and an
        unreadable file or folder.
    """
    if not data:
        raise CharRNNError("no data given: name a file, a directory, a glob, - or @builtin")
    members: list[Member] = []
    seen: set[str] = set()
    skipped: list[tuple[str, str]] = []
    spool: Spool | None = None
    described: list[str] = []
    try:
        for arg in data:
            if arg == STDIN:
                if spool is not None:
                    raise CharRNNError("DATA '-' (standard input) can be given once only")
                spool = Spool()
                found: list[Member] = [Member(STDIN, "<stdin>")]
                described.append(STDIN)
            elif arg.startswith("@"):
                builtin_bytes(arg[1:])  # an unknown name is refused now
                found = [Member(arg, arg)]
                described.append(arg)
            elif os.path.isdir(arg):
                found = list(_under_directory(arg))
                described.append(os.path.abspath(arg))
                if not found:
                    raise CharRNNError(
                        f"{arg} is a directory with no files in it (hidden ones are left out); "
                        "give a text file, or a directory that holds some"
                    )
            elif is_glob(arg):
                found = list(_by_glob(arg))
                described.append(os.path.abspath(arg))
                if not found:
                    raise CharRNNError(
                        f"{arg} names no file, and as a glob pattern it matches none; "
                        "check the pattern (quote it, so that the shell leaves it to charrnn)"
                    )
            else:
                if not os.path.exists(arg):
                    raise CharRNNError(f"no such file: {arg}")
                found = [Member(os.path.abspath(arg), arg)]
                described.append(os.path.abspath(arg))
            skips = 0
            for m in found:
                key = m.path if m.path.startswith("@") or m.is_stdin else os.path.realpath(m.path)
                if key in seen:
                    continue
                why = None if m.named else _sniff(m, wide)
                if why is not None:
                    skipped.append((m.shown, why))
                    skips += 1
                    continue
                seen.add(key)
                members.append(m)
            if skips and skips == len(found):
                raise CharRNNError(
                    f"{arg} holds no text files: "
                    + ", ".join(f"{name} ({why})" for name, why in skipped[-skips:][:_SKIPS_SHOWN])
                    + (f" and {skips - _SKIPS_SHOWN} more" if skips > _SKIPS_SHOWN else "")
                    + "; give text files"
                )
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    description = described[0] if len(described) == 1 else shlex.join(described)
    return Sources(members, description, spool, skipped)
