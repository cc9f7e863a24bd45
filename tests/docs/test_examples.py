"""Every example in README.md and docs/*.md runs, and prints what the page shows.

The convention (CONTRIBUTING.md, "Examples in the docs"):

- Examples are fenced code blocks. A ```` ```console ```` block is a terminal session:
  each ``$ charrnn ...`` line (``\\`` continues it) runs through the CLI in-process, and
  the lines under it are what the user sees. Lines the command writes on stderr are
  shown with the prefix ``[stderr] ``; a last line ``[exit N]`` says that the command
  exits with status N (0 otherwise). Text is compared exactly, numbers to within 0.1%
  (float32 sums differ a little between BLAS builds; a changed default or engine moves
  them far more), speeds (``chars/s``, ``symbols/s``, ``words/s``) and timings (``0.05 s``) not
  at all, and ``...``
  stands for lines left out (``[stderr] ...`` for stderr lines). A command whose output
  is left out entirely has a single ``...`` under it.
- A ```` ```python ```` block is run with ``exec``; a page's python blocks share one
  namespace, and all of a page's blocks run in order in one scratch folder, so a later
  block can use the run an earlier one trained.
- A block that must not run here (a long training, a benchmark, the full gap grid,
  ``make``, a server that does not return, a synopsis) has the line
  ``<!-- not run: REASON -->`` just above its fence. Any other block that holds a
  command (a line starting with ``$``, or with ``charrnn``, ``python``, ``make``, ``pip``,
  ``mpiexec`` ... and an argument) must be a runnable console or python block: the test fails on an
  unmarked one, so "not run" is always said on the page.
- A runnable block that takes more than a few seconds has ``<!-- slow: REASON -->`` above
  it: it runs only in the page's slow test (``make test``, not ``make test-fast``), which
  runs every block of the page; the fast test runs the others, so a fast block must not
  need what a slow one made.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shlex

import pytest

from charrnn.cli import main
from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
SPEED = re.compile(r"[\d,]+(?:\.\d+)? (?:chars/s|symbols/s|words/s|s\b)")
FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*(not run|slow):\s*(\S.*?)\s*-->\s*$")
# A line that reads as a command: a prompt, or a program and an argument (not "(...)").
COMMANDISH = re.compile(
    r"^(\$ |(charrnn|python3?|make|pip|mpiexec|srun|\.) [-@\w.'\"/]+(?: |$)(?!\())"
)
STDERR = "[stderr] "
EXIT = re.compile(r"^\[exit (\d+)\]$")


@dataclasses.dataclass
class Block:
    page: pathlib.Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: str
    marker: str | None  # "not run", "slow" or None
    reason: str = ""

    @property
    def runnable(self) -> bool:
        return self.lang in ("console", "python") and self.marker != "not run"

    @property
    def has_command(self) -> bool:
        return any(COMMANDISH.match(line) for line in self.body.splitlines())

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def page_blocks(page: pathlib.Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARKER.search(before)
        blocks.append(
            Block(
                page,
                line,
                m.group(1),
                m.group(2),
                mark.group(1) if mark else None,
                mark.group(2) if mark else "",
            )
        )
    return blocks


def console_commands(body: str) -> list[tuple[str, list[str]]]:
    """Each ``$`` command of a console block with the lines shown under it."""
    commands: list[tuple[str, list[str]]] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            commands.append((command, []))
        elif commands:
            commands[-1][1].append(line)
        else:
            raise AssertionError(f"a console block starts with output, not a command: {line!r}")
        i += 1
    return commands


def same_line(expected: str, actual: str) -> bool:
    """Text equal, numbers within 0.1%, speeds and timings ignored."""
    expected, actual = SPEED.sub("SPEED", expected), SPEED.sub("SPEED", actual)
    if NUMBER.sub("#", expected).split() != NUMBER.sub("#", actual).split():
        return False
    for e, a in zip(NUMBER.findall(expected), NUMBER.findall(actual), strict=True):
        x, y = float(e.replace(",", "")), float(a.replace(",", ""))
        if abs(x - y) > 1e-3 * max(abs(x), 1e-12) and e != a:
            return False
    return True


def check_output(expected: list[str], actual: list[str], what: str = "stdout") -> None:
    """Every expected line in order; ``...`` skips any number of actual lines."""
    pos = 0
    skipping = False
    for want in expected:
        if want.strip() == "...":
            skipping = True
            continue
        while pos < len(actual) and skipping and not same_line(want, actual[pos]):
            pos += 1
        assert pos < len(actual), f"the page's {what} line {want!r} was not printed; got {actual}"
        assert same_line(want, actual[pos]), (
            f"the page shows ({what})\n  {want}\nthe command prints\n  {actual[pos]}"
        )
        pos += 1
        skipping = False
    assert skipping or pos == len(actual), (
        f"printed more on {what} than the page shows: {actual[pos:]}"
    )


def run_console(block: Block, capsys) -> None:
    for command, shown in console_commands(block.body):
        args = shlex.split(command, comments=True)
        assert args and args[0] == "charrnn", (
            f"{block.where()}: only `charrnn` commands run in a console block; "
            f"mark the block <!-- not run: REASON --> for {command!r}"
        )
        code = main(args[1:])
        out, err = capsys.readouterr()
        status = 0
        if shown and EXIT.match(shown[-1]):
            status = int(EXIT.match(shown[-1]).group(1))
            shown = shown[:-1]
        assert code == status, f"{block.where()}: {command} exited {code}\n{err}"
        if [s.strip() for s in shown] == ["..."]:
            continue  # output left out, on purpose
        want_err = [s[len(STDERR) :] for s in shown if s.startswith(STDERR)]
        want_out = [s for s in shown if not s.startswith(STDERR)]
        where = f"{block.where()} `{command}`"
        check_output(want_out, out.splitlines(), f"stdout of {where}")
        check_output(want_err, err.splitlines(), f"stderr of {where}")


def run_page(page: pathlib.Path, include_slow: bool, tmp_path, monkeypatch, capsys) -> int:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for block in page_blocks(page):
        if not block.runnable or (block.marker == "slow" and not include_slow):
            continue
        if block.lang == "console":
            run_console(block, capsys)
        else:
            exec(compile(block.body, block.where(), "exec"), namespace)
            capsys.readouterr()
        ran += 1
    return ran


def _pages(slow: bool):
    params = []
    for page in PAGES:
        blocks = page_blocks(page)
        has_slow = any(b.runnable and b.marker == "slow" for b in blocks)
        if slow and not has_slow:
            continue
        if not slow and not any(b.runnable and b.marker != "slow" for b in blocks):
            continue
        params.append(pytest.param(page, id=page.name))
    return params


@pytest.mark.parametrize("page", _pages(slow=False))
def test_the_pages_examples_run_and_print_what_they_show(
    page, tmp_path, monkeypatch, capsys, request
):
    if _runs_slow_tests(request.config) and page in {p.values[0] for p in _pages(slow=True)}:
        pytest.skip("the page's slow test runs all its blocks in this session")
    assert run_page(page, False, tmp_path, monkeypatch, capsys) > 0


def _runs_slow_tests(config) -> bool:
    """Whether this session selects slow tests too (make test does, make test-fast not):
    then the fast blocks of a page with slow ones run once, in its slow test."""
    expr = config.getoption("markexpr") or ""
    return "not slow" not in expr and expr.strip() != "slow"


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages(slow=True))
def test_every_runnable_example_of_the_page_runs(page, tmp_path, monkeypatch, capsys):
    assert run_page(page, True, tmp_path, monkeypatch, capsys) > 0


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_block_that_is_not_run_says_so(page):
    text = page.read_text(encoding="utf-8")
    blocks = page_blocks(page)
    unmarked = [b.where() for b in blocks if b.has_command and not b.runnable and not b.marker]
    assert not unmarked, f"blocks with commands that neither run nor say why not: {unmarked}"
    wrong = [b.where() for b in blocks if b.marker == "slow" and not b.runnable]
    assert not wrong, f"<!-- slow --> marks a block that does not run: {wrong}"
    # No indented code blocks of commands: they would escape the test.
    outside = FENCE.sub("", text)
    indented = [line for line in outside.splitlines() if re.match(r"^ {4,}(\$ |charrnn )", line)]
    assert not indented, f"commands outside a fenced block: {indented}"
    counted = sum(b.runnable for b in blocks) + sum(b.marker == "not run" for b in blocks)
    assert counted == sum(b.runnable or b.has_command or bool(b.marker) for b in blocks)


@pytest.mark.parametrize(
    "page",
    [*PAGES, ROOT / "README.ko.md", ROOT / "CONTRIBUTING.md"],
    ids=[*(p.name for p in PAGES), "README.ko.md", "CONTRIBUTING.md"],
)
def test_relative_links_lead_to_files(page):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.name} links to {target}: no such heading"


def anchors(page: pathlib.Path) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    out = set()
    for heading in re.findall(r"^#+ (.*)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_the_pages_have_runnable_examples():
    assert len(_pages(slow=False)) >= 4


def test_the_comparison_catches_drift():
    assert same_line("2.3751 nats/char  (47,288 chars)", "2.3752 nats/char  (47,288 chars)")
    assert not same_line("2.3751 nats/char", "2.3677 nats/char")
    assert not same_line("anna\t-10.4064", "anna\t-9.3499")
    assert not same_line("2.3751 nats/char", "2.3751 bits/char")
    assert same_line("step 1  709,281 chars/s", "step 1  2,029 chars/s")
    check_output(["a 1", "...", "c 3"], ["a 1", "b 2", "c 3"])
    with pytest.raises(AssertionError):
        check_output(["a 1", "c 3"], ["a 1", "b 2", "c 3"])


def test_the_console_convention_parses(tmp_path):
    body = "$ charrnn eval r1 \\\n    @names\n2.37 nats/char\n[stderr] a notice\n[exit 2]\n"
    [(command, shown)] = console_commands(body)
    assert command.split() == ["charrnn", "eval", "r1", "@names"]
    assert shown == ["2.37 nats/char", "[stderr] a notice", "[exit 2]"]
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- not run: a day -->\n```console\n$ charrnn demo\n```\n\n```text\nh = tanh\n```\n"
    )
    blocks = page_blocks(page)
    assert [(b.lang, b.marker, b.runnable) for b in blocks] == [
        ("console", "not run", False),
        ("text", None, False),
    ]
    assert blocks[0].has_command and not blocks[1].has_command
    page.write_text("```text\ncharrnn train @names --out r\n```\n")
    assert page_blocks(page)[0].has_command  # unmarked and not run: the page test fails
    page.write_text("```text\ncharrnn train (cli) --> TrainingRun\n```\n")
    assert not page_blocks(page)[0].has_command  # a drawing, not a command
