"""Named training recipes (``charrnn train DATA --preset NAME``).

Each preset is a set of :class:`charrnn.Config` fields (how often to log and
validate among them); flags given on the command line override it. A preset is a
recipe for a wall-clock budget, not a step count: it names its minutes
(``time_budget``), and the run plans the steps that fit them on the machine at
hand (:mod:`charrnn.training.budget`), so ``--time-budget M`` scales it to M
minutes and ``--steps N`` caps it. The figures each one reaches, and the
commands that measure them, are in docs/recipes.md.
"""

from __future__ import annotations

from typing import Any

from ..common.errors import CharRNNError

PRESETS: dict[str, dict[str, Any]] = {
    # names.txt (makemore's split: 1,000 held-out names): two tanh layers of 256,
    # dropout between them and before the output, cosine-decayed Adam with
    # decoupled weight decay; the model is the moving average of the parameters.
    "names": {
        "config": {
            "mode": "words",
            "hidden": 256,
            "layers": 2,
            "dropout": 0.15,
            "init": "scaled",
            "batch_size": 128,
            "time_budget": 10,
            "optimizer": "adam",
            "lr": 0.004,
            "schedule": "cosine",
            "warmup": 200,
            "weight_decay": 0.1,
            "ema": 0.999,
            "clip": 1.0,
            "clip_mode": "norm",
            "val_fraction": 0.1,
            "val_max": 1000,
            "log_every": 1000,
        },
    },
    # tinyshakespeare (last 10% held out): limited by overfitting, so dropout
    # between two layers and before the output, and weight decay; small batches
    # give more updates per second of training than large ones; the model is the
    # moving average of the parameters.
    "shakespeare": {
        "config": {
            "mode": "text",
            "hidden": 384,
            "layers": 2,
            "dropout": 0.3,
            "init": "scaled",
            "batch_size": 32,
            "seq_len": 64,
            "time_budget": 30,
            "optimizer": "adam",
            "lr": 0.002,
            "schedule": "cosine",
            "warmup": 100,
            "weight_decay": 0.05,
            "ema": 0.999,
            "clip": 1.0,
            "clip_mode": "norm",
            "val_fraction": 0.1,
            "log_every": 1000,
        },
    },
    # The same corpora with the GRU (charrnn/core/cells/gru.py): the same recipes, with H chosen
    # so a run takes about as long as the tanh preset's. In short probes the GRU
    # learnt faster than an LSTM of about its size on both corpora.
    # At 10 minutes the compiled GRU of 192 reached its best held-out loss after 2.3
    # (1.906) and then overfit (docs/recipes.md): past 5 minutes it is wider, and weight
    # drop on its recurrent weights (with lighter dropout on its outputs) keeps it
    # improving to the end of the budget; up to 5 it is narrower, with weight drop too.
    "names-gru": {
        "scale": [(5, {"hidden": 192, "dropout": 0.15, "weight_drop": 0.3})],
        "config": {
            "mode": "words",
            "cell": "gru",
            "hidden": 256,
            "layers": 2,
            "dropout": 0.2,
            "weight_drop": 0.4,
            "init": "scaled",
            "batch_size": 128,
            "time_budget": 10,
            "optimizer": "adam",
            "lr": 0.004,
            "schedule": "cosine",
            "warmup": 200,
            "weight_decay": 0.1,
            "ema": 0.999,
            "clip": 1.0,
            "clip_mode": "norm",
            "val_fraction": 0.1,
            "val_max": 1000,
            "log_every": 1000,
        },
    },
    # At 30 minutes light weight drop keeps it improving to the end (1.438 against 1.448
    # without, docs/recipes.md); up to 5 minutes a run is short of steps, not overfitting,
    # and weight drop would only slow its learning. Still improving at the end of 30
    # minutes, it is limited by steps: two MPI ranks, one per core, fit 1.37x as many
    # (1.32x from the ranks, the rest from cheaper dropout masks; 1.422 against 1.438),
    # so it asks for them.
    "shakespeare-gru": {
        "scale": [(5, {"weight_drop": 0.0})],
        "ranks": 2,
        "config": {
            "mode": "text",
            "cell": "gru",
            "hidden": 256,
            "layers": 2,
            "dropout": 0.3,
            "weight_drop": 0.1,
            "init": "scaled",
            "batch_size": 32,
            "seq_len": 64,
            "time_budget": 30,
            "optimizer": "adam",
            "lr": 0.002,
            "schedule": "cosine",
            "warmup": 100,
            "weight_decay": 0.05,
            "ema": 0.999,
            "clip": 1.0,
            "clip_mode": "norm",
            "val_fraction": 0.1,
            "log_every": 1000,
        },
    },
    # @ko-nouns (20,000 Korean nouns, 1,000 held out) in names-gru's 5-minute shape.
    # Its 19,000 training nouns are memorised about a minute in under names-gru's
    # regularisers, so these are stronger; so regularised, jamo3 units (one step per
    # syllable) reach a lower held-out loss than jamo and char units at 2 and 5 minutes
    # (level with jamo at 10; docs/korean.md), where lightly regularised they memorised
    # first.
    "korean": {
        "config": {
            "mode": "words",
            "units": "jamo3",
            "cell": "gru",
            "hidden": 192,
            "layers": 2,
            "dropout": 0.5,
            "weight_drop": 0.7,
            "init": "scaled",
            "batch_size": 128,
            "time_budget": 5,
            "optimizer": "adam",
            "lr": 0.004,
            "schedule": "cosine",
            "warmup": 200,
            "weight_decay": 0.1,
            "ema": 0.999,
            "clip": 1.0,
            "clip_mode": "norm",
            "val_fraction": 0.1,
            "val_max": 1000,
            "log_every": 1000,
        },
    },
}


