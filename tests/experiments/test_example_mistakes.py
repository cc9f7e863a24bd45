"""The example scripts answer a user's mistake as the command does: one line, status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize(
    "script, args, said",
    [
        # Scripts that read only built-in data: the suite runs them without ../shared.
        ("korean_units.py", ["--data", "/no/such/list"], "korean_units.py: error: data"),
        ("korean_units.py", ["--set", "hidden=0"], "korean_units.py: error: hidden must be"),
        ("novelty.py", ["@names", "--seed", "-1"], "a seed is a whole number of 0 or more"),
    ],
)
def test_a_mistake_is_one_line_not_a_traceback(script, args, said):
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert said in r.stderr
