"""Models for the export tests: random, so every cell, layer count, unit and mode is cheap.

The weights are drawn far from the tutorial's tiny init (and every bias too, the GRU's
candidate bias included), so the distributions are peaked and the recurrence nonlinear:
a mistake in a gate's order or a bias's place moves the log-probabilities by far more
than the tolerances. The recurrent matrices are orthogonal times 0.9, so the recurrence
contracts, as a trained one does: a chaotic one (spectral radius near 2) would make
charrnn's own float32 drift 1e-4 from its float64 over 40 steps, and no exported copy
could be held to 1e-5 of it. Strings are drawn from the vocabulary and shown as a user types them
(jamo composed into syllables); an app reads them back with only the exported vocabulary.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from charrnn import CharRNN, Config
from charrnn.core.model import init_params, param_specs
from charrnn.core.vocab import Units, Vocab
from charrnn.training.checkpoint import Checkpoint

CELLS = ("rnn", "gru", "lstm")
LAYERS = (1, 2, 3)
UNITS = ("char", "jamo")
MODES = ("words", "text")
HIDDEN = 24
N_STRINGS = 1000

EN = "abcdefghijklmnopqrstuvwxyz'"
KO = "가격 가끔 가난 가능 가방 나무 노래 다리 바다 사과 하늘 학교 한글 강물 꽃잎 닭고기"


def random_model(
    cell: str, layers: int, units: str, mode: str, *, dtype: str = "float32", seed: int = 0
) -> CharRNN:
    """A model with random weights, as a loaded checkpoint is (``CharRNN.from_checkpoint``)."""
    rng = np.random.default_rng([seed, layers, *map(ord, cell)])
    text = KO if units == "jamo" else EN
    if mode == "text":
        text += " .,"
    vocab = Vocab.from_text(text, Units(units))
    config = Config(cell=cell, layers=layers, hidden=HIDDEN, units=units, mode=mode, dtype=dtype)
    params = init_params(vocab.size, HIDDEN, rng, layers=layers, init="scaled", cell=cell)
    recurrent = {
        s.name for s in param_specs(vocab.size, HIDDEN, layers, cell) if s.kind == "recurrent"
    }
    for k, v in params.items():
        if k in recurrent:  # orthogonal, shrunk: a contracting recurrence, as trained ones are
            params[k] = (0.9 * v).astype(dtype)
        else:
            params[k] = (v + 0.3 * rng.standard_normal(v.shape)).astype(dtype)
    return CharRNN.from_checkpoint(Checkpoint(config, vocab, params))


def random_strings(model: CharRNN, n: int = N_STRINGS, seed: int = 1) -> list[str]:
    """``n`` strings of 0-12 symbols of the model's vocabulary (1-40 in text mode)."""
    rng = np.random.default_rng(seed)
    vocab = model.vocab_
    symbols = [c for c in vocab.itos if c != "\n"]
    longest = 40 if model.config_.mode == "text" else 12
    least = 1 if model.config_.mode == "text" else 0
    out = []
    for _ in range(n):
        k = int(rng.integers(least, longest + 1))
        out.append(vocab.to_text("".join(rng.choice(symbols, k))))
    return out


# What an app does with the exported vocabulary alone: no charrnn below this line.


def encode(meta: dict, text: str) -> list[int]:
    """``text`` as ids: NFC (unless the units say none), Hangul syllables as jamo (NFD)."""
    units = meta["units"]
    if units["normalize"] == "nfc":
        text = unicodedata.normalize("NFC", text)
    if units["kind"] == "jamo":
        text = "".join(
            unicodedata.normalize("NFD", c) if 0xAC00 <= ord(c) <= 0xD7A3 else c for c in text
        )
    stoi = {c: i for i, c in enumerate(meta["vocab"])}
    return [stoi[c] for c in text]


def decode(meta: dict, ids: list[int]) -> str:
    """Ids back to text: jamo composed into syllables (NFC)."""
    text = "".join(meta["vocab"][i] for i in ids)
    return unicodedata.normalize("NFC", text) if meta["units"]["kind"] == "jamo" else text


def jamo_classes(meta: dict) -> np.ndarray:
    """(V,): 0 initial, 1 medial, 2 final jamo, 3 anything else."""

    ranges = ((0x1100, 0x1112), (0x1161, 0x1175), (0x11A8, 0x11C2))
    codes = np.array([ord(c) for c in meta["vocab"]])
    out = np.full(len(codes), 3)
    for k, (lo, hi) in enumerate(ranges):
        out[(codes >= lo) & (codes <= hi)] = k
    return out


def greedy_mask(meta: dict, last: int, pos: int, max_len: int) -> np.ndarray:
    """Which symbols greedy decoding may take next (``charrnn sample``'s rules).

    Words mode: no boundary right after the boundary at the first step (no empty word).
    Jamo units: whole syllables (after an initial a medial; no medial or final after
    anything but what it may join), no final at the first step (the prefix's last
    syllable stays as typed), no initial at the last (a syllable cut short).
    """
    V = len(meta["vocab"])
    ok = np.ones(V, dtype=bool)
    if meta["mode"] == "words" and pos == 0 and last == meta["boundary_id"]:
        ok[meta["boundary_id"]] = False
    if meta["units"]["kind"] == "jamo":
        cls = jamo_classes(meta)
        before = cls[last]
        if before == 0:
            ok &= cls == 1
        elif before == 1:
            ok &= cls != 1
        else:
            ok &= (cls != 1) & (cls != 2)
        if pos >= max_len - 1:
            ok &= cls != 0
        if pos == 0:
            ok &= cls != 2
    return ok


def matrix(combos, ids):
    """The combinations as pytest params: the whole matrix runs in ``make test-long``, and
    ``make test`` runs one combination per cell, which between them take every layer
    count, both units and both modes (the diagonal: cell i with layers ``LAYERS[i]`` and
    alternating units and modes)."""
    params = []
    for combo, id_ in zip(combos, ids, strict=True):
        i = CELLS.index(combo[0])
        diagonal = {"layers": LAYERS[i % len(LAYERS)], "units": UNITS[i % len(UNITS)]}
        keep = combo[1] == diagonal["layers"] and combo[2] == diagonal["units"]
        if len(combo) > 3:  # with a mode: alternate it the other way round
            keep = keep and combo[3] == MODES[(i + 1) % len(MODES)]
        marks = () if keep else (pytest.mark.long,)
        params.append(pytest.param(*combo, id=id_, marks=marks))
    return params
