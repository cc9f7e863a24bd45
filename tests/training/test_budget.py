"""A time budget that shapes the run (charrnn.training.budget and its use by the run).

The schedule over a plan must stay continuous and end at its floor; the
planner must fix a step count from measured speed and re-plan only when the
clock drifts; a budgeted run must end validated, with its plan recorded, and
a rerun or a resume given that plan must take bit-identical steps.
"""

from __future__ import annotations

import itertools
import json
import threading

import numpy as np
import pytest

from charrnn.common.errors import CharRNNError
from charrnn.core.config import Config, plan_pairs
from charrnn.training import checkpoint
from charrnn.training.budget import CHECKPOINTS, PlanEntry, Planner, Schedule, format_plan
from charrnn.training.presets import PRESETS
from charrnn.training.run import FunctionCallbacks, TrainingRun

# ----------------------------------------------------------------------------- the schedule


def _cfg(**kw):
    return Config(**{"lr": 0.01, "lr_min_ratio": 0.1, **kw})


def test_a_fixed_schedule_is_the_configs_own():
    """Catches a schedule object that drifts from Config.lr_at for a fixed step count."""
    cfg = _cfg(warmup=5)
    s = Schedule(cfg, 100)
    assert [s.lr(i) for i in range(100)] == [cfg.lr_at(i, 100) for i in range(100)]


def test_a_replan_keeps_the_rate_continuous_and_ends_at_the_floor():
    """Catches a re-plan that makes the rate jump, or leaves it above its floor at the end."""
    cfg = _cfg(warmup=3)
    s = Schedule(cfg, None)
    assert s.total() is None and s.lr(10) == pytest.approx(cfg.lr)  # measuring: the peak rate
    s.apply(10, 200, why="first plan")
    before = s.lr(80)
    s.apply(80, 120, why="slower")
    assert s.lr(80) == pytest.approx(before, rel=1e-12)  # no jump at the re-plan
    assert s.lr(81) < s.lr(80)
    assert s.lr(119) == pytest.approx(cfg.lr * cfg.lr_min_ratio, rel=0.01)
    assert s.lr(119) > cfg.lr * cfg.lr_min_ratio  # the last step is just above the floor
    assert s.progress(120) == 1.0
    # A later re-plan to more steps also stays continuous.
    before = s.lr(100)
    s.apply(100, 400, why="faster")
    assert s.lr(100) == pytest.approx(before, rel=1e-12)
    rates = [s.lr(i) for i in range(100, 400)]
    assert all(b <= a for a, b in itertools.pairwise(rates))


def test_a_cap_bounds_the_plan():
    """Catches --steps beside --time-budget being ignored ("whichever comes first")."""
    s = Schedule(_cfg(), None, cap=50)
    e = s.apply(5, 400, why="first plan")
    assert (e.total, e.why) == (50, "steps cap")


def test_a_given_plan_replays_the_same_rates():
    """Catches a replayed plan whose rates differ from the run that recorded it."""
    measured = Schedule(_cfg(warmup=2), None)
    measured.apply(7, 300, elapsed=1.0, rate=0.01, why="first plan")
    measured.apply(90, 260, elapsed=4.0, rate=0.012, why="slower")
    cfg = _cfg(warmup=2, plan=format_plan(measured.entries))
    replay = Schedule(cfg, None)
    rates = []
    for step in range(260):
        replay.follow_given(step)
        rates.append(replay.lr(step))
    assert rates == [measured.lr(i) for i in range(260)]
    assert [(e.step, e.total, e.progress) for e in replay.entries] == [
        (e.step, e.total, e.progress) for e in measured.entries
    ]


@pytest.mark.parametrize(
    "bad",
    ["", "7", "7:5", "7:300,5:400", "a:b", "7:300,7:400", "-1:4", "\u00b2:5", "1:" + "9" * 5000],
)
def test_a_malformed_plan_is_refused_with_its_form(bad):
    # "²".isdigit() is true and int() refused it; 5,000 digits passed Python's int limit.
    with pytest.raises(CharRNNError, match="STEP:TOTAL") as e:
        Config(plan=bad)
    assert len(str(e.value)) < 400


