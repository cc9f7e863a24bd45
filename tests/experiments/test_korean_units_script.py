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
