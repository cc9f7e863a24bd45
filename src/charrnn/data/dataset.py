"""The members of a run's data read in order, as one text or as one list of words.

Text mode joins the members into one text: a member that does not end with a
line end gets a ``'\\n'`` before the next member, so no line runs across two
files; nothing is added after the last one (so one file reads exactly as it
is). Words mode reads every member's lines as words, in member order. Each
pass over the members also takes each one's size and sha256 as stored
(:class:`~charrnn.data.manifest.MemberRecord`), and a second pass that finds
other bytes stops: the data changed while it was read.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import BinaryIO

from ..common.errors import CharRNNError
from .files import CHUNK_BYTES, decode, empty_text_error, is_wide
from .manifest import MemberRecord, changes
from .sources import Member, Sources, content, open_raw, resolve
from .split import split_words


class _Hashing(io.RawIOBase):
    """A reader that takes the sha256 and the size of every byte read through it."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        self.sha256.update(data)
        self.size += len(data)
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read (and hash) what is left, e.g. after the end of a compressed stream."""
        while data := self._inner.read(1 << 20):
            self.sha256.update(data)
            self.size += len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


class DataFiles:
    """DATA arguments made into members (:func:`charrnn.data.sources.resolve`), read in order.

    Parameters
    ----------
    data : sequence of str
        DATA arguments: files, directories, glob patterns, ``-``, ``@builtin``.
    encoding : str
        Of every member.

    Attributes
    ----------
    records : list of MemberRecord or None
        What the last whole pass read (None before one).
    """

    def __init__(self, data: Sequence[str], encoding: str = "utf-8"):
        self.encoding = encoding
        self.sources: Sources = resolve(data, wide=is_wide(encoding))
        self.records: list[MemberRecord] | None = None

    @property
    def members(self) -> list[Member]:
        return self.sources.members

    @property
    def description(self) -> str:
        """The data as a run records it: one source as it was, several shell-quoted."""
        return self.sources.description

    @property
    def notices(self) -> list[str]:
        """What the user should hear: files skipped under directories and globs."""
        said = self.sources.notice()
        return [said] if said is not None else []

    def close(self) -> None:
        """Let standard input's spool go; the members cannot be read again after."""
        self.sources.close()

    @contextmanager
    def _open(self, member: Member) -> Iterator[tuple[BinaryIO, _Hashing]]:
        with ExitStack() as stack:
            hashing = _Hashing(stack.enter_context(open_raw(member, self.sources.spool)))
            stack.callback(hashing.close)
            yield stack.enter_context(content(hashing, member.shown)), hashing  # type: ignore[arg-type]

    def _member_chunks(
        self, member: Member, records: list[MemberRecord], chunk_bytes: int
    ) -> Iterator[str]:
        blank = True
        with self._open(member) as (f, hashing):
            for text in decode(f, member.shown, self.encoding, chunk_bytes):
                blank = blank and text.isspace()
                yield text
            hashing.drain()
        if blank:
            raise empty_text_error(member.shown)
        records.append(MemberRecord(member.path, hashing.size, hashing.sha256.hexdigest()))

    def _done(self, records: list[MemberRecord]) -> None:
        if self.records is not None and records != self.records:
            what = "; ".join(changes(self.records, records))
            raise CharRNNError(
                f"the data changed while it was read ({what}); "
                "start again once the files stay as they are"
            )
        self.records = records

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
        """The members' text as one text, in chunks of about ``chunk_bytes``.

        Raises
        ------
        CharRNNError
            For every reading problem of :func:`charrnn.data.files.decode`, a
            member that is missing, unreadable, damaged (compressed) or empty
            (or only whitespace), naming the member.
        """
        records: list[MemberRecord] = []
        ends_line = True
        for i, member in enumerate(self.members):
            if i and not ends_line:
                yield "\n"  # no line runs from one file into the next
            for text in self._member_chunks(member, records, chunk_bytes):
                ends_line = text.endswith("\n")
                yield text
        self._done(records)

    def read_text(self) -> str:
        """The whole text in memory (see :meth:`chunks`)."""
        return "".join(self.chunks())

    def words(self) -> list[str]:
        """Every member's non-empty lines, stripped, in member order.

        Raises
        ------
        CharRNNError
            As :meth:`chunks`, and for a line too long to be a word (naming
            the member and the line).
        """
        records: list[MemberRecord] = []
        words: list[str] = []
        for member in self.members:
            text = "".join(self._member_chunks(member, records, CHUNK_BYTES))
            words.extend(split_words(text, source=member.shown))
        self._done(records)
        return words