def test_plan_pairs_parse():
    assert plan_pairs("7:300, 90:260") == [(7, 300), (90, 260)]


def test_a_plan_entry_round_trips_and_bad_ones_are_refused():
    e = PlanEntry(4, 100, 0.25, 3.0, 0.01, "slower")
    assert PlanEntry.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    for bad in ({**e.to_dict(), "total": 3}, {**e.to_dict(), "progress": 2.0}, {"step": 1}):
        with pytest.raises(CharRNNError):
            PlanEntry.from_dict(bad)


# ----------------------------------------------------------------------------- the planner


def _drive(planner, schedule, seconds_per_step, steps):
    """Feed the planner a clock: step i starts after the sum of the earlier steps' times."""
    elapsed, decisions = 0.0, []
    for step in range(steps):
        total = schedule.total()
        if total is not None and step >= total:
            break
        d = planner.decide(step, elapsed, schedule)
        if d is not None:
            schedule.apply(step, d[0], elapsed=elapsed, rate=d[1], why=d[2])
            decisions.append(d)
        elapsed += seconds_per_step(step)
    return decisions, elapsed


def test_the_first_plan_fits_the_budget_at_the_measured_speed():
    """Catches a plan that ignores the measured speed or the time already spent."""
    schedule = Schedule(_cfg(), None)
    # A slow first step (set-up), then 0.1 s a step; a 100-second budget.
    decisions, elapsed = _drive(Planner(100.0), schedule, lambda i: 2.0 if i == 0 else 0.1, 5000)
    assert decisions[0][2] == "first plan"
    assert decisions[0][1] == pytest.approx(0.1)
    assert len(decisions) == 1  # a steady clock needs no re-plan
    assert elapsed == pytest.approx(100.0, abs=0.2)
    assert schedule.total() == pytest.approx(2 + 980, abs=2)


def test_a_slower_machine_re_plans_and_still_ends_at_the_budget():
    """Catches a plan that never looks again: the run would stop on the clock with its rate
    undecayed, or end far before its budget."""
    schedule = Schedule(_cfg(), None)

    def clock(i):  # twice as slow from step 300 on
        return 0.1 if i < 300 else 0.2

    decisions, elapsed = _drive(Planner(100.0), schedule, clock, 5000)
    whys = [d[2] for d in decisions]
    assert whys[0] == "first plan" and "slower" in whys
    assert len(decisions) <= 1 + len(CHECKPOINTS)
    assert abs(elapsed - 100.0) < 0.05 * 100  # ends within a few percent of the budget
    last = schedule.total()
    assert schedule.progress(last - 1) > 0.99  # the rate reaches its floor at the end


def test_a_first_estimate_far_too_slow_is_caught_before_the_plan_ends():
    """Catches a plan that ends the run in a fraction of its budget because its first steps
    were slow (a busy machine, a cold cache): the look at a share of the plan's steps
    re-plans long before a quarter of the budget has gone."""
    schedule = Schedule(_cfg(), None)

    def clock(i):  # the first steps 50 times slower than the rest
        return 5.0 if i < 6 else 0.1

    decisions, elapsed = _drive(Planner(100.0), schedule, clock, 5000)
    assert decisions[0][2] == "first plan" and decisions[0][0] < 50
    assert decisions[1][2] == "faster"
    assert abs(elapsed - 100.0) < 0.05 * 100
    assert schedule.progress(schedule.total() - 1) > 0.99


def test_a_resumed_planner_does_not_look_twice_at_a_passed_checkpoint():
    p = Planner(100.0)
    p.resume(500, 60.0, planned=True)
    assert p.next_check == 2  # 25 % and 50 % were passed before the resume


# ----------------------------------------------------------------------------- the run


def _words(seed=0, n=300):
    rng = np.random.default_rng(seed)
    syllables = ["ba", "ko", "ri", "ne", "ta", "mu"]
    return ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(n)]


SMALL = dict(mode="words", hidden=16, batch_size=16, log_every=1000, seed=3)


