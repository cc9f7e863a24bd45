"""A run directory: latest and best checkpoints, the metrics log, a readable config."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import weakref

try:  # POSIX: an advisory lock the kernel drops when the process dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]
from typing import Any

from ..common.errors import CharRNNError
from ..common.files import atomic_write, write_atomic
from ..data.textcache import token_cache_name
from . import checkpoint
from .checkpoint import Checkpoint

LATEST = "latest.npz"
BEST = "best.npz"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
RUN_FILES = (LATEST, BEST, METRICS, CONFIG)
LOCK = ".lock"


class RunDir:
    """The files of one training run.

    Parameters
    ----------
    path : str
        The directory (created when missing).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._release: weakref.finalize[[int], RunDir] | None = None

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def holds_run(self) -> bool:
        """True when the directory already has a run's files."""
        return any(os.path.exists(self.file(n)) for n in RUN_FILES)

    def create(self) -> None:
        """Make the directory (and its parents) if it does not exist."""
        if not self.path:
            raise CharRNNError("out_dir is empty; name the folder for the run", params=("out_dir",))
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise CharRNNError(
                f"{self.path} is a file; give a directory for the run", params=("out_dir",)
            )
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise CharRNNError(f"cannot create {self.path}: {exc.strerror}") from None

    def lock(self) -> None:
        """Take the directory for this process, or fail if a live process holds it.

        The lock is ``flock`` on a file in the directory: the kernel releases it
        when its process ends in any way, so a killed run never blocks a resume.

        Raises
        ------
        CharRNNError
            If another live process holds the directory.
        """
        if fcntl is None or self._release is not None:
            return
        try:
            fd = os.open(self.file(LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CharRNNError(
                f"cannot write in {self.path}: {exc.strerror}; choose another out_dir",
                params=("out_dir",),
            ) from None
        # Closing the descriptor releases the lock: when unlock() is called, or when
        # this object is collected (a notebook that never closes its run), or at exit.
        release = weakref.finalize(self, os.close, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            release()
            raise CharRNNError(
                f"{self.path} is in use by process {holder}, which is training in it; wait "
                "for it to finish or stop it, or choose another out_dir",
                params=("out_dir",),
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as exc:
            release()
            raise CharRNNError(f"cannot write in {self.path}: {exc.strerror}") from None
        self._release = release

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (the lock file stays, empty of meaning)."""
        if self._release is not None:
            self._release()
            self._release = None

    def check_resumable(self) -> None:
        """Raise unless the directory holds a run to resume."""
        if not os.path.isfile(self.file(LATEST)):
            if self.holds_run():
                # A run that stopped before its first save: the other advice would
                # send the user back here ("already holds a run; pass resume").
                raise CharRNNError(
                    f"there is no run to continue: {self.file(LATEST)} does not exist (the "
                    f"run in {self.path} stopped before its first save); pass force without "
                    "resume to start it again there, or choose another out_dir",
                    params=("resume", "force", "out_dir"),
                )
            raise CharRNNError(
                f"there is no run to continue: {self.file(LATEST)} does not exist; "
                "start a new run without resume",
                params=("resume",),
            )

    def refuse_to_overwrite(self, *, force: bool) -> None:
        """Refuse to start a new run where one is, unless ``force``.

        Raises
        ------
        CharRNNError
            If the directory holds a run and ``force`` is not set.
        """
        if self.holds_run() and not force:
            raise CharRNNError(
                f"{self.path} already holds a run; pass resume to continue it, force to "
                "overwrite it, or choose another out_dir",
                params=("resume", "force", "out_dir"),
            )

    def clear_run(self, keep: str | None = None) -> None:
        """Delete the run files of an earlier run (``force``); the lock stays.

        Its token caches (a text encoded once, :func:`token_cache_name`) go too, all but
        ``keep``, the one this run reads: each holds a whole corpus.
        """
        for name in RUN_FILES:
            if os.path.exists(self.file(name)):
                os.unlink(self.file(name))
        for name in os.listdir(self.path):
            if fnmatch.fnmatch(name, token_cache_name("*")) and name != keep:
                os.unlink(self.file(name))

    def save_latest(self, ckpt: Checkpoint) -> None:
        checkpoint.save(self.file(LATEST), ckpt)

    def save_best(self, ckpt: Checkpoint) -> None:
        checkpoint.save(self.file(BEST), ckpt)

    def load_latest(self) -> Checkpoint:
        return checkpoint.load(self.file(LATEST))

    def load_best(self) -> Checkpoint:
        return checkpoint.load(self.file(BEST))

    def copy_latest_to_best(self) -> None:
        """Without validation data the latest model is also the best one."""
        with open(self.file(LATEST), "rb") as src, atomic_write(self.file(BEST), fsync=True) as dst:
            shutil.copyfileobj(src, dst)

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to the metrics log."""
        with open(self.file(METRICS), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Drop log records past ``step``: those a crashed run wrote after its last save.

        A resume repeats those steps and logs them again.
        """
        path = self.file(METRICS)
        if not os.path.isfile(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        kept = []
        for line in lines:
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                break  # a torn last line of a killed run
        if len(kept) == len(lines):
            return
        with atomic_write(path, "w") as f:
            f.writelines(kept)

    def write_config(self, config: dict[str, Any]) -> None:
        write_atomic(self.file(CONFIG), json.dumps(config, indent=2) + "\n")

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
        # Bytes that are not UTF-8 become U+FFFD and fail as JSON below, with their line.
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                if not isinstance(record, dict):
                    raise CharRNNError(
                        f"{path} line {n} is not a JSON record; the log is damaged: mend or "
                        "delete that line"
                    )
                out.append(record)
        return out
