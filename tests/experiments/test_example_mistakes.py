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
        ("cells.py", ["--steps", "0"], "cells.py: error: --steps must be a positive integer"),
        ("defaults.py", ["--steps", "-1"], "defaults.py: error: --steps must be a positive"),
        ("korean_units.py", ["--data", "/no/such/list"], "korean_units.py: error: data"),
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