def _budget_run(out, minutes, **kw):
    cfg = {**SMALL, "time_budget": minutes, **kw}
    said = []
    with TrainingRun(cfg, _words(), out) as run:
        run.write_config()
        result = run.train(on_notice=said.append)
        return run, result, said


@pytest.mark.slow
def test_a_budget_alone_plans_the_steps_decays_the_rate_and_ends_validated(tmp_path):
    """Catches the default step count still ending a budgeted run, a schedule left at its
    peak, no validation at the end (no best.npz, no held-out loss), or a plan not recorded."""
    out = tmp_path / "run"
    run, result, said = _budget_run(out, 0.03, eval_every=10**6)  # 1.8 s; no step cadence
    assert result.reason in ("done", "time")
    assert result.step > 50  # not a default count: a tiny model takes many steps in 3 s
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["steps"] is None and saved["plan"] == format_plan(
        run.trainer.schedule.entries
    )
    assert saved["plan_decisions"][0]["why"] == "first plan"
    assert any(str(n).startswith("plan:") for n in said)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # Validated on the time cadence (a tenth of the budget), not only at the end.
    assert sum(r["val_loss"] is not None for r in rows) >= 3
    assert rows[-1]["step"] == result.step and rows[-1]["val_loss"] is not None
    cfg = run.config
    floor = cfg.lr * cfg.lr_min_ratio
    # Decayed: the plan ends at its floor, and the log shows the rate falling. (Where it
    # stands at the last step depends on the clock: a machine slowed after the last look
    # ends the run a little before its plan.)
    schedule = run.trainer.schedule
    assert schedule.lr(schedule.total() - 1) < floor * 1.05
    assert rows[-1]["lr"] == pytest.approx(schedule.lr(result.step - 1))
    assert rows[-1]["lr"] < rows[0]["lr"]
    if result.reason == "done":
        assert rows[-1]["lr"] < floor * 1.05
    best = checkpoint.load(out / "best.npz")
    assert best.run.best_val == min(r["val_loss"] for r in rows if r["val_loss"] is not None)
    latest = checkpoint.load(out / "latest.npz")
    assert [PlanEntry.from_dict(e) for e in latest.run.plan] == run.trainer.schedule.entries
    assert latest.run.elapsed < 0.03 * 60 * 2  # the budget, and the final validation


@pytest.mark.slow
def test_a_rerun_given_the_recorded_plan_takes_the_same_steps(tmp_path):
    """Catches a recorded plan that does not reproduce the run: the rates or the step
    count would differ, and so would every parameter."""
    _budget_run(tmp_path / "a", 0.03)
    plan = json.loads((tmp_path / "a" / "config.json").read_text())["plan"]
    a = checkpoint.load(tmp_path / "a" / "latest.npz")
    stop = threading.Event()

    def at_step(trainer):
        if trainer.step >= a.step:
            stop.set()

    cfg = {**SMALL, "plan": plan}
    with TrainingRun(cfg, _words(), tmp_path / "b") as rerun:
        rerun.train(FunctionCallbacks(step=at_step), stop=stop)
    b = checkpoint.load(tmp_path / "b" / "latest.npz")
    assert b.step == a.step
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    for k in a.optimizer_state:
        np.testing.assert_array_equal(a.optimizer_state[k], b.optimizer_state[k], err_msg=k)


@pytest.mark.slow
def test_kill_and_resume_of_a_planned_run_is_bit_identical(tmp_path):
    """Catches a resume that loses the plan (its rates would restart or be re-planned)."""
    plan = "20:200,90:160"
    cfg = {**SMALL, "plan": plan, "log_every": 25}
    with TrainingRun(cfg, _words(), tmp_path / "whole") as run:
        whole = run.train()
    assert whole.step == 160
    stop = threading.Event()

    def at_step(trainer):
        if trainer.step >= 60:
            stop.set()

    with TrainingRun(cfg, _words(), tmp_path / "cut") as run:
        assert run.train(FunctionCallbacks(step=at_step), stop=stop).reason == "stopped"
    mid = checkpoint.load(tmp_path / "cut" / "latest.npz")
    assert mid.step == 60 and [e["step"] for e in mid.run.plan] == [20]
    with TrainingRun({}, _words(), tmp_path / "cut", resume=True) as run:
        assert run.train().step == 160
    a = checkpoint.load(tmp_path / "whole" / "latest.npz")
    b = checkpoint.load(tmp_path / "cut" / "latest.npz")
    assert a.run.plan == b.run.plan and len(a.run.plan) == 2
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)


