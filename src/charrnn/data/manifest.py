"""What a run read: each member's path, size and sha256, and how two such lists differ.

A run records the list (``RunState.members``) so that a resume, ``charrnn eval
RUN`` and novelty can check they read the same data, and say what changed
when it is not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..common.errors import CharRNNError

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAMED = 5  # paths a change names before it counts the rest


@dataclass(frozen=True)
class MemberRecord:
    """One member as read: ``sha256sum`` and ``ls -l`` of the file as stored give the same.

    Attributes
    ----------
    path : str
        An absolute path, ``@name`` for a built-in corpus, or ``-`` for
        standard input.
    bytes : int
        Its size as stored (compressed, for a compressed file).
    sha256 : str
        The sha256 of its bytes as stored, in hex.
    held_out : bool
        Part of the held-out data given apart (``val_data``).
    """

    path: str
    bytes: int
    sha256: str
    held_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (``held_out`` only when true)."""
        d: dict[str, Any] = {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}
        if self.held_out:
            d["held_out"] = True
        return d

    @classmethod
    def from_dict(cls, d: Any) -> MemberRecord:
        """Inverse of :meth:`to_dict`, checking every value.

        Raises
        ------
        CharRNNError
            If ``d`` is not such a record.
        """
        if not isinstance(d, dict) or set(d) - {"path", "bytes", "sha256", "held_out"}:
            raise CharRNNError(f"a data member must be an object of path, bytes, sha256; got {d!r}")
        path, size, digest = d.get("path"), d.get("bytes"), d.get("sha256")
        held_out = d.get("held_out", False)
        if not (isinstance(path, str) and path):
            raise CharRNNError(f"a data member's path must be a non-empty string; got {path!r}")
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            raise CharRNNError(f"a data member's bytes must be an integer >= 0; got {size!r}")
        if not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise CharRNNError(f"a data member's sha256 must be 64 hex digits; got {digest!r}")
        if not isinstance(held_out, bool):
            raise CharRNNError(f"a data member's held_out must be true or false; got {held_out!r}")
        return cls(path, size, digest, held_out)


def records_from(d: Any) -> list[MemberRecord] | None:
    """A recorded member list (JSON) as records; None stays None (a run from before them).

    Raises
    ------
    CharRNNError
        If ``d`` is neither null nor a list of member records.
    """
    if d is None:
        return None
    if not isinstance(d, list):
        raise CharRNNError(f"the data members must be a list; got {type(d).__name__}")
    return [MemberRecord.from_dict(x) for x in d]


def _shown(path: str) -> str:
    """A recorded path as a message shows it: relative to here when it is below here."""
    if path.startswith("@") or path == "-" or not os.path.isabs(path):
        return "standard input" if path == "-" else path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _some(paths: Sequence[str]) -> str:
    listed = ", ".join(_shown(p) for p in paths[:_NAMED])
    return listed + (f" and {len(paths) - _NAMED} more" if len(paths) > _NAMED else "")


def changes(old: Sequence[MemberRecord], new: Sequence[MemberRecord]) -> list[str]:
    """What differs from ``old`` to ``new``, as phrases for a message (empty: nothing).

    Members are matched by path; a member gone from one path and one with the
    same sha256 at another path is a move.
    """
    before = {(r.path, r.held_out): r for r in old}
    after = {(r.path, r.held_out): r for r in new}
    removed = [k for k in before if k not in after]
    added = [k for k in after if k not in before]
    moved: list[str] = []
    for k in list(removed):
        twin = next((a for a in added if after[a].sha256 == before[k].sha256), None)
        if twin is not None:
            removed.remove(k)
            added.remove(twin)
            moved.append(f"{_shown(k[0])} -> {_shown(twin[0])}")
    edited = [
        f"{_shown(k[0])} ({before[k].bytes:,} -> {after[k].bytes:,} bytes)"
        if before[k].bytes != after[k].bytes
        else _shown(k[0])
        for k in before
        if k in after and before[k].sha256 != after[k].sha256
    ]
    out = []
    if added:
        out.append("added " + _some([p for p, _ in added]))
    if removed:
        out.append("removed " + _some([p for p, _ in removed]))
    if edited:
        out.append("edited " + ", ".join(edited[:_NAMED]) + _more(edited))
    if moved:
        out.append("moved " + ", ".join(moved[:_NAMED]) + _more(moved))
    if not out and [(r.path, r.held_out) for r in old] != [(r.path, r.held_out) for r in new]:
        out.append("the same files are in another order")
    return out


def _more(items: Sequence[str]) -> str:
    return f" and {len(items) - _NAMED} more" if len(items) > _NAMED else ""


def check_same_data(
    recorded_fingerprint: str | None,
    recorded: Sequence[MemberRecord] | None,
    fingerprint: str,
    members: Sequence[MemberRecord] | None,
    advice: str = "resume with the same data",
) -> None:
    """Refuse data whose fingerprint is not the one a run recorded, saying what changed.

    The fingerprint is of the data as the model reads it, so the same text in
    moved or re-compressed files is the same data; the member lists name what
    changed when it is not. A run from before member lists (``recorded`` is
    None) is checked by its fingerprint alone; one that recorded no
    fingerprint (data in memory) is not checked.

    Raises
    ------
    CharRNNError
        If the fingerprints differ.
    """
    if recorded_fingerprint is None or recorded_fingerprint == fingerprint:
        return
    said = changes(recorded, members) if recorded is not None and members is not None else []
    if said:
        what = "; ".join(said)
    elif recorded is not None and members is not None:
        what = "the same files read differently (another encoding, units or normalisation?)"
    else:
        what = "its fingerprint differs"
    raise CharRNNError(f"this is not the data the run recorded ({what}); {advice}")
