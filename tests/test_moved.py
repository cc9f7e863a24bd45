"""The first layout's flat module paths still import, warn, and give the module itself."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import charrnn
from charrnn._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_gives_the_module_at_its_new_path_with_a_warning(old, new):
    target = importlib.import_module(f"charrnn.{new}")
    sys.modules.pop(f"charrnn.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"charrnn.{old} moved to charrnn.{new}"):
        module = importlib.import_module(f"charrnn.{old}")
    assert module is target
    assert module.__spec__.name == f"charrnn.{new}"  # the module keeps its own spec


def test_old_paths_work_as_attributes_and_in_from_imports():
    code = (
        "import warnings; warnings.simplefilter('ignore', DeprecationWarning)\n"
        "import charrnn\n"
        "from charrnn.model import forward\n"
        "from charrnn.gated import GRU\n"
        "from charrnn.data import load_corpus, WordBatches\n"
        "import charrnn.core.model, charrnn.core.cells\n"
        "assert charrnn.model.forward is forward is charrnn.core.model.forward\n"
        "assert GRU is charrnn.core.cells.GRU\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@pytest.mark.parametrize(
    "line",
    ["import charrnn.model", "import charrnn; charrnn.model.forward", "from charrnn import gap"],
)
def test_the_warning_names_the_line_that_used_the_old_path(tmp_path, line):
    script = tmp_path / "old.py"
    script.write_text(line + "\n")
    # Python's default filters show a DeprecationWarning only when __main__ caused it.
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{script}:1: DeprecationWarning: charrnn." in r.stderr, r.stderr


def test_an_unknown_name_is_still_an_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        charrnn.nothing  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("charrnn.nothing")
