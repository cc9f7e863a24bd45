"""docs/architecture.md's generated parts match the packages, modules and layers.

The page's tables of layers, modules and moved paths are written by
``scripts/architecture.py --write`` from ``src/charrnn`` (docstrings), ``pyproject.toml``
(the import-linter layers) and ``charrnn/_moved.py``; after adding, moving or renaming a
module, rerun it and commit the page.
"""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts/architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_page_is_up_to_date():
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    assert script.render(page) == page, (
        "docs/architecture.md is out of date with src/charrnn: "
        "run `python scripts/architecture.py --write` and commit the page"
    )


def test_the_page_names_every_module_and_layer():
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    for layer in script.layers():
        for name in layer:
            assert f"`charrnn/{name}" in page, name
    for path in (ROOT / "src" / "charrnn").rglob("*.py"):
        if path.name != "__init__.py":
            assert f"`{path.name}`" in page or f"/{path.name}`" in page, path
    for old, new in script.moved().items():
        assert f"| `charrnn.{old}` | `charrnn.{new}` |" in page


def test_the_check_fails_on_a_stale_page(tmp_path, monkeypatch):
    script = _script()
    stale = tmp_path / "architecture.md"
    stale.write_text(
        script.PAGE.read_text(encoding="utf-8").replace("`gap.py`", "`gone.py`"), "utf-8"
    )
    monkeypatch.setattr(script, "PAGE", stale)
    assert script.main(["--check"]) == 1
    assert script.main(["--write"]) == 0
    assert script.main(["--check"]) == 0
