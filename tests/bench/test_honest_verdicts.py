"""Issue 34: the extrapolation set never steers training, and a seed is judged within its try.

The proof: the same cells, trained with the same interpolation range and two different
extrapolation ranges, train identically (stopped_at, restarts, recoveries, best step,
interpolation MSE, the history's training and interpolation columns), for every shipped policy,
with early stop, restarts and recovery forced to happen.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from nalm.bench.cells import STOP_RULE, Settings, plateau_stop, resolve_settings
from nalm.bench.report import judging, stop_rule, summarize
from nalm.bench.suites import SUITES
from nalm.metrics import judge, success_threshold
from nalm.models import parse
from nalm.train import POLICIES
from nalm.train.cohort import fit_seeds
from nalm.train.restarts import Deadline, Stall

MODEL = {  # a model each shipped policy is made for, and the operation it learns
    "none": ("nau", "add"),
    "madsen-nau": ("nau", "sub"),
    "madsen-nmu": ("nau>nmu", "mul"),
    "inalu": ("inalu", "mul"),
    "npu": ("npu", "div"),
    "nmru": ("nau>nmru", "div"),
    "nmu-fast": ("nau>nmu", "mul"),
    "snap-div": ("select_nau>int_snap_npu", "div"),
    "snap-div-retry": ("select_nau>int_snap_npu", "div"),
    "snap-root": ("select_nau>snap_npu", "root"),
    "snap-root-retry": ("select_nau>snap_npu", "root"),
    "all-six": ("all-six", "div"),
    "dmu": ("nau>dmu", "mul"),
}
SUITE = replace(SUITES["madsen"], input_size=10)
SEEDS = [0, 1]


def trained(
    policy, spec, operation, extrapolation, *, loose=False, recover=0, lr=None, steps=160, every=20
):
    """What training did for each seed, everything the verdict does not read."""
    tasks = [SUITE.task(operation, ("1,2", extrapolation), s, 64) for s in SEEDS]
    # the real ε-thresholds, or loose ones that make the rule fire within these few steps
    rules = [
        plateau_stop(10.0 if loose else success_threshold(t, "interpolation"), patience=2)
        for t in tasks
    ]
    result = fit_seeds(
        lambda: parse(spec).build(10, 1, hidden=2, options={}),
        tasks,
        SEEDS,
        steps=steps,
        lr=lr or policy.lr or 1e-2,
        batch_size=32,
        policy=policy,
        eval_every=every,
        shared_inputs=True,
        early_stop=lambda i, history: rules[i](i, history),
        progress=False,
        recover=recover,
    )
    out = []
    for run in result.runs:
        outcome = judge(run.history, 1e-3, run.diverged, run.reinitialized_at)
        columns = [(r["step"], r["train_loss"], r["interpolation_mse"]) for r in run.history]
        out.append(
            {
                "stopped_at": run.stopped_at,
                "diverged_at": run.diverged_at,
                "restarts": list(run.reinitialized_at),
                "recovered": list(run.recovered_at),
                "best_step": outcome.best_step,
                "interpolation_mse": outcome.interpolation_mse,
                "history": columns,
                "extrapolation": [r["extrapolation_mse"] for r in run.history],
            }
        )
    return out


def same_training(a, b):
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k != "extrapolation"} == {
            k: v for k, v in y.items() if k != "extrapolation"
        }
    # not vacuous: the test sets did differ
    assert any(x["extrapolation"] != y["extrapolation"] for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_shipped_policy_reads_the_extrapolation_set(name):
    assert set(MODEL) == set(POLICIES), "a new policy needs a model in MODEL"
    spec, operation = MODEL[name]
    policy, steps = POLICIES[name], 60 if name == "inalu" else 160  # iNALU: seed by seed
    same_training(
        trained(policy, spec, operation, "2,6", steps=steps),
        trained(policy, spec, operation, "3,4", steps=steps),
    )


def test_early_stop_restarts_and_recovery_read_only_training_data():
    # early stop that fires, a Deadline and a Stall that restart, recovery that undoes steps
    fires = trained(POLICIES["madsen-nau"], "nau", "add", "2,6", loose=True)
    assert all(r["stopped_at"] is not None for r in fires)
    same_training(fires, trained(POLICIES["madsen-nau"], "nau", "add", "3,4", loose=True))

    retry = POLICIES["madsen-nau"].replace(reinit=Deadline(1000, 1e-12))
    runs = trained(retry, "nau", "add", "2,6", steps=2000, every=250)
    assert all(r["restarts"] == [1000] for r in runs)  # none in the last 1,000 steps
    same_training(runs, trained(retry, "nau", "add", "3,4", steps=2000, every=250))

    stall = POLICIES["inalu"].replace(reinit=Stall(chunk=5, half=2, threshold=1e-12))
    runs = trained(stall, "inalu", "mul", "2,6", lr=1e-20, steps=60)  # flat: it stalls
    assert all(r["restarts"] for r in runs)
    same_training(runs, trained(stall, "inalu", "mul", "3,4", lr=1e-20, steps=60))

    wild = POLICIES["none"]
    runs = trained(wild, "linear", "add", "2,6", recover=2, lr=1e30)
    assert any(r["recovered"] or r["diverged_at"] for r in runs)
    same_training(runs, trained(wild, "linear", "add", "3,4", recover=2, lr=1e30))


def test_the_best_step_is_chosen_within_the_judged_try():
    row = lambda step, i, e: {"step": step, "interpolation_mse": i, "extrapolation_mse": e}  # noqa: E731
    history = [
        row(1000, 1e-12, 1e-9),  # try 1: its best step solves, but the try was abandoned
        row(2000, 1e-3, 5.0),
        row(3000, 2e-3, 4.0),  # try 2 (restarted at 2500): best here, not solved
        row(4000, 1e-3, 6.0),
    ]
    old_rule = judge(history, 1e-6)  # no restarts given: every row is one try
    assert (old_rule.success, old_rule.best_step) == (True, 1000)
    outcome = judge(history, 1e-6, restarts=[500, 2500])
    assert (outcome.success, outcome.best_step, outcome.solved_at) == (False, 4000, None)
    assert outcome.extrapolation_mse == 6.0
    solved = [*history[:3], row(4000, 1e-13, 1e-8)]
    outcome = judge(solved, 1e-6, restarts=[2500])
    assert (outcome.success, outcome.best_step, outcome.solved_at) == (True, 4000, 4000)


def test_the_plateau_rule_reads_no_extrapolation_column():
    rule = plateau_stop(1e-6, patience=3)
    rows = [{"interpolation_mse": v} for v in (1.0, 1e-3, 1e-8, 0.9e-8, 0.8e-8, 0.95e-8)]
    assert [rule(0, rows[:n]) for n in range(1, 7)] == [False] * 5 + [True]
    halving = [*rows[:5], {"interpolation_mse": 1e-9}]  # a real improvement: go on
    assert not rule(0, halving)
    nan = [*rows[:5], {"interpolation_mse": math.nan}]
    assert not rule(0, nan)


def _row(settings, config, success=True):
    return {
        "suite": "madsen", "model": "select_nau>snap_npu", "operation": "root",
        "range": "1,2:2,6", "seed": 0, "settings": settings, "success": success,
        "diverged_at": None, "solved_at": 1000, "sparsity_error": None, "seconds": 1.0,
        "config": config, "history": [],
    }  # fmt: skip


def test_old_rows_stay_readable_and_are_named():
    policy = {"reinit": {"type": "Deadline", "age": 60000, "threshold": 1e-8}}
    old = json.dumps({"early_stop": True, "steps": 10}, sort_keys=True)
    new = json.dumps({"early_stop": True, "steps": 10, "stop_rule": STOP_RULE}, sort_keys=True)
    rows = [
        _row(old, {"settings": {"policy": policy}}),
        _row(new, {"settings": {"policy": policy}, "judged": "per-try", "restarts": []}),
    ]
    summaries = {s["settings"]: s for s in summarize(rows)}
    assert summaries[old]["stop_rule"] == "solved-early"
    assert summaries[old]["judged"] == "over all tries"
    assert (summaries[new]["stop_rule"], summaries[new]["judged"]) == ("plateau-5", "per try")
    assert stop_rule(json.dumps({"early_stop": False})) == "none"
    assert judging([_row(old, {"settings": {"policy": {}}})]) == "per try"  # no restarts


def test_new_rows_are_keyed_apart_from_old_rule_rows():
    spec = parse("NAU", layers=1)
    on = resolve_settings(SUITES["madsen"], spec, Settings(early_stop=True))
    off = resolve_settings(SUITES["madsen"], spec, Settings())
    assert on["stop_rule"] == STOP_RULE and "stop_rule" not in off


def test_the_reference_ranking_marks_another_stop_rule():
    from nalm.bench.reference import ranking

    settings = {"steps": 1_000_000, "batch_size": 128, "lr": 0.001, "eval_size": 10_000}
    settings |= {"policy": "madsen-nmu", "early_stop": True, "stop_rule": STOP_RULE}
    mine = {
        "suite": "madsen", "model": "nau>nmu", "operation": "mul", "range": "1,2:2,6",
        "seeds": 10, "successes": 9, "solved_at_median": 5000.0, "steps": 1_000_000,
        "settings": json.dumps(settings),
    }  # fmt: skip
    entries = ranking([mine])[("madsen", "mul", "1,2:2,6")]
    same_steps = next(e for e in entries if e.source == "nalm reference" and e.successes == 5)
    assert same_steps.note == "settings differ: stop_rule solved-early vs your plateau-5"
