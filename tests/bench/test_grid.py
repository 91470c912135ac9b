"""Sweeps as part of the bench: --grid, --policy, the task flags, and the report's comparison."""

import json
import subprocess
import sys

import pytest

from nalm.bench import grid
from nalm.bench.compare import differences
from nalm.bench.report import summarize, write_report
from nalm.bench.rows import policy_fields, policy_from_fields
from nalm.bench.runner import Settings, plan_sweep
from nalm.bench.store import Store
from nalm.bench.suites import MADSEN
from nalm.bench.sweep import Sweep
from nalm.errors import NalmError
from nalm.models import parse
from nalm.train.policies import POLICIES, Policy, get_policy
from nalm.train.schedule import Ramp

TINY = {"models": ["nau>nmu"], "ops": ["mul"], "seeds": 2, "steps": 40, "eval_every": 20,
        "eval_size": 50, "no_progress": True}  # fmt: skip


def test_the_grid_expands_in_order_with_typed_values():
    points = grid.expand(["lr=1e-3,1e-2", "batch_size=64,2e2", "ramp=5:20,3:10:30"])
    assert len(points) == 8
    assert points[0] == {"lr": 0.001, "batch_size": 64, "ramp": "5,20"}
    assert points[1] == {"lr": 0.001, "batch_size": 64, "ramp": "3,10,30"}
    assert points[2]["batch_size"] == 200 and isinstance(points[2]["batch_size"], int)
    assert [p["lr"] for p in points] == [0.001] * 4 + [0.01] * 4  # the first varies slowest
    sweeps = Sweep("madsen", grid=["ramp=5:20,3:10:30"]).points()
    assert [(s.settings().lambda_hat, s.settings().ramp) for s in sweeps] == [
        (None, (5, 20)),
        (3.0, (10, 30)),
    ]


def test_each_grid_point_is_its_own_settings_in_the_store(tmp_path):
    db = tmp_path / "g.sqlite"
    sweep = Sweep("madsen", **TINY, grid=["lr=1e-3,1e-2", "input_size=8"], db=str(db))
    summary = sweep.run(log=lambda line: None)
    assert summary.written == 4 and summary.seeds == 4
    with Store(db) as store:
        rows = store.rows()
    keys = {r["settings"] for r in rows}
    assert len(keys) == 2
    spec = parse("nau>nmu", layers=2)
    for lr in (1e-3, 1e-2):
        settings = Settings(steps=40, eval_every=20, eval_size=50, lr=lr, input_size=8)
        key = _key(spec, settings)
        assert key in keys and json.loads(key)["lr"] == lr and json.loads(key)["input_size"] == 8
        row = next(r for r in rows if r["settings"] == key)
        assert row["config"]["task"]["input_size"] == 8 and row["config"]["settings"]["lr"] == lr
    # a task setting equal to the suite's is no setting of its own: the default's key
    same = Settings(steps=40, input_size=100, subset=0.25, overlap=0.5)
    assert _key(spec, same) == _key(spec, Settings(steps=40))
    assert "input_size" not in _key(spec, same)


def test_a_policy_names_its_learning_rate_and_batch_size_and_the_flags_win():
    spec = parse("nau>nmu", layers=2)
    recipe = POLICIES["madsen-nmu"].replace(name="t", lr=0.02, batch_size=32)
    POLICIES["t"] = recipe
    try:
        resolved = json.loads(_key(spec, Settings(steps=10, policy="t")))
        assert (resolved["lr"], resolved["batch_size"]) == (0.02, 32)
        assert resolved["policy"]["name"] == "t" and resolved["policy"]["lr"] == 0.02
        flags = json.loads(_key(spec, Settings(steps=10, policy="t", lr=0.5)))
        assert flags["lr"] == 0.5 and flags["batch_size"] == 32
    finally:
        del POLICIES["t"]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_policys_fields_round_trip_through_the_store_format(name):
    policy = POLICIES[name]
    stored = json.loads(json.dumps(policy_fields(policy)))
    assert policy_from_fields(stored) == policy
    for field in ("lr", "batch_size", "precondition", "lr_decay"):  # unset: keys of old rows kept
        assert (field in stored) == (getattr(policy, field) is not None)


def test_a_policy_stored_by_a_sweep_comes_back_as_the_policy_that_trained(tmp_path):
    db = tmp_path / "p.sqlite"
    Sweep("madsen", **TINY, policy="madsen-nmu", ramp="2,5,30", clip_norm=1.0, db=str(db)).run(
        log=lambda line: None
    )
    with Store(db) as store:
        row = store.rows()[0]
    back = policy_from_fields(row["config"]["settings"]["policy"])
    expected = get_policy("madsen-nmu").replace(regularizer=Ramp(2.0, 5, 30), clip_norm=1.0)
    assert back == expected
    assert policy_from_fields(policy_fields(Policy("x", lr=0.1, batch_size=7))).batch_size == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "speed=1,2"], "unknown setting 'speed'; the grid varies steps,"),
        (["--grid", "lr=fast"], "'fast' is not a value of lr, which must be a number > 0"),
        (["--grid", "batch_size=64,0.5"], "'0.5' is not a value of batch_size"),
        (["--grid", "ramp=10"], "'10' is not a value of ramp, which must be START:END"),
        (["--grid", "policy=madsen-nmu,nope"], "unknown training policy 'nope'"),
        (["--grid", "lr"], "is not KEY=VALUE,VALUE"),
        (["--grid", "lr=1,2", "--lr", "3"], "--lr and --grid both set lr"),
        (["--grid", "lr=1", "--grid", "lr=2"], "--grid varies lr twice"),
        (["--policy", "fastest"], "unknown training policy 'fastest'; valid policies:"),
        (["--subset", "1.5"], "--subset must be a fraction in (0, 1]"),
        (["--input-size", "0"], "--input-size must be at least 1"),
    ],
)
def test_bad_grid_policy_and_task_flags_are_refused_in_one_sentence(tmp_path, args, message):
    db = tmp_path / "never.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "nalm", "bench", "run", "madsen", "--db", str(db), *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not db.exists()


