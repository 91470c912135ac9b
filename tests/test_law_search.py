"""The law search of ``nalm fit`` (issue 35): the units with constants, their formulas, the
constants' snapping rule, and the search itself."""

import json
import math

import numpy as np
import pytest
import sympy
import torch
from torch import nn

import nalm
import nalm.cli
from nalm.app.fit import FitSettings
from nalm.errors import NalmError
from nalm.fitting import Structure, find_law
from nalm.fitting.constants import snap_constants
from nalm.symbolic.snapping import CONSTANT, Extraction, Snapper
from nalm.units import Affine, ScaledPower, check, get


@pytest.mark.parametrize("name", ["power", "affine"])
def test_each_new_unit_keeps_the_unit_contract(name):
    report = check(get(name))
    assert report.passed, str(report)


def _energy_model() -> nn.Module:
    """m·v²/2 + 9.81·m·h over (m, v, h), with exact weights."""
    power, affine = ScaledPower(3, 2, dtype=torch.float64), Affine(2, 1, dtype=torch.float64)
    with torch.no_grad():
        power.W.copy_(torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 1.0]]))
        power.b.zero_()
        affine.W.copy_(torch.tensor([[0.5, 9.81]]))
        affine.b.zero_()
    return nn.Sequential(power, affine)


def test_exact_weights_give_the_exact_law_a_million_times_beyond_the_training_range():
    model = _energy_model()
    x = torch.rand(1000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = 1e6 * (1 + 4 * x)  # the training range is [1, 5]
    m, v, h = x.T
    truth = m * v**2 / 2 + 9.81 * m * h
    assert torch.allclose(model(x)[:, 0], truth, rtol=1e-10, atol=0)  # exp(log) rounding
    formula = nalm.to_formula(model, ["m", "v", "h"], positive=True)
    read = sympy.lambdify(sympy.symbols("m v h"), formula)(*x.T.numpy())
    assert np.allclose(read, truth.numpy(), rtol=1e-14, atol=0)
    assert str(nalm.to_formula(model, ["m", "v", "h"], positive=True)) == "9.81*h*m + m*v**2/2"


def test_a_monomial_with_a_constant_reads_as_one_and_keeps_the_sign_of_negative_inputs():
    power = ScaledPower(3, 1, dtype=torch.float64)
    with torch.no_grad():
        power.W.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
        power.b.fill_(math.log(8.314))
    assert str(nalm.to_formula(power, ["n", "T", "V"])) == "8.314*T*n/V"
    x = torch.tensor([[-2.0, 3e6, 4.0]], dtype=torch.float64)
    assert float(power(x).detach()) == pytest.approx(-8.314 * 2 * 3e6 / 4, rel=1e-12)
    # a ratio of sums: 1/(1/R1 + 1/R2) = R1·R2/(R1 + R2)
    model = nn.Sequential(
        ScaledPower(2, 2, dtype=torch.float64),
        Affine(2, 1, dtype=torch.float64),
        ScaledPower(1, 1, dtype=torch.float64),
    )
    with torch.no_grad():
        model[0].W.copy_(-torch.eye(2, dtype=torch.float64))
        model[0].b.zero_()
        model[1].W.fill_(1.0)
        model[1].b.zero_()
        model[2].W.fill_(-1.0)
        model[2].b.zero_()
    R = torch.tensor([[2e6, 3e6]], dtype=torch.float64)
    assert float(model(R).detach()) == pytest.approx(6e12 / 5e6, rel=1e-12)
    assert nalm.to_formula(model, ["R1", "R2"], positive=True) == sympy.sympify("R1*R2/(R1 + R2)")


def test_constants_snap_to_fractions_only_within_their_tolerance():
    extraction = Extraction(outputs=())
    snap = Snapper(0.05, extraction)
    values = torch.tensor([0.49998, 8.314, 7 / 12 + 1e-5, 7 / 12 + 1e-2])
    assert snap("W", values, (0,), CONSTANT) == sympy.Rational(1, 2)
    kept = snap("W", values, (1,), CONSTANT)  # within 5e-4 of no p/q, q ≤ 12
    assert str(kept * sympy.Symbol("x")) == "8.314*x" and float(kept) == pytest.approx(8.314)
    assert snap("W", values, (2,), CONSTANT) == sympy.Rational(7, 12)
    assert isinstance(snap("W", values, (3,), CONSTANT), sympy.Float)
    assert len(extraction.snapped) == 2 and len(extraction.kept) == 2


def test_the_data_decides_each_constant_fraction_pi_or_the_digits_it_supports():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, (64, 2))
    a, b = sympy.symbols("a b")
    rows = (x, x[:, 0] / 2 + 8.314 * x[:, 1] + x[:, 0] * x[:, 1] / (4 * math.pi))
    noisy = 0.4999999999997 * a + 8.31400000000002 * b + 0.0795774715459 * a * b
    formula, mse, _ = snap_constants(noisy, ["a", "b"], rows)
    assert formula == a / 2 + sympy.Float("8.314", 15) * b + a * b / (4 * sympy.pi)
    assert float(formula.coeff(b).subs(a, 0)) == 8.314  # the decimal, not a coarser binary value
    assert mse < 1e-26
    # a constant that is no simple number keeps the digits the data supports, no fewer
    rows = (x, 8.31447 * x[:, 0] * x[:, 1])
    formula, _, _ = snap_constants(8.3144700000001 * a * b, ["a", "b"], rows)
    assert formula.atoms(sympy.Float) == {sympy.Float("8.31447", 15)}


