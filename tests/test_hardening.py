"""Bad input from a careless or hostile user: one sentence, exit status 2, nothing of anyone's
touched. One test group per kind of bad input (see docs/reliability.md, "Limits and refusals")."""

import json
import math
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

import nalm
from nalm import limits
from nalm.app import runs
from nalm.bench.store import APPLICATION_ID, Store
from nalm.cli import build_parser, check_arguments, main, prepare_train
from nalm.errors import NalmError
from nalm.symbolic import verify
from nalm.tasks import ArithmeticTask, ExpressionTask, Range
from nalm.train import Ramp, fit, fit_seeds
from nalm.units import NAU, registry


def refuse(capsys, *argv):
    """Run the CLI in this process; return its one-line message (asserting status 2)."""
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    assert code == 2, f"expected a refusal, got status {code}"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "nalm", *args], capture_output=True, text=True, timeout=timeout
    )


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- 1. sizes nobody can allocate --------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,named",
    [
        (["train", "--inputs", "2000000000"], "--inputs"),
        (["train", "--batch-size", "3000000000"], "--batch-size"),
        (["train", "--eval-size", "1000000000"], "--eval-size"),
        (["train", "--hidden", "5000000000", "--layers", "2"], "--hidden"),
        (["train", "--inputs", "100000", "--eval-size", "100000"], "--eval-size 100000 × --inputs"),
        (
            ["train", "--inputs", "500000", "--batch-size", "1000", "--eval-size", "10"],
            "--batch-size 1000 × --inputs",
        ),
        (["bench", "run", "madsen", "--seeds", "100000", "--batch-size", "100000"], "--seeds"),
        (["reproduce", "identity", "--models", "99999999999"], "--models"),
        (["train", "--steps", "10000000000"], "--steps"),
    ],
)
def test_sizes_beyond_the_limit_name_the_argument(capsys, tmp_path, argv, named):
    out = ["--db" if argv[0] == "bench" else "--out", str(tmp_path / "run")]  # what it would write
    err = refuse(capsys, *argv, *out)
    assert named in err and ("1,000,000" in err or "268,435,456" in err or "100,000,000" in err)
    assert not (tmp_path / "run").exists()


def test_units_and_load_share_one_size_rule():
    with pytest.raises(NalmError, match=r"NALU: in_features must be at most 1,000,000"):
        registry.build("nalu", 10**9, 1)
    with pytest.raises(NalmError, match=r"in_features 100000 × out_features 100000 = 1e\+10"):
        registry.build("nau", 100_000, 100_000)
    with pytest.raises(NalmError, match="layers must be at most 1,000"):
        registry.build("nac", 2, 1, layers=10**6)
    with pytest.raises(NalmError, match="from 1 to 1,000,000"):
        nalm.persist.build(
            {
                "kind": "unit",
                "unit": "nau",
                "in_features": 10**6 + 1,
                "out_features": 1,
                "options": {},
            }
        )
    # the largest size either accepts is the same number
    assert (
        nalm.persist.build(
            {"kind": "unit", "unit": "nau", "in_features": 2, "out_features": 1, "options": {}}
        ).in_features
        == 2
    )


# -- 2. devices and seeds ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [["train"], ["fit", "data.csv", "--target", "y"], ["bench", "run", "madsen"], ["demo"]],
)
def test_an_unknown_device_is_one_sentence(capsys, command):
    err = refuse(capsys, *command, "--device", "tpu")
    assert "--device 'tpu' is not supported; nalm runs on 'cpu', 'cuda' or 'cuda:N'" in err


@pytest.mark.parametrize("seed", ["-1", str(2**64 + 1), str(2**63)])
def test_seeds_outside_the_range_are_refused(capsys, seed):
    err = refuse(capsys, "train", f"--seed={seed}")
    assert f"--seed must be a whole number from 0 to 2**63 - 1; got {seed}" in err


def test_the_python_doors_check_devices_and_seeds():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    with pytest.raises(NalmError, match="device 'tpu' is not supported"):
        fit(NAU(2, 1), task, steps=1, device="tpu", progress=False)
    with pytest.raises(NalmError, match="seed must be a whole number from 0"):
        fit(NAU(2, 1), task, steps=1, seed=-1, progress=False)
    with pytest.raises(NalmError, match="every seed must be a whole number"):
        fit_seeds(lambda: NAU(2, 1), [task], [-5], steps=1, progress=False)
    with pytest.raises(NalmError, match="eval_seed must be"):
        ExpressionTask("x0", "1,2", "2,6", eval_seed=2**64)
    if not torch.cuda.is_available():
        with pytest.raises(NalmError, match="CUDA is not available here"):
            limits.check_device("cuda")


