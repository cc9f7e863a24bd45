"""Recipe experiments under a wall-clock budget: one run, or a successive-halving search.

    python examples/sweep.py names '{"hidden": 256, "layers": 2, "batch_size": 128, ...}' \\
        --seconds 240
    python examples/sweep.py shakespeare '{"hidden": 512, "batch_size": 32, ...}' --seconds 280
    python examples/sweep.py names '{"dropout": 0.2}' --preset names --novelty --seconds 900
    python examples/sweep.py names '[{"hidden": 128}, {"hidden": 192}, {"hidden": 256}]' \\
        --preset names-gru --seconds 60 --halving 3 --trials runs/sweep-names.jsonl

Trains on ../shared/data with the same held-out split as the presets (names:
1,000 names by seeded permutation; Shakespeare: the last 10%), prints the
curve and the best held-out loss. The JSON holds charrnn.Config fields (over
a preset's, with ``--preset``); docs/recipes.md's "What helped" lines give the ones
behind each figure. Each run is time-budgeted (``--seconds``): it plans the
steps that fit and decays its rate over them (charrnn.training.budget).

A JSON list of candidates is searched by successive halving: every candidate
trains for ``--seconds``; the best 1/η (``--halving η``) train again for η
times as long, and so on until one is left. Each round trains afresh, since a
budgeted schedule is laid over the whole budget. Every trial's figures (its
fields, budget, steps, held-out loss, plan) are appended to ``--trials``.

``--novelty`` (names) adds, at every log line, the
probability the model gives its training names and what it would give them if
it memorised nothing (see examples/novelty.py); ``--dedupe`` (names) trains on
each distinct training name once.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from charrnn import Config
from charrnn.cli import run_script
from charrnn.data.files import load_corpus
from charrnn.data.split import split_corpus
from charrnn.generation.novelty import memorisation
from charrnn.training.presets import preset
from charrnn.training.run import TrainingRun
from charrnn.training.trainer import LogEvent

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", choices=["names", "shakespeare"])
    ap.add_argument("config", help="JSON object of Config fields, or a list of them to search")
    ap.add_argument("--seconds", type=float, default=240.0, help="each run's time budget")
    ap.add_argument("--log-every", type=int, default=1000)
    ap.add_argument("--preset", help="start from this preset's fields")
    ap.add_argument("--novelty", action="store_true", help="names: memorisation at every log")
    ap.add_argument("--dedupe", action="store_true", help="names: train on each distinct name once")
    ap.add_argument("--halving", type=int, default=3, metavar="ETA", help="keep 1/ETA per round")
    ap.add_argument("--trials", type=pathlib.Path, help="append every trial's figures here")
    args = ap.parse_args()
    given = json.loads(args.config)
    if isinstance(given, dict):
        trial(args, given, args.seconds, verbose=True)
        return
    if not (isinstance(given, list) and given and all(isinstance(c, dict) for c in given)):
        sys.exit("config must be a JSON object, or a non-empty list of them")
    if args.halving < 2:
        sys.exit("--halving must be at least 2")
    alive, seconds, rounds = list(given), args.seconds, 0
    while True:
        rounds += 1
        scored = []
        for fields in alive:
            figures = trial(args, fields, seconds, verbose=False)
            scored.append((figures["best_val"], fields))
            print(
                f"round {rounds}  {seconds:6.0f} s  {figures['best_val']:.4f}  "
                f"{figures['steps']:>6} steps  {json.dumps(fields)}",
                flush=True,
            )
        scored.sort(key=lambda t: t[0])
        if len(alive) == 1:
            break
        alive = [f for _, f in scored[: max(1, len(alive) // args.halving)]]
        seconds *= args.halving
    print(f"best: {scored[0][0]:.4f} nats/char with {json.dumps(scored[0][1])}")


def trial(args: argparse.Namespace, fields: dict, seconds: float, verbose: bool) -> dict:
    """One budgeted run of ``fields``; its figures (appended to ``--trials``)."""
    fields = dict(fields)
    if args.preset:
        fields = {**preset(args.preset)["config"], **fields}
        for k in ("mode", "val_fraction", "val_max"):  # the split is this script's
            fields.pop(k, None)
    if args.data == "names":
        path = SHARED / "names.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="words", val_fraction=0.1, val_max=1000, **fields)
        data, val_data = str(path), None
        if args.dedupe:  # the split stays makemore's; only the training list loses repeats
            words = load_corpus(str(path), "words")
            train, val_data = split_corpus(words, "words", 0.1, config.seed, 1000)
            data = list(dict.fromkeys(train))
    else:
        path = SHARED / "tinyshakespeare.txt"
        if not path.is_file():
            sys.exit(f"{path} is absent")
        config = Config(mode="text", val_fraction=0.1, **fields)
        data, val_data = str(path), None
    config = config.replace(log_every=args.log_every, time_budget=seconds / 60)
    memorised = args.novelty and args.data == "names"
    best = [float("inf")]

    with TrainingRun(config, data, val_data=val_data) as run:

        def on_event(e: LogEvent) -> None:
            # The run does not count time spent here, so the novelty figures
            # cost no training time.
            best[0] = min(best[0], e.val_loss if e.val_loss is not None else best[0])
            if not verbose:
                return
            val = f"val {e.val_loss:.4f}" if e.val_loss is not None else "val -"
            line = (
                f"step {e.step:>6}  {run.state.elapsed:5.0f} s  train {e.train_loss:.3f}  "
                f"{val}  {e.chars_per_s:,.0f} chars/s  lr {e.lr:.2g}"
            )
            if memorised:
                m = memorisation(
                    run.trainer.model_params,
                    run.corpus.vocab,
                    run.train_data,
                    run.val_data,
                    cell=run.config.cell,
                )
                line += (
                    f"  training-set p {100 * m.training_p:.1f}% "
                    f"(memorising nothing: {100 * m.unmemorised_p:.1f}%)"
                )
            print(line, flush=True)

        result = run.train(on_event=on_event)
        plan = [e.to_dict() for e in run.trainer.schedule.entries]
    figures = {
        "data": args.data,
        "preset": args.preset,
        "fields": fields,
        "seconds": seconds,
        "steps": result.step,
        "elapsed": run.state.elapsed,
        "best_val": best[0],
        "plan": plan,
    }
    if args.trials is not None:
        args.trials.parent.mkdir(parents=True, exist_ok=True)
        with args.trials.open("a") as f:
            f.write(json.dumps(figures) + "\n")
    if verbose:
        print(
            f"best held-out {best[0]:.4f} nats/char after {result.step} steps, "
            f"{run.state.elapsed:.0f} s of training"
        )
    return figures


if __name__ == "__main__":
    run_script(main)
