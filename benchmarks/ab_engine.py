"""A/B timing of an engine change: the package at a git revision against the working tree.

    python benchmarks/ab_engine.py HEAD                  # (H=256, B=32, T=64) text
    python benchmarks/ab_engine.py HEAD~3 --shape 100,32,64
    python benchmarks/ab_engine.py HEAD --words          # names, H=128, B=64
    python benchmarks/ab_engine.py HEAD --cell lstm      # a gated cell

The whole of ``src/charrnn`` as it was at REV is extracted to a temporary
folder and imported as a second package, ``charrnn_at_rev`` (its relative
imports resolve inside it), beside the working tree's ``charrnn``. Each
package builds its own Trainer (config, vocabulary, data, nothing else), so
a change that spans the model, the trainer and the optimiser is compared as a
whole. The two train the same model on the same batches and take turns for
several rounds in one process, so a slow spell of the machine hits both, and
the speed-up is the median of per-round ratios. This is how to tell whether an
engine change is worth keeping on a noisy machine: a whole training step, not
the changed lines in isolation.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile
from types import ModuleType
from typing import Any

import charrnn
from charrnn.data.files import load_corpus
from common import names_source, out, paired, rounds, shakespeare_or_fallback, summary

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "charrnn_at_rev"


def package_at(rev: str, folder: str) -> ModuleType:
    """``src/charrnn`` as it was at git revision ``rev``, imported as ``charrnn_at_rev``.

    Parameters
    ----------
    rev : str
        Any git revision of this checkout.
    folder : str
        Where to extract the package; it must outlive the package's use.

    Returns
    -------
    module
        The package, with its ``config``, ``train`` and ``vocab`` modules imported.
    """
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev, "src/charrnn"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except OSError as exc:
        sys.exit(f"cannot read src/charrnn at {rev!r}: {exc}")
    except subprocess.CalledProcessError as exc:
        sys.exit(f"cannot read src/charrnn at {rev!r}: {exc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # The "data" filter (Python >= 3.10.12) refuses links and paths out of the folder.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(folder, **safe)
    root = pathlib.Path(folder) / "src" / "charrnn"
    # A package spec with its own search path: `from .model import ...` inside it
    # finds REV's model.py, not the working tree's.
    spec = importlib.util.spec_from_file_location(
        PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return package


def kernels_of(package: ModuleType, build: bool = False) -> str:
    """Which kernels ``package`` runs (``auto``), after building its own where ``build``
    and it has them: a revision's library is gitignored, so without a build of its own
    a revision with compiled kernels would be timed on its numpy cells."""
    try:
        kernels = importlib.import_module(f"{package.__name__}.core.kernels")
    except ModuleNotFoundError:
        return "numpy (no compiled kernels at this revision)"
    if build:
        importlib.import_module(f"{package.__name__}.core.kernels.build").build()
    return kernels.describe()


# The modules an engine needs, by their path in the layer folders and in the flat
# layout before them, so that either kind of revision can be the baseline.
PARTS = {
    "config": ("core.config", "config"),
    "trainer": ("training.trainer", "train"),
    "vocab": ("core.vocab", "vocab"),
}


def part(package: ModuleType, name: str) -> ModuleType:
    """``package``'s module ``name`` (a key of :data:`PARTS`) in whichever layout it has."""
    new, old = PARTS[name]
    try:
        return importlib.import_module(f"{package.__name__}.{new}")
    except ModuleNotFoundError:
        return importlib.import_module(f"{package.__name__}.{old}")


def engine(package: ModuleType, fields: dict[str, Any], chars: str, corpus: str | list[str]):
    """A ``run(steps) -> chars`` that trains with ``package``'s own Trainer.

    ``corpus`` is running text (encoded here, by the package's own vocabulary)
    or a list of words.
    """
    config = part(package, "config").Config(**fields)
    vocab = part(package, "vocab").Vocab(chars)
    data = vocab.encode(corpus) if fields["mode"] == "text" else corpus
    trainer = part(package, "trainer").Trainer(config, vocab, data, None)

    def run(steps: int) -> int:
        return sum(trainer.train_step()[1] for _ in range(steps))

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", help="git revision whose src/charrnn is the baseline, e.g. HEAD")
    ap.add_argument("--shape", default="256,32,64", help="H,B,T in text mode")
    ap.add_argument("--words", action="store_true", help="names in words mode, H=128, B=64")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--cell", default="rnn", help="rnn, gru or lstm (REV must know it)")
    ap.add_argument("--dropout", type=float, default=0.0, help="training's dropout rate")
    ap.add_argument("--weight-drop", type=float, default=0.0, help="(REV must know it)")
    ap.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    here = pathlib.Path(charrnn.__file__).resolve().parent
    if here != ROOT / "src" / "charrnn":
        print(
            f"warning: the working tree's side is {here}, not this checkout's src/charrnn; "
            f"set PYTHONPATH={ROOT / 'src'}",
            file=sys.stderr,
        )
    corpus: str | list[str]
    if args.words:
        corpus = load_corpus(names_source(), "words")
        chars = "".join(corpus)
        H, B, T, mode = 128, 64, 1, "words"
    else:
        corpus, _ = shakespeare_or_fallback()
        chars = corpus
        H, B, T = map(int, args.shape.split(","))
        mode = "text"
    fields = dict(
        mode=mode,
        hidden=H,
        layers=args.layers,
        batch_size=B,
        seq_len=T,
        steps=10**9,
        lr=2e-3,
        clip=5.0,
        init="scaled",
        val_fraction=0.0,
    )
    if args.cell != "rnn":  # revisions from before the gated cells know no such field
        fields["cell"] = args.cell
    if args.dropout:
        fields["dropout"] = args.dropout
    if args.weight_drop:  # nor do revisions from before weight drop
        fields["weight_drop"] = args.weight_drop
    with tempfile.TemporaryDirectory() as folder:
        baseline = package_at(args.rev, folder)
        out(f"{args.rev}: {kernels_of(baseline, build=True)}")
        out(f"working tree: {kernels_of(charrnn)}")
        engines = {
            args.rev: engine(baseline, fields, chars, corpus),
            "working tree": engine(charrnn, fields, chars, corpus),
        }
        rates = rounds(engines, args.seconds, args.repeats)
    label = f"{mode} H={H} B={B}" + (f" T={T}" if mode == "text" else "") + f" L={args.layers}"
    label += f" {args.cell}" if args.cell != "rnn" else ""
    label += f" dropout {args.dropout}" if args.dropout else ""
    label += f" weight drop {args.weight_drop}" if args.weight_drop else ""
    out(label)
    for name, vals in rates.items():
        out(f"  {name:<14} chars/s {summary(vals)}")
    ratios = [x / y for x, y in zip(rates["working tree"], rates[args.rev], strict=True)]
    out(
        f"  working tree / {args.rev}: {paired(rates, 'working tree', args.rev):.3f} "
        f"[{min(ratios):.3f}-{max(ratios):.3f}] over {args.repeats} rounds"
    )


if __name__ == "__main__":
    main()
