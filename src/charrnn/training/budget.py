"""A time budget that shapes the run: how many steps fit, and the schedule over them.

A run given ``time_budget`` minutes and no step count measures its own speed
over its first steps, fixes a step count that fits the budget, and lays the
learning-rate schedule (warm-up, then cosine decay to its floor) over those
steps. At a few points (a quarter, half, three quarters and nine tenths of the
budget, or of the plan's steps, whichever comes first) it looks again: if the
steps left would end more than a few percent away from the budget, it re-plans
the remaining steps, keeping the schedule continuous, so the rate still reaches
its floor at the end.

Every decision is a :class:`PlanEntry`; the list of them is the plan. It is
saved in the run state (so a resume follows it bit-identically) and in
``config.json``, and ``Config.plan`` replays it (``"STEP:TOTAL,..."``), so a
rerun given the same plan takes the same steps at the same rates whatever the
clock says.

Nothing here reads a clock or a file: the run hands in the times.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..common.errors import CharRNNError
from ..core.config import Config, plan_pairs

# The points of the budget (shares of it) where a plan is checked again.
CHECKPOINTS = (0.25, 0.5, 0.75, 0.9)
# A re-plan happens when the steps left would end further than this share of the
# budget from it (and further than MIN_DRIFT_S seconds).
DRIFT = 0.03
MIN_DRIFT_S = 1.0
# The first plan is made once this share of the budget (at least MIN_MEASURE_S,
# at most MAX_MEASURE_S seconds) and MIN_MEASURE_STEPS steps have been timed,
# after the first step, whose set-up cost says nothing about the rest.
MEASURE_SHARE = 0.02
MIN_MEASURE_S = 1.0
MAX_MEASURE_S = 20.0
MIN_MEASURE_STEPS = 3


@dataclass(frozen=True)
class PlanEntry:
    """One decision of the plan: from step ``step`` (0-based) on, the run has ``total`` steps.

    Attributes
    ----------
    step : int
        The first step whose learning rate follows this entry.
    total : int
        The planned number of steps of the whole run.
    progress : float
        The schedule's progress (0 at the end of warm-up, 1 at the floor) at
        ``step``: where the previous entry had brought it, so the rate has no jump.
    elapsed, rate : float
        Training seconds at the decision, and the measured seconds per step it
        used (0 for a replayed plan).
    why : str
        "first plan", "slower", "faster", "steps cap" or "given".
    """

    step: int
    total: int
    progress: float
    elapsed: float = 0.0
    rate: float = 0.0
    why: str = "given"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> PlanEntry:
        """Inverse of :meth:`to_dict`, checking every value.

        Raises
        ------
        CharRNNError
            If ``d`` is not a plan entry.
        """
        if not isinstance(d, dict) or set(d) != {f for f in cls.__dataclass_fields__}:
            raise CharRNNError(
                f"a plan entry must be an object with {sorted(cls.__dataclass_fields__)}"
            )
        ints = all(isinstance(d[k], int) and not isinstance(d[k], bool) for k in ("step", "total"))
        nums = all(
            isinstance(d[k], int | float) and not isinstance(d[k], bool) and math.isfinite(d[k])
            for k in ("progress", "elapsed", "rate")
        )
        if not (ints and nums and isinstance(d["why"], str)):
            raise CharRNNError(f"plan entry has a value of the wrong type: {d!r}")
        if not (0 <= d["step"] < d["total"] and 0 <= d["progress"] <= 1):
            raise CharRNNError(f"plan entry out of range: {d!r}")
        return cls(**d)


def format_plan(entries: list[PlanEntry]) -> str:
    """The plan as ``Config.plan`` takes it: ``"STEP:TOTAL,..."``."""
    return ",".join(f"{e.step}:{e.total}" for e in entries)


class Schedule:
    """The learning rate of every step, over a fixed step count or a plan.

    Parameters
    ----------
    config : Config
    fixed : int or None
        The run's step count when it is known up front (``steps``, ``epochs``);
        ``None`` when a plan sets it (a time budget, or ``config.plan``).
    cap : int or None
        With a plan: the most steps the run may take (``steps`` or ``epochs``
        given beside a time budget: whichever comes first).
    """

    def __init__(self, config: Config, fixed: int | None, cap: int | None = None):
        self.config = config
        self.fixed = fixed
        self.cap = cap
        self.entries: list[PlanEntry] = []
        self._given = plan_pairs(config.plan) if config.plan else []

    @property
    def planned(self) -> bool:
        """True when a plan (not a fixed count) sets the step count."""
        return self.fixed is None

    def total(self) -> int | None:
        """The run's step count as now planned (``None``: not yet planned)."""
        if self.fixed is not None:
            return self.fixed
        return self.entries[-1].total if self.entries else None

    def follow_given(self, step: int) -> None:
        """Take a replayed plan's entry that starts at ``step``, if there is one."""
        for at, total in self._given:
            if at == step and not (self.entries and self.entries[-1].step >= at):
                self.apply(step, total, why="given")

    def progress(self, step: int) -> float:
        """The schedule's progress at ``step``: 0 until warm-up ends and a plan
        exists, 1 at the end."""
        warmup = self.config.warmup
        if step < warmup:
            return 0.0
        if self.fixed is not None:
            return min(1.0, (step - warmup) / max(1, self.fixed - warmup))
        # The entry in force at `step`: the last one taken at or before it.
        e = next((e for e in reversed(self.entries) if e.step <= step), None)
        if e is None:
            return 0.0  # measuring: the rate holds at its peak until the first plan
        start = max(e.step, warmup)
        if step < start:
            return e.progress
        return min(1.0, e.progress + (step - start) * (1 - e.progress) / max(1, e.total - start))

    def lr(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based)."""
        return self.config.lr_for(step, self.progress(step))

    def apply(
        self, step: int, total: int, *, elapsed: float = 0.0, rate: float = 0.0, why: str = "given"
    ) -> PlanEntry:
        """From ``step`` on, the run has ``total`` steps (within the cap); returns the entry."""
        if self.cap is not None and total > self.cap:
            total, why = self.cap, "steps cap"
        total = max(total, step + 1)
        entry = PlanEntry(step, total, self.progress(step), elapsed, rate, why)
        self.entries.append(entry)
        return entry

    def restore(self, entries: list[PlanEntry], step: int) -> None:
        """Continue a saved run's plan from ``step``; a cap given to the resume (a lower
        ``steps``) ends it sooner, the rate decaying to its floor by then.

        A run saved with a fixed step count saved no plan: resumed with a time budget, it
        keeps the provisional plan of its steps (the cap) until the clock re-plans it.
        """
        if entries or self.fixed is not None:
            self.entries = list(entries)
        if self.cap is not None and self.entries and self.entries[-1].total > self.cap:
            self.apply(step, self.cap, why="steps cap")


class Planner:
    """When a budgeted run fixes its step count, and when it re-plans (rank 0's clock).

    Parameters
    ----------
    budget : float
        Seconds of training time.
    """

    def __init__(self, budget: float):
        self.budget = budget
        self.measured = False  # the first plan is made
        self.measure_from: tuple[int, float] | None = None  # (step, elapsed) after the first step
        self.seen_step: int | None = None  # the first step this process decided in
        self.window: tuple[int, float] | None = None  # since the last look: (step, elapsed)
        self.next_check = 0  # index into CHECKPOINTS

    def resume(self, step: int, elapsed: float, planned: bool) -> None:
        """Pick up a resumed run: checkpoints already passed are not looked at again."""
        self.next_check = sum(elapsed >= c * self.budget for c in CHECKPOINTS)
        if planned:
            self.measured = True
            self.window = (step, elapsed)

    def decide(
        self, step: int, elapsed: float, schedule: Schedule
    ) -> tuple[int, float, str] | None:
        """A new ``(total, seconds per step, why)`` before step ``step``, or ``None``.

        ``elapsed`` is the training time when step ``step`` starts.
        """
        if not self.measured:
            return self._first(step, elapsed, schedule)
        if self.window is None:
            self.window = (step, elapsed)
        total = schedule.total()
        assert total is not None
        # A look is due when the clock or the steps reach the next share: of the budget, or
        # of the steps the plan in force has left (a first estimate far off either way is
        # caught early, not only once a quarter of the budget has gone).
        start = schedule.entries[-1].step

        def passed(share: float) -> bool:
            return elapsed >= share * self.budget or step - start >= share * (total - start)

        if self.next_check >= len(CHECKPOINTS) or not passed(CHECKPOINTS[self.next_check]):
            return None
        while self.next_check < len(CHECKPOINTS) and passed(CHECKPOINTS[self.next_check]):
            self.next_check += 1
        w_step, w_elapsed = self.window
        self.window = (step, elapsed)
        if step <= w_step:
            return None
        rate = (elapsed - w_elapsed) / (step - w_step)
        finish = elapsed + (total - step) * rate
        if abs(finish - self.budget) <= max(DRIFT * self.budget, MIN_DRIFT_S):
            return None
        new = self._fit(step, elapsed, rate)
        if schedule.cap is not None and min(new, schedule.cap) == total:
            return None  # the steps given still end first
        return new, rate, "slower" if finish > self.budget else "faster"

    def _first(
        self, step: int, elapsed: float, schedule: Schedule
    ) -> tuple[int, float, str] | None:
        if self.measure_from is None:
            # The first step this process takes pays for its set-up: time from the next.
            if self.seen_step is not None and step > self.seen_step:
                self.measure_from = (step, elapsed)
            self.seen_step = step if self.seen_step is None else self.seen_step
            return None
        m_step, m_elapsed = self.measure_from
        spent = elapsed - m_elapsed
        wanted = min(MAX_MEASURE_S, max(MIN_MEASURE_S, MEASURE_SHARE * self.budget))
        if step - m_step < MIN_MEASURE_STEPS or (spent < wanted and elapsed < self.budget / 2):
            return None
        rate = spent / (step - m_step)
        self.measured = True
        self.window = (step, elapsed)
        self.next_check = sum(elapsed >= c * self.budget for c in CHECKPOINTS)
        total = self._fit(step, elapsed, rate)
        if schedule.cap is not None and total >= schedule.cap:
            return None  # the steps given end first: their plan stands
        return total, rate, "first plan"

    def _fit(self, step: int, elapsed: float, rate: float) -> int:
        """The step count that ends the run at the budget at ``rate`` seconds per step."""
        left = max(0.0, self.budget - elapsed)
        return step + max(1, math.floor(left / max(rate, 1e-9)))
