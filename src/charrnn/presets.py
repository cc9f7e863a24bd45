"""Named training recipes (``charrnn train DATA --preset NAME``).

Each preset is a set of :class:`charrnn.Config` fields plus how often to log and
validate; flags given on the command line override it. The figures each one
reaches, and the commands that measure them, are in the README's "Results".
"""

from __future__ import annotations

from typing import Any

from .errors import CharRNNError

PRESETS: dict[str, dict[str, Any]] = {
    # names.txt (makemore's split: 1,000 held-out names): two tanh layers of 256,
    # dropout between them and before the output, cosine-decayed Adam.
    "names": {
        "config": {
            "mode": "words", "hidden": 256, "layers": 2, "dropout": 0.25, "init": "scaled",
            "batch_size": 64, "steps": 60000, "optimizer": "adam", "lr": 0.003,
            "schedule": "cosine", "warmup": 200, "clip": 1.0, "clip_mode": "norm",
            "val_fraction": 0.1, "val_max": 1000,
        },
        "log_every": 1000,
    },
    # tinyshakespeare (last 10% held out): limited by overfitting, so dropout and
    # weight decay matter more than size.
    "shakespeare": {
        "config": {
            "mode": "text", "hidden": 512, "layers": 1, "dropout": 0.25, "init": "scaled",
            "batch_size": 64, "seq_len": 128, "steps": 8000, "optimizer": "adam", "lr": 0.002,
            "schedule": "cosine", "warmup": 200, "weight_decay": 0.01, "clip": 1.0,
            "clip_mode": "norm", "val_fraction": 0.1,
        },
        "log_every": 250,
    },
}  # fmt: skip


def preset(name: str) -> dict[str, Any]:
    """The preset called ``name``.

    Raises
    ------
    CharRNNError
        If there is no such preset.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise CharRNNError(f"no preset {name!r}; presets: {', '.join(PRESETS)}") from None
