"""Issue 33, group 5: ``nalm fit`` calls no wrong formula "best".

Tables in tiny or mixed units are fitted in powers of ten that keep the law's form and the
formula is printed in the table's units; a fit that explains too little is "no model fit"; a
constant target is refused; column names that are not symbols get ``x0, x1, …`` and a legend.
"""

import csv
import json
import random

import numpy as np
import pytest
import sympy
import torch
from torch import nn

from nalm.cli import main
from nalm.fitting import Candidate, Scaling, best_candidate, closest_candidate, formula_names
from nalm.fitting.names import legend, shown
from nalm.fitting.scaling import fold_power_of_ten, power_law
from nalm.symbolic import Extraction, formula_function
from nalm.tasks import DatasetTask
from nalm.train.cohort import SeedResult


def write(path, header, rows):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def pairs(n=20, seed=0):
    rng = random.Random(seed)
    return [(rng.uniform(1, 10), rng.uniform(1, 10)) for _ in range(n)]


def fit(tmp_path, data, target, unit, capsys, steps=100):
    out = tmp_path / "run"
    code = main(
        [
            *("fit", str(data), "--target", target, "--unit", unit),
            *("--steps", str(steps), "--seeds", "1", "--out", str(out), "--no-progress"),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out


# -- scaling: the law in the data's units --------------------------------------------------------
def test_a_table_in_millionths_gives_the_law_with_its_constant(tmp_path, capsys):
    # every column of an a·b table scaled by 1e-6: in the table's units y = 1e6·a·b
    data = write(
        tmp_path / "d.csv",
        ["a", "b", "y"],
        [(a * 1e-6, b * 1e-6, a * b * 1e-6) for a, b in pairs()],
    )
    code, printed, _, out = fit(tmp_path, data, "y", "nmu", capsys)
    assert code == 0
    assert "best: nmu    y = 1000000*a*b" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["formulas"] == {"nmu": "1000000*a*b"} and config["best"] == "nmu"
    # the target's power holds the constant: 10**(k_a + k_b + 6)
    assert config["scaling"]["target"] == sum(config["scaling"]["inputs"]) + 6
    assert "the formulas are in the data's units" in printed


def test_a_sum_in_millionths_is_a_plus_b(tmp_path, capsys):
    data = write(
        tmp_path / "d.csv",
        ["a", "b", "y"],
        [(a * 1e-6, b * 1e-6, (a + b) * 1e-6) for a, b in pairs()],
    )
    code, printed, _, out = fit(tmp_path, data, "y", "nau", capsys)
    assert code == 0 and "best: nau    y = a + b" in printed
    assert "trained on the inputs ÷ 1e-5 and the target ÷ 1e-5" in printed
    # the saved model says how to use it: y = target_scale · model(x / input_scale)
    from safetensors import safe_open

    with safe_open(str(out / "nau.safetensors"), "pt") as f:
        info = json.loads(f.metadata()["info"])
    assert info["input_scale"] == [1e-5, 1e-5] and info["target_scale"] == 1e-5


def test_a_ratio_of_columns_in_different_units(tmp_path, capsys):
    # volts and kilo-ohms: each column gets its own power of ten, the law stays V/R
    data = write(
        tmp_path / "d.csv", ["V", "R", "I"], [(v, r * 1e3, v / (r * 1e3)) for v, r in pairs()]
    )
    code, printed, _, _ = fit(tmp_path, data, "I", "nmru", capsys)
    assert code == 0 and "best: nmru    I = V/R" in printed
    assert "trained on V ÷ 1e+1, R ÷ 1e+4 and the target ÷ 1e-3" in printed


def test_scaling_keeps_each_homogeneous_law_exact():
    rng = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 3, generator=rng, dtype=torch.float64) * 9 + 1) * 1e-6
    a, b, c = x.T
    symbols = sympy.symbols("a b c")
    A, B, C = symbols
    laws = {a + b: A + B, a * (b + c): A * (B + C), a / b: A / B, 1e6 * a * b: 10**6 * A * B}
    for values, law in laws.items():
        scaling = Scaling.of(x.float(), values.float())
        # on the scaled rows the law has no constant left for a unit to learn ...
        scaled = law.xreplace(
            {s: s * sympy.Integer(10) ** k for s, k in zip(symbols, scaling.inputs, strict=True)}
        )
        free = sympy.simplify(scaled / sympy.Integer(10) ** scaling.target)
        assert free.as_coeff_Mul()[0] == 1, (law, scaling, free)
        # ... and what a unit learns there reads back as the law, exactly
        assert scaling.undo(free, ["a", "b", "c"]) == law
    assert Scaling.of(x[:, :2] * 1e6, (a + b)) == Scaling()  # values near 1: nothing scaled
    slopes, intercept, residual = power_law(x, 1e3 * a**2 / c)
    assert np.allclose(slopes, [2, 0, -1]) and abs(intercept - 3) < 1e-9 and residual < 1e-9


