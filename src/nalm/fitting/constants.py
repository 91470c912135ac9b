"""Reading a law's constants: each float of a formula replaced by the simplest number the data
allows (0, ``p/q``, ``p/q·π^k``, or the float cut to the digits the data supports), and the
errors a formula is judged by."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy

from ..errors import NalmError
from ..symbolic import formula_function

MAX_DENOMINATOR = 12
"""Constants snap to ``p/q`` with ``q`` up to this (and to such fractions times ``π^k``)."""
FLOOR = 1e-26
"""A relative MSE this small is float64 rounding: snapping may always reach it."""


def relative_mse(predicted: np.ndarray, y: np.ndarray) -> float:
    """Mean square error ÷ the target's mean square (``inf`` where not finite)."""
    with np.errstate(all="ignore"):
        value = float(np.mean((predicted - y) ** 2) / max(float(np.mean(y**2)), 1e-300))
    return value if np.isfinite(value) else math.inf


def max_relative_error(predicted: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        value = float(np.max(np.abs(predicted - y) / np.maximum(np.abs(y), 1e-300)))
    return value if np.isfinite(value) else math.inf


def evaluate(formula: sympy.Expr, names: list[str], x: np.ndarray) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            value = formula_function(formula, names)(x)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (len(x),))
    except (NalmError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return np.full(len(x), np.nan)


def measure(
    formula: sympy.Expr, names: list[str], rows: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """``(relative MSE, largest relative error)`` of ``formula`` on ``rows`` ``(x, y)``."""
    x, y = rows
    predicted = evaluate(formula, names, x)
    return relative_mse(predicted, y), max_relative_error(predicted, y)


def snap_constants(
    formula: sympy.Expr, names: list[str], rows: tuple[np.ndarray, np.ndarray]
) -> tuple[sympy.Expr, float, float] | None:
    """Replace each float of ``formula`` by the simplest number (:func:`_simpler`) that keeps it
    as accurate on ``rows`` (the held-back rows): its relative MSE there at most 4 × the
    unsnapped one's (or :data:`FLOOR`), so a constant keeps the digits the data supports.
    Returns ``(formula, relative MSE, largest relative error)``, ``None`` where not finite."""
    formula = sympy.expand(formula) if _expandable(formula) else _factored(formula)
    mse, error = measure(formula, names, rows)
    if not math.isfinite(mse):
        return None
    allowed = max(4 * mse, FLOOR)
    floats = sorted(formula.atoms(sympy.Float), key=lambda f: -abs(float(f)))
    for number in floats:
        if number not in formula.atoms(sympy.Float):
            continue
        for option in _simpler(float(number)):
            trial = formula.xreplace({number: option})
            trial_mse, trial_error = measure(trial, names, rows)
            if trial_mse <= allowed:
                formula, mse, error = trial, trial_mse, trial_error
                break
    formula = _tidy(formula)
    mse, error = measure(formula, names, rows)
    return formula, mse, error


def _expandable(formula: sympy.Expr) -> bool:
    """Expand sums of monomials only (never a power of a sum with a fractional exponent)."""
    return not any(
        isinstance(p, sympy.Pow) and isinstance(p.base, sympy.Add) for p in formula.atoms(sympy.Pow)
    )


def _factored(formula: sympy.Expr) -> sympy.Expr:
    """Each sum raised to a power divided by its largest coefficient, the factor moved out to
    join the monomial's constant: ``0.7657/(0.7657/a + 0.7657/b)`` reads ``1.0/(1.0/a + 1.0/b)``.
    The stacks leave such a factor free (any scale of the sum fits as well)."""

    def normalized(power: sympy.Pow) -> sympy.Expr:
        coefficients = [term.as_coeff_Mul()[0] for term in sympy.Add.make_args(power.base)]
        largest = max(coefficients, key=lambda c: abs(float(c)))
        if largest == 0 or largest == 1:
            return power
        return largest**power.exp * sympy.expand(power.base / largest) ** power.exp

    return formula.replace(
        lambda e: isinstance(e, sympy.Pow) and isinstance(e.base, sympy.Add), normalized
    )


def _simpler(value: float) -> list[sympy.Expr]:
    """Simpler numbers for ``value``, simplest first: 0, nearby ``p/q`` (``q ≤ 12``), ``p/q·π^k``
    (``k = ±1, ±2``), then ``value`` to 1, 2, … 15 significant digits."""
    options: list[sympy.Expr] = [sympy.Integer(0)]
    for k in (0, 1, -1, 2, -2):
        base = value / math.pi**k
        fraction = Fraction(base).limit_denominator(MAX_DENOMINATOR)
        if fraction != 0 and abs(float(fraction) - base) <= 1e-6 * abs(base):
            options.append(sympy.Rational(fraction.numerator, fraction.denominator) * sympy.pi**k)
    for digits in range(1, 16):
        options.append(sympy.Float(f"{value:.{digits}g}", digits))
    return options


def _tidy(formula: sympy.Expr) -> sympy.Expr:
    if formula.atoms(sympy.Float) or sympy.count_ops(formula) > 80:
        return formula
    simpler = sympy.simplify(formula)
    return simpler if sympy.count_ops(simpler) <= sympy.count_ops(formula) else formula
