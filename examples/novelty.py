"""How often a words model reproduces its training names, and how often it would without memorising.

    python examples/novelty.py runs/names            # the model trained by examples/results.py
    python examples/novelty.py runs/names -n 10000   # more samples for the sampled share

Four figures, the first three for sampling at temperature 1:

- the share of ``n`` samples that are training names (what ``charrnn sample
  --novelty`` counts, one minus the novelty share);
- the exact probability the model gives to the whole training set, the sum of
  p(name) over its distinct names: the share a sampler converges to;
- the share it would give the training set if it treated training names like
  names it never saw: the mean p(name) over held-out names that are not also in
  the training set, times the number of distinct training names, with a
  bootstrap 95% interval. The gap between the last two is memorisation; the
  last one is the novelty ceiling of a model that predicts held-out names as
  well as this one does but has learnt nothing by heart;
- the share of held-out names that are training names: held-out names are
  fresh draws from whatever produced the list, so this is the rate at which
  sampling the data's own distribution repeats a training name, a check on
  the ceiling that involves no model.

It also splits the held-out loss between held-out names that are training
names and the others, and compares names the training list holds more than
once with the rest.
"""

from __future__ import annotations

import argparse
import collections
import sys

import numpy as np

from charrnn import CharRNN
from charrnn.api import resolve_model_path
from charrnn.cli import run_script
from charrnn.common.errors import CharRNNError
from charrnn.generation.novelty import memorisation, word_probabilities, words_split
from charrnn.generation.sample import sample
from charrnn.training.checkpoint import load as load_checkpoint


def report(args: argparse.Namespace) -> None:
    """Print the figures for the model ``args.run``."""
    ckpt = load_checkpoint(resolve_model_path(args.run))
    model = CharRNN.from_checkpoint(ckpt)
    if model.config_.mode != "words":
        sys.exit("novelty applies to words-mode models only")
    words, val = words_split(ckpt)
    train = set(words)
    m = memorisation(model.params_, model.vocab_, train, val, cell=model.config_.cell)
    listed = collections.Counter(words)
    twice = np.array([listed[w] > 1 for w in m.seen])
    if not len(m.unseen_p):
        sys.exit("the model has no held-out names outside its training set")

    rng = np.random.default_rng(args.seed)
    drawn = sample(model.params_, model.vocab_, n=args.n, mode="words", rng=rng)
    in_train = np.mean([w in train for w in drawn])
    boot = np.random.default_rng(1)
    k = len(m.unseen_p)
    means = [m.unseen_p[boot.integers(0, k, k)].mean() for _ in range(2000)]
    lo, hi = np.percentile(means, [2.5, 97.5]) * m.n_train
    mass_train, ceiling = m.training_p, m.unmemorised_p

    print(f"{m.n_train:,} distinct training names; {k:,} held-out names not among them")
    print(f"samples that are training names:       {100 * in_train:5.1f}% of {args.n:,}")
    print(f"probability of the training set:       {100 * mass_train:5.1f}%")
    print(
        f"the same without memorising:           {100 * ceiling:5.1f}%  "
        f"[{100 * lo:.1f}-{100 * hi:.1f}] (held-out names' mean p x {m.n_train:,})"
    )
    print(
        f"novelty: {100 * (1 - mass_train):.1f}% now, "
        f"{100 * (1 - ceiling):.1f}% for a model that memorised nothing"
    )
    # The data's own rate: a held-out name is a fresh draw from the distribution
    # the list was drawn from, so this is the novelty of sampling that distribution.
    seen = np.array([w in train for w in val])  # (held-out,) also a training name
    print(
        f"held-out names that are training names: {100 * seen.mean():.1f}% of {len(val):,} "
        f"(novelty of the data itself: {100 * (1 - seen.mean()):.1f}%)"
    )
    # Those held-out names reward memorising: split the held-out loss along them.
    nats = -np.log(word_probabilities(model.params_, model.vocab_, val, cell=model.config_.cell))
    chars = np.array([len(w) + 1 for w in val])  # each name's letters and its end
    parts = [("all", np.ones_like(seen)), ("training names", seen), ("others", ~seen)]
    print(
        "held-out nats/char: "
        + ", ".join(
            f"{name} {nats[sel].sum() / chars[sel].sum():.3f} ({sel.sum():,})"
            for name, sel in parts
            if sel.any()
        )
    )
    if twice.any() and not twice.all():
        log_p = np.log(m.seen_p)
        ratio = np.exp(log_p[twice].mean() - log_p[~twice].mean())
        print(
            f"{twice.sum():,} training names are listed more than once; their p is "
            f"{ratio:.1f}x that of names listed once (geometric means)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="run directory or checkpoint of a words-mode model")
    ap.add_argument("-n", type=int, default=10000, help="samples to draw")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.seed < 0:
        ap.error(f"a seed is a whole number of 0 or more; got {args.seed}")
    try:
        report(args)
    except CharRNNError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    run_script(main)