def preset_config(name: str, minutes: float | None = None) -> dict[str, Any]:
    """The Config fields of preset ``name`` for a budget of ``minutes``.

    A preset's ``scale`` rows say how its recipe changes with the budget:
    ``(up_to_minutes, fields)`` in order; a budget takes the fields of the first
    row it is at or under, the preset's own beyond the last. ``None``: the
    preset's own budget and fields.

    Raises
    ------
    CharRNNError
        If there is no such preset.
    """
    p = preset(name)
    config = dict(p["config"])
    if minutes is None:
        return config
    config.update(_scale_row(p, minutes) or {})
    config["time_budget"] = minutes
    return config


def _scale_row(p: dict[str, Any], minutes: float | None) -> dict[str, Any] | None:
    """The fields of the first of preset ``p``'s scale rows that covers ``minutes``, if any."""
    if minutes is None:
        return None
    return next((fields for up_to, fields in p.get("scale", ()) if minutes <= up_to), None)


def scale_line(name: str, minutes: float | None) -> str | None:
    """What the budget changed in preset ``name``'s recipe, for the run's first lines."""
    if minutes is None:
        return None
    own, scaled = preset(name)["config"], preset_config(name, minutes)
    changed = [f"{k} {scaled[k]}" for k in scaled if k != "time_budget" and scaled[k] != own.get(k)]
    if not changed:
        return None
    return f"preset {name} for {minutes:g} minutes: {', '.join(changed)}"


def preset_ranks(name: str, minutes: float | None = None) -> int:
    """The MPI ranks preset ``name``'s recipe for ``minutes`` was measured on.

    The ranks belong to the preset's own recipe: a budget that one of its scale
    rows covers (``minutes`` at or under the row's bound) is a recipe of its own,
    measured on one process.
    """
    p = preset(name)
    return 1 if _scale_row(p, minutes) is not None else p.get("ranks", 1)


def ranks_line(name: str, ranks: int, minutes: float | None = None) -> str | None:
    """A hint when preset ``name`` was measured on more MPI ranks than the run has."""
    want = preset_ranks(name, minutes)
    if ranks >= want:
        return None
    return (
        f"preset {name} is measured on {want} MPI ranks, one per core, which fit more "
        f"steps in its time: mpiexec -n {want} charrnn train ... (pip install 'charrnn[mpi]')"
    )


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