# -- 3. numbers float32 cannot hold -----------------------------------------------------------
@pytest.mark.parametrize(
    "target,train,test,message",
    [
        ("exp(exp(exp(x0)))", "1,2", "2,3", "is too large to compute on the training range 1,2"),
        ("exp(x0)", "1,2", "100,1000", "is too large to compute on the test range 100,1000"),
        ("x0*x1", "1,2", "1e10,2e10", "reaches 4e+20 on the test range"),
        ("x0", "1e300,1e301", "1,2", "has an end beyond float32's largest value"),
    ],
)
def test_targets_float32_cannot_train_on_are_refused(capsys, target, train, test, message):
    with pytest.raises(NalmError, match=message.replace("+", r"\+")):
        ExpressionTask(target, train, test)
    err = refuse(capsys, "train", "--target", target, "--train-range", train, "--test-range", test)
    assert message in err


def test_nan_lambda_is_refused_everywhere(capsys):
    assert "λ (lambda_hat) must be a finite number" in refuse(capsys, "train", "--ramp", "nan,1,5")
    assert "--lambda must be a finite number" in refuse(
        capsys, "bench", "run", "madsen", "--lambda", "nan"
    )
    with pytest.raises(NalmError, match="finite"):
        Ramp(math.inf, 1, 2)


def test_a_task_whose_targets_overflow_is_refused_before_training(tmp_path):
    # an arithmetic task's squared targets do not fit float32 on this range
    task = ArithmeticTask(
        "mul",
        input_size=2,
        subset=0.5,
        overlap=0,
        train_range="1e10,2e10",
        extrapolation_range="2e10,3e10",
        eval_size=10,
    )
    with pytest.raises(NalmError, match="squared error overflows float32"):
        fit(NAU(2, 1), task, steps=1, progress=False)
    with pytest.raises(NalmError, match="squared error overflows float32"):
        fit_seeds(lambda: NAU(2, 1), [task], [0], steps=1, progress=False)


def test_a_root_of_negative_sums_is_refused_as_undefined(capsys):
    task = ArithmeticTask("root", train_range="-2,-1", extrapolation_range="-6,-2", eval_size=10)
    with pytest.raises(NalmError, match="target is undefined on part of its interpolation set"):
        fit(NAU(100, 1), task, steps=1, progress=False)
    err = refuse(capsys, "bench", "run", "madsen", "--ops", "root", "--ranges", "-2,-1:-6,-2")
    assert "the root of a negative sum" in err


def test_verify_never_hides_overflow_as_zero():
    identity = NAU(1, 1)
    with torch.no_grad():
        identity.W.fill_(1.0)
    # x0**8 near 1e37 is about 1e296: finite, but its square overflowed the error's scale,
    # which made every relative error 0; the model (y = x0) is in fact ~100 % off
    assert verify(identity, "x0**8", "1e37,2e37") == pytest.approx(1.0)
    with pytest.raises(NalmError, match="overflows float64"):
        verify(identity, "x0**10", "1e35,1e36")


# -- 4. other people's files ------------------------------------------------------------------
def test_train_does_not_write_into_a_users_directory(capsys, tmp_path):
    (tmp_path / "config.json").write_text('{"mine": true}\n')
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    before = snapshot(tmp_path)
    err = refuse(capsys, "train", "--steps", "5", "--out", str(tmp_path))
    assert "is a directory with other files in it and not a nalm run" in err
    assert snapshot(tmp_path) == before


