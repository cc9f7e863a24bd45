"""Characters to ids and back, in a fixed order that survives save and load.

The model's units are decided here and nowhere else (:class:`Units`): what a
text becomes before it is encoded (Unicode NFC, and in ``jamo`` units every
Hangul syllable split into its conjoining jamo), and how the model's symbols
are composed back into the text a user sees. In ``jamo3`` units a symbol is a
character again, and the vocabulary holds every Hangul syllable, after the
other characters: the model (:mod:`charrnn.core.jamo3`) reads and writes each
syllable as its jamo.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..common.errors import CharRNNError

BOUNDARY = "\n"

UnknownPolicy = Literal["error", "skip"]

# No change, then the four Unicode normalisation forms: what a hint tries.
_Form = Literal["NFC", "NFD", "NFKC", "NFKD"]
_FORMS: tuple[_Form | None, ...] = (None, "NFC", "NFD", "NFKC", "NFKD")

UNITS = ("char", "jamo", "jamo3")
NORMALIZATIONS = ("nfc", "none")

# Hangul syllables and conjoining jamo (The Unicode Standard, section 3.12): syllable
# S_BASE + (l * V_COUNT + v) * T_COUNT + t is initial l, medial v and final t (t = 0: none).
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT  # 11,172
INITIALS = "".join(chr(L_BASE + i) for i in range(L_COUNT))
MEDIALS = "".join(chr(V_BASE + i) for i in range(V_COUNT))
FINALS = "".join(chr(T_BASE + i) for i in range(1, T_COUNT))
COMPAT_JAMO = range(0x3131, 0x318F)  # ㄱ..ㆎ: letters of their own, never part of a syllable
_SYLLABLE = re.compile(f"([{INITIALS}])([{MEDIALS}])([{FINALS}])?")
ALL_SYLLABLES = tuple(chr(S_BASE + s) for s in range(S_COUNT))


def is_syllable(c: str) -> bool:
    """Whether the character ``c`` is a precomposed Hangul syllable (U+AC00-U+D7A3)."""
    return S_BASE <= ord(c) < S_BASE + S_COUNT


def decompose_hangul(text: str) -> str:
    """Every Hangul syllable of ``text`` as its two or three conjoining jamo; the rest as is.

    Vectorised over code points: no Python loop per character.
    """
    # surrogatepass: a lone surrogate (bytes read with errors="surrogateescape") passes
    # through as itself, for the vocabulary to name as unknown, as other units do.
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cps = cps.astype(np.int64)
    s = cps - S_BASE
    syl = (s >= 0) & (s < S_COUNT)
    if not syl.any():
        return text
    t = s % T_COUNT
    out = np.stack(  # (N, 3): initial (or the character itself), medial, final
        [
            np.where(syl, L_BASE + s // (V_COUNT * T_COUNT), cps),
            V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT,
            T_BASE + t,
        ],
        axis=1,
    )
    keep = np.stack([np.ones_like(syl), syl, syl & (t != 0)], axis=1)  # (N, 3)
    return out[keep].astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def compose_hangul(symbols: str) -> str:
    """Every initial + medial (+ final) jamo run as its syllable; everything else as is."""

    def syllable(m: re.Match[str]) -> str:
        l, v = ord(m[1]) - L_BASE, ord(m[2]) - V_BASE
        t = ord(m[3]) - T_BASE if m[3] else 0
        return chr(S_BASE + (l * V_COUNT + v) * T_COUNT + t)

    return _SYLLABLE.sub(syllable, symbols)


@dataclass(frozen=True)
class Units:
    """What the model reads: characters, or Hangul jamo composed back on output.

    Parameters
    ----------
    kind : {"char", "jamo", "jamo3"}
        ``char``: one symbol per character (code point). ``jamo``: every Hangul
        syllable is read as its initial, medial and optional final conjoining
        jamo (U+1100-U+11FF), 19 + 21 + 27 symbols in place of up to 11,172
        syllables; every other character is one symbol as in ``char``.
        ``jamo3``: one symbol per character, as in ``char``, with every one of
        the 11,172 syllables in the vocabulary; the model reads a syllable as
        the sum of its jamo's input columns and predicts it jamo by jamo
        (:mod:`charrnn.core.jamo3`), so it steps once per syllable and shares
        what it learns about a jamo across syllables.
    normalize : {"nfc", "none"}
        ``nfc`` composes text to Unicode NFC first, so a word stored decomposed
        (NFD or NFKD) and the same word typed normally are one string. ``none``
        keeps text as it is (``char`` units only: jamo units always read NFC).
    """

    kind: str = "char"
    normalize: str = "nfc"

    def __post_init__(self) -> None:
        if self.kind not in UNITS:
            raise CharRNNError(
                f"units must be one of {', '.join(UNITS)}; got {self.kind!r}", params=("units",)
            )
        if self.normalize not in NORMALIZATIONS:
            raise CharRNNError(
                f"normalize must be one of {', '.join(NORMALIZATIONS)}; got {self.normalize!r}",
                params=("normalize",),
            )
        if self.kind != "char" and self.normalize != "nfc":
            raise CharRNNError(
                f"units={self.kind!r} reads text as NFC (a syllable typed as loose jamo is "
                "composed first); normalize='none' applies to units='char' only",
                params=("units", "normalize"),
            )

    @property
    def splits_chars(self) -> bool:
        """Whether a character may be several symbols (a syllable's jamo, in ``jamo`` units).

        Where it is not (``char``, ``jamo3``), losses per symbol are losses per character.
        """
        return self.kind == "jamo"

    @classmethod
    def of(cls, config: object) -> Units:
        """The units a :class:`charrnn.Config` asks for (``units`` and ``normalize`` fields)."""
        return cls(getattr(config, "units", "char"), getattr(config, "normalize", "nfc"))

    def read(self, text: str) -> str:
        """A text as the model's symbols: normalised, and in jamo units decomposed.

        Idempotent: reading symbols again gives the same symbols.
        """
        if self.normalize == "nfc" and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return decompose_hangul(text) if self.kind == "jamo" else text

    def read_chunks(self, chunks: Iterable[str]) -> Iterator[str]:
        """:meth:`read` over a text given in chunks, the way a streamed file is read.

        A chunk is cut before its last ASCII character and the rest goes with
        the next one: an ASCII character never joins the one before it, and no
        mark moves across it, so the result is the same as reading the whole
        text at once, with one chunk (and its unfinished tail) in memory.
        """
        held = ""
        for chunk in chunks:
            chunk = held + chunk
            cut = len(chunk) - 1
            while cut >= 0 and chunk[cut] > "\x7f":  # short: text has spaces and line ends
                cut -= 1
            if cut <= 0:
                held = chunk
                continue
            held = chunk[cut:]
            yield self.read(chunk[:cut])
        if held:
            yield self.read(held)

    def show(self, symbols: str) -> str:
        """The model's symbols as text for a user: jamo composed into syllables."""
        return compose_hangul(symbols) if self.kind == "jamo" else symbols


class Vocab:
    """A sorted character vocabulary with ``'\\n'`` as the boundary token.

    Ids follow Unicode code-point order, so the same characters always give the
    same ids (the tutorial's ``list(set(...))`` did not). Characters are code
    points: Hangul, emoji and accented letters are single characters.

    Parameters
    ----------
    chars : iterable of str
        The characters to include; ``'\\n'`` is added if absent. In jamo units
        these are the model's symbols (jamo, not syllables).
    units : Units, optional
        How text becomes symbols and back (default: characters, NFC).
    """

    def __init__(self, chars: Iterable[str], units: Units | None = None):
        self.units = units if units is not None else Units()
        chars = set(chars)
        chars.add(BOUNDARY)
        for c in chars:
            if len(c) != 1:
                raise CharRNNError(f"vocabulary entries must be single characters, got {c!r}")
        self.itos: list[str] = sorted(chars)
        if self.units.kind == "jamo3":
            # The other characters first, then every syllable in code-point order: a
            # syllable's id is n_other + its index, whatever the corpus held.
            self.itos = [c for c in self.itos if not is_syllable(c)] + list(ALL_SYLLABLES)
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        # A code point -> id table encodes a whole text with one gather; -1 marks
        # characters outside the vocabulary.
        codepoints = np.array([ord(c) for c in self.itos], dtype=np.int64)
        self._lut = np.full(int(codepoints.max()) + 1, -1, dtype=np.int32)
        self._lut[codepoints] = np.arange(len(codepoints), dtype=np.int32)

    @classmethod
    def from_text(cls, text: str, units: Units | None = None) -> Vocab:
        """Build the vocabulary of every symbol of ``text`` read in ``units`` (plus ``'\\n'``)."""
        units = units if units is not None else Units()
        return cls(set(units.read(text)), units)

    @property
    def size(self) -> int:
        """Number of symbols, V."""
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos and self.units == other.units

    def __repr__(self) -> str:
        units = "" if self.units == Units() else f", units={self.units.kind!r}"
        return f"Vocab(size={self.size}{units})"

    @property
    def n_other(self) -> int:
        """Symbols that are not Hangul syllables, in ``jamo3`` units: they come first."""
        return self.size - S_COUNT if self.units.kind == "jamo3" else self.size

    @property
    def boundary_id(self) -> int:
        """Id of ``'\\n'``."""
        return self.stoi[BOUNDARY]

    # ------------------------------------------------------------------ units

    def to_symbols(self, text: str) -> str:
        """``text`` as the model reads it (see :meth:`Units.read`)."""
        return self.units.read(text)

    def to_text(self, symbols: str) -> str:
        """The model's symbols as a user reads them (see :meth:`Units.show`)."""
        return self.units.show(symbols)

    def char_starts(self, ids: np.ndarray) -> np.ndarray:
        """Bool array like ``ids``: True where a symbol begins a character of the shown text.

        In char units every symbol does. In jamo units a medial that follows an
        initial, and a final that follows such a medial, continue a syllable;
        this is the rule :func:`compose_hangul` composes by, so the count of
        True entries is the length of the composed text.
        """
        ids = np.asarray(ids)
        starts = np.ones(ids.shape, dtype=bool)
        if not self.units.splits_chars or ids.size == 0:
            return starts
        is_l, is_v, is_t = (
            np.array([c in group for c in self.itos], dtype=bool)
            for group in (INITIALS, MEDIALS, FINALS)
        )
        joined_v = np.zeros(ids.shape, dtype=bool)
        joined_v[1:] = is_v[ids[1:]] & is_l[ids[:-1]]
        joined_t = np.zeros(ids.shape, dtype=bool)
        joined_t[1:] = is_t[ids[1:]] & joined_v[:-1]
        return ~(joined_v | joined_t)

    def text_length(self, symbols: str) -> int:
        """Characters the user sees for ``symbols`` (syllables count once)."""
        return len(self.to_text(symbols))

    # ------------------------------------------------------------------ checking

    def unknown(self, text: str) -> list[str]:
        """Symbols of ``text`` (read in the model's units) not in the vocabulary, sorted, once."""
        return sorted(set(self.to_symbols(text)) - self.stoi.keys())

    def clean(self, text: str, unknown: UnknownPolicy = "error") -> str:
        """Return ``text`` (normalised) with unknown symbols removed, or raise naming them.

        Parameters
        ----------
        text : str
        unknown : {"error", "skip"}
            ``"error"`` raises :class:`CharRNNError`; ``"skip"`` drops them.
        """
        symbols = self.to_symbols(text)
        bad = sorted(set(symbols) - self.stoi.keys())
        if not bad:
            return self.to_text(symbols)
        if unknown == "skip":
            return self.to_text("".join(c for c in symbols if c in self.stoi))
        raise self._unknown_error(bad, text)

    def _unknown_error(self, bad: list[str], text: str | None = None) -> CharRNNError:
        shown = ", ".join(repr(c) + self._variant_hint(c) for c in bad[:20])
        shown += " ..." if len(bad) > 20 else ""
        whole = None
        if text is not None:
            whole = next(
                (f for f in _FORMS if f and not self.unknown(unicodedata.normalize(f, text))),
                None,
            )
        also = f"; in Unicode {whole} form the whole text is known" if whole else ""
        return CharRNNError(
            f"{len(bad)} character(s) not in the model's vocabulary: {shown}{also}; "
            "remove them or pass unknown='skip' to drop them" + self._korean_hint(bad),
            params=("unknown",),
        )

    def known_variants(self, c: str) -> list[str]:
        """Strings the model knows that differ from ``c`` only by case or Unicode form.

        ``'A'`` gives ``['a']`` for a lower-case model, a precomposed ``'é'``
        gives ``['é']`` (decomposed) for a model trained on decomposed text,
        a full-width ``'Ａ'`` gives ``['A']``.
        """
        out: list[str] = []
        seen = {self.to_symbols(c)}  # strings the model reads alike are one variant
        for form in _FORMS:
            base = unicodedata.normalize(form, c) if form else c
            for v in (base, base.lower(), base.upper(), base.casefold()):
                symbols = self.to_symbols(v)
                if v and symbols not in seen and not self.unknown(v):
                    seen.add(symbols)
                    out.append(v)
        return out

    def _variant_hint(self, c: str) -> str:
        """`` (the model knows 'a')`` for ``'A'``, or nothing."""
        known = self.known_variants(c)
        if not known:
            return ""
        return " (the model knows " + " and ".join(repr(v) for v in known[:3]) + ")"

    def _korean_hint(self, bad: list[str]) -> str:
        """Why Korean text may hold characters the model lacks, when that is the reason."""
        compat = [c for c in bad if ord(c) in COMPAT_JAMO]
        if compat:
            return (
                f". {compat[0]!r} (U+{ord(compat[0]):04X}) is a compatibility jamo, a letter of "
                "its own that never joins a syllable; type whole syllables (가, 각) instead"
            )
        jamo_vocab = any("\u1100" <= c <= "\u11ff" for c in self.itos)
        if (
            self.units.kind == "char"
            and jamo_vocab
            and any(S_BASE <= ord(c) < S_BASE + S_COUNT for c in bad)
        ):
            return (
                ". The model was trained on decomposed Hangul (normalize='none'); retrain "
                "with normalize='nfc' (the default) or units='jamo'"
            )
        return ""

    # ------------------------------------------------------------------ ids

    def encode(
        self, text: str, dtype: npt.DTypeLike = np.int64, *, symbols: bool = False
    ) -> np.ndarray:
        """Encode ``text`` to an id array, vectorised (no per-character Python loop).

        Parameters
        ----------
        text : str
            Text as a user gives it; read in the model's units first.
        dtype : numpy integer type
        symbols : bool
            ``text`` is already the model's symbols (skip the reading).

        Raises
        ------
        CharRNNError
            If ``text`` holds characters outside the vocabulary.
        """
        if not text:
            return np.zeros(0, dtype=dtype)
        if not symbols:
            text = self.to_symbols(text)
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if int(cps.max()) >= len(self._lut) or int(self._lut[cps].min()) < 0:
            raise self._unknown_error(sorted(set(text) - self.stoi.keys()))
        return self._lut[cps].astype(dtype, copy=False)

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into the model's symbols (:meth:`to_text` composes them)."""
        return "".join(self.itos[int(i)] for i in ids)

    def one_hot(self, ix: int) -> np.ndarray:
        """The tutorial's one-hot column vector, shape (V, 1), for the reference path."""
        v = np.zeros((self.size, 1))
        v[ix] = 1.0
        return v

    def to_json(self) -> str:
        """Serialise as a JSON list of symbols (in id order); the units live in the config."""
        return json.dumps(self.itos, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str, units: Units | None = None) -> Vocab:
        """Inverse of :meth:`to_json`; refuses lists that are not the units' order of characters."""
        try:
            items = json.loads(s)
        except json.JSONDecodeError as exc:
            raise CharRNNError(f"vocabulary is not valid JSON ({exc})") from exc
        if (
            not isinstance(items, list)
            or not all(isinstance(c, str) and len(c) == 1 for c in items)
            or len(set(items)) != len(items)
            or BOUNDARY not in items
        ):
            raise CharRNNError("vocabulary must be a sorted JSON list of distinct characters")
        vocab = cls(items, units)
        if vocab.itos != items:  # code-point order; in jamo3 units, every syllable after the rest
            raise CharRNNError("vocabulary must be a sorted JSON list of distinct characters")
        return vocab
