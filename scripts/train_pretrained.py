"""Train the models shipped with the package (``src/charrnn/training/models/*.npz``).

    python scripts/train_pretrained.py                    # all three, into the package
    python scripts/train_pretrained.py names --out DIR    # one (or more), somewhere else

Each model is a fixed recipe (:data:`RECIPES`): a fixed number of steps, not a time
budget, a fixed seed, the numpy kernels and one BLAS thread. Training in charrnn has no
stateful randomness (batch order and dropout masks are functions of the seed and the
step), so a rerun on the same machine, numpy and BLAS writes the same weights bit for bit
(``tests/api/test_pretrained.py`` checks it for ``@names``); another BLAS may round
differently and end a little apart. So the script records beside the models, in
``made_with.json``, what decides their last bits besides the recipe: numpy's version and
the SIMD extensions it found, and the BLAS with the kernel it chose (threadpoolctl's
``architecture``, which ``OPENBLAS_CORETYPE`` overrides). The test asks for equal bits
only where those match, and for weights a rounding apart elsewhere.

- ``names``: the built-in ``@names`` (words mode).
- ``ko``: the built-in ``@ko-nouns`` read as Hangul jamo (words mode, ``units="jamo"``).
- ``shakespeare``: tinyshakespeare.txt (text mode). There is no built-in corpus for it:
  the file is read from ``../shared/data/tinyshakespeare.txt`` beside the repository (or
  ``--shakespeare FILE``), and is never copied into the package; only the weights ship.
  Without the file this model is skipped with a notice.

Each file is a model-only checkpoint (no optimiser state, as ``CharRNN.save`` writes),
with the run's state: its held-out loss and the data it read, so that ``charrnn eval
@names`` finds the held-out split again. The wall clock of training is set to zero (it
is not a property of the weights), and the Shakespeare file is recorded by its name
alone, ``tinyshakespeare.txt``, not by where it lay on the machine that trained it.
The script prints, for each model, its size, its held-out loss and a few samples.
About four minutes for all three on two busy cores.
"""

from __future__ import annotations

import os

# One BLAS thread, set before numpy loads: a matmul split over threads may sum in
# another order, and the weights would then depend on the machine's core count.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from charrnn import CharRNN  # noqa: E402
from charrnn.training import checkpoint  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "src" / "charrnn" / "training" / "models"
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
SHAKESPEARE_NAME = "tinyshakespeare.txt"  # what the shipped model records as its data

# A one-layer GRU each: small enough that the three files together add well under a
# megabyte to the wheel, and trained for a few minutes at most on two cores. Regularised
# (dropout, weight decay, a moving average of the parameters) because each corpus is
# small for its model.
_COMMON: dict[str, Any] = {
    "cell": "gru",
    "layers": 1,
    "init": "scaled",
    "optimizer": "adam",
    "schedule": "cosine",
    "clip": 1.0,
    "clip_mode": "norm",
    "val_fraction": 0.1,
    "dtype": "float32",
    "kernels": "numpy",  # the compiled kernels agree to rounding, not bit for bit
    "seed": 0,
}
RECIPES: dict[str, dict[str, Any]] = {
    "names": {
        "data": "@names",
        "config": {
            **_COMMON,
            "mode": "words",
            "hidden": 128,
            "batch_size": 64,
            "steps": 6000,
            "lr": 0.004,
            "warmup": 100,
            "dropout": 0.3,
            "weight_decay": 0.1,
            "ema": 0.999,
            "log_every": 1000,
        },
    },
    "ko": {
        "data": "@ko-nouns",
        "config": {
            **_COMMON,
            "mode": "words",
            "units": "jamo",
            "hidden": 128,
            "batch_size": 64,
            "steps": 6000,
            "lr": 0.004,
            "warmup": 100,
            "dropout": 0.2,
            "weight_decay": 0.1,
            "ema": 0.999,
            "val_max": 1000,
            "log_every": 1000,
        },
    },
    "shakespeare": {
        "data": None,  # SHAKESPEARE or --shakespeare
        "config": {
            **_COMMON,
            "mode": "text",
            "hidden": 128,
            "batch_size": 32,
            "seq_len": 64,
            "steps": 6000,
            "lr": 0.004,
            "warmup": 100,
            "dropout": 0.1,
            "weight_decay": 0.05,
            "ema": 0.999,
            "log_every": 1000,
        },
    },
}