def test_a_file_as_out_is_refused(capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert "is a file" in refuse(capsys, "train", "--out", str(path))
    assert "is a file" in refuse(capsys, "bench", "report", "--db", str(path), "--out", str(path))
    assert path.read_text() == "mine"


def _other_program_db(path):
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE people (name TEXT)")
        connection.execute("INSERT INTO people VALUES ('ada')")
    connection.close()
    return path.read_bytes()


@pytest.mark.parametrize("action", ["run", "report"])
def test_another_programs_database_is_left_byte_identical(capsys, tmp_path, action):
    db = tmp_path / "theirs.sqlite"
    before = _other_program_db(db)
    argv = (
        ["bench", "run", "single-module", "--ops", "add", "--seeds", "1", "--steps", "2"]
        if action == "run"
        else ["bench", "report", "--out", str(tmp_path / "report")]
    )
    err = refuse(capsys, *argv, "--db", str(db))
    assert "SQLite database of another program" in err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.sqlite"]


def test_a_text_file_as_database_is_left_alone(capsys, tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("not a database\n")
    err = refuse(capsys, "bench", "report", "--db", str(db))
    assert "is not a nalm results database (not an SQLite file)" in err
    assert db.read_text() == "not a database\n"


def test_a_database_from_before_the_mark_is_still_read_and_then_marked(tmp_path):
    db = tmp_path / "old.sqlite"
    with Store(db) as store:
        store.write(
            [
                dict.fromkeys(("suite", "model", "operation", "range", "settings"), "x")
                | {"seed": 0, "success": 1}
            ]
        )
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA application_id = 0")  # as written by nalm before the mark
    connection.commit()
    connection.close()
    with Store(db, create=False) as store:
        assert store.count() == 1
    with Store(db) as store:
        assert store.connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_refused_command_leaves_nothing_behind(tmp_path):
    made = tmp_path / "a" / "b" / "run"
    db = tmp_path / "c" / "results.sqlite"
    with pytest.raises(NalmError), runs.refusal_cleanup():
        runs.new_run_dir("train", made)
        Store(db).close()
        raise NalmError("refused after creating both")
    assert list(tmp_path.iterdir()) == []
    # what was there before the command stays
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(NalmError), runs.refusal_cleanup():
        runs.new_run_dir("train", kept)
        raise NalmError("refused")
    assert kept.is_dir()


def test_a_refused_sweep_creates_no_database(capsys, tmp_path):
    db = tmp_path / "sub" / "new.sqlite"
    err = refuse(capsys, "bench", "run", "single-module", "--models", "nalx", "--db", str(db))
    assert "unknown unit 'nalx'" in err
    assert list(tmp_path.iterdir()) == []


# -- 5. wrong things accepted -----------------------------------------------------------------
def test_overlapping_unions_are_refused_and_touching_ones_kept():
    with pytest.raises(NalmError, match=r"overlapping intervals 1,3 and 2,4.*union 1,4"):
        Range.parse("1,3|2,4")
    with pytest.raises(NalmError, match="overlapping"):
        Range.parse("-6,-2|2,6|-3,-1")
    assert Range.parse("1,2|2,3").intervals == ((1.0, 2.0), (2.0, 3.0))


@pytest.mark.parametrize("target", ["ｘ0 + x1", "x0 + x¹", "ﬁ"])
def test_look_alike_letters_are_refused(capsys, target):
    err = refuse(capsys, "train", "--target", target)
    assert "a look-alike of" in err and "U+" in err


def test_fit_says_when_no_model_fit(tmp_path, capsys):
    data = tmp_path / "d.csv"
    rows = "\n".join(f"{a},{b},{a + b}" for a in range(1, 6) for b in range(1, 5))
    data.write_text("a,b,y\n" + rows + "\n")
    code = main(
        [
            "fit",
            str(data),
            "--target",
            "y",
            "--unit",
            "linear",
            "--steps",
            "20",
            "--lr",
            "1e30",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "no model fit" in out and "best:" not in out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["best"] is None


# -- 6. the Python API ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model,task,message",
    [
        ("nau", None, "model must be a torch.nn.Module such as nalm.NAU"),
        (None, None, "model must be a torch.nn.Module"),
        (NAU(2, 1), "x0 + x1", "task must be a nalm task such as ExpressionTask"),
        (NAU(2, 1), None, "task must be a nalm task"),
        (NAU(3, 1), "task", "model takes 3 input\\(s\\) but the task has 2"),
        (NAU(2, 2), "task", "model gives 2 output\\(s\\) but the task has 1"),
        (nn.Linear(2, 1).requires_grad_(False), "task", "has no trainable parameters"),
    ],
)
def test_fit_names_the_bad_argument(model, task, message):
    real = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    task = real if task == "task" else task
    with pytest.raises(NalmError, match=message):
        fit(model, task, steps=1, progress=False)


def test_fit_seeds_names_the_bad_argument():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    with pytest.raises(NalmError, match="make_model must be a function"):
        fit_seeds(NAU(2, 1), [task], [0], steps=1, progress=False)
    with pytest.raises(NalmError, match="takes 3 input"):
        fit_seeds(lambda: NAU(3, 1), [task], [0], steps=1, progress=False)
    with pytest.raises(NalmError, match="every task must be a nalm task"):
        fit_seeds(lambda: NAU(2, 1), ["x0"], [0], steps=1, progress=False)
    with pytest.raises(NalmError, match="seeds must be a list"):
        fit_seeds(lambda: NAU(2, 1), [task], "0", steps=1, progress=False)


# -- 7. clearer messages ----------------------------------------------------------------------
def test_a_value_starting_with_a_dash(capsys):
    # --target -x0 is read as the target, so the refusal is about --steps
    assert "--steps must be at least 1" in refuse(
        capsys, "train", "--target", "-x0", "--steps", "0"
    )
    err = refuse(capsys, "train", "--inputs")
    assert "expected one argument" in err and "--inputs=-VALUE" in err


def test_a_ramp_that_ends_before_it_starts_says_so(capsys):
    err = refuse(capsys, "train", "--ramp", "1,10,5")
    assert "the ramp must end after it starts; it starts at step 10 and ends at 5" in err


def test_load_refuses_a_huge_architecture_quickly_and_briefly(tmp_path):
    layer = {"kind": "unit", "unit": "nau", "in_features": 1, "out_features": 1, "options": {}}
    architecture = {"kind": "sequential", "layers": [layer] * 100_000}
    path = tmp_path / "huge.safetensors"
    metadata = {
        "format": "nalm-model",
        "version": "1",
        "dtype": "float32",
        "architecture": json.dumps(architecture),
        "info": "{}",
    }
    save_file({"0.W": torch.zeros(1, 1)}, str(path), metadata=metadata)
    with pytest.raises(NalmError) as refused:
        nalm.load(path)
    assert "more than 10,000 modules" in str(refused.value)
    assert len(str(refused.value)) < 200


def test_mismatched_tensors_are_listed_briefly(tmp_path):
    model = registry.build("nau", 2, 2, layers=60, hidden=2)
    path = tmp_path / "m.safetensors"
    nalm.save(model, path)
    tensors = {"extra": torch.zeros(1)}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(NalmError, match="and 55 more") as refused:
        nalm.load(path)
    assert len(str(refused.value)) < 300


@pytest.mark.slow
def test_ctrl_c_says_what_was_saved_and_how_to_resume(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    # a shell's background job inherits SIGINT ignored, and Python then raises no
    # KeyboardInterrupt: give the child the default disposition, as a terminal would
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nalm",
            "train",
            "--unit",
            "nau",
            "--target",
            "x0 + x1",
            "--steps",
            "2000000",
            "--checkpoint-every",
            "50",
            "--eval-size",
            "10",
            "--baseline",
            "none",
            "--out",
            str(out),
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "checkpoint.safetensors").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted; the last checkpoint (written every 50 steps) is in" in err
    assert f"run the same command with --out {out} to resume" in err


# -- 8. conveniences --------------------------------------------------------------------------
def test_bench_run_takes_comma_lists(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    code = main(
        [
            "bench",
            "run",
            "single-module",
            "--models",
            "nau,nmu",
            "--ops",
            "add,mul",
            "--ranges",
            "0",
            "--seeds",
            "1",
            "--steps",
            "3",
            "--eval-every",
            "3",
            "--eval-size",
            "10",
            "--db",
            str(db),
            "--no-progress",
        ]
    )
    assert code == 0
    with Store(db, create=False) as store:
        cells = {(r["model"], r["operation"]) for r in store.rows()}
    assert cells == {("nau", "add"), ("nau", "mul"), ("nmu", "add"), ("nmu", "mul")}
    assert "4 rows written" in capsys.readouterr().out


def test_writes_count_only_the_rows_really_added(tmp_path):
    row = dict.fromkeys(("suite", "model", "operation", "range", "settings"), "x")
    rows = [row | {"seed": s, "success": 1} for s in range(3)]
    with Store(tmp_path / "r.sqlite") as first, Store(tmp_path / "r.sqlite") as second:
        assert first.write(rows[:2]) == 2
        assert second.write(rows) == 1  # another process wrote seeds 0 and 1 first


def test_formulas_use_plain_symbols():
    model = NAU(2, 1)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[1.0, 1.0]]))
    assert nalm.to_formula(model) == sympy.Symbol("x0") + sympy.Symbol("x1")
    assert nalm.to_formula(model, positive=True) == sympy.Symbol("x0") + sympy.Symbol("x1")


def test_relative_errors_scale_without_overflow():
    from nalm.symbolic import relative_errors

    expected = np.array([1e200, 2e200])
    assert np.allclose(relative_errors(expected * 1.5, expected), 0.5)


# -- property: random sizes, devices, seeds and ranges never give a traceback ----------------
# Every example starts from valid flags and spoils at most one of them with a drawn bad value.
BAD_SIZES = st.sampled_from(["0", "-3", str(10**6 + 1), str(2**31), str(10**12), "", "1e3"])
BAD_ENDS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e300", "-1e300", "3.5e38", "1e19", "nan", "inf", "", "x"]),
)
SEEDS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([2**63, -1, 2**64 + 1]))
DEVICES = st.one_of(
    st.sampled_from(["cuda", "cuda:3", "cuda:-1", "tpu", "", "CPU", "meta", "mps"]),
    st.text(max_size=5),
)
VALID_RANGES = st.sampled_from(["1,2", "-6,-2|2,6", "2,6", "0.5,3", "1,2|2,3"])
FLAGS = {
    "target": (
        st.sampled_from(["x0 + x1", "x0*x1", "x0/x1", "sqrt(x0)", "x0**2", "-x0", "exp(x0)"]),
        st.sampled_from(["ｘ0", "exp(exp(exp(x0)))", "x0 +", "x0**x1", "", "x99999"]),
    ),
    "inputs": (st.integers(2, 4).map(str), BAD_SIZES),
    "batch-size": (st.integers(1, 64).map(str), BAD_SIZES),
    "eval-size": (st.integers(1, 50).map(str), BAD_SIZES),
    "hidden": (st.integers(1, 4).map(str), BAD_SIZES),
    "layers": (st.integers(1, 3).map(str), BAD_SIZES),
    "seed": (st.integers(0, 2**63 - 1).map(str), SEEDS.map(str)),
    "device": (st.sampled_from(["cpu", " cpu", "cpu:0"]), DEVICES),
    "train-range": (
        VALID_RANGES,
        st.one_of(
            st.builds(lambda a, b: f"{a},{b}", BAD_ENDS, BAD_ENDS),
            st.sampled_from(["1,3|2,4", "", "|", "1,2|", "a,b", "2,1"]),
        ),
    ),
    "test-range": (
        VALID_RANGES,
        st.builds(lambda a, b, c, d: f"{a},{b}|{c},{d}", BAD_ENDS, BAD_ENDS, BAD_ENDS, BAD_ENDS),
    ),
}


