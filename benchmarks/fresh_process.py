"""Engines that train in a fresh process per measurement, as a user's ``charrnn train`` does.

A process started for one run pays costs that a long-lived benchmark process
has long amortised: imports, first touches of its memory and, when a step's
large temporaries go back to the kernel on free, page faults to bring them in
again on every step. The in-process engines never see that; these engines do.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import charrnn
from common import SelfTimed

try:
    import resource
except ImportError:  # no getrusage (Windows): rates still, no fault counts
    resource = None  # type: ignore[assignment]

WINDOWS = 4  # timed log windows per measurement, after one warm-up window


def child_env() -> dict[str, str]:
    """The parent's environment with the imported charrnn's folder first on PYTHONPATH,
    so that the child trains with the very package the parent measures."""
    src = str(pathlib.Path(charrnn.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, path]) if path else src}


def metrics_rates(stdout: str, folder: str) -> list[float]:
    """chars/s of every log window of a ``charrnn train --out folder`` run."""
    with open(pathlib.Path(folder) / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["chars_per_s"] for line in f if line.strip()]


def printed_rates(stdout: str, folder: str) -> list[float]:
    """chars/s of every log window, from a child that prints ``{"rates": [...]}`` last."""
    return json.loads(stdout.strip().splitlines()[-1])["rates"]


@dataclass(frozen=True)
class Usage:
    """What one child process cost the kernel: minor page faults and system CPU seconds."""

    steps: int
    faults: int
    sys_s: float


@dataclass
class ProcessEngine:
    """A ``run(steps)`` engine for :func:`common.rounds` that starts a fresh process per call.

    Each call trains ``steps`` steps in a new process that logs every
    ``log_every`` steps; its rate is the median chars/s of the log windows
    after the first (the first holds the warm-up), as the process itself timed
    them, so start-up and exit are not in it.

    Page faults and system CPU time come from ``getrusage(RUSAGE_CHILDREN)``
    taken just before and after each child. A child's totals include its
    start-up (imports, data, allocation), which is the same whatever its step
    count, so the first call also runs a baseline child of one window, and
    the per-step figures are (run - baseline) / (steps - baseline steps): what
    a step costs once the process is warm, as over a long training run.

    Parameters
    ----------
    command : callable
        ``command(steps, log_every, folder)``: the argv of one run, with
        ``folder`` an empty scratch folder of its own.
    window_rates : callable
        ``window_rates(stdout, folder)``: chars/s of each log window of that run.
    log_every : int
        Steps per log window; :attr:`steps` gives ``WINDOWS + 1`` windows.
    """

    command: Callable[[int, int, str], list[str]]
    window_rates: Callable[[str, str], list[float]]
    log_every: int
    baseline: Usage | None = None
    usages: list[Usage] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Steps per measurement: one warm-up window and ``WINDOWS`` timed ones."""
        return self.log_every * (WINDOWS + 1)

    def __call__(self, steps: int) -> SelfTimed:
        if self.baseline is None:
            self.baseline = self._launch(self.log_every)[1]
        rates, usage = self._launch(steps)
        self.usages.append(usage)
        return SelfTimed(statistics.median(rates[1:] or rates))

    def per_step(self) -> tuple[float, float] | None:
        """Median minor page faults and system CPU seconds per warm step (None: not measured)."""
        base = self.baseline
        if resource is None or base is None or not self.usages:
            return None
        faults = [(u.faults - base.faults) / (u.steps - base.steps) for u in self.usages]
        sys_s = [(u.sys_s - base.sys_s) / (u.steps - base.steps) for u in self.usages]
        return statistics.median(faults), statistics.median(sys_s)

    def _launch(self, steps: int) -> tuple[list[float], Usage]:
        with tempfile.TemporaryDirectory() as folder:
            argv = self.command(steps, self.log_every, folder)
            before = _children_usage()
            proc = subprocess.run(argv, capture_output=True, text=True, env=child_env())
            after = _children_usage()
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
            rates = self.window_rates(proc.stdout, folder)
        return rates, Usage(steps, after[0] - before[0], after[1] - before[1])


def _children_usage() -> tuple[int, float]:
    """Minor faults and system CPU seconds of all waited-for children so far."""
    if resource is None:
        return 0, 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_minflt, ru.ru_stime
