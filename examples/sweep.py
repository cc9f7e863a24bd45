"""One training run of a recipe experiment, with a wall-clock budget.

    python examples/sweep.py names '{"hidden": 256, "layers": 2, "batch_size": 128, ...}' \\
        --seconds 240
    python examples/sweep.py shakespeare '{"hidden": 512, "batch_size": 32, ...}' --seconds 280
    python examples/sweep.py names '{"dropout": 0.2}' --preset names --novelty --seconds 900

Trains on ../shared/data with the same held-out split as the presets (names:
1,000 names by seeded permutation; Shakespeare: the last 10%), prints the
curve and the best held-out loss. The JSON holds charrnn.Config fields (over
a preset's, with ``--preset``); the README's "What helped" lines give the ones
behind each figure. ``--novelty`` (names) adds, at every log line, the
probability the model gives its training names and what it would give them if
it memorised nothing (see examples/novelty.py); ``--dedupe`` (names) trains on
each distinct training name once.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from charrnn import Config, Vocab
from charrnn.data import load_corpus, split_corpus, split_text
from charrnn.novelty import memorisation
from charrnn.presets import preset
from charrnn.train import LogEvent, Trainer

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", choices=["names", "shakespeare"])
    ap.add_argument("config", help="JSON object of Config fields")
    ap.add_argument("--seconds", type=float, default=240.0, help="stop after this long")
    ap.add_argument("--log-every", type=int, default=1000)
    ap.add_argument("--preset", help="start from this preset's fields")
    ap.add_argument("--novelty", action="store_true", help="names: memorisation at every log")
    ap.add_argument("--dedupe", action="store_true", help="names: train on each distinct name once")
    args = ap.parse_args()
    fields = json.loads(args.config)
    if args.preset:
        fields = {**preset(args.preset)["config"], **fields}
        for k in ("mode", "val_fraction", "val_max"):  # the split is this script's
            fields.pop(k, None)
    if args.data == "names":
        path = SHARED / "names.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="words", val_fraction=0.1, val_max=1000, **fields)
        words = load_corpus(str(path), "words")
        vocab = Vocab.from_text("".join(words))
        train, val = split_corpus(words, "words", 0.1, config.seed, 1000)
        if args.dedupe:  # the split stays makemore's; only the training list loses repeats
            train = list(dict.fromkeys(train))
    else:
        path = SHARED / "tinyshakespeare.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="text", val_fraction=0.1, **fields)
        text = path.read_text(encoding="utf-8")
        vocab = Vocab.from_text(text)
        train, val = split_text(vocab.encode(text), 0.1)
    trainer = Trainer(config, vocab, train, val, log_every=args.log_every)
    memorised = args.novelty and args.data == "names"
    start = time.perf_counter()
    best = [float("inf")]
    aside = [0.0]  # seconds spent on the novelty figures, not counted as training

    def on_event(e: LogEvent) -> None:
        best[0] = min(best[0], e.val_loss if e.val_loss is not None else best[0])
        seconds = time.perf_counter() - start - aside[0]
        line = (f"step {e.step:>6}  {seconds:5.0f} s  train {e.train_loss:.3f}  "
                f"val {e.val_loss:.4f}  {e.chars_per_s:,.0f} chars/s")  # fmt: skip
        if memorised:
            t0 = time.perf_counter()
            m = memorisation(trainer.model_params, vocab, train, val)
            line += (f"  training-set p {100 * m.training_p:.1f}% "
                     f"(memorising nothing: {100 * m.unmemorised_p:.1f}%)")  # fmt: skip
            aside[0] += time.perf_counter() - t0
        print(line, flush=True)

    def out_of_time(_: Trainer) -> bool:
        return time.perf_counter() - start - aside[0] > args.seconds

    trainer.run(on_event=on_event, on_step=out_of_time)
    print(f"best held-out {best[0]:.4f} nats/char after {trainer.step} steps, "
          f"{time.perf_counter() - start - aside[0]:.0f} s of training")  # fmt: skip


if __name__ == "__main__":
    main()
