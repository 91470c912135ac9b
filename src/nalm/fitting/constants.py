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
from .candidates import EXACT

MAX_DENOMINATOR = 12
"""Constants snap to ``p/q`` with ``q`` up to this (and to such fractions times ``π^k``)."""
SIMPLE = 1e-12
"""A relative MSE up to which a constant may still snap to 0 or a fraction (≈ 1e-6 relative)."""
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


def defined_beyond(formula: sympy.Expr, names: list[str], x: np.ndarray) -> bool:
    """Whether ``formula`` is finite on the rows ``x`` with every input scaled by a random factor
    from 1 to 10 (sign kept): an approximation whose root turns negative just outside the
    table is a poor answer there."""
    factors = np.random.default_rng(0).uniform(1.0, 10.0, x.shape)
    return bool(np.isfinite(evaluate(formula, names, x * factors)).all())


def measure(
    formula: sympy.Expr, names: list[str], rows: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """``(relative MSE, largest relative error)`` of ``formula`` on ``rows`` ``(x, y)``."""
    x, y = rows
    predicted = evaluate(formula, names, x)
    return relative_mse(predicted, y), max_relative_error(predicted, y)


def snap_constants(
    formula: sympy.Expr,
    names: list[str],
    rows: tuple[np.ndarray, np.ndarray],
    positive: list[str] | None = None,
) -> tuple[sympy.Expr, float, float] | None:
    """Replace each float of ``formula`` by the simplest number (:func:`_simpler`) that keeps it
    as accurate on ``rows`` (the held-back rows): its relative MSE there at most 4 × the
    unsnapped one's (or :data:`FLOOR`), so a constant keeps the digits the data supports; 0 and
    fractions may also go to :data:`SIMPLE` (an L-BFGS fit leaves ``0.999999999999``). A formula
    that is not exact (relative MSE above :data:`EXACT`) only has its floats shortened, to the
    fewest digits that keep its error within 1 %.
    ``positive``: the inputs positive in every row of the table (default: those positive in
    ``rows``), taken as positive symbols when the formula is simplified.
    Returns ``(formula, relative MSE, largest relative error)``, ``None`` where not finite."""
    formula = sympy.expand(formula) if _expandable(formula) else _factored(formula)
    mse, error = measure(formula, names, rows)
    if not math.isfinite(mse):
        return None
    exact = mse <= EXACT
    allowed = max(4 * mse, FLOOR) if exact else 1.01 * mse
    simple_allowed = max(allowed, SIMPLE) if exact else 0.0
    floats = sorted(formula.atoms(sympy.Float), key=lambda f: -abs(float(f)))
    for number in floats:
        if number not in formula.atoms(sympy.Float):
            continue
        for option in _simpler(float(number)):
            simple = not isinstance(option, sympy.Float)
            if simple and not exact:
                continue  # an approximation keeps its floats: no π or fraction pretends more
            trial = formula.xreplace({number: option})
            trial_mse, trial_error = measure(trial, names, rows)
            if trial_mse <= (simple_allowed if simple else allowed):
                formula, mse, error = trial, trial_mse, trial_error
                break
    if positive is None:
        positive = [n for n, c in zip(names, np.asarray(rows[0]).T, strict=True) if (c > 0).all()]
    formula = _signed_roots(_tidy(formula, positive), names, rows)
    mse, error = measure(formula, names, rows)
    return formula, mse, error


def _expandable(formula: sympy.Expr) -> bool:
    """Expand sums of monomials only (never a power of a sum with a fractional exponent)."""
    return not any(
        isinstance(p, sympy.Pow) and isinstance(p.base, sympy.Add) for p in formula.atoms(sympy.Pow)
    )


def _factored(formula: sympy.Expr) -> sympy.Expr:
    """Each sum inside a product or a power divided by the magnitude of one of its coefficients
    (:func:`_common_factor`), the factor moved out to join the monomial's constant:
    ``0.7657/(0.7657/a + 0.7657/b)`` reads ``1.0/(1.0/a + 1.0/b)``. The stacks leave such a
    factor free (any scale of a sum that is multiplied or raised fits as well), so only this
    form has constants worth snapping."""

    def split(total: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        coefficients = [term.as_coeff_Mul()[0] for term in sympy.Add.make_args(total)]
        factor = _common_factor([float(c) for c in coefficients])
        if factor in (0.0, 1.0):
            return sympy.Integer(1), total
        factor = sympy.Float(factor, 17)
        return factor, sympy.expand(total / factor)

    def canonical(e: sympy.Expr) -> sympy.Expr:
        if e.is_Atom:
            return e
        args = [canonical(a) for a in e.args]
        if isinstance(e, sympy.Pow) and isinstance(args[0], sympy.Add):
            factor, rest = split(args[0])
            return factor ** args[1] * rest ** args[1]
        if isinstance(e, sympy.Mul):
            parts: list[sympy.Expr] = []
            for a in args:
                parts.extend(split(a) if isinstance(a, sympy.Add) else (a,))
            return sympy.Mul(*parts)
        return e.func(*args)

    return canonical(formula)


def _common_factor(coefficients: list[float]) -> float:
    """The positive factor to divide a sum's coefficients by (a root of the sum stays real):
    the magnitude of one of them, the one that leaves the others the simplest fractions
    (``x1² − 2·x1·x2 + x2²`` stays as it is, not halved); the largest among equals."""

    def cost(divisor: float) -> tuple[int, float]:
        total = 0
        for c in coefficients:
            ratio = c / divisor
            fraction = Fraction(ratio).limit_denominator(MAX_DENOMINATOR)
            close = abs(float(fraction) - ratio) <= 1e-6 * abs(ratio)
            total += fraction.denominator + abs(fraction.numerator) if close else 1000
        return total, -divisor

    magnitudes = [abs(c) for c in coefficients if c != 0 and math.isfinite(c)]
    return min(magnitudes, key=cost) if magnitudes else 0.0


def _simpler(value: float) -> list[sympy.Expr]:
    """Simpler numbers for ``value``, simplest first: 0, nearby ``p/q`` (``q ≤ 12``), ``p/q·π^k``
    (``k = ±1, ±2``), then ``value`` to 1, 2, … 15 significant digits."""
    options: list[sympy.Expr] = [sympy.Integer(0)]
    for k in (0, 1, -1, 2, -2):
        base = value / math.pi**k
        fraction = Fraction(base).limit_denominator(MAX_DENOMINATOR)
        if fraction != 0 and abs(float(fraction) - base) <= 1e-6 * abs(base):
            options.append(sympy.Rational(fraction.numerator, fraction.denominator) * sympy.pi**k)
    options += [_rounded(value, digits) for digits in range(1, 16)]
    return options


def _rounded(value: float, digits: int) -> sympy.Float:
    """``value`` to ``digits`` significant digits, held at full precision (a sympy Float of few
    digits holds a coarser binary value: 9.81 at 3 digits is 9.8105) and printed inside a
    formula without trailing zeros or an exponent: ``30.0``, ``8.314``, ``0.05``."""
    text = np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="0"
    )
    return sympy.Float(text, 15)


def _tidy(formula: sympy.Expr, positive: list[str]) -> sympy.Expr:
    """The simplest form sympy finds, where no float is left, the ``positive`` inputs taken as
    positive symbols (``1/√((c² − v²)/(c²m²))`` reads ``c·m/√(c² − v²)``)."""
    if formula.atoms(sympy.Float) or sympy.count_ops(formula) > 80:
        return formula
    as_positive = {sympy.Symbol(n): sympy.Symbol(n, positive=True) for n in positive}
    back = {p: s for s, p in as_positive.items()}
    simpler = sympy.simplify(formula.xreplace(as_positive)).xreplace(back)
    return simpler if sympy.count_ops(simpler) <= sympy.count_ops(formula) else formula


def _signed_roots(formula: sympy.Expr, names: list[str], rows: tuple) -> sympy.Expr:
    """Each root of a perfect square, ``√(P²/Q)``, read as ``±P/√Q``, the sign ``P`` has on every
    row: the table follows ``P``, and ``|P|`` bends where ``P`` changes sign outside it
    (``√(t²u² − 2tux + x²)`` is ``x − tu``). Formulas with floats are left as they are."""
    if formula.atoms(sympy.Float):
        return formula
    found = {}
    for power in formula.atoms(sympy.Pow):
        base, exponent = power.args
        if not (exponent.is_Rational and exponent.q == 2 and not base.is_Atom):
            continue
        top, bottom = sympy.fraction(sympy.together(base))
        try:
            coefficient, factors = sympy.sqf_list(top)
        except sympy.PolynomialError:
            continue
        if not factors or coefficient <= 0 or any(m % 2 for _, m in factors):
            continue
        root = sympy.sqrt(coefficient) * sympy.Mul(*(f ** (m // 2) for f, m in factors))
        values = evaluate(root, names, np.asarray(rows[0]))
        if not (np.all(values > 0) or np.all(values < 0)):
            continue
        signed = root if np.all(values > 0) else -root
        found[power] = signed ** (2 * exponent) * bottom ** (-exponent)
    return formula.xreplace(found) if found else formula
