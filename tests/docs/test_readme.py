"""The README's example commands print the figures the README shows.

Every indented ``$ charrnn ...`` line of the README is run (in a scratch folder, in
order, a block at a time), and what it prints on stdout is compared with the lines
under it: text exactly, numbers to within 0.1% (float32 sums differ a little between
BLAS builds; a changed default or engine moves them far more), speeds (``chars/s``)
not at all, and ``...`` stands for lines left out. A block that trains for long is
marked slow.
"""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest

from charrnn.cli import main

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
SLOW_OUTS = {"tv"}  # the tutorial's 1000 passes, one word per step


def readme_blocks() -> list[list[tuple[list[str], list[str]]]]:
    """Each block of consecutive indented ``$ charrnn`` commands: (argv, expected lines)."""
    blocks: list[list[tuple[list[str], list[str]]]] = []
    current: list[tuple[list[str], list[str]]] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("    $ charrnn "):
            command = line[6:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            current.append((shlex.split(command)[1:], []))
        elif current and line.startswith("    ") and line.strip():
            current[-1][1].append(line[4:])
        elif current:
            blocks.append(current)
            current = []
        i += 1
    if current:
        blocks.append(current)
    return blocks


def same_line(expected: str, actual: str) -> bool:
    """Text equal, numbers within 0.1%, speeds ignored."""
    speed = re.compile(r"[\d,]+ chars/s")
    expected, actual = speed.sub("chars/s", expected), speed.sub("chars/s", actual)
    if NUMBER.sub("#", expected).split() != NUMBER.sub("#", actual).split():
        return False
    for e, a in zip(NUMBER.findall(expected), NUMBER.findall(actual), strict=True):
        x, y = float(e.replace(",", "")), float(a.replace(",", ""))
        if abs(x - y) > 1e-3 * max(abs(x), 1e-12) and e != a:
            return False
    return True


def check_output(expected: list[str], actual: list[str]) -> None:
    """Every expected line in order; ``...`` skips any number of actual lines."""
    pos = 0
    skipping = False
    for want in expected:
        if want.strip() == "...":
            skipping = True
            continue
        while pos < len(actual) and skipping and not same_line(want, actual[pos]):
            pos += 1
        assert pos < len(actual), f"README line {want!r} was not printed; got {actual}"
        assert same_line(want, actual[pos]), (
            f"README shows\n  {want}\nthe command prints\n  {actual[pos]}"
        )
        pos += 1
        skipping = False
    assert skipping or pos == len(actual), f"printed more than the README shows: {actual[pos:]}"


def _params():
    out = []
    for block in readme_blocks():
        argv = block[0][0]
        name = argv[argv.index("--out") + 1] if "--out" in argv else argv[1]
        marks = [pytest.mark.slow] if name in SLOW_OUTS else []
        out.append(pytest.param(block, id=name, marks=marks))
    return out


def test_the_readme_has_example_blocks():
    names = [p.id for p in _params()]
    assert "r1" in names and "tv" in names


@pytest.mark.parametrize("block", _params())
def test_readme_commands_print_the_readme_figures(block, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv, expected in block:
        code = main(argv)
        out = capsys.readouterr().out
        assert code == 0, argv
        if argv[0] == "train" and not expected:
            continue  # the progress lines are not shown
        check_output(expected, out.splitlines())


def test_the_comparison_catches_drift():
    assert same_line("2.3751 nats/char  (47,288 chars)", "2.3752 nats/char  (47,288 chars)")
    assert not same_line("2.3751 nats/char", "2.3677 nats/char")  # the drift the README had
    assert not same_line("anna\t-10.4064", "anna\t-9.3499")
    assert not same_line("2.3751 nats/char", "2.3751 bits/char")
    assert same_line("step 1  709,281 chars/s", "step 1  2,029 chars/s")
    check_output(["a 1", "...", "c 3"], ["a 1", "b 2", "c 3"])
    with pytest.raises(AssertionError):
        check_output(["a 1", "c 3"], ["a 1", "b 2", "c 3"])
