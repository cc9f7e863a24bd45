"""examples/results.py: a preset's budgeted run recorded, and the table and plot made from it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "examples" / "results.py"


@pytest.mark.long
def test_a_recorded_budgeted_preset_makes_its_table_row_and_plot(tmp_path):
    """Catches a results row that does not come from the run: the steps its budget allowed,
    its held-out loss, its machine."""
    if not (ROOT.parent / "shared" / "data" / "names.txt").is_file():
        pytest.skip("needs ../shared/data/names.txt")
    runs, plot = tmp_path / "runs", tmp_path / "results.png"
    common = ["--runs", str(runs), "--plot", str(plot)]
    cmd = [sys.executable, str(SCRIPT), "names", "--minutes", "0.05", *common]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    result = json.loads((runs / "names-0.05min" / "result.json").read_text())
    metrics = (runs / "names-0.05min" / "metrics.jsonl").read_text().splitlines()
    last = json.loads(metrics[-1])
    assert result["steps"] == last["step"] and result["plan"]
    assert result["best_val"] == min(v for _, v in result["curve"])
    assert result["machine"]["cores"] and result["budget_minutes"] == 0.05
    p = subprocess.run(
        [sys.executable, str(SCRIPT), "--table", *common], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    assert f"| {result['best_val']:.3f} |" in p.stdout and plot.stat().st_size > 1000


@pytest.mark.long
def test_a_variant_runs_with_its_flags_on_ranks_and_gets_its_own_row(tmp_path):
    """Catches an ablation row whose run did not get its flags or its ranks, or whose
    row cannot be told from the preset's."""
    if not (ROOT.parent / "shared" / "data" / "names.txt").is_file():
        pytest.skip("needs ../shared/data/names.txt")
    from tests.training.test_mpi import skip_unless_mpi

    skip_unless_mpi()
    runs, plot = tmp_path / "runs", tmp_path / "results.png"
    common = ["--runs", str(runs), "--plot", str(plot)]
    variant = ["--set", "weight_drop=0.2", "--set", "hidden=16", "--ranks", "2"]
    cmd = [sys.executable, str(SCRIPT), "names", "--minutes", "0.05", *variant, *common]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    run = runs / "names-0.05min-weight_drop0.2-hidden16-2ranks"
    result = json.loads((run / "result.json").read_text())
    assert result["flags"] == ["--weight-drop", "0.2", "--hidden", "16"] and result["ranks"] == 2
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["weight_drop"] == 0.2 and config["hidden"] == 16  # the run got its flags
    assert "; 2 ranks ×" in p.stderr  # the training's first line, told by rank 0
    p = subprocess.run(
        [sys.executable, str(SCRIPT), "--table", *common], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    command = "mpiexec -n 2 --preset names --time-budget 0.05 --weight-drop 0.2 --hidden 16"
    assert f"`{command}`" in p.stdout


@pytest.mark.long
def test_successive_halving_keeps_every_trial_and_the_best_goes_on(tmp_path):
    """Catches a search that drops trials' figures, keeps the wrong candidates, or does not
    give the survivors a longer budget."""
    if not (ROOT.parent / "shared" / "data" / "names.txt").is_file():
        pytest.skip("needs ../shared/data/names.txt")
    trials = tmp_path / "trials.jsonl"
    candidates = '[{"hidden": 8}, {"hidden": 16}, {"hidden": 32}]'
    cmd = [sys.executable, str(ROOT / "examples" / "sweep.py"), "names", candidates]
    cmd += ["--seconds", "1.5", "--halving", "3", "--trials", str(trials), "--log-every", "200"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in trials.read_text().splitlines()]
    assert [r["seconds"] for r in rows] == [1.5, 1.5, 1.5, 4.5]
    first = min(rows[:3], key=lambda r: r["best_val"])
    assert rows[3]["fields"]["hidden"] == first["fields"]["hidden"]
    assert all(r["plan"] and r["steps"] > 0 for r in rows)
    assert f"best: {rows[3]['best_val']:.4f}" in p.stdout


@pytest.mark.long
def test_budget_against_steps_runs_both_arms_and_compares_them():
    if not (ROOT.parent / "shared" / "data" / "names.txt").is_file():
        pytest.skip("needs ../shared/data/names.txt")
    cmd = [sys.executable, str(ROOT / "examples" / "budget_vs_steps.py"), "names", "0.03"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    arms = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert [a["arm"] for a in arms] == ["budget", "steps"]
    assert all(a["steps"] > 0 and a["best_val"] == a["best_val"] for a in arms)
    diff = arms[0]["best_val"] - arms[1]["best_val"]
    assert f"budget - steps: {diff:+.4f}" in p.stdout
