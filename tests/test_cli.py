import csv
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from nalm import units
from nalm.cli import main


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "nalm", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--unit", "nalx"], "unknown unit 'nalx'; valid units:"),
        (["--target", "x0 +"], "is not a valid expression"),
        (["--target", "__import__('os')"], "unknown function '__import__'"),
        (["--train-range", "2,1"], "the training range '2,1' is inverted"),
        (["--target", "x0/x1", "--test-range", "-1,1"], "the divisor 'x1' can be 0"),
        (["--steps", "ten"], "invalid int value"),
        (["--option", "colour=red"], "has no option 'colour'"),
    ],
)
def test_bad_input_is_one_sentence_without_traceback(args, message):
    proc = (
        run_cli("train", "--steps", "5", *args)
        if "--steps" not in args
        else run_cli("train", *args)
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr


def test_train_writes_a_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--unit",
            "nac",
            "--target",
            "x0 - x1",
            "--steps",
            "300",
            "--lr",
            "0.1",
            "--eval-every",
            "100",
            "--eval-size",
            "200",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "extrapolation MSE" in printed and "layer 0 NAC  W = [[" in printed
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "baseline.safetensors",
        "prediction.png",
        "checkpoint.safetensors",
        ".nalm-run",  # the mark that lets a later --out resume here
    }
    config = json.loads((out / "config.json").read_text())
    assert config["task"]["target"] == "x0 - x1" and config["unit"] == "nac"
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["step"] for r in rows if r["model"] == "nac"] == ["0", "100", "200", "300"]
    assert {r["model"] for r in rows} == {"nac", "mlp"}
    weights = load_file(str(out / "model.safetensors"))
    assert set(weights) == {"W_hat", "M_hat"}
    W = torch.tanh(weights["W_hat"]) * torch.sigmoid(weights["M_hat"])
    assert W[0, 0] > 0.5 and W[0, 1] < -0.5  # 300 steps already point the weights at x0 − x1
    assert (out / "prediction.png").stat().st_size > 10_000


