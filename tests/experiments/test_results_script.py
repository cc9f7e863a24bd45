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
    table = [sys.executable, str(SCRIPT), "--table", *common]
    p = subprocess.run([*table, "--ylim", "0,9"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert f"| {result['best_val']:.3f} |" in p.stdout and plot.stat().st_size > 1000
    p = subprocess.run([*table, "--ylim", "4.4"], capture_output=True, text=True)
    assert p.returncode == 2 and "--ylim takes two numbers" in p.stderr


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


def test_every_preset_has_its_corpus_and_the_built_in_ones_exist():
    """Catches a preset results.py cannot run (no data for its corpus), and a built-in
    corpus looked for in ../shared/data."""
    from charrnn.data.sources import builtin_names
    from charrnn.training.presets import PRESETS

    results = _script()
    for name in PRESETS:
        assert results.corpus_of(name) in results.DATA, name
    built_in = [d for d in results.DATA.values() if d.startswith("@")]
    assert built_in and all(d[1:] in builtin_names() for d in built_in)


def test_a_run_gets_the_ranks_its_preset_asks_for_unless_told():
    """Catches `results.py shakespeare-gru` recording a one-process run as the preset's
    row when the preset is a two-rank recipe."""
    results = _script()
    assert results.ranks_for("shakespeare-gru", None, None) == 2
    assert results.ranks_for("shakespeare-gru", 30, None) == 2
    assert results.ranks_for("shakespeare-gru", 5, None) == 1  # its 5-minute row: one process
    assert results.ranks_for("shakespeare-gru", None, 1) == 1  # told
    assert results.ranks_for("names-gru", None, None) == 1


def test_the_table_compares_units_per_character_of_text():
    """Catches jamo units' runs recorded in nats per jamo, half their loss per character."""
    metrics = [
        {"step": 1, "val_loss": None},
        {"step": 2, "val_loss": 2.1, "val_loss_per_char": 4.4},  # jamo units
        {"step": 3, "val_loss": 1.9},  # character units log one figure
    ]
    got = _script().validations(metrics)
    assert [(m["step"], m["val_loss"]) for m in got] == [(2, 4.4), (3, 1.9)]
    assert metrics[1]["val_loss"] == 2.1  # the log's rows are left as they were


def _script():
    """examples/results.py as a module, for its pure functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
