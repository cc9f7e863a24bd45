"""README.ko.md's commands run as written.

Its ```sh blocks hold the short commands: every line is run here, in order, in one
empty folder, through the CLI in-process. ```bash blocks hold the long ones (the full
comparison, the demo) and are left to the reader. Its ```python blocks are run too.
"""

from __future__ import annotations

import re
import shlex

import pytest

from charrnn.cli import main
from tests.conftest import ROOT

README = ROOT / "README.ko.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text("utf-8")) if lang == kind]


def test_the_guide_has_short_commands_and_python():
    commands = [line for b in blocks("sh") for line in b.splitlines() if line.strip()]
    assert len(commands) >= 8
    assert all(c.startswith("charrnn ") for c in commands)
    assert any("--units jamo" in c for c in commands)
    assert blocks("python")


@pytest.mark.slow
def test_the_guides_commands_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for block in blocks("sh"):
        for line in block.splitlines():
            if not line.strip():
                continue
            args = shlex.split(line, comments=True)
            assert args[0] == "charrnn", line
            code = main(args[1:])
            out, err = capsys.readouterr()
            assert code == 0, f"{line}\n{err}"
            if args[1] == "sample":
                assert not re.search("[\u1100-\u11ff]", out), out  # whole syllables only
    namespace: dict[str, object] = {}  # the guide's snippets follow on from each other
    for source in blocks("python"):
        exec(compile(source, str(README), "exec"), namespace)
    capsys.readouterr()


def test_the_guides_module_paths_and_pages_are_current():
    """Every `charrnn.x.y` the guide names resolves at its current path (not a moved
    one), and the guide points to the English pages under docs/ (links are checked to
    exist by tests/docs/test_examples.py)."""
    import importlib
    import warnings

    text = README.read_text("utf-8")
    names = set(re.findall(r"`(charrnn(?:\.\w+)+)`", text))
    assert names
    for name in sorted(names):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # a moved path fails here
            parts = name.split(".")
            for cut in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                    break
                except ModuleNotFoundError:
                    continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
    assert "docs/korean.md" in text and "docs/how-it-works.md" in text