@given(data=st.data(), spoiled=st.sampled_from([None, *FLAGS]))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
def test_train_arguments_never_give_a_traceback(data, spoiled):
    values = {
        flag: data.draw(bad if flag == spoiled else good, label=flag)
        for flag, (good, bad) in FLAGS.items()
    }
    argv = ["train", "--baseline", "none", *(f"--{flag}={value}" for flag, value in values.items())]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse: one line, status 2 (checked in the CLI tests)
        assert e.code == 2
        event("refused by argparse")
        return
    try:
        check_arguments(args)
        setup = prepare_train(args)
    except NalmError as e:
        assert "\n" not in str(e) and str(e)
        event("refused by nalm")
        return
    event("accepted")
    # accepted: everything is within the limits and float32 can train on it
    assert setup.task.in_features <= limits.MAX_SIZE
    for x, y in setup.task.evaluation.values():
        assert bool(torch.isfinite(x).all()) and float(y.abs().max()) <= limits.MAX_TARGET


FIT_ARGUMENTS = {
    "steps": (st.integers(1, 3), st.sampled_from([0, -1, 10**9, 2**70, 1.5, "3", None, True])),
    "batch_size": (st.integers(1, 16), st.sampled_from([0, -2, 10**7, 2.0, "8", True])),
    "seed": (st.integers(0, 2**63 - 1), SEEDS),
    "device": (st.sampled_from(["cpu", " cpu", "cpu:0"]), DEVICES | st.sampled_from([None, 0])),
    "lr": (st.floats(1e-6, 1.0), st.sampled_from([0, -1, math.nan, math.inf, "0.1", None])),
}