def test_train_stacks_layers_and_takes_options(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--unit",
            "nalu",
            "--layers",
            "2",
            "--option",
            "shared_weights=false",
            "--option",
            "eps=1e-6",
            "--steps",
            "20",
            "--eval-size",
            "50",
            "--baseline",
            "none",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "layer 1 NALU  W_mul" in capsys.readouterr().out
    assert not (out / "baseline.safetensors").exists()
    assert "W_hat_mul" in " ".join(load_file(str(out / "model.safetensors")))


@pytest.mark.parametrize("preset", ["seed-nac-add", "seed-nac-mul", "seed-nalu"])
def test_seed_presets_run_end_to_end(preset, tmp_path, capsys):
    out = tmp_path / preset
    assert (
        main(["train", "--preset", preset, "--steps", "200", "--out", str(out), "--no-progress"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "MSE before training" in printed and "MSE after training" in printed
    assert "actual vs predicted" in printed and "beyond the seed: extrapolation" in printed
    assert (out / "loss.png").exists() and (out / "model.safetensors").exists()
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert {"seed_test_mse", "extrapolation_mse"} <= set(rows[0])


@pytest.mark.slow
def test_seed_nac_add_preset_learns_with_the_seeds_settings(tmp_path, capsys):
    # The preset's own 22,000 full-batch steps at Adam lr 0.05 (about 10 s here).
    out = tmp_path / "add"
    main(["train", "--preset", "seed-nac-add", "--out", str(out), "--no-progress"])
    weights = load_file(str(out / "model.safetensors"))
    W = torch.tanh(weights["W_hat"]) * torch.sigmoid(weights["M_hat"])
    torch.testing.assert_close(W, torch.ones(1, 2), atol=1e-3, rtol=0)
    last = list(csv.DictReader((out / "metrics.csv").open()))[-1]
    assert last["step"] == "22000" and float(last["seed_test_mse"]) < 1.0


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--steps", "30", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for target in ("x0 + x1", "x0 - x1", "x0 * x1", "x0/4 + x1/2 + x2**2"):
        assert target in printed
    assert "x0/4 + x1/2 + x2**2  real_naive_npu>nau" in printed  # the later nalm model's row
    assert "(real_naive_npu>nau):\nlayer 0 RealNaiveNPU" in printed  # and its weights
    assert (out / "demo.png").stat().st_size > 10_000
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len({r["model"] for r in rows}) == 12
    config = json.loads((out / "config.json").read_text())
    assert config["formulas"][3]["later"]["spec"] == "real_naive_npu>nau"
    # one configuration, the same for +, − and ×
    assert {config["formulas"][i]["later"]["spec"] for i in range(3)} == {"(nau|nmu)"}
    for target in ("x0 + x1", "x0 - x1", "x0 * x1"):
        assert f"{target}  ((nau|nmu)):\nlayer 0 Branches" in printed  # its weights


@pytest.mark.parametrize(
    "unit",  # nalm's own (a unit from outside, e.g. examples/custom_unit, may have no reader)
    [u for u in units.names() if u != "mlp" and units.get(u).__module__.startswith("nalm.")],
)
def test_train_works_for_every_unit(unit, tmp_path, capsys):
    target = "x0 / x1" if unit in ("nmru", "nru", "npu", "real_npu") else "x0 * x1"
    quick = ["--steps", "30", "--eval-size", "100", "--baseline", "none", "--no-progress"]
    code = main(
        ["train", "--unit", unit, "--target", target, *quick, "--out", str(tmp_path / unit)]
    )
    out = capsys.readouterr().out
    assert code == 0
    expected_policy = units.get(unit).policy
    assert f"policy {expected_policy}:" in out
    assert "formula: y = " in out and "weight(s) snapped" in out
    config = json.loads((tmp_path / unit / "config.json").read_text())
    assert config["policy"]["name"] == expected_policy
    row = next(r for r in csv.DictReader((tmp_path / unit / "metrics.csv").open()) if r)
    assert row["model"] == unit


def test_policy_flags_override_the_recommended_policy(tmp_path, capsys):
    quick = ["--steps", "20", "--eval-size", "50", "--baseline", "none", "--no-progress"]
    flags = ["--ramp", "0.5,0,10", "--clip-norm", "1"]
    code = main(["train", "--unit", "nau", *quick, *flags, "--out", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "policy madsen-nau+flags: regulariser λ = ramp 0 → 0.5 over steps 0–10; "
        "clip gradient norm to 1" in out
    )


def test_units_lists_every_unit_with_its_operations(capsys):
    assert main(["units", "--markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| unit | class | operations | keeps sign |")
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert set(rows) == set(units.names())
    assert "| NMU | × | yes | W (out, in) | madsen-nmu | Madsen & Johansen 2020 |" in rows["nmu"]
    assert "| NACMul | × ÷ powers of \\|x\\| | no |" in rows["nac_mul"]


def test_bench_run_then_report(tmp_path):
    db, out = tmp_path / "b.sqlite", tmp_path / "report"
    args = [
        "bench",
        "run",
        "madsen",
        "--models",
        "NAU",
        "nau>nmu",
        "--ops",
        "+",
        "*",
        "--seeds",
        "2",
        "--steps",
        "30",
        "--eval-every",
        "10",
        "--eval-size",
        "50",
        "--db",
        str(db),
        "--no-progress",
    ]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "8 rows written" in proc.stdout
    assert proc.stdout.count("solved (") == 4
    again = run_cli(*args)
    assert again.stdout.count("all 2 seeds done, skipped") == 4
    assert "0 rows written" in again.stdout
    report = run_cli("bench", "report", "--db", str(db), "--out", str(out))
    assert report.returncode == 0, report.stderr
    assert "| madsen | nau>nmu (NMU) | × | 1,2:2,6 | 30 | 2 |" in report.stdout
    assert {p.name for p in out.iterdir()} == {
        "results.md",
        "results.csv",
        "success.png",
        "extrapolation.png",
        ".nalm-run",
    }


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "madsen", "--models", "nmx"], "unknown unit 'nmx'"),
        (["run", "madsen", "--ops", "pow"], "unknown operation 'pow'"),
        (["run", "madsen", "--ramp", "5"], "--ramp '5' is not START,END"),
        (["run", "madsen", "--seeds", "0"], "--seeds must be at least 1"),
        (["run", "single-module", "--ranges", "1,2"], "is not INTERPOLATION:EXTRAPOLATION"),
        (["report", "--db", "/nonexistent/x.sqlite"], "no results database at"),
    ],
)
def test_bench_bad_input_is_one_sentence(args, message, tmp_path):
    proc = (
        run_cli("bench", *args, "--steps", "1", "--db", str(tmp_path / "x.sqlite"))
        if args[0] == "run"
        else run_cli("bench", *args)
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr


def test_reproduce_table1_and_identity_write_their_files(tmp_path, capsys):
    out = tmp_path / "t1"
    code = main(
        [
            "reproduce",
            "table1",
            "--quick",
            "--only",
            "static",
            "--static-models",
            "None,NMU",
            "--ops",
            "add,*",
            "--seeds",
            "1",
            "--static-steps",
            "20",
            "--random-inits",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"table1.md", "table1.csv", "table1.png"}
    text = (out / "table1.md").read_text()
    assert "**Quick run**" in text and "20 steps" in text and "| a×b |" in text
    assert "Recurrent" not in text  # only the static half ran
    out = tmp_path / "id"
    code = main(
        [
            "reproduce",
            "identity",
            "--activations",
            "Tanh",
            "--units",
            "nac",
            "--models",
            "2",
            "--steps",
            "10",
            "--train-range",
            "-2,2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "U[-2,2]" in (out / "identity.md").read_text()
    assert "Quick run" not in (out / "identity.md").read_text()
    assert "identity:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["table1", "--seeds", "0"], "--seeds must be at least 1; got 0"),
        (["table1", "--static-models", "foo"], "static model 'foo' (row labels: ReLU6"),
        (["identity", "--activations", "Relux"], "unknown activation 'Relux'"),
        (["table1", "--ops", "add,+"], "operation 'add' is given twice"),
    ],
)
def test_reproduce_bad_input_is_one_sentence(args, message, tmp_path):
    proc = run_cli("reproduce", *args, "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_train_prints_the_learned_formula(tmp_path, capsys):
    args = ["train", "--unit", "nau", "--target", "x0 - x1", "--steps", "1500", "--lr", "0.05"]
    code = main([*args, "--baseline", "none", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 0
    assert "formula: y = x0 - x1    [2 weight(s) snapped" in capsys.readouterr().out


def test_an_exploding_sweep_marks_seeds_diverged_and_goes_on(tmp_path, capsys):
    """lr 1e30 blows a linear model up at once; the sweep stores every seed and carries on."""
    db = tmp_path / "r.sqlite"
    args = ["bench", "run", "single-module", "--models", "linear", "nau", "--ops", "add"]
    args += ["--ranges", "0", "--seeds", "3", "--steps", "40", "--eval-every", "10", "--lr", "1e30"]
    assert main([*args, "--eval-size", "100", "--db", str(db), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 of 6 seeds in this sweep diverged" in out
    from nalm.bench.store import Store

    with Store(db) as store:
        rows = {(r["model"], r["seed"]): r for r in store.rows()}
    assert len(rows) == 6
    assert all(rows[("linear", s)]["diverged_at"] is not None for s in range(3))
    assert all(not rows[("linear", s)]["success"] for s in range(3))
    assert all(rows[("nau", s)]["diverged_at"] is None for s in range(3))  # clamped: never blows up


def test_train_and_bench_take_the_same_ramp_grammar(tmp_path, capsys):
    """``[LAMBDA,]START,END`` in both: train's START,END keeps the policy's λ̂; bench's
    LAMBDA,START,END sets λ̂ as --lambda would, and both at once must agree."""
    quick = ["--steps", "10", "--eval-size", "20", "--baseline", "none", "--no-progress"]
    code = main(["train", "--unit", "nau", *quick, "--ramp", "5,8", "--out", str(tmp_path / "t")])
    assert code == 0
    assert "policy madsen-nau+flags: regulariser λ = ramp 0 → 0.01 over steps 5–8" in (
        capsys.readouterr().out
    )
    run = ["bench", "run", "madsen", "--models", "NMU", "--ops", "add", "--seeds", "1",
           "--steps", "20", "--eval-every", "10", "--eval-size", "20", "--no-progress"]  # fmt: skip
    assert main([*run, "--ramp", "2,5,8", "--db", str(tmp_path / "a.sqlite")]) == 0
    assert main([*run, "--lambda", "2", "--ramp", "5,8", "--db", str(tmp_path / "b.sqlite")]) == 0
    from nalm.bench.store import Store

    with Store(tmp_path / "a.sqlite") as a, Store(tmp_path / "b.sqlite") as b:
        rows_a, rows_b = a.rows(), b.rows()
    assert [r["settings"] for r in rows_a] == [r["settings"] for r in rows_b]
    assert [r["extrapolation_mse"] for r in rows_a] == [r["extrapolation_mse"] for r in rows_b]
    capsys.readouterr()
    code = main([*run, "--lambda", "3", "--ramp", "2,5,8", "--db", str(tmp_path / "c.sqlite")])
    assert code == 2 and "give λ̂ twice" in capsys.readouterr().err
