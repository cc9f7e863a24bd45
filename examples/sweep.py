"""One training run of a recipe experiment, with a wall-clock budget.

    python examples/sweep.py names '{"hidden": 256, "layers": 2, "batch_size": 128, ...}' \\
        --seconds 240
    python examples/sweep.py shakespeare '{"hidden": 512, "batch_size": 32, ...}' --seconds 280

Trains on ../shared/data with the same held-out split as the presets (names:
1,000 names by seeded permutation; Shakespeare: the last 10%), prints the
curve and the best held-out loss. The JSON holds charrnn.Config fields; the
README's "What helped" lines give the ones behind each figure.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from charrnn import Config, Vocab
from charrnn.data import load_corpus, split_corpus, split_text
from charrnn.train import LogEvent, Trainer

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", choices=["names", "shakespeare"])
    ap.add_argument("config", help="JSON object of Config fields")
    ap.add_argument("--seconds", type=float, default=240.0, help="stop after this long")
    ap.add_argument("--log-every", type=int, default=1000)
    args = ap.parse_args()
    fields = json.loads(args.config)
    if args.data == "names":
        path = SHARED / "names.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="words", val_fraction=0.1, val_max=1000, **fields)
        words = load_corpus(str(path), "words")
        vocab = Vocab.from_text("".join(words))
        train, val = split_corpus(words, "words", 0.1, config.seed, 1000)
    else:
        path = SHARED / "tinyshakespeare.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="text", val_fraction=0.1, **fields)
        text = path.read_text(encoding="utf-8")
        vocab = Vocab.from_text(text)
        train, val = split_text(vocab.encode(text), 0.1)
    trainer = Trainer(config, vocab, train, val, log_every=args.log_every)
    start = time.perf_counter()
    best = [float("inf")]

    def on_event(e: LogEvent) -> None:
        best[0] = min(best[0], e.val_loss if e.val_loss is not None else best[0])
        print(f"step {e.step:>6}  {time.perf_counter() - start:5.0f} s  train {e.train_loss:.3f}"
              f"  val {e.val_loss:.4f}  {e.chars_per_s:,.0f} chars/s", flush=True)  # fmt: skip

    trainer.run(on_event=on_event, on_step=lambda tr: time.perf_counter() - start > args.seconds)
    print(f"best held-out {best[0]:.4f} nats/char after {trainer.step} steps, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
