"""Ratios of sums found by least squares on the law's implicit form (nalm.fitting.ratios)."""

import time

import numpy as np
import pytest
import sympy
import torch

from nalm.fitting.ratios import Ratio, ratio_search
from nalm.fitting.search import find_law


def _table(ranges, n=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(a, b, n) for a, b in ranges], 1)


def _equal(found: sympy.Expr, expected: sympy.Expr, names) -> bool:
    positive = {sympy.Symbol(n): sympy.Symbol(n, positive=True) for n in names}
    rounded = sympy.nsimplify(found, tolerance=1e-8, rational=True).xreplace(positive)
    return sympy.simplify(rounded - expected.xreplace(positive)) == 0


def test_the_formula_is_the_root_of_the_numerator_over_one_minus_the_denominator():
    ratio = Ratio(
        numerator=torch.tensor([[2.0, 0.0]], dtype=torch.float64),
        a=torch.tensor([3.0], dtype=torch.float64),
        c=1.0,
        denominator=torch.tensor([[0.0, -1.0]], dtype=torch.float64),
        b=torch.tensor([0.5], dtype=torch.float64),
    )
    x, y = sympy.symbols("x y")
    expected = sympy.sqrt((1 + 3 * x**2) / (1 - y**-1 / 2))
    found = ratio.formula(["x", "y"], 2)
    for point in ({x: 1.5, y: 2.0}, {x: -3.0, y: 7.0}):
        assert float(found.subs(point)) == pytest.approx(float(expected.subs(point)), rel=1e-12)


def test_parallel_resistors_are_one_monomial_over_one_minus_another():
    x = _table([(1, 5), (1, 5)])
    y = x[:, 0] * x[:, 1] / (x[:, 0] + x[:, 1])
    ratio = ratio_search(torch.tensor(x), torch.tensor(y), 3, time.perf_counter() + 60)
    assert ratio is not None
    assert len(ratio.a) == 1 and len(ratio.b) == 1  # the unneeded terms dropped
    a, b = sympy.symbols("a b")
    assert _equal(ratio.formula(["a", "b"]), a * b / (a + b), ["a", "b"])


def test_the_relativistic_energy_is_a_ratio_of_the_squared_target():
    x = _table([(1, 5), (1, 2), (3, 10)])  # m, v, c
    m, v, c = x.T
    y = m * c**2 / np.sqrt(1 - v**2 / c**2)
    ratio = ratio_search(torch.tensor(x), torch.tensor(y**2), 3, time.perf_counter() + 60)
    assert ratio is not None and len(ratio.b) == 1
    names = ["m", "v", "c"]
    M, V, C = sympy.symbols(names)
    found = ratio.formula(names, 2)
    far = _table([(5, 50), (2, 3), (10, 100)], n=50, seed=1)  # outside the table's ranges
    value = sympy.lambdify([M, V, C], found)(*far.T)
    truth = far[:, 0] * far[:, 2] ** 2 / np.sqrt(1 - far[:, 1] ** 2 / far[:, 2] ** 2)
    assert np.max(np.abs(value / truth - 1)) < 1e-8


def test_a_spent_deadline_finds_nothing():
    x = _table([(1, 5), (1, 5)])
    y = x[:, 0] * x[:, 1] / (x[:, 0] + x[:, 1])
    assert ratio_search(torch.tensor(x), torch.tensor(y), 3, time.perf_counter() - 1) is None


def test_find_law_reads_a_ratio_and_names_a_sum_found_by_the_ratio_search_as_a_sum():
    x = _table([(1, 5), (1, 5)])
    law = find_law(x, x[:, 0] * x[:, 1] / (x[:, 0] + x[:, 1]), ["R1", "R2"], seeds=8)
    R1, R2 = sympy.symbols("R1 R2")
    assert law.exact and not law.trained and law.structure == "ratio (3)"
    assert sympy.simplify(law.formula - R1 * R2 / (R1 + R2)) == 0
    x = _table([(1, 5), (1, 5), (1, 5)])
    m, v, h = x.T
    law = find_law(x, m * v**2 / 2 + 9.81 * m * h, ["m", "v", "h"], seeds=8)
    M, V, H = sympy.symbols("m v h")
    assert law.exact and law.structure.startswith("power>affine")
    assert sympy.simplify(law.formula - (M * V**2 / 2 + sympy.Rational(981, 100) * M * H)) == 0


def test_a_root_of_a_perfect_square_is_read_as_the_signed_polynomial():
    from nalm.fitting.constants import snap_constants

    x = _table([(5, 10), (1, 2)])  # x > y on every row
    X, Y = sympy.symbols("x y")
    formula = sympy.sqrt(X**2 - 2 * X * Y + Y**2) * 3
    snapped = snap_constants(formula, ["x", "y"], (x, 3 * (x[:, 0] - x[:, 1])))
    assert snapped is not None
    assert sympy.expand(snapped[0] - 3 * (X - Y)) == 0  # not 3·|x − y|: it holds where x < y
    flipped = snap_constants(formula, ["x", "y"], (x[:, ::-1], 3 * (x[:, 0] - x[:, 1])))
    assert flipped is not None and sympy.expand(flipped[0] - 3 * (Y - X)) == 0  # y > x here
    over = sympy.sqrt((X**2 - 2 * X * Y + Y**2) / (X + Y))  # √(P²/Q) is ±P/√Q
    target = (x[:, 0] - x[:, 1]) / np.sqrt(x[:, 0] + x[:, 1])
    snapped = snap_constants(over, ["x", "y"], (x, target))
    assert snapped is not None and sympy.simplify(snapped[0] - (X - Y) / sympy.sqrt(X + Y)) == 0


@pytest.mark.slow
def test_a_close_imitation_gives_way_to_the_law_exact_to_the_last_digits():
    # y = m·c²/√(1 − v²/c²) with v/c ≤ 2/3: a ratio of sums on y imitates it to 1e-5 (exact
    # by the held-back criterion); the ratio on y² is the law itself, and wins
    x = _table([(1, 5), (1, 2), (3, 10)])
    m, v, c = x.T
    law = find_law(x, m * c**2 / np.sqrt(1 - v**2 / c**2), ["m", "v", "c"], seeds=8)
    M, V, C = sympy.symbols("m v c", positive=True)
    found = law.formula.xreplace(
        {sympy.Symbol(n): s for n, s in zip("mvc", (M, V, C), strict=True)}
    )
    assert law.exact and law.mse < 1e-20 and law.structure == "ratio (3) on y^2"
    assert sympy.simplify(found**2 - M**2 * C**4 / (1 - V**2 / C**2)) == 0
