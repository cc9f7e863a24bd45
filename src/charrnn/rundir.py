"""A run directory: latest and best checkpoints, the metrics log, a readable config."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any

from . import checkpoint
from .checkpoint import Checkpoint
from .errors import CharRNNError

LATEST = "latest.npz"
BEST = "best.npz"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
RUN_FILES = (LATEST, BEST, METRICS, CONFIG)


def fingerprint(corpus: list[str] | str) -> str:
    """A short hash of a corpus, so a resume can tell it was given the same data."""
    h = hashlib.sha256()
    if isinstance(corpus, str):
        h.update(corpus.encode())
    else:
        for w in corpus:
            h.update(w.encode())
            h.update(b"\n")
    return h.hexdigest()[:16]


class RunDir:
    """The files of one training run.

    Parameters
    ----------
    path : str
        The directory (created when missing).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def holds_run(self) -> bool:
        """True when the directory already has a run's files."""
        return any(os.path.exists(self.file(n)) for n in RUN_FILES)

    def prepare(self, *, resume: bool, force: bool) -> None:
        """Create the directory, refusing to mix two runs in one.

        Raises
        ------
        CharRNNError
            If the directory holds a run and neither ``resume`` nor ``force`` is
            set, or ``resume`` is set and there is nothing to resume.
        """
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise CharRNNError(f"--out {self.path} is a file; give a directory for the run")
        if resume:
            if not os.path.isfile(self.file(LATEST)):
                raise CharRNNError(
                    f"nothing to resume: {self.file(LATEST)} does not exist; "
                    "start a new run without --resume"
                )
            return
        if self.holds_run():
            if not force:
                raise CharRNNError(
                    f"{self.path} already holds a run; pass --resume to continue it, "
                    "--force to overwrite it, or choose another --out"
                )
            for name in RUN_FILES:
                if os.path.exists(self.file(name)):
                    os.unlink(self.file(name))
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise CharRNNError(f"cannot create {self.path}: {exc.strerror}") from None

    def save_latest(self, ckpt: Checkpoint) -> None:
        checkpoint.save(self.file(LATEST), ckpt)

    def save_best(self, ckpt: Checkpoint) -> None:
        checkpoint.save(self.file(BEST), ckpt)

    def load_latest(self) -> Checkpoint:
        return checkpoint.load(self.file(LATEST))

    def copy_latest_to_best(self) -> None:
        """Without validation data the latest model is also the best one."""
        tmp = self.file(".best.tmp")
        shutil.copyfile(self.file(LATEST), tmp)
        os.replace(tmp, self.file(BEST))

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to the metrics log."""
        with open(self.file(METRICS), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def write_config(self, config: dict[str, Any]) -> None:
        tmp = self.file(".config.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.file(CONFIG))

    def read_config(self) -> dict[str, Any]:
        """The run's ``config.json``, or an empty dict when it is missing or unreadable."""
        try:
            with open(self.file(CONFIG), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def read_metrics(self) -> list[dict[str, Any]]:
        """The metrics log as a list of records (empty when there is none)."""
        path = self.file(METRICS)
        if not os.path.isfile(path):
            raise CharRNNError(f"{path} does not exist; is {self.path} a charrnn run?")
        out = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    raise CharRNNError(f"{path} line {n} is not JSON; the log is damaged") from None
        return out