def test_a_bad_later_grid_point_is_refused_before_the_first_trains(tmp_path):
    db = tmp_path / "never.sqlite"
    sweep = Sweep("madsen", **TINY, grid=["policy=madsen-nmu,none", "ramp=5:20"], db=str(db))
    with pytest.raises(NalmError, match="has no regulariser ramp to move"):
        sweep.run(log=lambda line: None)
    assert not db.exists()


def test_a_preconditioning_policy_on_a_model_without_a_first_unit_is_refused_up_front(tmp_path):
    db = tmp_path / "never.sqlite"
    sweep = Sweep("madsen", **(TINY | {"models": ["nau>nmu", "ReLU"]}), policy="nmu-fast",
                  db=str(db))  # fmt: skip
    with pytest.raises(NalmError, match="the policy preconditions the first unit's weight W"):
        sweep.run(log=lambda line: None)
    assert not db.exists()


def test_a_preconditioning_policy_without_shared_inputs_is_refused_up_front(tmp_path):
    db = tmp_path / "never.sqlite"
    sweep = Sweep("madsen", **TINY, policy="nmu-fast", per_seed_inputs=True, db=str(db))
    refusal = r"must share their inputs \(suite 'madsen' with --per-seed-inputs\)"
    with pytest.raises(NalmError, match=refusal):
        sweep.run(log=lambda line: None)
    assert not db.exists()


def test_the_report_ranks_the_settings_of_a_cell_and_names_what_differs(tmp_path):
    rows = []
    for lr, wins in ((0.01, [True, True, False]), (0.001, [True, False, False])):
        key = json.dumps({"lr": lr, "steps": 100, "policy": {"name": "none"}})
        for seed, win in enumerate(wins):
            rows.append(_row(key, seed, win, solved=50 if win else None, seconds=2.0))
    summaries = summarize(rows)
    assert [s["seconds"] for s in summaries] == [6.0, 6.0]
    text = write_report(rows, tmp_path / "r")["markdown"].read_text()
    section = text[text.index("## Settings compared") :]
    winners = section.splitlines()[6]
    assert "| lr=0.01 | 3 | 67 % (21–94) | 50 | 6 s | 2 |" in winners
    assert section.index("| 1 | lr=0.01 |") < section.index("| 2 | lr=0.001 |")
    assert differences([rows[0]["settings"]]) == {rows[0]["settings"]: "(all the same)"}


def test_a_policys_own_fields_are_named_only_where_one_policy_differs_from_itself():
    def key(name, clip, ramp_end):
        ramp = {"type": "Ramp", "lambda_hat": 10.0, "start": 5, "end": ramp_end}
        return json.dumps({"lr": 0.1, "policy": {"name": name, "clip_norm": clip,
                                                 "regularizer": ramp}})  # fmt: skip

    keys = [key("a", None, 10), key("b", 1.0, 10), key("b", 1.0, 20)]
    assert list(differences(keys).values()) == [
        "policy=a ramp=10:5:10",
        "policy=b ramp=10:5:10",
        "policy=b ramp=10:5:20",
    ]


def test_published_numbers_stand_only_beside_the_papers_task():
    key = json.dumps({"lr": 0.01, "policy": {"name": "none"}})
    small = json.dumps({"input_size": 10, "lr": 0.01, "policy": {"name": "none"}})
    rows = [_row(key, 0, True, 5, 1.0), _row(small, 0, True, 5, 1.0)]
    rows.append(_row(key, 0, True, 5, 1.0) | {"range": "-2,-1:-6,-2"})
    quoted = {(s["settings"], s["range"]): s["published_success"] for s in summarize(rows)}
    assert quoted == {(key, "1,2:2,6"): 98, (small, "1,2:2,6"): None, (key, "-2,-1:-6,-2"): None}


def _row(settings, seed, success, solved, seconds):
    return {
        "suite": "madsen", "model": "nau>nmu", "operation": "mul", "range": "1,2:2,6",
        "seed": seed, "settings": settings, "success": success, "diverged_at": None,
        "solved_at": solved, "sparsity_error": 0.0, "seconds": seconds,
        "config": {"settings": {"steps": 100}}, "history": [[0, 1.0, 1.0, 1.0, 0.5]],
        "scores": None,
    }  # fmt: skip


def _key(spec, settings):
    """The settings key of ``spec``'s cells in a sweep with ``settings`` (the plan's own)."""
    plan = plan_sweep(MADSEN, [str(spec)], ["add"], MADSEN.ranges[:1], [0], "x.sqlite", settings)
    return plan.key(spec)
