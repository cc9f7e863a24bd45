"""The tutorial's experiment: why the naive 1-hop rule fails and full BPTT does not.

Trained on ``vector`` plus fourteen lines of ``ectoaxg`` (the tutorial's
``normal_text.txt``), a model must remember, five characters later, that the
word began with ``v`` to end ``vecto`` with ``r`` instead of ``axg``. Only a
gradient that flows back through time (``dhnext``) teaches that; the naive rule
succeeds only when the random forward dynamics happen to carry the first letter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.config import Config
from ..core.model import Params, step, zero_state
from ..core.vocab import Vocab
from ..generation.sample import sample
from ..training.run import TrainingRun

TUTORIAL_WORDS = ["vector"] + ["ectoaxg"] * 14


def tutorial_config(
    bptt: str = "full", seed: int = 0, passes: int = 1000, cell: str = "rnn"
) -> Config:
    """The tutorial's setting: H=30, plain SGD at 0.1 on the summed loss, one word
    per update, ``passes`` passes; the element-wise clip at 1 comes with BPTT
    (section 5), the naive rule (section 4) has none. ``cell`` runs it for a gated cell.
    """
    return Config(
        mode="words",
        cell=cell,
        hidden=30,
        init="normal",
        init_scale=0.01,
        dtype="float64",
        bptt=bptt,
        batch_size=1,
        steps=None,
        epochs=passes,  # one word per step: a pass is one step per word
        optimizer="sgd",
        lr=0.1,
        schedule="constant",
        reduction="sum",
        clip=1.0,
        clip_mode="value" if bptt == "full" else "none",
        val_fraction=0.0,
        seed=seed,
    )


def next_char_prob(params: Params, vocab: Vocab, context: str, char: str) -> float:
    """p(char | '\\n' + context) under the model."""
    h = zero_state(params, 1, cell="rnn")  # the tutorial's cell
    logits = None
    for ix in vocab.encode("\n" + context):
        h, logits = step(params, np.array([ix]), h, cell="rnn")
    assert logits is not None  # the context starts with '\n': at least one step
    z = logits[0].astype(np.float64)
    p = np.exp(z - z.max())
    return float(p[vocab.stoi[char]] / p.sum())


@dataclass(frozen=True)
class SeedResult:
    """One trained model of the experiment."""

    bptt: str
    seed: int
    p_r: float  # p('r' | 'vecto')
    samples: tuple[str, ...]  # 10 samples from prefix 'v'

    @property
    def vectors(self) -> int:
        """How many of the samples are exactly ``vector``."""
        return sum(s == "vector" for s in self.samples)

    @property
    def success(self) -> bool:
        """``v`` leads to ``vector``: ``r`` after ``vecto`` is more likely than 0.9."""
        return self.p_r > 0.9


def run_seed(
    bptt: str, seed: int, words: list[str] | None = None, passes: int = 1000, cell: str = "rnn"
) -> SeedResult:
    """Train one model in the tutorial's setting and probe it."""
    words = TUTORIAL_WORDS if words is None else words
    config = tutorial_config(bptt, seed, passes, cell).replace(log_every=10**9)
    with TrainingRun(config, words) as run:
        run.train()
        params, vocab = run.best_params(), run.corpus.vocab
    rng = np.random.default_rng(seed)
    samples = sample(params, vocab, n=10, prefix="v", mode="words", rng=rng, cell="rnn")
    return SeedResult(bptt, seed, next_char_prob(params, vocab, "vecto", "r"), tuple(samples))


def run_experiment(
    seeds: range | list[int],
    passes: int = 1000,
    on_result: Callable[[SeedResult], None] | None = None,
    cell: str = "rnn",
) -> dict[str, list[SeedResult]]:
    """Both rules over ``seeds``; returns ``{"full": [...], "naive": [...]}``."""
    out: dict[str, list[SeedResult]] = {"full": [], "naive": []}
    for seed in seeds:
        for bptt in ("full", "naive"):
            r = run_seed(bptt, seed, passes=passes, cell=cell)
            out[bptt].append(r)
            if on_result is not None:
                on_result(r)
    return out
