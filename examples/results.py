"""Train a preset and print its row of the presets table in docs/recipes.md.

    python examples/results.py names        # ../shared/data/names.txt, about 10 minutes
    python examples/results.py shakespeare  # ../shared/data/tinyshakespeare.txt, about 30 minutes
    python examples/results.py names-gru    # a gated preset: its corpus is the name's first word

Runs ``charrnn train DATA --preset NAME --out runs/NAME`` (add ``--force`` to
start again), then reads the best checkpoint: parameters, held-out loss (the
split the training never saw: names: 1,000 names by seeded permutation; text:
the last 10% of the file), training wall time from the metrics log, samples
and, for names, the share of 1,000 samples not in the training set. It also
writes the loss curves to docs/NAME-loss.png.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import subprocess
import sys

from charrnn.training.presets import PRESETS

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = {"names": "names.txt", "shakespeare": "tinyshakespeare.txt"}


def corpus_of(preset: str) -> str:
    """The file a preset trains on: ``names-gru`` trains on names.txt like ``names``."""
    return DATA[preset.split("-")[0]]


def charrnn(*args: str, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "charrnn", *args]
    p = subprocess.run(cmd, check=True, text=True, capture_output=capture)
    return p.stdout if capture else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("--force", action="store_true", help="retrain even if runs/PRESET exists")
    args = ap.parse_args()
    data = ROOT.parent / "shared" / "data" / corpus_of(args.preset)
    if not data.is_file():
        sys.exit(f"{data} is absent: this script needs ../shared/data")
    run = ROOT / "runs" / args.preset
    if args.force or not (run / "latest.npz").is_file():
        charrnn("train", str(data), "--preset", args.preset, "--out", str(run), "--force")

    from charrnn import CharRNN

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = min((m for m in metrics if m["val_loss"] is not None), key=lambda m: m["val_loss"])
    minutes = metrics[-1]["wall_time"] / 60
    model = CharRNN.load(run)  # best.npz
    n_params = sum(v.size for v in model.params_.values())
    cfg = model.config_
    shape = f"{cfg.layers}x{cfg.hidden}" if cfg.layers > 1 else f"H={cfg.hidden}"
    if cfg.cell != "rnn":
        shape = f"{cfg.cell.upper()} {shape}"
    charrnn(
        "plot",
        str(run),
        "--out",
        str(ROOT / "docs" / f"{args.preset}-loss.png"),
        "--title",
        f"{args.preset} preset ({shape})",
    )
    nats = best["val_loss"]
    print(
        f"| {corpus_of(args.preset)} | `--preset {args.preset}` ({shape}) | {n_params:,} | "
        f"{minutes:.1f} min | {nats:.3f} | {nats / math.log(2):.3f} |"
    )
    print(f"best at step {best['step']} of {metrics[-1]['step']}")
    if cfg.mode == "words":
        out = charrnn("sample", str(run), "-n", "1000", "--novelty", "--json", capture=True)
        d = json.loads(out)
        print(f"novelty: {100 * d['new_share']:.1f}% of 1,000 samples are not in the training set")
        print("samples:", " ".join(d["samples"][:15]))
    else:
        out = charrnn(
            "sample",
            str(run),
            "--max-len",
            "300",
            "-n",
            "1",
            "--prefix",
            "ROMEO:",
            "--seed",
            "1",
            "--json",
            capture=True,
        )
        print("sample:", json.loads(out)["samples"][0])


if __name__ == "__main__":
    main()
