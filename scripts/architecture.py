"""Write the generated parts of docs/architecture.md from the code.

    python scripts/architecture.py --write   # after adding, moving or renaming a module
    python scripts/architecture.py --check   # exit 1 if the page is out of date (a test runs it)

It walks ``src/charrnn``'s packages and modules without importing them, takes each one's
docstring (its first paragraph), reads the layers from the import-linter contract in
``pyproject.toml``, and the old module paths from ``charrnn/_moved.py``'s ``MOVED``; then
it replaces what lies between the page's markers (``<!-- generated:NAME -->`` and
``<!-- end:NAME -->``) and leaves the hand-written prose around them alone.
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "charrnn"
PAGE = ROOT / "docs" / "architecture.md"
PYPROJECT = ROOT / "pyproject.toml"
MARKERS = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?)(<!-- end:\2 -->)", re.DOTALL)
NOTE = "<!-- written by scripts/architecture.py --write: edit the code, not this part -->\n"


def summary(path: pathlib.Path) -> str:
    """A module's docstring, first paragraph, on one line ("" when it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = doc.strip().split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    text = re.sub(r":(?:mod|func|class|meth|data):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("|", "\\|")


def layers() -> list[list[str]]:
    """The package's layers contract (the first in pyproject.toml), top first; each a list
    of sibling packages."""
    text = PYPROJECT.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the one list this needs, read plainly
        found = re.search(r'type = "layers".*?layers = \[(.*?)\]', text, re.DOTALL)
        if not found:
            raise SystemExit("pyproject.toml has no import-linter layers contract") from None
        names = re.findall(r'"([^"]+)"', found.group(1))
    else:
        contracts = tomllib.loads(text)["tool"]["importlinter"]["contracts"]
        # The package's own layers; contracts inside a layer (charrnn.core) come after it.
        [contract] = [c for c in contracts if c.get("containers") == ["charrnn"]]
        names = contract["layers"]
    return [[name.strip() for name in layer.split("|")] for layer in names]


def moved() -> dict[str, str]:
    """``charrnn._moved.MOVED``, read from its source."""
    tree = ast.parse((PACKAGE / "_moved.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "MOVED":
            return ast.literal_eval(node.value)
    raise SystemExit("charrnn/_moved.py has no MOVED")


def modules(folder: pathlib.Path) -> list[pathlib.Path]:
    """The ``.py`` files of a package folder, ``__init__`` first, then by name."""
    files = sorted(folder.glob("*.py"), key=lambda p: (p.name != "__init__.py", p.name))
    return [f for f in files if f.name != "__init__.py" or f.parent != PACKAGE]


def packages(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def data_folders(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not (p / "__init__.py").exists() and p.name != "__pycache__"
    )


def render_layers() -> str:
    rows = ["| layer | package | what it holds |", "| ---: | --- | --- |"]
    named = set()
    for depth, layer in enumerate(layers(), start=1):
        for name in layer:
            named.add(name)
            path = PACKAGE / name
            init = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
            shown = f"`charrnn/{name}/`" if path.is_dir() else f"`charrnn/{name}.py`"
            rows.append(f"| {depth} | {shown} | {summary(init) if init.exists() else ''} |")
    rest = [p for p in packages(PACKAGE) if p.name not in named]
    rest += [p for p in PACKAGE.glob("*.py") if p.stem not in named]
    for path in sorted(rest):
        shown = f"`charrnn/{path.name}`" + ("/" if path.is_dir() else "")
        init = path / "__init__.py" if path.is_dir() else path
        rows.append(f"| outside | {shown} | {summary(init)} |")
    return "\n".join(rows) + "\n"


def render_tree() -> str:
    """One table per package, in the layers' order, of its modules and their docstrings."""
    out = []
    order = [name for layer in layers() for name in layer]
    folders = {p.name: p for p in packages(PACKAGE)}
    for name in [n for n in order if n in folders] + sorted(set(folders) - set(order)):
        folder = folders[name]
        out.append(f"**`charrnn/{name}/`** ({summary(folder / '__init__.py')})\n")
        out.append("| module | what it does |")
        out.append("| --- | --- |")
        for sub in packages(folder):
            out.append(f"| `{sub.name}/` | {summary(sub / '__init__.py')} |")
            for module in modules(sub):
                if module.name != "__init__.py":
                    out.append(f"| `{sub.name}/{module.name}` | {summary(module)} |")
        for module in modules(folder):
            if module.name != "__init__.py":
                out.append(f"| `{module.name}` | {summary(module)} |")
        for data in data_folders(folder):
            files = sorted(f.name for f in data.iterdir() if f.is_file())
            out.append(f"| `{data.name}/` | shipped with the package: {', '.join(files)} |")
        out.append("")
    top = sorted(p for p in PACKAGE.glob("*.py") if p.stem not in folders)
    out.append("**`charrnn/`** (the top level)\n")
    out.append("| module | what it does |")
    out.append("| --- | --- |")
    for module in top:
        out.append(f"| `{module.name}` | {summary(module)} |")
    return "\n".join(out) + "\n"


def render_moved() -> str:
    rows = ["| old path (deprecated) | new path |", "| --- | --- |"]
    for old, new in sorted(moved().items()):
        rows.append(f"| `charrnn.{old}` | `charrnn.{new}` |")
    return "\n".join(rows) + "\n"


PARTS = {"layers": render_layers, "modules": render_tree, "moved": render_moved}


def render(page: str) -> str:
    """The page with every generated part rewritten from the code."""
    found = {m.group(2) for m in MARKERS.finditer(page)}
    missing = set(PARTS) - found
    if missing:
        raise SystemExit(f"{PAGE.name} lacks the markers for {sorted(missing)}")

    def part(m: re.Match[str]) -> str:
        return m.group(1) + NOTE + "\n" + PARTS[m.group(2)]() + "\n" + m.group(4)

    return MARKERS.sub(part, page)


def _shown(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the generated parts")
    args = parser.parse_args(argv)
    current = PAGE.read_text(encoding="utf-8")
    wanted = render(current)
    if args.write:
        if wanted != current:
            PAGE.write_text(wanted, encoding="utf-8")
            print(f"wrote {_shown(PAGE)}")
        return 0
    if wanted != current:
        print(
            f"{_shown(PAGE)} is out of date with src/charrnn: "
            "run `python scripts/architecture.py --write` and commit the page",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