@given(data=st.data(), spoiled=st.sampled_from([None, *FIT_ARGUMENTS]))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
def test_fit_checks_never_give_a_traceback(data, spoiled):
    kwargs = {
        name: data.draw(bad if name == spoiled else good, label=name)
        for name, (good, bad) in FIT_ARGUMENTS.items()
    }
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=8)
    try:
        result = fit(NAU(2, 1), task, progress=False, **kwargs)
    except NalmError as e:
        assert "\n" not in str(e) and str(e)
        event("refused")
        return
    event("trained")
    assert result.steps == kwargs["steps"] and not result.diverged


# -- found by a second round of hostile inputs ------------------------------------------------
def test_flags_are_used_as_checked(capsys, tmp_path):
    args = build_parser().parse_args(["train", "--device", " cpu"])
    check_arguments(args)
    assert args.device == "cpu"  # what every later step receives
    err = refuse(capsys, "train", "--option", "in_features=5")
    assert "--option in_features=... is not a unit option" in err
    err = refuse(capsys, "fit", "d.csv", "--target", "y", "--seed", str(2**63 - 1), "--seeds", "3")
    assert f"--seed {2**63 - 1} with 3 seeds goes past the largest seed" in err
    args = build_parser().parse_args(["bench", "run", "madsen", "--models", "nau,", "nmu"])
    assert args.models == ("nau", "nmu")  # 'nau, nmu' names two models


