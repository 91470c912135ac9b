"""The exponent search of a sum of monomials (``nalm.fitting.monomials``), the families that
learn a power of the target, and the common factor a sum is read with."""

import time
from fractions import Fraction

import numpy as np
import pytest
import sympy
import torch

from nalm.fitting import Structure, find_law
from nalm.fitting.constants import _common_factor, _factored
from nalm.fitting.monomials import is_sum_of_monomials, monomial_search


def _model(inputs: int, terms: int, start: list[list[float]]) -> torch.nn.Sequential:
    model = Structure(("power", "affine"), (terms,)).build(inputs).double()
    with torch.no_grad():
        model[0].W.copy_(torch.tensor(start, dtype=torch.float64))
    model[0].W.requires_grad_(False)
    return model


@pytest.mark.parametrize("inputs", [3, 6])  # the whole dictionary, then two changes at a time
def test_exponents_several_steps_from_the_start_are_found_and_the_coefficients_solved(inputs):
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.uniform(1, 5, (200, inputs)))
    y = (3 * x[:, 0] ** 2 / x[:, 1] - 0.5 * x[:, 0] * x[:, 2].sqrt() + 7)[:, None]
    start = [[1.0, 0.0, 0.0] + [0.0] * (inputs - 3), [0.0, 1.0, 1.0] + [0.0] * (inputs - 3)]
    model = _model(inputs, 2, start)
    loss = monomial_search(model, x, y, time.perf_counter() + 60)
    assert loss < 1e-20
    found = {tuple(row) for row in model[0].W.tolist()}
    rest = (0.0,) * (inputs - 3)
    assert found == {(2.0, -1.0, 0.0, *rest), (1.0, 0.0, 0.5, *rest)}
    weights = sorted((model[1].W[0] * model[0].b.exp()).tolist())
    assert weights == pytest.approx([-0.5, 3.0], rel=1e-9)
    assert float(model[1].b.detach()) == pytest.approx(7.0, rel=1e-9)


def test_forward_selection_ignores_the_start_and_a_law_off_the_grid_stays_inexact():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.uniform(1, 5, (200, 2)))
    on_grid = (x[:, 0] / x[:, 1] ** 2)[:, None]
    model = _model(2, 1, [[0.3, 0.7]])
    assert monomial_search(model, x, on_grid, time.perf_counter() + 60, forward=True) < 1e-20
    assert model[0].W.tolist() == [[1.0, -2.0]]
    off_grid = (x[:, 0] ** 0.7)[:, None]  # 0.7 is no exponent of the grid
    assert monomial_search(_model(2, 1, [[1.0, 0.0]]), x, off_grid, time.perf_counter() + 60) > 1e-8


def test_only_a_power_unit_before_one_affine_output_counts_as_a_sum_of_monomials():
    assert is_sum_of_monomials(Structure(("power", "affine"), (3,)).build(2))
    assert not is_sum_of_monomials(Structure(("power", "affine", "power"), (2, 1)).build(2))
    assert not is_sum_of_monomials(Structure(("power",)).build(2))


def test_a_sums_common_factor_leaves_the_simplest_fractions_and_stays_positive():
    assert _common_factor([1.0, -2.0, 1.0]) == 1.0  # not halved to 1/2, −1, 1/2
    assert _common_factor([0.7657, 0.7657]) == 0.7657
    assert _common_factor([100.0, -100.0000000001]) == pytest.approx(100.0000000001)
    a, b = sympy.symbols("a b")
    root = (100.0 / a**2 - 100.00000000001 * b**2 / a**2) ** sympy.Rational(-1, 2)
    value = complex(_factored(root).subs({a: 2.0, b: 0.5}))
    assert value == pytest.approx(complex(root.subs({a: 2.0, b: 0.5})))  # real and positive
    assert value.real > 0 and value.imag == 0


