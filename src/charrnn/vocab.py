"""Characters to ids and back, in a fixed order that survives save and load."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from typing import Literal

import numpy as np

from .errors import CharRNNError

BOUNDARY = "\n"

UnknownPolicy = Literal["error", "skip"]

# No change, then the four Unicode normalisation forms: what a hint tries.
_FORMS = ("", "NFC", "NFD", "NFKC", "NFKD")


class Vocab:
    """A sorted character vocabulary with ``'\\n'`` as the boundary token.

    Ids follow Unicode code-point order, so the same characters always give the
    same ids (the tutorial's ``list(set(...))`` did not). Characters are code
    points: Hangul, emoji and accented letters are single characters.

    Parameters
    ----------
    chars : iterable of str
        The characters to include; ``'\\n'`` is added if absent.
    """

    def __init__(self, chars: Iterable[str]):
        chars = set(chars)
        chars.add(BOUNDARY)
        for c in chars:
            if len(c) != 1:
                raise CharRNNError(f"vocabulary entries must be single characters, got {c!r}")
        self.itos: list[str] = sorted(chars)
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        # A code point -> id table encodes a whole text with one gather; -1 marks
        # characters outside the vocabulary.
        codepoints = np.array([ord(c) for c in self.itos], dtype=np.int64)
        self._lut = np.full(int(codepoints.max()) + 1, -1, dtype=np.int32)
        self._lut[codepoints] = np.arange(len(codepoints), dtype=np.int32)

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """Build the vocabulary of every character in ``text`` (plus ``'\\n'``)."""
        return cls(set(text))

    @property
    def size(self) -> int:
        """Number of characters, V."""
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab(size={self.size})"

    @property
    def boundary_id(self) -> int:
        """Id of ``'\\n'``."""
        return self.stoi[BOUNDARY]

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` not in the vocabulary, sorted, each once."""
        return sorted(set(text) - self.stoi.keys())

    def clean(self, text: str, unknown: UnknownPolicy = "error") -> str:
        """Return ``text`` with unknown characters removed, or raise naming them.

        Parameters
        ----------
        text : str
        unknown : {"error", "skip"}
            ``"error"`` raises :class:`CharRNNError`; ``"skip"`` drops them.
        """
        bad = self.unknown(text)
        if not bad:
            return text
        if unknown == "skip":
            return "".join(c for c in text if c in self.stoi)
        shown = ", ".join(repr(c) + self._hint(c) for c in bad[:20])
        shown += " ..." if len(bad) > 20 else ""
        whole = next(
            (f for f in _FORMS if f and not self.unknown(unicodedata.normalize(f, text))), None
        )
        also = f"; in Unicode {whole} form the whole text is known" if whole else ""
        raise CharRNNError(
            f"{len(bad)} character(s) not in the model's vocabulary: {shown}{also}; "
            "remove them or pass unknown='skip' to drop them",
            params=("unknown",),
        )

    def known_variants(self, c: str) -> list[str]:
        """Strings the model knows that differ from ``c`` only by case or Unicode form.

        ``'A'`` gives ``['a']`` for a lower-case model, a precomposed ``'é'``
        gives ``['é']`` (decomposed) for a model trained on decomposed text,
        a full-width ``'Ａ'`` gives ``['A']``.
        """
        out: list[str] = []
        for form in _FORMS:
            base = unicodedata.normalize(form, c) if form else c
            for v in (base, base.lower(), base.upper(), base.casefold()):
                if v and v != c and v not in out and not self.unknown(v):
                    out.append(v)
        return out

    def _hint(self, c: str) -> str:
        """`` (the model knows 'a')`` for ``'A'``, or nothing."""
        known = self.known_variants(c)
        if not known:
            return ""
        return " (the model knows " + " and ".join(repr(v) for v in known[:3]) + ")"

    def encode(self, text: str, dtype: type = np.int64) -> np.ndarray:
        """Encode ``text`` to an id array, vectorised (no per-character Python loop).

        Raises
        ------
        CharRNNError
            If ``text`` holds characters outside the vocabulary.
        """
        if not text:
            return np.zeros(0, dtype=dtype)
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if int(cps.max()) >= len(self._lut):
            self.clean(text, "error")  # a character beyond the table: raises naming it
        ids = self._lut[cps]
        if int(ids.min()) < 0:
            self.clean(text, "error")
        return ids.astype(dtype, copy=False)

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into a string."""
        return "".join(self.itos[int(i)] for i in ids)

    def one_hot(self, ix: int) -> np.ndarray:
        """The tutorial's one-hot column vector, shape (V, 1), for the reference path."""
        v = np.zeros((self.size, 1))
        v[ix] = 1.0
        return v

    def to_json(self) -> str:
        """Serialise as a JSON list of characters (in id order)."""
        return json.dumps(self.itos, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> Vocab:
        """Inverse of :meth:`to_json`; refuses lists that are not sorted characters."""
        try:
            items = json.loads(s)
        except json.JSONDecodeError as exc:
            raise CharRNNError(f"vocabulary is not valid JSON ({exc})") from exc
        if (
            not isinstance(items, list)
            or not all(isinstance(c, str) and len(c) == 1 for c in items)
            or items != sorted(set(items))
            or BOUNDARY not in items
        ):
            raise CharRNNError("vocabulary must be a sorted JSON list of distinct characters")
        return cls(items)