def test_a_look_alike_run_directory_is_not_taken_for_a_nalm_run(capsys, tmp_path):
    (tmp_path / "config.json").write_text('{"command": "train"}')
    (tmp_path / "notes.txt").write_text("precious")
    before = snapshot(tmp_path)
    refuse(capsys, "train", "--out", str(tmp_path))
    assert snapshot(tmp_path) == before


def test_a_refusal_after_the_config_was_written_removes_the_directory(capsys, tmp_path):
    out = tmp_path / "run"
    err = refuse(
        capsys,
        "reproduce",
        "identity",
        "--models",
        "1000000",
        "--steps",
        "5",
        "--out",
        str(out),
        "--no-progress",
    )
    assert "268,435,456" in err
    assert not out.exists()


def test_more_python_arguments_are_checked(tmp_path):
    from nalm.tasks.arithmetic import RecurrentArithmeticTask

    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    result = fit(NAU(2, 1), task, steps=2, seed=np.int64(3), lr=np.float32(0.01), progress=False)
    assert result.steps == 2
    with pytest.raises(NalmError, match="lr gives no learning rate for model 'a'"):
        fit({"a": NAU(2, 1)}, task, steps=1, lr={}, progress=False)
    with pytest.raises(NalmError, match="lr has a learning rate for 'b', not a model given"):
        fit({"a": NAU(2, 1)}, task, steps=1, lr={"b": 0.1}, progress=False)
    with pytest.raises(NalmError, match="regularizer must be a finite number"):
        fit(NAU(2, 1), task, steps=1, regularizer=math.nan, policy=None, progress=False)
    with pytest.raises(NalmError, match=r"cannot take the task's inputs of shape \(2,\)"):
        fit(nn.Sequential(nn.Flatten(), NAU(3, 1)), task, steps=1, progress=False)
    with pytest.raises(NalmError, match="is a directory; give a file path"):
        fit(NAU(2, 1), task, steps=1, checkpoint=tmp_path, progress=False)
    with pytest.raises(NalmError, match="samples must be at most 1,000,000"):
        verify(NAU(2, 1), "x0 + x1", "1,2", samples=10**12)
    with pytest.raises(NalmError, match="seed must be a whole number"):
        verify(NAU(2, 1), "x0 + x1", "1,2", seed=-1)
    with pytest.raises(NalmError, match="the training range must be text such as"):
        ExpressionTask("x0 + x1", (1, 2), "2,6")
    with pytest.raises(NalmError, match="must be text such as 'x0 \\+ x1'; got bytes"):
        ExpressionTask(b"x0 + x1", "1,2", "2,6")
    with pytest.raises(NalmError, match="eval_size 1000 × length 1000000 × input_size 100"):
        RecurrentArithmeticTask("add", eval_size=1000, train_length=10**6)
    with pytest.raises(NalmError, match=r"cannot load .*: it is a directory"):
        nalm.load(tmp_path)


@pytest.mark.parametrize(
    "text,message",
    [
        ("２,6", "cannot read"),
        ("1_0,2_0", "cannot read"),
        ("1,1.00000001", "is empty in float32"),
    ],
)
def test_ranges_are_plain_ascii_numbers_that_float32_tells_apart(text, message):
    with pytest.raises(NalmError, match=message):
        Range.parse(text)


def test_formulas_are_read_only_from_models_a_person_can_read():
    model = registry.build("nau", 2, 1, layers=2, hidden=20_000)
    with pytest.raises(NalmError, match="formulas are read from models of at most 20,000"):
        nalm.to_formula(model)