@pytest.mark.slow
def test_a_law_whose_inverse_square_root_is_a_sum_of_monomials_is_found():
    """``m/√(1 − v²/c²)``: ``y⁻²`` is ``1/m² − v²/(c²m²)``; ``a·b²/(b − c)²``: ``y^(−1/2)``."""
    rng = np.random.default_rng(0)
    m, v, c = rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(3, 10, 300)
    law = find_law(
        np.stack([m, v, c], 1),
        m / np.sqrt(1 - v**2 / c**2),
        ["m", "v", "c"],
        structures=[Structure(("power", "affine"), (2,), target_power=-2)],
    )
    assert law.exact
    m_, v_, c_ = sympy.symbols("m v c")
    expected = m_ / sympy.sqrt(1 - v_**2 / c_**2)
    assert float(law.formula.subs({m_: 3, v_: 40, c_: 50})) == pytest.approx(
        float(expected.subs({m_: 3, v_: 40, c_: 50})), rel=1e-9
    )
    a, b = rng.uniform(1, 5, 300), rng.uniform(5, 9, 300)
    cc = rng.uniform(1, 4, 300)
    half = find_law(
        np.stack([a, b, cc], 1),
        a * b**2 / (b - cc) ** 2,
        ["a", "b", "c"],
        structures=[Structure(("power", "affine"), (2,), target_power=Fraction(-1, 2))],
    )
    assert half.exact
    assert "y^-1/2" in Structure(("power", "affine"), (2,), target_power=Fraction(-1, 2)).label


def test_with_no_exact_formula_the_simplest_family_near_the_least_error_is_the_answer():
    from nalm.fitting.constants import defined_beyond
    from nalm.fitting.law import Attempt, Law, prefer_simplest

    x = sympy.Symbol("x")
    law = Law(x**3, False, "c", mse=1e-4, error=0.01)
    law.tried = [
        Attempt("a", x, mse=3e-4, error=0.03),  # more than 1.3× the least
        Attempt("b", x**2, mse=1.25e-4, error=0.02),
        Attempt("c", x**3, mse=1e-4, error=0.01),
    ]
    prefer_simplest(law)
    assert (law.structure, law.formula, law.mse, law.exact) == ("b", x**2, 1.25e-4, False)
    exact = Law(x, True, "c", mse=0.0)
    exact.tried = [Attempt("a", x**2, mse=1e-12), Attempt("c", x, exact=True, mse=0.0)]
    prefer_simplest(exact)
    assert exact.formula == x and exact.structure == "c"

    # the simplest family, not the first tried: least-squares attempts of later families run
    # before the simpler ones are trained
    law = Law(x**3, False, "c", mse=1e-4)
    law.tried = [Attempt("c", x**3, mse=1e-4, rank=2), Attempt("b", x**2, mse=1.2e-4, rank=1)]
    prefer_simplest(law)
    assert law.structure == "b"

    # formulas undefined beyond the table (a root turning negative) give way to defined ones
    law = Law(x**3, False, "c", mse=1e-4, error=0.01)
    law.tried = [
        Attempt("a", x, mse=3e-4, error=0.03),
        Attempt("b", sympy.sqrt(4 - x), mse=1.25e-4, error=0.02),
        Attempt("c", x**3, mse=1e-4, error=0.01),
    ]
    far = np.array([[10.0], [20.0]])
    prefer_simplest(law, lambda formula: defined_beyond(formula, ["x"], far))
    assert (law.structure, law.formula) == ("c", x**3)
    assert not defined_beyond(sympy.sqrt(4 - x), ["x"], far)


def test_a_root_of_a_ratio_reads_simply_only_where_the_inputs_are_positive():
    from nalm.fitting.constants import _tidy, snap_constants

    c, v, m = sympy.symbols("c v m")
    root = 1 / sympy.sqrt((c**2 - v**2) / (c**2 * m**2))
    assert _tidy(root, ["m", "v", "c"]) == c * m / sympy.sqrt(c**2 - v**2)
    assert _tidy(root, ["v", "c"]) != c * m / sympy.sqrt(c**2 - v**2)  # √(m²) is |m|
    # snap_constants takes positivity from the whole table where it is given, not the rows
    rows = (np.array([[2.0, 1.0, 3.0], [3.0, 1.5, 4.0]]), np.array([2.12, 3.4]))
    tidy = snap_constants(root, ["m", "v", "c"], rows, positive=["v", "c"])[0]
    assert tidy != c * m / sympy.sqrt(c**2 - v**2)
