"""A/B timing of an engine change: ``model.py`` at a git revision against the working tree.

    python benchmarks/ab_engine.py HEAD                  # (H=256, B=32, T=64) text
    python benchmarks/ab_engine.py HEAD~3 --shape 100,32,64
    python benchmarks/ab_engine.py HEAD --words          # names, H=128, B=64

Two trainers train the same model on the same batches, one calling the
forward/backward of ``src/charrnn/model.py`` as it was at REV, the other the
working tree's; everything else (optimiser, data, loop) is the working tree's.
They take turns for several rounds in one process, so a slow spell of the
machine hits both, and the speed-up is the median of per-round ratios. This is
how to tell whether an engine change is worth keeping on a noisy machine:
a whole training step, not the changed lines in isolation.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import subprocess
import sys
import tempfile
from types import ModuleType

import charrnn.train as train_module
from charrnn.config import Config
from charrnn.data import load_corpus
from charrnn.train import Trainer
from charrnn.vocab import Vocab
from common import names_source, out, paired, rounds, shakespeare_or_fallback, summary

ROOT = pathlib.Path(__file__).resolve().parent.parent


def model_at(rev: str, folder: str) -> ModuleType:
    """``charrnn/model.py`` as it was at git revision ``rev``, imported as a module."""
    try:
        source = subprocess.run(
            ["git", "show", f"{rev}:src/charrnn/model.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"cannot read src/charrnn/model.py at {rev!r}: {exc}")
    path = pathlib.Path(folder) / "model_at_rev.py"
    path.write_text(source, encoding="utf-8")
    # A name inside the package, so that the file's relative imports resolve.
    spec = importlib.util.spec_from_file_location("charrnn._model_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def engine(config: Config, vocab: Vocab, data, model: ModuleType):
    """A ``run(steps) -> chars`` that trains with ``model``'s forward and backward."""
    trainer = Trainer(config, vocab, data, None, log_every=10**9)

    def run(steps: int) -> int:
        train_module.forward, train_module.backward = model.forward, model.backward
        return sum(trainer.train_step()[1] for _ in range(steps))

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", help="git revision whose model.py is the baseline, e.g. HEAD")
    ap.add_argument("--shape", default="256,32,64", help="H,B,T in text mode")
    ap.add_argument("--words", action="store_true", help="names in words mode, H=128, B=64")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    if args.words:
        data = load_corpus(names_source(), "words")
        vocab = Vocab.from_text("".join(data))
        H, B, T, mode = 128, 64, 1, "words"
    else:
        text, _ = shakespeare_or_fallback()
        vocab = Vocab.from_text(text)
        data = vocab.encode(text)
        H, B, T = map(int, args.shape.split(","))
        mode = "text"
    config = Config(
        mode=mode, hidden=H, layers=args.layers, batch_size=B, seq_len=T, steps=10**9,
        lr=2e-3, clip=5.0, init="scaled", val_fraction=0.0,
    )  # fmt: skip
    import charrnn.model as current

    with tempfile.TemporaryDirectory() as folder:
        engines = {
            args.rev: engine(config, vocab, data, model_at(args.rev, folder)),
            "working tree": engine(config, vocab, data, current),
        }
        rates = rounds(engines, args.seconds, args.repeats)
    label = f"{mode} H={H} B={B}" + (f" T={T}" if mode == "text" else "") + f" L={args.layers}"
    out(label)
    for name, vals in rates.items():
        out(f"  {name:<14} chars/s {summary(vals)}")
    ratios = [x / y for x, y in zip(rates["working tree"], rates[args.rev], strict=True)]
    out(f"  working tree / {args.rev}: {paired(rates, 'working tree', args.rev):.3f} "
        f"[{min(ratios):.3f}-{max(ratios):.3f}] over {args.repeats} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