@pytest.mark.slow
def test_a_measured_budgeted_run_resumes_on_its_saved_plan(tmp_path):
    """Catches a killed budgeted run whose resume re-plans from scratch: it would follow
    another schedule than the one its first part trained on."""
    out = tmp_path / "run"
    stop = threading.Event()

    def after_plan(trainer):
        if trainer.schedule.entries and trainer.step >= trainer.schedule.entries[0].step + 5:
            stop.set()

    cfg = {**SMALL, "time_budget": 0.03}
    with TrainingRun(cfg, _words(), out) as run:
        run.train(FunctionCallbacks(step=after_plan), stop=stop)
    first = checkpoint.load(out / "latest.npz").run.plan
    assert len(first) == 1
    with TrainingRun({}, _words(), out, resume=True) as run:
        result = run.train()
        assert run.trainer.schedule.entries[0] == PlanEntry.from_dict(first[0])
    assert result.reason in ("done", "time")
    assert checkpoint.load(out / "best.npz").run.best_val is not None


def test_steps_and_a_budget_together_say_whichever_comes_first(tmp_path):
    with TrainingRun({**SMALL, "steps": 30, "time_budget": 5}, _words(), None) as run:
        line = run.plan_line()
        assert "at most 30 steps" in line and "whichever comes first" in line
        result = run.train()
    assert result.step == 30 and result.reason == "done"
    assert run.trainer.schedule.entries[-1].why == "steps cap"


def test_a_run_without_a_budget_says_its_step_count():
    with TrainingRun({**SMALL, "steps": 30}, _words(), None) as run:
        assert run.plan_line() == "30 steps"
    with TrainingRun({**SMALL}, _words(), None) as run:
        assert run.plan_line() == "1,000 steps"  # the default without a budget


def test_a_preset_is_a_budget_the_flags_scale_or_cap():
    """Catches --preset X stopping at a tuned step count whatever the clock says, or
    --time-budget / --steps not reaching a preset's run."""
    from charrnn.cli.main import build_parser
    from charrnn.cli.train import config_from_args

    def given(*flags):
        args = build_parser().parse_args(["train", "@names", "--out", "r", "--preset", *flags])
        return config_from_args(args)

    for name in PRESETS:
        assert "steps" not in given(name) and given(name)["time_budget"] > 0
    assert given("names", "--time-budget", "2")["time_budget"] == 2
    capped = given("names", "--steps", "99")
    assert capped["steps"] == 99 and capped["time_budget"] == 10


def test_a_preset_takes_the_recipe_of_its_budget_and_the_flags_still_win(monkeypatch):
    """Catches a budget that scales the steps but never the recipe, a row taken for the
    wrong budget, or a scale row overriding what the user gave."""
    from charrnn.cli.main import build_parser
    from charrnn.cli.train import config_from_args
    from charrnn.training import presets

    own = {"mode": "words", "hidden": 64, "dropout": 0.2, "time_budget": 10}
    rows = [(3, {"hidden": 32, "dropout": 0.1}), (15, {}), (float("inf"), {"hidden": 96})]
    monkeypatch.setitem(presets.PRESETS, "toy", {"config": own, "scale": rows})

    def given(*flags):
        args = build_parser().parse_args(["train", "@names", "--out", "r", *flags])
        args.preset = "toy"  # the parser's choices were fixed before the toy preset
        return config_from_args(args)

    assert given()["hidden"] == 64 and given()["time_budget"] == 10  # its own budget
    assert (given("--time-budget", "2")["hidden"], given("--time-budget", "2")["dropout"]) == (
        32,
        0.1,
    )
    assert given("--time-budget", "3")["hidden"] == 32  # "up to" includes the bound
    assert given("--time-budget", "12")["hidden"] == 64
    assert given("--time-budget", "60")["hidden"] == 96
    assert given("--time-budget", "60")["dropout"] == 0.2  # a row changes only its fields
    assert given("--time-budget", "2", "--hidden", "48")["hidden"] == 48  # flags win
    assert presets.scale_line("toy", 2) == "preset toy for 2 minutes: hidden 32, dropout 0.1"
    assert presets.scale_line("toy", 12) is None and presets.scale_line("toy", None) is None
    for name, p in presets.PRESETS.items():  # every real preset's rows are in budget order
        bounds = [up_to for up_to, _ in p.get("scale", ())]
        assert bounds == sorted(bounds), name
        for _, fields in p.get("scale", ()):
            Config(**{**p["config"], **fields})


