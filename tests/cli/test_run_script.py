"""charrnn.cli.run_script: an example script's mistakes and failed children, as the command."""

from __future__ import annotations

import subprocess

import pytest

from charrnn import CharRNNError
from charrnn.cli import run_script


def _exits(capsys, main):
    with pytest.raises(SystemExit) as e:
        run_script(main)
    return e.value.code, capsys.readouterr().err


def test_a_mistake_is_one_line_in_the_librarys_words(capsys):
    def main():
        raise CharRNNError("hidden must be a positive integer; got 0", params=("hidden",))

    code, err = _exits(capsys, main)
    assert code == 2 and "error: hidden must be a positive integer" in err
    assert "--hidden" not in err  # a script's flags are its own, not charrnn's


@pytest.mark.parametrize("returncode, status", [(3, 3), (-9, 137)])
def test_a_failed_child_is_named_with_what_it_said(capsys, returncode, status):
    def main():
        raise subprocess.CalledProcessError(returncode, ["charrnn", "sample"], stderr="it broke\n")

    code, err = _exits(capsys, main)
    assert code == status and "charrnn" in err and "it broke" in err
