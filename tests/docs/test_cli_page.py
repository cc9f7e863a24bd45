"""docs/cli.md names every command and every flag the command line has.

The flags come from the parser itself, so a flag added to a command (or a ``Config``
field, which makes a ``charrnn train`` flag) fails this test until the page says what
it does.
"""

from __future__ import annotations

import re

import pytest

from charrnn.cli import main
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "cli.md"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b")


def _commands(capsys) -> dict[str, list[str]]:
    """Each command (``experiment gap`` as one) and its option strings, from --help."""
    out: dict[str, list[str]] = {}
    with pytest.raises(SystemExit):
        main(["--help"])
    names = re.findall(r"^    (\w+)", capsys.readouterr().out, re.MULTILINE)
    for name in names:
        argv = ["experiment", "gap"] if name == "experiment" else [name]
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        flags = FLAG.findall(capsys.readouterr().out)
        out[" ".join(argv)] = sorted(set(flags))
    return out


def test_the_page_names_every_command_and_flag(capsys):
    page = PAGE.read_text(encoding="utf-8")
    commands = _commands(capsys)
    assert "train" in commands and "experiment gap" in commands
    missing = [
        f"{command} {flag}"
        for command, flags in commands.items()
        for flag in flags
        if flag not in ("-h", "--help") and not re.search(rf"(?<![\w-]){flag}(?![\w-])", page)
    ]
    assert not [c for c in commands if f"charrnn {c}" not in page], "a command is missing"
    assert not missing, f"docs/cli.md does not mention: {missing}"
