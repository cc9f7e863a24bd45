"""Module paths from before the layer folders, kept importable for a release.

``import charrnn.model`` (and every other flat path of version 0.1's first layout)
gives the module at its new place, with a :class:`DeprecationWarning` that names it.
The import system asks this finder only for names it cannot find as real modules.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

# The old flat module -> where it lives now (under ``charrnn.``). ``charrnn.cli`` and
# ``charrnn.data`` are packages now, under their old names, exporting what they exported.
MOVED = {
    "errors": "common.errors",
    "vocab": "core.vocab",
    "config": "core.config",
    "backend": "core.backend",
    "model": "core.model",
    "gated": "core.cells",
    "optim": "core.optim",
    "masks": "core.masks",
    "reference": "core.reference",
    "gradcheck": "core.gradcheck",
    "corpus": "data.corpus",
    "textcache": "data.textcache",
    "train": "training.trainer",
    "run": "training.run",
    "rundir": "training.rundir",
    "checkpoint": "training.checkpoint",
    "parallel": "training.parallel",
    "evaluate": "training.evaluate",
    "presets": "training.presets",
    "sample": "generation.sample",
    "constraints": "generation.constraints",
    "complete": "generation.complete",
    "trace": "generation.trace",
    "novelty": "generation.novelty",
    "views": "generation.views",
    "page": "viz.page",
    "serve": "viz.server",
    "vizplot": "viz.pictures",
    "plot": "viz.curves",
    "experiment": "experiments.tutorial",
    "gap": "experiments.gap",
    "demo": "experiments.demo",
    "cli_experiment": "cli.experiment",
    "flags": "cli.flags",
}


def _callers_level() -> int:
    """The ``stacklevel`` that blames the code asking for an old path, not the import
    machinery between (``import charrnn.model``, ``charrnn.model`` as an attribute,
    ``from charrnn import gap``): the default filters show a DeprecationWarning only
    where ``__main__`` or a test caused it."""
    frame = sys._getframe(1)
    level = 1
    here = (__file__, __file__.replace("_moved.py", "__init__.py"))
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:
            pass  # warnings skips the import system's frozen frames itself: not counted
        elif name in here or frame.f_globals.get("__name__") == "importlib":
            level += 1
        else:
            break
        frame = frame.f_back  # type: ignore[assignment]
    return level


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str):
        self.new = new
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; import it from there",
            DeprecationWarning,
            stacklevel=_callers_level(),
        )
        module = importlib.import_module(self.new)
        self.spec = module.__spec__  # the import system overwrites it with the alias's
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # already executed at its new path: keep its own spec


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds ``charrnn.<old>`` for every old flat module in :data:`MOVED`."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, leaf = fullname.rpartition(".")
        if package != "charrnn" or leaf not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias("charrnn." + MOVED[leaf]))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())


def load(name: str) -> ModuleType:
    """``charrnn.<name>`` for an old name, as ``import charrnn.<name>`` would give it."""
    return importlib.import_module("charrnn." + name)
