import csv
import json
import random

import pytest
import sympy
from safetensors import safe_open
from torch import nn

from nalm.cli import main
from nalm.errors import NalmError
from nalm.fitting import (
    Candidate,
    best_candidate,
    closest_candidate,
    fit_candidates,
    parse_specs,
    scaled_regularizer,
)
from nalm.symbolic import Extraction
from nalm.tasks import read_table, table_task
from nalm.train import Ramp
from nalm.train.cohort import SeedResult
from nalm.units import NAU, NMU, NPU


def ohm_tables(tmp_path, rows=60):
    """Noise-free Ohm's law, I = V / R, with an irrelevant temperature column T."""
    rng = random.Random(0)

    def write(name, n, v, r):
        path = tmp_path / name
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["V", "R", "T", "I"])
            for _ in range(n):
                V, R = round(rng.uniform(*v), 2), round(rng.uniform(*r), 2)
                writer.writerow([V, R, round(rng.uniform(15, 35), 1), repr(V / R)])
        return path

    return write("train.csv", rows, (1, 12), (1, 100)), write(
        "test.csv", 40, (100, 1e4), (1e3, 1e5)
    )


def test_fit_candidates_recovers_ohms_law_and_picks_it(tmp_path):
    train, test = ohm_tables(tmp_path)
    task, names = table_task(read_table(train), "I", read_table(test), exclude=["T"])
    candidates = fit_candidates(task, names, ["nau", "nmru"], steps=2000, seeds=2, progress=False)
    by_spec = {c.spec: c for c in candidates}
    V, R = sympy.symbols("V R")
    assert by_spec["nmru"].formula == V / R
    # measured on the task's float32 inputs here (nalm fit passes the float64 rows)
    assert by_spec["nmru"].formula_error["extrapolation"] < 1e-6
    assert by_spec["nmru"].model_mse["extrapolation"] < 1e-6
    # A sum cannot divide: far from the data it is far off.
    assert by_spec["nau"].formula_error["extrapolation"] > 10
    assert best_candidate(candidates, task).spec == "nmru"


def test_best_candidate_prefers_exact_then_short_then_low_error(tmp_path):
    train, _ = ohm_tables(tmp_path, rows=10)
    task, _ = table_task(read_table(train), "I", exclude=["T"])
    V, R = sympy.symbols("V R")

    def candidate(spec, formula, mse):
        extraction = None if formula is None else Extraction(outputs=(formula,))
        return Candidate(
            spec,
            nn.Identity(),
            SeedResult(0),
            extraction=extraction,
            model_mse={"interpolation": mse},
            formula_mse={"interpolation": mse},
        )

    short = candidate("short", V / R, 1e-20)
    long = candidate("long", V / R + 0 * V + V**2 / (V * R) - V / R, 0.0)  # sympy keeps V/R
    longer = candidate("longer", V / R * (1 + sympy.Float(1e-12) * R), 1e-18)
    rough = candidate("rough", 0.1 * V, 0.3)
    rougher = candidate("rougher", 0.2 * V, 0.5)
    mlp = candidate("mlp", None, 0.2)
    assert best_candidate([longer, short], task) is short  # both exact: fewer operations
    assert best_candidate([long, short], task) is long  # equal length: the first listed
    assert best_candidate([rough, longer], task) is longer  # exact beats any inexact
    assert closest_candidate([rougher, rough, mlp], task) is mlp  # otherwise the lowest MSE
    assert closest_candidate([rougher, rough], task) is rough
    # but an inexact one is called best only when it explains 99 % of the target's variance
    assert best_candidate([rougher, rough, mlp], task) is None


def test_scaled_regularizer_squeezes_the_papers_ramps():
    nmu = nn.Sequential(NAU(2, 2), NMU(2, 1))
    assert scaled_regularizer(nmu, 10_000) == Ramp(10.0, 3750, 7500)  # paper: 1e6 → 2e6
    assert scaled_regularizer(NAU(2, 1), 10_000) == Ramp(0.01, 750, 7500)  # paper: 5e3 → 5e4
    assert scaled_regularizer(NAU(2, 1), 100_000) is None  # fits: left as it is
    assert scaled_regularizer(NPU(2, 1), 10_000) is None  # a geometric schedule: left as it is


def test_parse_specs():
    assert [str(s) for s in parse_specs(["nau", "nau>nmu", "mlp:relu", "NMU"])] == [
        "nau",
        "nau>nmu",
        "mlp:relu",
        "nmu",
    ]
    with pytest.raises(NalmError, match="listed twice"):
        parse_specs(["nau", "nau"])
    with pytest.raises(NalmError, match="unknown unit 'nope'"):
        parse_specs(["nope"])


def test_fit_command_writes_a_run_directory(tmp_path, capsys):
    train, test = ohm_tables(tmp_path)
    out = tmp_path / "run"
    code = main(
        [
            "fit",
            str(train),
            "--target",
            "I",
            "--test",
            str(test),
            "--try-units",
            "nmru,mlp:relu",
            "--exclude",
            "T",
            "--steps",
            "1500",
            "--seeds",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "best: nmru    I = V/R" in printed and "0 of 4 seeds diverged" in printed
    assert "an MLP has no closed-form formula" in printed
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "metrics.csv",
        "formulas.md",
        "fit.png",
        "nmru.safetensors",
        "mlp-relu.safetensors",
        ".nalm-run",
    }
    config = json.loads((out / "config.json").read_text())
    assert config["best"] == "nmru" and config["formulas"] == {"nmru": "V/R", "mlp:relu": None}
    assert config["inputs"] == ["V", "R"]
    with safe_open(str(out / "nmru.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["info"])["formula"] == "V/R"
    assert "| nmru | V/R |" in (out / "formulas.md").read_text()
    assert (out / "fit.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("V,R,I\n1,2,0.5\n3,4\n", "line 3 has 2 cells"),
        ("V,R,I\n1,2,0.5\n3,four,0.75\n", "line 3, column 'R': 'four' is not a number"),
        ("V,R,I\n1,2,0.5\n3,NaN,0.75\n", "line 3, column 'R': 'NaN' is not a finite number"),
        ("V,R,I\n1,2,0.5\n3,,0.75\n", "line 3, column 'R': the cell is empty"),
        ("V,R,I\n1,2,0.5\n", "has 1 data row (line 2); fitting needs at least 2"),
        ("V,R,J\n1,2,0.5\n3,4,0.75\n", "has no column 'I'; its columns are V, R, J"),
    ],
)
def test_fit_bad_csv_is_one_sentence_and_writes_nothing(tmp_path, capsys, text, message):
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "run"
    code = main(["fit", str(data), "--target", "I", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0] and "data.csv" in err[0]
    assert not out.exists()