def test_a_formula_off_by_a_power_of_ten_is_folded_only_when_that_makes_it_exact():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 10, (20, 2))
    A, B = sympy.symbols("a b")
    y = 10 * (x[:, 0] + x[:, 1])
    folded = fold_power_of_ten(A + B, formula_function(A + B, "ab"), x, y, 1e-9)
    assert str(folded) == "10*(a + b)"
    assert fold_power_of_ten(A * B, formula_function(A * B, "ab"), x, y, 1e-9) is None
    assert fold_power_of_ten(10 * (A + B), formula_function(10 * (A + B), "ab"), x, y, 1e-9) is None


# -- no model fit ---------------------------------------------------------------------------------
def test_a_product_unit_on_a_sum_is_no_model_fit(tmp_path, capsys):
    data = write(
        tmp_path / "d.csv",
        ["a", "b", "y"],
        [(a * 1e-6, b * 1e-6, (a + b) * 1e-6) for a, b in pairs()],
    )
    code, printed, _, out = fit(tmp_path, data, "y", "nmu", capsys)
    assert code == 0
    assert "best:" not in printed
    line = next(t for t in printed.splitlines() if t.startswith("no model fit"))
    assert line.startswith("no model fit: the closest, nmu (y = ")
    assert "(a fit leaves at most 1%)" in line
    assert json.loads((out / "config.json").read_text())["best"] is None
    assert "No model fit the data." in (out / "formulas.md").read_text()


def test_an_inexact_candidate_is_best_only_when_it_explains_99_percent():
    x = torch.arange(1.0, 11.0)[:, None]
    y = 3 * x[:, 0]
    task = DatasetTask((x, y), {"interpolation": (x, y)})
    variance = float(y.double().var(unbiased=False))

    def candidate(mse):
        return Candidate(
            "c",
            nn.Identity(),
            SeedResult(0),
            extraction=Extraction(outputs=(sympy.Symbol("x0"),)),
            formula_mse={"interpolation": mse},
        )

    close, far = candidate(0.009 * variance), candidate(0.02 * variance)
    assert best_candidate([far, close], task) is close
    assert best_candidate([far], task) is None and closest_candidate([far], task) is far


def test_a_constant_target_is_refused_before_training(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["a", "b", "y"], [(a, b, 7.0) for a, b in pairs()])
    code, _, err, out = fit(tmp_path, data, "y", "nau", capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and not out.exists()
    assert (
        "d.csv: the target column 'y' is 7 on every row: a constant, not a law of the inputs"
        in lines[0]
    )


# -- names that are not symbols -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("columns", "legend_text"),
    [
        (["2", "3"], 'where x0 = "2", x1 = "3"'),
        (["a-b", "c"], 'where x0 = "a-b", x1 = "c"'),
    ],
)
def test_names_that_are_not_symbols_get_a_legend(tmp_path, capsys, columns, legend_text):
    data = write(tmp_path / "d.csv", [*columns, "y"], [(a, b, a * b) for a, b in pairs()])
    code, printed, _, out = fit(tmp_path, data, "y", "nmu", capsys)
    assert code == 0
    assert f"best: nmu    y = x0*x1    {legend_text}" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["formulas"] == {"nmu": "x0*x1"}
    assert config["symbols"] == {"x0": columns[0], "x1": columns[1]}
    assert f"The formulas name the inputs {legend_text[6:]}." in (out / "formulas.md").read_text()


def test_which_names_are_symbols():
    assert formula_names(["V", "R_1", "Ω"]) == ["V", "R_1", "Ω"]
    for bad in ["2", "a-b", "lambda", "sqrt", "pi", "cos", "µ", "a b", "x.y"]:
        assert formula_names([bad, "c"]) == ["x0", "x1"], bad
    assert formula_names(["x1", "2"]) == ["x0", "x1"]  # all renamed: no clash with a column 'x1'
    assert legend(['say "hi"', "b"], ["x0", "x1"]) == 'where x0 = "say \\"hi\\"", x1 = "b"'
    assert legend(["a", "b"], ["a", "b"]) == ""
    assert shown("I") == "I" and shown("y-1") == '"y-1"'