def _table(tmp_path, name, f, low, high, rows=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (rows, 3))
    path = tmp_path / name
    lines = ["a,b,c,y"] + [",".join(f"{v!r}" for v in (*row, f(*row))) for row in x.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_search_never_reads_the_test_file(tmp_path):
    def law(a, b, c):
        return 2.5 * a * b / c

    data = _table(tmp_path, "data.csv", law, 1, 5)
    results = []
    for k, (low, high) in enumerate([(10, 50), (100, 1000)]):
        test = _table(tmp_path, f"test{k}.csv", law, low, high, seed=k + 1)
        settings = FitSettings(str(data), "y", str(test), seeds=4, steps=300, budget=60)
        result = settings.run(str(tmp_path / f"run{k}"), progress=False)
        config = json.loads((tmp_path / f"run{k}" / "config.json").read_text())
        results.append(
            [(t["family"], t["formula"], t["max_rel_error_held_back"]) for t in config["tried"]]
        )
        assert result.law.exact and config["law"] == "5*a*b/(2*c)"
        assert config["tried"][-1]["max_rel_error_test"] < 1e-12
        for tried in config["tried"]:  # each family's own formula on the test rows
            if tried["formula"] is not None and not tried["exact"]:
                assert tried["max_rel_error_test"] > 1e-6
    assert results[0] == results[1]


def test_each_family_tried_has_its_own_formulas_test_error(tmp_path):
    from nalm.fitting.constants import evaluate, max_relative_error

    def law(a, b, c):
        return math.exp(a / 5) + b * c  # no family is exact: every one is tried

    data = _table(tmp_path, "data.csv", law, 1, 5)
    test = _table(tmp_path, "test.csv", law, 10, 50, seed=1)
    settings = FitSettings(str(data), "y", str(test), seeds=4, steps=200, budget=20)
    result = settings.run(str(tmp_path / "run"), progress=False)
    table = np.loadtxt(test, delimiter=",", skiprows=1)
    names = ["a", "b", "c"]
    checked = 0
    for i, (attempt, row) in enumerate(zip(result.law.tried, result.rows(), strict=True)):
        assert row[0].endswith(", least squares") == (not attempt.trained)
        if attempt.formula is not None:
            expected = max_relative_error(
                evaluate(attempt.formula, names, table[:, :3]), table[:, 3]
            )
            assert result.test_errors[i] == pytest.approx(expected, nan_ok=True)
            checked += 1
    assert checked >= 5


def test_a_law_outside_the_families_is_not_called_exact():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2, (80, 1))
    law = find_law(
        x, np.exp(x[:, 0]), ["t"], structures=[Structure(("power",))], seeds=4, steps=300
    )
    assert not law.exact and law.formula is not None
    assert 1e-3 < law.error < 1  # the most accurate monomial, with its honest error
    assert [a.structure for a in law.tried] == ["power"]


def test_bad_input_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(NalmError, match=r"x must be \(N, d\) and y \(N,\)"):
        find_law(np.ones((5, 2)), np.ones(4))
    data = _table(tmp_path, "data.csv", lambda a, b, c: a + b, 1, 5)
    with pytest.raises(NalmError, match="budget"):
        FitSettings(str(data), "y", budget=0).check()


@pytest.mark.slow
def test_the_search_finds_a_planted_sum_of_monomials_with_constants(tmp_path, capsys):
    data = _table(tmp_path, "data.csv", lambda a, b, c: 3 * a * b**2 + 0.75 * c / a, 1, 5)
    out = tmp_path / "run"
    status = nalm.cli.main(["fit", str(data), "--target", "y", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0
    config = json.loads((out / "config.json").read_text())
    assert config["exact"] and config["family"] == "power>affine (2)"
    assert sympy.sympify(config["law"]) == sympy.sympify("3*a*b**2 + 3*c/(4*a)")
    assert "law: y = " in printed and "exact on the 30 rows held back" in printed
    assert config["trained"] is False and "by least squares" in printed  # no seed needed
    assert [t["trained"] for t in config["tried"]] == [True, True, False]


def test_the_units_mode_chooses_on_held_back_rows_never_on_the_test_file(tmp_path):
    def law(a, b, c):
        return a / b

    data = _table(tmp_path, "data.csv", law, 1, 5)
    seen = []
    for k, (low, high) in enumerate([(10, 50), (100, 1000)]):
        test = _table(tmp_path, f"test{k}.csv", law, low, high, seed=k + 1)
        settings = FitSettings(
            str(data), "y", str(test), units=("nau", "real_npu"), steps=400, seeds=2
        )
        result = settings.run(str(tmp_path / f"run{k}"), progress=False)
        held = [
            (c.spec, str(c.formula), c.formula_error["interpolation"]) for c in result.candidates
        ]
        seen.append((held, result.best.spec))
        # the held-back quarter of the 120 rows judges; the other 90 train
        assert len(result.task.train[0]) == 90
        assert len(result.task.evaluation["interpolation"][0]) == 30
    assert seen[0] == seen[1]
