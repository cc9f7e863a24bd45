"""Watching a run learn: its loss curves and samples from its checkpoints, as they appear.

A :class:`RunWatcher` reads a run directory that a trainer may be writing, and
never gets in its way:

- it takes no lock (the run's lock is the trainer's; it only opens files to read);
- checkpoints are written whole and renamed into place (``common.files.atomic_write``),
  so a checkpoint opened is always one whole file, the old or the new one;
- the metrics log is appended a line at a time, so the last line may be cut
  mid-write: only whole lines are read, and the rest waits for the next poll;
  a log replaced (a resume drops lines past its checkpoint) is read again from
  the start.

Each new checkpoint (``latest.npz``, ``best.npz``) is sampled once, at a few
fixed temperatures and greedily, and kept in a list over training time (at
most :data:`MAX_ENTRIES`, thinned evenly), as Karpathy showed samples at
iterations 100, 300, 500... Everything a poll returns is bounded.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..api import CharRNN
from ..common.errors import CharRNNError
from ..training import checkpoint
from ..training.rundir import BEST, LATEST, METRICS

TEMPERATURES = (0.2, 0.5, 0.8, 1.0, 1.2, 1.5)
MAX_POINTS = 1000  # points of each curve a poll returns
MAX_RECORDS = 200_000  # records kept in memory (thinned by half past it)
MAX_ENTRIES = 40  # checkpoints kept in the list of samples
MAX_READ = 8 << 20  # bytes of the log read per poll (a huge log is read over several)
TEXT_SAMPLE = 200  # characters of a text-mode sample
WORDS_SAMPLES, TEXT_SAMPLES = 8, 3


@dataclass
class Entry:
    """One checkpoint's samples."""

    step: int
    elapsed: float  # training seconds when it was saved
    files: list[str]
    samples: dict[float, list[str]]  # by temperature
    greedy: str


@dataclass
class _LogReader:
    """The metrics log read incrementally, whole lines only."""

    path: str
    offset: int = 0
    ino: tuple[int, int] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    changed: float = 0.0  # mtime of the log when last read

    def read(self) -> None:
        try:
            f = open(self.path, "rb")
        except OSError:
            return  # no log yet (or it is being replaced): nothing new
        with f:
            st = os.fstat(f.fileno())
            ino = (st.st_dev, st.st_ino)
            if ino != self.ino or st.st_size < self.offset:
                # A new log (a resume rewrote it): read it again from the start.
                self.ino, self.offset, self.records = ino, 0, []
            self.changed = st.st_mtime
            f.seek(self.offset)
            data = f.read(min(st.st_size - self.offset, MAX_READ))
        end = data.rfind(b"\n")
        if end < 0:
            return  # no whole line yet: the trainer is still writing it
        self.offset += end + 1
        for line in data[: end + 1].splitlines():
            record = _record(line)
            if record is not None:
                self.records.append(record)
        if len(self.records) > MAX_RECORDS:
            self.records = self.records[::2] + (
                [self.records[-1]] if len(self.records) % 2 == 0 else []
            )


def _record(line: bytes) -> dict[str, Any] | None:
    """One log line's step and losses, or None for a line that is not one."""
    try:
        r = json.loads(line)
        step, train = int(r["step"]), float(r["train_loss"])
        val = r.get("val_loss")
        val = None if val is None else float(val)
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        return None
    finite = math.isfinite(train) and (val is None or math.isfinite(val))
    if not finite:
        return None
    return {"step": step, "train": train, "val": val, "elapsed": r.get("wall_time")}


def _thin(points: list[Any], most: int) -> list[Any]:
    """At most ``most`` of ``points``, evenly spread, the first and last kept."""
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


