"""``charrnn plot``: training curves from a run's metrics log, as a PNG.

matplotlib is an optional dependency (``pip install 'charrnn[plot]'``),
imported only here, with the non-interactive Agg backend.
"""

from __future__ import annotations

import math
from typing import Any

from ..common.errors import CharRNNError
from ..common.files import atomic_write
from ..common.optional import pyplot


def plot_metrics(
    records: list[dict[str, Any]], out_path: str, title: str = "", val_label: str = "validation"
) -> None:
    """Draw train and validation loss against steps and against wall time.

    Parameters
    ----------
    records : list of dict
        Lines of ``metrics.jsonl`` (``step``, ``train_loss``, ``val_loss``, ``wall_time``).
    out_path : str
        Where to write the PNG (atomically).
    title : str
    val_label : str
        Legend of the validation curve.
    """
    plt = pyplot(what="charrnn plot", extra="plot")
    if not records:
        raise CharRNNError(
            "the metrics log is empty: train for at least log_every steps", params=("log_every",)
        )
    steps = [r["step"] for r in records]
    wall = [r.get("wall_time", r.get("elapsed", math.nan)) / 60 for r in records]
    train = [r["train_loss"] for r in records]
    val_pts = [
        (r["step"], w, r["val_loss"])
        for r, w in zip(records, wall, strict=True)
        if r.get("val_loss") is not None
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, xs, xlabel, vi in ((axes[0], steps, "step", 0), (axes[1], wall, "minutes", 1)):
        ax.plot(xs, train, label="train", color="tab:blue", lw=1.2)
        if val_pts:
            ax.plot(
                [p[vi] for p in val_pts],
                [p[2] for p in val_pts],
                label=val_label,
                color="tab:orange",
                lw=1.5,
            )
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("loss (nats/char)")
    axes[0].legend()
    if val_pts:
        best = min(val_pts, key=lambda p: p[2])
        axes[0].annotate(
            f"best {best[2]:.3f}",
            (best[0], best[2]),
            textcoords="offset points",
            xytext=(0, 12),
            ha="center",
            fontsize=8,
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        with atomic_write(out_path) as f:
            fig.savefig(f, format="png", dpi=80)
    finally:
        plt.close(fig)
