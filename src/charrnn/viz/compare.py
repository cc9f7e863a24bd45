"""Side by side: several models read one text, each column with its own model.

Models compared may differ in cell, size, training rule, vocabulary and units.
Every column reads the same shared text (:func:`charrnn.generation.views.align`):
a character the model cannot read is left out of what it reads and marked in
its column, never an error. Each token carries the index of the shared
character it belongs to (``src``), so that the page can line the columns up,
and a click on a character selects it in every column.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..generation.views import Alignment, align, reach, read
from .page import REACH_WINDOW, STATIC_REACH, describe

COMPARE_TOP = 3  # next characters kept per token in a column
MAX_MODELS = 3  # columns of a comparison


def _aligned(model: Any, text: str) -> Alignment:
    return align(model.vocab_, text, model.config_.mode)


def _check(a: Alignment, n_tokens: int) -> None:
    if n_tokens != len(a.src):  # the text's characters and the reading disagree
        raise CharRNNError(
            "this text cannot be lined up character by character with every model (a "
            "combining mark after a character one model cannot read?); remove that character"
        )


def _g(p: float) -> float:
    return float(f"{p:.6g}")  # six significant digits: the page prints three


def column(model: Any, name: str, text: str) -> dict[str, Any]:
    """One model's column of a comparison: its reading of ``text``, lined up with the text.

    Returns
    -------
    dict
        ``name``, ``model`` (one line about it), ``mode``, ``tokens`` (the symbols
        read), ``probs``, ``top`` (the likeliest next symbols after each token, with
        their probabilities), ``src`` (each token's character in the shared text),
        ``unreadable`` (characters left out), ``unknown`` (those characters, once each),
        ``loss`` (mean nats per character read, None when nothing is read) and ``chars``
        (characters read).
    """
    cfg = model.config_
    a = _aligned(model, text)
    r = read(model.params_, model.vocab_, a.readable, mode=cfg.mode, top=COMPARE_TOP, cell=cfg.cell)
    _check(a, len(r.text))
    itos = model.vocab_.itos
    chars = len(set(a.src.tolist()))
    nll = -np.log(np.maximum(r.probs, 1e-300))
    return {
        "name": name,
        "model": describe(model),
        "mode": cfg.mode,
        "tokens": list(r.text),
        "probs": [_g(p) for p in r.probs],
        "top": [
            [[itos[int(i)], round(float(p), 4)] for i, p in zip(ids, ps, strict=True)]
            for ids, ps in zip(r.top_ids, r.top_probs, strict=True)
        ],
        "src": a.src.tolist(),
        "unreadable": a.unreadable,
        "unknown": sorted({a.shown[k] for k in a.unreadable})[:50],
        "loss": float(nll.sum() / chars) if chars else None,
        "chars": chars,
    }


def compare(models: list[Any], names: list[str], text: str) -> dict[str, Any]:
    """Every model's column for ``text`` (see :func:`column`), and the shared text."""
    return {
        "text": unicodedata.normalize("NFC", text.replace("\r\n", "\n")),
        "columns": [column(m, n, text) for m, n in zip(models, names, strict=True)],
    }


def compare_reach(model: Any, text: str, at: int) -> dict[str, Any]:
    """The reach view of one column at character ``at`` of the shared text.

    The token differentiated is the first the model reads for that character (a
    syllable's initial, in jamo units). A character the model cannot read has no
    reach (``index`` None, and ``why``).
    """
    cfg = model.config_
    a = _aligned(model, text)
    if not 0 <= at <= len(a.shown):
        raise CharRNNError(f"at must be between 0 and {len(a.shown)}: the text's characters")
    hits = np.flatnonzero(a.src == at)
    if not len(hits):
        why = "this model cannot read the character" if at in a.unreadable else "no token here"
        return {"index": None, "reach": None, "why": why}
    index = int(hits[0])
    r = reach(
        model.params_,
        model.vocab_,
        a.readable,
        index,
        mode=cfg.mode,
        window=REACH_WINDOW,
        cell=cfg.cell,
    )
    rows = [[None if math.isnan(v) else float(v) for v in row] for row in r]
    return {"index": index, "reach": rows, "why": None}


def static_compare(models: list[Any], names: list[str], text: str) -> dict[str, Any]:
    """:func:`compare` for the self-contained export, with every character's reach in every
    column precomputed (``reach[at][column]``) when the text has at most
    :data:`~charrnn.viz.page.STATIC_REACH` characters (the export has no server to ask)."""
    data = compare(models, names, text)
    n = len(data["text"])
    if n <= STATIC_REACH:
        data["reach"] = [[compare_reach(m, text, at) for m in models] for at in range(n + 1)]
    return data
