"""``charrnn experiment gap``: how far back can each rule and cell learn to remember?

The latch task in characters (after Bengio, Simard & Frasconi, 1994): a word is
a key character from a small set, ``k`` distractor characters, a query
character, and the key again::

    c d_1 ... d_k ? c

Read as ``'\\n' + word``, the model's prediction after the query must be the
key it read ``k + 1`` steps earlier; nothing between says which key it was,
so a model that has not carried it is right by chance, 1 in ``len(keys)``.
The distractors are drawn at random, so they cannot be predicted either.

For every gap ``k``, learning rule and cell, many seeds are trained through
:class:`charrnn.training.run.TrainingRun` with the same update budget; a seed succeeds
when its accuracy at the query on fresh words reaches ``threshold``. The rules:

- ``naive``: the tutorial's 1-hop rule (``bptt="naive"``);
- ``window``: full BPTT truncated to a sliding window of ``W = max(1, k // 2)``
  steps (``bptt_window``), which never reaches the key, ``k + 1`` steps back;
- ``full``: full BPTT.

Counts over seeds get Wilson score intervals. Everything is seeded: the same
arguments give the same table on any machine.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..common.errors import CharRNNError
from ..common.files import atomic_write
from ..common.optional import optional, pyplot
from ..core.cells import Cell, cell_names, get_cell
from ..core.config import Config
from ..core.model import Params, backward, forward, zero_state
from ..core.vocab import Vocab
from ..training.run import TrainingRun

RULES = ("naive", "window", "full")
DEFAULT_GAPS = (1, 2, 4, 8, 16, 32, 64)


def available_cells() -> tuple[str, ...]:
    """The registered cells a :class:`Config` offers (``rnn`` is the tutorial's tanh cell)."""
    return cell_names()


def _cell(name: str) -> Cell:
    """The registered cell called ``name``, as ``forward`` and ``backward`` take it."""
    if name not in cell_names():
        raise CharRNNError(f"no cell called {name!r}; known: {', '.join(available_cells())}")
    return get_cell(name)


# ----------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95 % for the default ``z``).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at
    0 or n successes, which is where a grid over gaps spends most of its points.

    Parameters
    ----------
    successes, n : int
        ``0 <= successes <= n``, ``n >= 1``.
    z : float
        The standard normal quantile of the interval's level.

    Returns
    -------
    (low, high) : tuple of float
    """
    if not (isinstance(n, int) and n >= 1 and isinstance(successes, int) and 0 <= successes <= n):
        raise CharRNNError(f"need 0 <= successes <= n and n >= 1; got {successes} of {n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 or n the interval touches the bound exactly (rounding would leave it 1e-16 short).
    low = 0.0 if successes == 0 else centre - half
    high = 1.0 if successes == n else centre + half
    return low, high


# ----------------------------------------------------------------------------- the task


# Past these a grid would not fit in memory (a batch holds batch_size x (gap + a few)
# steps of hidden units) or would run for days; the defaults are far below them.
MAX_GAP = 10_000
LIMITS = {
    "seeds": 10_000,
    "steps": 10_000_000,
    "batch_size": 4_096,
    "hidden": 8_192,
    "words": 10_000_000,
    "test_words": 10_000_000,
}


@dataclass(frozen=True)
class GapSettings:
    """The task, the grid and the budget of one experiment.

    Attributes
    ----------
    gaps : tuple of int
        The distances k (distractors between key and query).
    rules : tuple of str
        Among :data:`RULES`.
    cells : tuple of str
        Among :func:`available_cells` (default the tutorial's ``rnn``).
    seeds : int
        Seeds per point of the grid.
    steps, batch_size : int
        The update budget, the same for every point: ``steps`` Adam updates on
        ``batch_size`` words.
    hidden, lr, init : int, float, str
        The model and optimiser (global-norm clip at 1).
    keys, distractors, query : str
        The task's characters; chance at the query is ``1 / len(keys)``.
    words : int
        Training words per seed (fresh for each seed and gap).
    test_words : int
        Fresh words on which the query accuracy is measured.
    threshold : float
        A seed succeeds when its query accuracy reaches this.
    norm_gap : int or None
        The gap whose gradient norms are measured (at init and after training).
    seed : int
        Base seed of everything.
    """

    gaps: tuple[int, ...] = DEFAULT_GAPS
    rules: tuple[str, ...] = RULES
    cells: tuple[str, ...] = ("rnn",)
    seeds: int = 10
    steps: int = 3000
    batch_size: int = 32
    hidden: int = 32
    lr: float = 0.01
    init: str = "scaled"
    keys: str = "abcd"
    distractors: str = "wxyz"
    query: str = "q"
    words: int = 2000
    test_words: int = 500
    threshold: float = 0.9
    norm_gap: int | None = 16
    seed: int = 0

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`CharRNNError` for a setting the experiment cannot run."""
        if not self.gaps or any(not (isinstance(k, int) and k >= 1) for k in self.gaps):
            raise CharRNNError(f"gaps must be whole numbers >= 1; got {list(self.gaps)}")
        bad = [r for r in self.rules if r not in RULES]
        if not self.rules or bad:
            raise CharRNNError(f"rules must be among {', '.join(RULES)}; got {list(self.rules)}")
        known = available_cells()
        bad = [c for c in self.cells if c not in known]
        if not self.cells or bad:
            raise CharRNNError(f"cells must be among {', '.join(known)}; got {list(self.cells)}")
        if max(self.gaps) > MAX_GAP:
            raise CharRNNError(
                f"gaps must be at most {MAX_GAP:,}; got {max(self.gaps):,} (its sequences "
                "would not fit in memory, and no cell here carries a key that far)"
            )
        for name in ("seeds", "steps", "batch_size", "hidden", "words", "test_words"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise CharRNNError(f"{name} must be a whole number >= 1; got {v!r}")
            if v > LIMITS[name]:
                raise CharRNNError(f"{name} must be at most {LIMITS[name]:,}; got {v:,}")
        if not (0 < self.threshold <= 1):
            raise CharRNNError(f"threshold must be in (0, 1]; got {self.threshold!r}")
        chars = self.keys + self.distractors + self.query
        if len(self.keys) < 2 or not self.distractors or len(self.query) != 1:
            raise CharRNNError("the task needs 2 keys or more, 1 distractor and 1 query character")
        if len(set(chars)) != len(chars) or "\n" in chars:
            raise CharRNNError("keys, distractors and query must be distinct, without newline")
        if self.norm_gap is not None and self.norm_gap not in self.gaps:
            raise CharRNNError(f"norm_gap {self.norm_gap} must be one of the gaps")

    @property
    def chance(self) -> float:
        """Query accuracy of a model that carries nothing."""
        return 1 / len(self.keys)

    def replace(self, **changes: Any) -> GapSettings:
        """A copy with ``changes`` applied (checked)."""
        return GapSettings(**{**asdict(self), **changes})


def window_for(gap: int) -> int:
    """The ``window`` rule's W for gap k: half the gap, at least 1; always short of k + 1."""
    return max(1, gap // 2)


def latch_words(settings: GapSettings, gap: int, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` words of the task: key, ``gap`` distractors, query, key."""
    keys = np.array(list(settings.keys))
    noise = np.array(list(settings.distractors))
    k = keys[rng.integers(0, len(keys), size=n)]
    d = noise[rng.integers(0, len(noise), size=(n, gap))]
    return [k[i] + "".join(d[i]) + settings.query + k[i] for i in range(n)]


def query_step(gap: int) -> int:
    """The step at which the model reads the query: '\\n', key, ``gap`` distractors, query."""
    return gap + 2


def point_config(settings: GapSettings, cell: str, gap: int, rule: str, seed: int) -> Config:
    """The training configuration of one seed of one point of the grid."""
    changes: dict[str, Any] = dict(
        mode="words",
        hidden=settings.hidden,
        init=settings.init,
        dtype="float32",
        batch_size=settings.batch_size,
        steps=settings.steps,
        optimizer="adam",
        lr=settings.lr,
        schedule="constant",
        clip=1.0,
        clip_mode="norm",
        val_fraction=0.0,
        seed=settings.seed + seed,
        log_every=settings.steps,
    )  # a constant rate: every point of the grid learns at the same pace
    if rule == "naive":
        changes["bptt"] = "naive"
    elif rule == "window":
        changes["bptt_window"] = window_for(gap)
    changes["cell"] = cell
    return Config(**changes)


def _batch(vocab: Vocab, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), each (T, B): words of one length, read after the boundary."""
    ids = np.stack([vocab.encode("\n" + w + "\n") for w in words], axis=1)  # (T+1, B)
    return ids[:-1], ids[1:]


def query_accuracy(params: Params, vocab: Vocab, words: list[str], gap: int, cell: str) -> float:
    """Share of ``words`` whose key is the model's likeliest character after the query."""
    inputs, targets = _batch(vocab, words)
    T, B = inputs.shape
    c = _cell(cell)
    h0 = zero_state(params, B, cell=c)  # (1, B, S): S = 2H for the LSTM's [h | c]
    _, cache = forward(params, inputs, targets, h0, cell=c)
    q = query_step(gap)
    probs = cache.probs.reshape(T, B, -1)[q]  # (B, V)
    return float(np.mean(probs.argmax(axis=1) == targets[q]))


def gradient_norms(
    params: Params, vocab: Vocab, words: list[str], gap: int, cell: str
) -> np.ndarray:
    """Mean over ``words`` of ``||dL_t / dh_{t-j}||`` for j = 0 .. t, L_t the query's loss.

    ``h_{t-j}`` is the state after reading step ``t - j``; j = t is the state
    after the boundary, just before the key. Each is found as the gradient
    with respect to the initial state of a forward from ``h_{t-j}`` over the
    last j steps, so any cell's own backward gives it.

    Returns
    -------
    array (t + 1,)
    """
    c = _cell(cell)
    inputs, targets = _batch(vocab, words)
    T, B = inputs.shape
    t = query_step(gap)
    dtype = np.float64  # small gradients far back must not drown in rounding
    p64 = {k: v.astype(dtype) for k, v in params.items()}
    h0 = zero_state(p64, B, cell=c)  # (1, B, S)
    _, cache = forward(p64, inputs, targets, h0, cell=c)
    # The states: a forward with carried state 0 returns them in the cache for the
    # tanh cell; any cell returns its final state, so collect them by prefixes.
    states = [h0]
    for s in range(t):
        _, cs = forward(p64, inputs[: s + 1], targets[: s + 1], h0, cell=c)
        states.append(cs.final_state.copy())
    # j = 0: straight from the output head.
    dy = cache.probs.reshape(T, B, -1)[t].copy()  # (B, V)
    dy[np.arange(B), targets[t]] -= 1
    norms = [float(np.linalg.norm(dy @ p64["Why"], axis=1).mean())]
    for j in range(1, t + 1):
        start = t - j + 1  # the steps after h_{t-j}
        mask = np.zeros((j, B))
        mask[-1] = 1
        _, cs = forward(
            p64, inputs[start : t + 1], targets[start : t + 1], states[t - j + 1], mask, cell=c
        )
        _, dh0 = backward(p64, cs, cell=c)
        # The h part of the state (the LSTM's cell c is held fixed).
        norms.append(float(np.linalg.norm(c.output(dh0[0]), axis=1).mean()))
    return np.array(norms)


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SeedRun:
    """One trained model of the grid."""

    cell: str
    gap: int
    rule: str
    seed: int
    accuracy: float  # at the query, on fresh words
    norms_init: tuple[float, ...] | None = None  # at settings.norm_gap only
    norms_trained: tuple[float, ...] | None = None
    cpu_seconds: float = field(default=0.0, compare=False)  # training and measuring


def run_one(settings: GapSettings, cell: str, gap: int, rule: str, seed: int) -> SeedRun:
    """Train one seed of one point and measure it."""
    cpu0 = time.process_time()
    rng = np.random.default_rng([settings.seed, gap, seed])
    train = latch_words(settings, gap, settings.words, rng)
    test = latch_words(
        settings, gap, settings.test_words, np.random.default_rng([settings.seed, gap, seed, 1])
    )
    config = point_config(settings, cell, gap, rule, seed)
    with TrainingRun(config, train) as run:
        vocab = run.corpus.vocab
        measure = gap == settings.norm_gap
        init = run.trainer.host_params() if measure else None
        run.train()
        params = run.trainer.host_params()
    accuracy = query_accuracy(params, vocab, test, gap, cell)
    norms_init = norms_trained = None
    if measure:
        assert init is not None  # taken above whenever the norms are measured
        probe = test[:100]
        norms_init = tuple(gradient_norms(init, vocab, probe, gap, cell))
        norms_trained = tuple(gradient_norms(params, vocab, probe, gap, cell))
    cpu = time.process_time() - cpu0
    return SeedRun(cell, gap, rule, seed, accuracy, norms_init, norms_trained, cpu)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread, where threadpoolctl can set it (``charrnn[experiment]``).

    The experiment's matrices are small (H=32): BLAS threads waiting for each
    other cost more than they give, and on a busy machine far more.
    """
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def _run_task(args: tuple[GapSettings, str, int, str, int]) -> SeedRun:
    # In the worker: a fresh process (spawn, forkserver) would not inherit the limit.
    with one_blas_thread():
        return run_one(*args)


def grid(settings: GapSettings) -> list[tuple[str, int, str]]:
    """Every point: (cell, gap, rule)."""
    return [
        (cell, gap, rule)
        for cell in settings.cells
        for gap in settings.gaps
        for rule in settings.rules
    ]


def usable_cpus() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def run_grid(
    settings: GapSettings,
    jobs: int = 1,
    on_result: Callable[[SeedRun], None] | None = None,
) -> list[SeedRun]:
    """Every seed of every point, in grid order whatever ``jobs`` (processes) is."""
    tasks = [(settings, c, g, r, s) for c, g, r in grid(settings) for s in range(settings.seeds)]
    out: list[SeedRun] = []
    # No more processes than tasks or cores: more would only wait, and each costs memory.
    jobs = min(jobs, len(tasks), usable_cpus())
    if jobs <= 1:
        for task in tasks:
            out.append(_run_task(task))
            if on_result is not None:
                on_result(out[-1])
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for res in pool.map(_run_task, tasks, chunksize=1):
            out.append(res)
            if on_result is not None:
                on_result(res)
    return out


@dataclass(frozen=True)
class Point:
    """Success over seeds at one (cell, gap, rule)."""

    cell: str
    gap: int
    rule: str
    window: int | None
    successes: int
    n: int
    low: float
    high: float
    mean_accuracy: float
    accuracies: tuple[float, ...]

    @property
    def rate(self) -> float:
        """The share of seeds that succeeded."""
        return self.successes / self.n


def summarise(settings: GapSettings, runs: Iterable[SeedRun]) -> list[Point]:
    """One :class:`Point` per grid point, in grid order."""
    by_point: dict[tuple[str, int, str], list[SeedRun]] = {}
    for r in runs:
        by_point.setdefault((r.cell, r.gap, r.rule), []).append(r)
    points = []
    for (cell, gap, rule), rs in by_point.items():
        acc = tuple(r.accuracy for r in sorted(rs, key=lambda r: r.seed))
        wins = sum(a >= settings.threshold for a in acc)
        low, high = wilson_interval(wins, len(acc))
        window = window_for(gap) if rule == "window" else None
        points.append(
            Point(cell, gap, rule, window, wins, len(acc), low, high, float(np.mean(acc)), acc)
        )
    return points


def format_table(settings: GapSettings, points: Sequence[Point]) -> str:
    """The plain-text table: one row per (cell, gap), one column per rule."""
    rules = [r for r in settings.rules if any(p.rule == r for p in points)]
    head = f"{'cell':<6} {'k':>3}  " + "  ".join(f"{_rule_label(r):<27}" for r in rules)
    lines = [head.rstrip()]
    rows: dict[tuple[str, int], dict[str, Point]] = {}
    for p in points:
        rows.setdefault((p.cell, p.gap), {})[p.rule] = p
    for (cell, gap), cols in rows.items():
        parts = []
        for r in rules:
            q = cols.get(r)
            if q is None:
                parts.append(f"{'-':<27}")
                continue
            entry = (
                f"{q.successes:>2}/{q.n:<2} [{q.low:.2f}, {q.high:.2f}] acc {q.mean_accuracy:.2f}"
            )
            parts.append(f"{entry:<27}")
        lines.append((f"{cell:<6} {gap:>3}  " + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def _rule_label(rule: str) -> str:
    return {"naive": "naive 1-hop", "window": "window W=max(1,k//2)", "full": "full BPTT"}[rule]


def to_json(
    settings: GapSettings, points: Sequence[Point], runs: Sequence[SeedRun], seconds: float
) -> dict[str, Any]:
    """Everything the run found, as plain JSON data."""
    return {
        "settings": asdict(settings),
        "chance": settings.chance,
        "wall_seconds": seconds,
        "cpu_seconds": sum(r.cpu_seconds for r in runs),
        "points": [{**asdict(p), "rate": p.rate} for p in points],
        "norms": [
            {
                "cell": r.cell,
                "gap": r.gap,
                "rule": r.rule,
                "seed": r.seed,
                "init": list(r.norms_init),
                "trained": list(r.norms_trained),
            }
            for r in runs
            if r.norms_init is not None and r.norms_trained is not None
        ],
    }


# ----------------------------------------------------------------------------- pictures


def _pyplot() -> Any:
    return pyplot(what="drawing the experiment's pictures", extra="experiment")


def _save(fig: Any, path: str) -> None:
    # Written beside the target and renamed: a failed save leaves no half a picture.
    plt = _pyplot()
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=90)
    finally:
        plt.close(fig)


COLOURS = {"naive": "tab:red", "window": "tab:orange", "full": "tab:blue"}
STYLES = ("-", "--", ":", "-.")


def plot_success(settings: GapSettings, points: Sequence[Point], path: str) -> None:
    """Success rate (Wilson 95 % bars) and mean query accuracy against the gap k."""
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ci, cell in enumerate(settings.cells):
        for rule in settings.rules:
            ps = sorted(
                (p for p in points if p.cell == cell and p.rule == rule), key=lambda p: p.gap
            )
            if not ps:
                continue
            ks = [p.gap for p in ps]
            label = _rule_label(rule) + (f" ({cell})" if len(settings.cells) > 1 else "")
            style = dict(color=COLOURS[rule], ls=STYLES[ci % len(STYLES)], marker="o", ms=4)
            rates = np.array([p.rate for p in ps])
            err = np.array([[p.rate - p.low for p in ps], [p.high - p.rate for p in ps]])
            ax.errorbar(ks, rates, yerr=err, capsize=3, label=label, **style)
            bx.plot(ks, [p.mean_accuracy for p in ps], label=label, **style)
    bx.axhline(settings.chance, color="grey", lw=1, ls=":", label=f"chance {settings.chance:.2f}")
    for a in (ax, bx):
        a.set_xscale("log", base=2)
        a.set_xticks(list(settings.gaps), [str(k) for k in settings.gaps])
        a.set_xlabel("k: distractors between key and query")
        a.grid(alpha=0.3)
        a.set_ylim(-0.03, 1.03)
    ax.set_ylabel(f"share of seeds with query accuracy >= {settings.threshold:g}")
    bx.set_ylabel("mean query accuracy over seeds")
    ax.legend(fontsize=8)
    bx.legend(fontsize=8)
    fig.suptitle(
        f"Latch task: {settings.seeds} seeds per point, {settings.steps} Adam steps of "
        f"{settings.batch_size} words, H={settings.hidden}; bars: Wilson 95 %"
    )
    fig.tight_layout()
    _save(fig, path)


def plot_norms(settings: GapSettings, runs: Sequence[SeedRun], path: str) -> None:
    """||dL_t/dh_{t-j}|| against j at the norm gap: median over seeds, quartile band."""
    plt = _pyplot()
    measured = [r for r in runs if r.norms_init is not None and r.norms_trained is not None]
    if not measured:
        raise CharRNNError("no gradient norms were measured (norm_gap is not in the grid)")
    norm_gap = settings.norm_gap
    assert norm_gap is not None  # runs measure norms only at the norm gap
    cells = [c for c in settings.cells if any(r.cell == c for r in measured)]
    fig, axes = plt.subplots(1, len(cells), figsize=(6.5 * len(cells), 4.4), squeeze=False)
    for ax, cell in zip(axes[0], cells, strict=True):
        mine = [r for r in measured if r.cell == cell]
        # Every rule starts from the same initial parameters: one rule's seeds give the curve.
        init = np.array([r.norms_init for r in mine if r.rule == mine[0].rule])
        curves = [("at initialisation", "black", init)]
        for rule in settings.rules:
            got = [r.norms_trained for r in mine if r.rule == rule]
            if got:
                curves.append(
                    (f"after training, {_rule_label(rule)}", COLOURS[rule], np.array(got))
                )
        for label, colour, arr in curves:
            j = np.arange(arr.shape[1])
            q1, med, q3 = np.percentile(arr, [25, 50, 75], axis=0)
            ax.plot(j, med, color=colour, label=label, lw=1.6)
            ax.fill_between(j, q1, q3, color=colour, alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("j: steps back from the query")
        ax.set_ylabel("||dL_t / dh_{t-j}|| (mean over 100 words)")
        ax.axvline(norm_gap + 1, color="grey", lw=1, ls=":")
        ax.text(
            norm_gap + 1,
            ax.get_ylim()[0],
            " key read",
            color="grey",
            fontsize=8,
            va="bottom",
        )
        ax.set_title(
            f"{cell} cell, k={settings.norm_gap}: median over {settings.seeds} seeds, "
            "quartile band",
            fontsize=10,
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def run_experiment(
    settings: GapSettings, jobs: int = 1, on_result: Callable[[SeedRun], None] | None = None
) -> tuple[list[Point], list[SeedRun], float]:
    """Run the grid; returns (points, every seed's run, seconds)."""
    t0 = time.perf_counter()
    runs = run_grid(settings, jobs, on_result)
    return summarise(settings, runs), runs, time.perf_counter() - t0