def test_a_preset_measured_on_ranks_says_so_to_a_single_process(cli, tmp_path):
    """Catches a preset whose figures need two ranks run on one with no word about it."""
    from charrnn.training import presets

    assert "mpiexec -n 2" in presets.ranks_line("shakespeare-gru", 1)
    assert presets.ranks_line("shakespeare-gru", 2) is None
    assert presets.ranks_line("names", 1) is None  # asks for no ranks
    assert "mpiexec" in presets.ranks_line("shakespeare-gru", 1, 30)
    assert presets.ranks_line("shakespeare-gru", 1, 5) is None  # a scale row's recipe
    data = tmp_path / "t.txt"
    data.write_text("to be or not to be, that is the question\n" * 40)
    common = ["--preset", "shakespeare-gru", "--hidden", "8", "--steps", "2", "--seq-len", "8"]
    code, _, err = cli("train", data, "--out", tmp_path / "r", *common)
    assert code == 0 and "measured on 2 MPI ranks" in err
    code, _, err = cli("train", data, "--out", tmp_path / "r", *common, "--resume", "--steps", "3")
    assert code == 0 and "MPI ranks" not in err  # said once, when the run starts


@pytest.mark.slow
def test_a_resume_with_fewer_steps_ends_there_with_the_rate_at_its_floor(tmp_path):
    """Catches a resumed budgeted run that keeps its saved plan past a lowered --steps."""
    plan_run = {**SMALL, "plan": "0:400"}
    stop = threading.Event()

    def at_step(trainer):
        if trainer.step >= 100:
            stop.set()

    with TrainingRun(plan_run, _words(), tmp_path / "r") as run:
        run.train(FunctionCallbacks(step=at_step), stop=stop)
    with TrainingRun({"steps": 150}, _words(), tmp_path / "r", resume=True) as run:
        result = run.train()
        schedule = run.trainer.schedule
    assert result.step == 150 and schedule.entries[-1].why == "steps cap"
    assert schedule.lr(149) < run.config.lr * run.config.lr_min_ratio * 1.05


def test_a_run_of_fixed_steps_resumes_under_a_time_budget(tmp_path):
    """Catches a resumed fixed-count run (which saved no plan) that, given a time budget,
    dropped its provisional plan and failed on the planner's first look."""
    with TrainingRun({**SMALL, "steps": 10}, _words(), tmp_path / "r") as run:
        run.train()
    with TrainingRun(
        {"steps": 40, "time_budget": 5.0}, _words(), tmp_path / "r", resume=True
    ) as run:
        result = run.train()
        entries = run.trainer.schedule.entries
    assert result.step == 40 and result.reason != "time"
    assert entries and entries[-1].total == 40


def test_nothing_held_out_makes_no_timed_validation():
    """Catches a time cadence that, with nothing to validate, logs an event every step."""
    cfg = {**SMALL, "time_budget": 0.01, "val_fraction": 0, "log_every": 10**6}
    with TrainingRun(cfg, _words(), None) as run:
        result = run.train()
    assert len(result.events) == 1 and result.events[0].val_loss is None
