import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from nalm.bench.report import summarize, write_report
from nalm.bench.runner import Settings, cell_policy, run_sweep
from nalm.bench.store import Store
from nalm.bench.suites import MADSEN, SINGLE_MODULE, get_suite
from nalm.models import parse
from nalm.reporting.published import benchmark_figure as published


@pytest.mark.parametrize(
    "text,layers,expected",
    [
        ("NMU", 2, "nau>nmu"),
        ("NAC•", 2, "nac>nac_mul"),
        ("NAC*", 2, "nac>nac_mul"),
        ("ReLU6", 2, "mlp:relu6"),
        ("nau", 2, "nau>nau"),
        ("nau>real_npu", 2, "nau>real_npu"),
        ("NMU", 1, "nmu"),
        ("nmru", 1, "nmru"),
    ],
)
def test_model_specs(text, layers, expected):
    assert str(parse(text, layers=layers)) == expected


@pytest.mark.parametrize(
    "text,layers,message",
    [
        ("nau>nmux", 2, "unknown unit 'nmux'"),
        ("nau>>nmu", 2, "is not UNIT, FIRST>SECOND"),
        ("mlp:swishy", 2, "unknown activation 'swishy'"),
        ("nau>nmu", 1, "this model is one unit"),
    ],
)
def test_bad_model_specs(text, layers, message):
    with pytest.raises(ValueError, match=message):
        parse(text, layers=layers)


def test_specs_build_the_suites_models():
    model = parse("nau>nmu", layers=2).build(100, 1, 2)
    assert model(torch.ones(3, 100)).shape == (3, 1)
    assert [type(m).__name__ for m in model] == ["NAU", "NMU"]
    assert parse("nau>nmu", layers=2).paper_name == "NMU"
    assert type(parse("real_npu", layers=1).build(2, 1, 2)).__name__ == "RealNPU"


def test_suites_and_published_numbers():
    assert len(SINGLE_MODULE.ranges) == 9 and SINGLE_MODULE.parse_ranges("4")[0][1] == "-6,-2|2,6"
    assert MADSEN.parse_operations(["*", "√"]) == ("mul", "root")
    assert published("madsen", "NAU", "add").success == 100
    assert published("madsen", "NMU", "div").success == 0
    with pytest.raises(ValueError, match="unknown suite 'madsn'"):
        get_suite("madsn")
    with pytest.raises(ValueError, match="out of bounds"):
        SINGLE_MODULE.parse_ranges("9")


def test_regulariser_overrides_move_the_policy_ramp():
    spec = parse("NMU", layers=2)
    policy = cell_policy(spec, spec.build(100, 1, 2), Settings(ramp=(10, 20)))
    assert (policy.regularizer.lambda_hat, policy.regularizer.start) == (10.0, 10)
    nalu = parse("NALU", layers=2)
    with pytest.raises(ValueError, match="give --lambda too"):
        cell_policy(nalu, nalu.build(100, 1, 2), Settings(ramp=(10, 20)))


def test_a_sweep_resumes_missing_seeds_and_each_row_is_stored_once(tmp_path):
    db = tmp_path / "r.sqlite"
    settings = Settings(steps=60, eval_every=30, eval_size=50)
    lines = []
    first = run_sweep(
        SINGLE_MODULE,
        ["nau"],
        ["add"],
        [("1,2", "2,6")],
        range(3),
        db,
        settings,
        progress=False,
        log=lines.append,
    )
    again = run_sweep(
        SINGLE_MODULE,
        ["nau"],
        ["add", "sub"],
        [("1,2", "2,6")],
        range(5),
        db,
        settings,
        progress=False,
        log=lines.append,
    )
    assert (first.written, again.written) == (3, 7)  # seeds 3-4 of add, 0-4 of sub
    with Store(db) as store:
        rows = store.rows()
    assert len(rows) == 10
    assert len({(r["operation"], r["seed"]) for r in rows}) == 10
    row = rows[0]
    assert row["history"][0][0] == 0 and row["history"][-1][0] == 60
    assert row["config"]["task"]["a_slice"] == [0, 1]
    assert row["threshold"] > 0


def test_resumed_seeds_equal_seeds_trained_in_one_go(tmp_path):
    settings = Settings(steps=80, eval_every=40, eval_size=50)
    cell = (MADSEN, ["NAU"], ["sub"], MADSEN.ranges)
    run_sweep(*cell, range(4), tmp_path / "a.sqlite", settings, progress=False, log=print)
    run_sweep(*cell, range(2), tmp_path / "b.sqlite", settings, progress=False, log=print)
    run_sweep(*cell, range(4), tmp_path / "b.sqlite", settings, progress=False, log=print)
    with Store(tmp_path / "a.sqlite") as a, Store(tmp_path / "b.sqlite") as b:
        ra, rb = a.rows(), b.rows()
    assert [r["seed"] for r in ra] == [r["seed"] for r in rb] == [0, 1, 2, 3]
    for x, y in zip(ra, rb, strict=True):
        assert y["extrapolation_mse"] == pytest.approx(x["extrapolation_mse"], rel=1e-4)