class RunWatcher:
    """What a run directory holds now, read without disturbing its trainer (module notes).

    Parameters
    ----------
    path : str
        The run directory.
    seed : int
        Seed of the samples (each checkpoint's samples use ``seed + step``).
    """

    def __init__(self, path: str, seed: int = 0):
        self.path = path
        self.seed = seed
        self.log = _LogReader(os.path.join(path, METRICS))
        self.entries: list[Entry] = []
        self.seen: dict[str, tuple[int, int, int, int]] = {}  # file: (dev, ino, mtime, size)
        self.model: CharRNN | None = None  # the newest model a load of the run gives
        self.model_step: int | None = None
        self.lock = threading.Lock()  # polls come from several request threads

    def _signature(self, name: str) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(os.path.join(self.path, name))
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _check_checkpoints(self) -> None:
        for name in (LATEST, BEST):
            sig = self._signature(name)
            if sig is None or self.seen.get(name) == sig:
                continue
            # Seen, loaded or not: a damaged file is not read again until it changes (a file
            # replaced while it was opened has a new signature: it is read at the next poll).
            self.seen[name] = sig
            try:
                ckpt = checkpoint.load(os.path.join(self.path, name))
            except CharRNNError:
                continue
            model = CharRNN.from_checkpoint(ckpt)
            label = name.removesuffix(".npz")
            if name == BEST or not os.path.exists(os.path.join(self.path, BEST)):
                self.model, self.model_step = model, ckpt.step  # what CharRNN.load gives
            for e in self.entries:
                if e.step == ckpt.step:
                    if label not in e.files:
                        e.files.append(label)
                    break
            else:
                self._add(
                    Entry(ckpt.step, ckpt.run.elapsed, [label], *self._samples(model, ckpt.step))
                )

    def _samples(self, model: CharRNN, step: int) -> tuple[dict[float, list[str]], str]:
        text = model.config_.mode == "text"
        n = TEXT_SAMPLES if text else WORDS_SAMPLES
        length = TEXT_SAMPLE if text else None
        seed = (self.seed + step) % 2**32
        samples = {
            t: model.sample(n=n, temperature=t, max_len=length, random_state=seed)
            for t in TEMPERATURES
        }
        greedy = model.sample(n=1, greedy=True, max_len=length, random_state=seed)[0]
        return samples, greedy

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.entries.sort(key=lambda e: e.step)
        while len(self.entries) > MAX_ENTRIES:
            # Drop the entry closest to its earlier neighbour (never the first or the last):
            # the list stays spread over the whole of training.
            gaps = [
                self.entries[i + 1].step - self.entries[i - 1].step
                for i in range(1, len(self.entries) - 1)
            ]
            del self.entries[1 + gaps.index(min(gaps))]

    def poll(self, temperature: float) -> dict[str, Any]:
        """The run as it is now: curves, samples at ``temperature`` (one of
        :data:`TEMPERATURES`), the greedy line, and when the log last changed."""
        if temperature not in TEMPERATURES:
            raise CharRNNError(
                "temperature must be one of "
                + ", ".join(map(str, TEMPERATURES))
                + f" for the samples of training; got {temperature}"
            )
        with self.lock:
            self.log.read()
            self._check_checkpoints()
            records = self.log.records
            train = _thin(records, MAX_POINTS)
            val = _thin([r for r in records if r["val"] is not None], MAX_POINTS)
            return {
                "train": [[r["step"], r["train"]] for r in train],
                "val": [[r["step"], r["val"]] for r in val],
                "last": records[-1] if records else None,
                "idle": max(0.0, time.time() - self.log.changed) if self.log.changed else None,
                "model_step": self.model_step,
                "mode": self.model.config_.mode if self.model is not None else None,
                "temperature": temperature,
                "temperatures": list(TEMPERATURES),
                "checkpoints": [
                    {
                        "step": e.step,
                        "elapsed": e.elapsed,
                        "files": e.files,
                        "samples": e.samples[temperature],
                        "greedy": e.greedy,
                    }
                    for e in reversed(self.entries)  # newest first
                ],
            }


def is_run_dir(path: str) -> bool:
    """Whether ``path`` is a run directory (a trainer's folder), not a checkpoint file."""
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, n)) for n in (METRICS, LATEST, BEST, "config.json")
    )
