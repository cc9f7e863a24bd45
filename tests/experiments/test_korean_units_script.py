"""examples/korean_units.py: one row per corpus and unit kind, from the run it trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "examples" / "korean_units.py"


@pytest.mark.long  # trains three models
def test_the_table_rows_come_from_the_runs(tmp_path):
    """A step budget keeps it short; the steps and loss printed are the run's own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(SCRIPT), "--data", "@ko-words", "--units", "jamo", "jamo3"]
    cmd += ["--minutes", "0", "--steps", "60", "-n", "50", "--out", str(tmp_path)]
    cmd += ["--set", "cell=gru", "--set", "weight_drop=0.2"]  # the recipe's fields changed
    cmd += ["--curves", str(tmp_path / "curves.png")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    rows = [line.split("|")[1:-1] for line in p.stdout.splitlines() if "`@ko-words`" in line]
    assert [r[1].strip() for r in rows] == ["jamo", "jamo3"]
    for units, row in zip(["jamo", "jamo3"], rows, strict=True):
        metrics = (tmp_path / f"ko-words-{units}" / "metrics.jsonl").read_text().splitlines()
        events = [json.loads(m) for m in metrics]
        assert row[4].strip() == f"{events[-1]['step']:,}" == "60"
        best = min(
            e.get("val_loss_per_char", e["val_loss"])
            for e in events
            if e.get("val_loss") is not None
        )
        assert row[7].strip() == f"{best:.3f}"
        assert row[10].strip() == "0 of 50"  # malformed: whole syllables in both units
        config = json.loads((tmp_path / f"ko-words-{units}" / "config.json").read_text())
        assert (config["config"]["cell"], config["config"]["weight_drop"]) == ("gru", 0.2)
    assert "60 steps of training each, cell=gru, weight_drop=0.2" in p.stdout
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    # --replot draws the runs already there and trains nothing; with no runs it says so.
    (tmp_path / "curves.png").unlink()
    replot = [sys.executable, str(SCRIPT), "--data", "@ko-words", "--units", "jamo", "jamo3"]
    replot += ["--out", str(tmp_path), "--replot", "--curves", str(tmp_path / "curves.png")]
    p = subprocess.run(replot, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"wrote {tmp_path / 'curves.png'}"
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    replot[replot.index("--out") + 1] = str(tmp_path / "none")
    p = subprocess.run(replot, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert p.returncode == 1 and "no run in" in p.stderr and "Traceback" not in p.stderr