def test_per_seed_inputs_are_their_own_settings_and_each_seed_its_own_stream(tmp_path):
    db = tmp_path / "inputs.sqlite"
    cell = (MADSEN, ["NAU"], ["sub"], MADSEN.ranges)
    shared = Settings(steps=60, eval_every=30, eval_size=50)
    own = Settings(steps=60, eval_every=30, eval_size=50, per_seed_inputs=True)
    run_sweep(*cell, range(3), db, shared, progress=False, log=print)
    run_sweep(*cell, range(3), db, own, progress=False, log=print)
    run_sweep(*cell, range(1, 2), tmp_path / "alone.sqlite", own, progress=False, log=print)
    with Store(db) as store, Store(tmp_path / "alone.sqlite") as alone:
        rows, single = store.rows(), alone.rows()[0]
    keys = {r["settings"] for r in rows}
    assert len(rows) == 6 and len(keys) == 2
    assert sum('"per_seed_inputs":true' in k for k in keys) == 1  # the default keeps its key
    by = {("per_seed_inputs" in r["settings"], r["seed"]): r for r in rows}
    assert by[True, 1]["extrapolation_mse"] != by[False, 1]["extrapolation_mse"]  # other data
    assert single["settings"] == by[True, 1]["settings"]
    assert single["extrapolation_mse"] == pytest.approx(by[True, 1]["extrapolation_mse"], rel=1e-4)


def test_a_killed_sweep_resumes_and_holds_each_row_once(tmp_path):
    db = tmp_path / "kill.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "nalm",
        "bench",
        "run",
        "single-module",
        "--models",
        "nau",
        "--ops",
        "add",
        "sub",
        "mul",
        "div",
        "--ranges",
        "6",
        "--seeds",
        "3",
        "--steps",
        "1500",
        "--eval-every",
        "500",
        "--eval-size",
        "100",
        "--db",
        str(db),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    count = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= 3:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= count < 12
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "all 3 seeds done, skipped" in done.stdout
    with sqlite3.connect(db) as c:
        total = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        distinct = c.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT operation, seed FROM results)"
        ).fetchone()[0]
    assert total == distinct == 12


def test_report_writes_tables_and_plots_with_published_numbers(tmp_path):
    db = tmp_path / "r.sqlite"
    settings = Settings(steps=40, eval_every=20, eval_size=50)
    run_sweep(
        MADSEN,
        ["NAU", "nau>nmu"],
        ["add", "mul"],
        MADSEN.ranges,
        range(3),
        db,
        settings,
        progress=False,
        log=print,
    )
    with Store(db) as store:
        rows = store.rows()
    summaries = summarize(rows)
    assert len(summaries) == 4 and all(s["seeds"] == 3 for s in summaries)
    nau_add = next(s for s in summaries if s["model"] == "nau>nau" and s["operation"] == "add")
    assert nau_add["published_success"] == 100 and nau_add["paper_name"] == "NAU"
    assert nau_add["ci_low"] <= nau_add["success_rate"] <= nau_add["ci_high"]
    paths = write_report(rows, tmp_path / "report")
    text = paths["markdown"].read_text()
    assert "nau>nau (NAU)" in text and "100 %" in text and "98 %" in text
    assert paths["csv"].read_text().splitlines()[0].startswith("suite,model,paper_name")
    for name in ("success", "extrapolation"):
        assert paths[name].stat().st_size > 10_000


def test_early_stop_rule_ignores_a_nan_row_and_needs_the_best_row():
    from nalm.bench.runner import solved_early

    rule = solved_early(1e-6, 1e-6)
    nan = {"interpolation_mse": float("nan"), "extrapolation_mse": float("nan")}
    solved = {"interpolation_mse": 1e-12, "extrapolation_mse": 1e-12}
    worse = {"interpolation_mse": 1e-9, "extrapolation_mse": 1e-12}
    assert rule(0, [nan, solved]) is True
    assert rule(0, [nan, solved, worse]) is False  # not the lowest interpolation MSE so far
    assert rule(0, [{"interpolation_mse": 1e-12, "extrapolation_mse": 1.0}]) is False


def _bench_rows(db):
    with sqlite3.connect(db) as c:
        cursor = c.execute("SELECT * FROM results ORDER BY seed")
        names = [d[0] for d in cursor.description]
        return [{k: v for k, v in zip(names, row, strict=True) if k != "seconds"} for row in cursor]


def test_a_cell_killed_mid_way_resumes_inside_the_cell_to_the_same_rows(tmp_path):
    """SIGKILL in the middle of a cell's training; the same command resumes from the cell's
    checkpoint (beside the database), trains only the remaining steps and stores the rows an
    uninterrupted run stores."""
    from nalm.train.checkpoint import read

    from ..conftest import kill_when, run_to_end

    def command(db):
        return [
            sys.executable, "-m", "nalm", "bench", "run", "single-module", "--models", "nau",
            "--ops", "mul", "--ranges", "6", "--seeds", "4", "--steps", "4000",
            "--eval-every", "100", "--eval-size", "100", "--db", str(db), "--no-progress",
            "--checkpoint-seconds", "0",
        ]  # fmt: skip

    whole, cut = tmp_path / "whole.sqlite", tmp_path / "cut.sqlite"
    run_to_end(command(whole))
    assert list(tmp_path.glob("*.cell-*")) == []  # removed once the rows are stored

    def step_reached():
        found = list(tmp_path.glob("cut.sqlite.cell-*.safetensors"))
        try:
            return bool(found) and read(found[0])[1]["step"] >= 1000
        except ValueError:  # caught while being replaced
            return False

    kill_when(command(cut), step_reached, poll=0.01)
    (checkpoint,) = tmp_path.glob("cut.sqlite.cell-*.safetensors")
    killed_at = read(checkpoint)[1]["step"]
    assert 1000 <= killed_at < 4000, "the cell must be killed mid-way"
    done = run_to_end(command(cut))
    assert f"resumed from its checkpoint at step {killed_at:,} of 4,000" in done.stdout
    assert not checkpoint.exists()
    rows = _bench_rows(cut)
    assert len(rows) == 4 and rows == _bench_rows(whole)