def train(name: str, data: str) -> tuple[CharRNN, checkpoint.Checkpoint]:
    """Train the recipe ``name`` on ``data``; the model and the checkpoint that ships."""
    config = dict(RECIPES[name]["config"])
    seed = config.pop("seed")
    model = CharRNN(random_state=seed, **config).fit(data)
    run = dataclasses.replace(model.run_, elapsed=0.0)
    if name == "shakespeare":
        members = [{**m, "path": SHAKESPEARE_NAME} for m in run.members or []]
        run = dataclasses.replace(run, data=SHAKESPEARE_NAME, members=members)
    # Parameters, vocabulary, config and run state only: what CharRNN.save writes.
    return model, checkpoint.Checkpoint(model.config_, model.vocab_, model.params_, run=run)


def made_with() -> dict[str, str]:
    """What decides a model's last bits besides its recipe, on this machine.

    numpy's version and the SIMD extensions it dispatches to (its element-wise loops
    round differently on different vector widths), and the BLAS, its version and the
    kernel it runs (each kernel sums a product's terms in its own order).
    """
    config = getattr(np.__config__, "CONFIG", {})  # numpy >= 1.26
    simd = config.get("SIMD Extensions", {}).get("found", ["unknown"])
    blas = "unknown (install threadpoolctl to see it)"
    try:
        import threadpoolctl
    except ImportError:
        pass
    else:
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                blas = " ".join(
                    str(info.get(k)) for k in ("internal_api", "version", "architecture")
                )
                break
    return {
        "numpy": np.__version__,
        "simd": " ".join(simd),
        "blas": blas,
        "machine": platform.machine(),
    }


def record(out: pathlib.Path, names: list[str]) -> None:
    """Add ``names``' entries to ``out/made_with.json``, keeping the other models'."""
    path = out / "made_with.json"
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    entries.update({name: made_with() for name in names})
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def report(name: str, model: CharRNN, path: pathlib.Path) -> None:
    """Size, held-out loss (the split training held out) and samples of one model."""
    n = sum(int(v.size) for v in model.params_.values())
    held = model.evaluate_heldout()
    loss = held.loss
    per_symbol = "" if model.unit_name == "char" else f", {loss.nats:.4f} nats/symbol"
    print(
        f"@{name}: {n:,} parameters, {path.stat().st_size:,} bytes; held-out "
        f"{loss.per_char:.4f} nats/char{per_symbol} over {held.size:,} "
        f"{'words' if model.config_.mode == 'words' else 'symbols'}"
    )
    if model.config_.mode == "words":
        print("  " + " ".join(model.sample(12, random_state=0)))
    else:
        print("  " + model.sample(1, max_len=200, random_state=0)[0].replace("\n", "\n  "))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"of {', '.join(RECIPES)} (default: all)")
    ap.add_argument("--out", type=pathlib.Path, default=MODELS, help=f"default {MODELS}")
    ap.add_argument("--shakespeare", type=pathlib.Path, default=SHAKESPEARE)
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in RECIPES]
    if unknown:
        ap.error(f"no recipe {unknown[0]!r}; the recipes are {', '.join(RECIPES)}")
    try:
        import threadpoolctl
    except ImportError:
        pass
    else:  # in case numpy's BLAS was loaded before the variables above were set
        threadpoolctl.threadpool_limits(1, user_api="blas")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or list(RECIPES):
        data = RECIPES[name]["data"]
        if data is None:
            if not args.shakespeare.is_file():
                print(f"@{name}: skipped, {args.shakespeare} is not there", file=sys.stderr)
                if args.names:
                    return 1
                continue
            data = str(args.shakespeare)
        model, ckpt = train(name, data)
        path = args.out / f"{name}.npz"
        checkpoint.save(path, ckpt)
        record(args.out, [name])
        report(name, model, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
