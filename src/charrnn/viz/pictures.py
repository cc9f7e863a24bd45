"""``charrnn viz --png``: the activation heatmap and the influence shading, drawn by matplotlib.

matplotlib is an optional dependency (``pip install 'charrnn[plot]'``),
imported only here, with the non-interactive Agg backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..common.files import atomic_write
from ..common.optional import pyplot
from ..generation.views import influence, read

MAX_DRAWN = 400  # characters a picture shows (the first ones)


def _shown(c: str) -> str:
    return {"\n": "\u23ce", " ": "\u2423", "$": r"\$"}.get(c, c)


def plot_views(model: Any, text: str, stem: str) -> list[str]:
    """Write ``STEM-activations.png`` and ``STEM-influence.png``; return their paths.

    The heatmap shows every unit of every layer over the first
    :data:`MAX_DRAWN` characters; the influence picture shows, for each of
    them (rows), how much each earlier character (columns) mattered to its
    prediction, as a lower-triangular matrix.
    """
    plt = pyplot(what="--png", extra="plot")
    mode, cell = model.config_.mode, model.config_.cell
    r = read(model.params_, model.vocab_, text, mode=mode, cell=cell)
    n = min(len(r.text), MAX_DRAWN)
    if n == 0:
        raise CharRNNError("the text is empty: there is nothing to draw")
    chars = [_shown(c) for c in r.text[:n]]
    paths = [f"{stem}-activations.png", f"{stem}-influence.png"]

    L = len(r.activations)
    fig, axes = plt.subplots(L, 1, figsize=(max(6, n * 0.16), 2 + 2.2 * L), squeeze=False)
    for l, ax in enumerate(axes[:, 0]):
        ax.imshow(
            r.activations[l][:n].T,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_ylabel(f"layer {l + 1} unit")
        ax.set_xticks(range(n))
        ax.set_xticklabels(chars, fontsize=7, family="monospace")
    axes[0, 0].set_title("hidden units after each character (red +1, blue -1)")
    _save(fig, plt, paths[0])

    # Full-history influence for the drawn characters, as a lower-triangular matrix.
    window = min(n, 512)
    m = influence(
        model.params_,
        model.vocab_,
        text,
        mode=mode,
        window=window,
        tokens=list(range(n)),
        cell=cell,
    )
    full = np.full((n, n + 1), np.nan)  # row i: inputs 0..i ('\n' + text[:i])
    for i in range(n):
        k = min(i + 1, window)
        full[i, i + 1 - k : i + 1] = m[i, window - k :]
    full /= np.nanmax(full, axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(max(5, n * 0.16), max(4, n * 0.16)))
    ax.imshow(full, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n + 1))
    ax.set_xticklabels(["\u23ce", *chars], fontsize=7, family="monospace")
    ax.set_yticks(range(n))
    ax.set_yticklabels(chars, fontsize=7, family="monospace")
    ax.set_xlabel("earlier input")
    ax.set_ylabel("predicted character")
    ax.set_title("influence of earlier inputs (rows: predictions)", fontsize=9)
    _save(fig, plt, paths[1])
    return paths


def _save(fig: Any, plt: Any, path: str) -> None:
    try:
        fig.tight_layout()
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=80)
    finally:
        plt.close(fig)
