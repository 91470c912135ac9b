"""Two symbolic-regression tools to compare nalm with, and the judge of a found formula.

Each adapter takes the training rows ``x`` (``(N, d)``), ``y`` (``(N,)``) and the variable names,
and returns ``(formula, seconds)``: the tool's model as a sympy expression over
``sympy.Symbol(name)`` and the wall time of the fit.

* :func:`fit_pyoperon` — Operon's scikit-learn ``SymbolicRegressor`` (package ``pyoperon``) with
  + − × ÷, variables and constants, one thread, and Levenberg–Marquardt tuning of the constants
  (10 iterations per individual; its default, 0, turns the tuning off). Its own generation and
  evaluation limits (its defaults) end the run, or ``budget`` seconds, whichever comes first.
  Its model string (``get_model_string``, infix) is read by
  sympy.
* :func:`fit_gplearn` — gplearn's ``SymbolicRegressor`` with the settings a user starts with:
  ``function_set=("add", "sub", "mul", "div")``, population 2000, 30 generations, everything else
  at its default (constants in (−1, 1), mean absolute error, parsimony 0.001), one job. Its
  generations run one at a time (``warm_start``) and it stops early when ``budget`` seconds are
  spent. Its program prints in prefix form, ``add(mul(X0, X1), 0.5)``, which is read by sympy with
  ``add``, ``sub``, ``mul``, ``div`` as functions; gplearn's protected division (1 where the
  divisor is within 0.001 of 0) is read as plain division.

:func:`judge` decides whether a found formula *is* the true one (see there) and measures its
largest relative error on the test rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from time import perf_counter

import numpy as np
import sympy
from sympy.parsing.sympy_parser import parse_expr

SNAP_TOL = 1e-5  # relative: a fitted constant this close to a simple one is taken to be it
SAME = 1e-9  # relative error on the test rows under which two formulas are one function


# ---------------------------------------------------------------- the tools


def fit_pyoperon(
    x: np.ndarray, y: np.ndarray, names: list[str], budget: float = 120.0, seed: int = 0
) -> tuple[sympy.Expr, float]:
    """Operon with + − × ÷ and constants for ``budget`` seconds; ``(formula, seconds)``."""
    from pyoperon.sklearn import SymbolicRegressor

    start = perf_counter()
    model = SymbolicRegressor(
        allowed_symbols="add,sub,mul,div,constant,variable",
        optimizer_iterations=10,
        max_time=max(1, round(budget)),  # a cap: its own generation and evaluation limits
        # (the defaults a user starts with) usually end the run first
        n_threads=1,
        random_state=seed,
    )
    model.fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    text = model.get_model_string(model.model_, precision=17, names=list(names))
    return parse_operon(text, names), perf_counter() - start


def fit_gplearn(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    budget: float = 120.0,
    seed: int = 0,
    generations: int = 30,
) -> tuple[sympy.Expr, float]:
    """gplearn with add/sub/mul/div, population 2000, ``generations`` generations or ``budget``
    seconds, whichever ends first; ``(formula, seconds)``."""
    from gplearn.genetic import SymbolicRegressor

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    start = perf_counter()
    model = SymbolicRegressor(
        population_size=2000,
        generations=1,
        function_set=("add", "sub", "mul", "div"),
        random_state=seed,
        n_jobs=1,
    )
    model.fit(x, y)
    for done in range(2, generations + 1):
        if perf_counter() - start >= budget:
            break
        model.set_params(generations=done, warm_start=True)
        model.fit(x, y)
    return parse_gplearn(str(model._program), names), perf_counter() - start


def _symbols(names: list[str]) -> dict[str, sympy.Symbol]:
    return {name: sympy.Symbol(name) for name in names}


def parse_operon(text: str, names: list[str]) -> sympy.Expr:
    """Operon's infix model string, written over ``names``, as a sympy expression.

    >>> parse_operon("((0.5 * (a * b)) + 0.25)", ["a", "b"])
    0.5*a*b + 0.25
    """
    return parse_expr(text, local_dict=_symbols(names))


def parse_gplearn(text: str, names: list[str]) -> sympy.Expr:
    """gplearn's prefix program (variables ``X0``, ``X1``, …) as a sympy expression over ``names``.

    >>> parse_gplearn("add(mul(X0, X1), div(X1, -0.5))", ["m", "v"])
    m*v - 2.0*v
    """
    local: dict[str, object] = {f"X{i}": sympy.Symbol(name) for i, name in enumerate(names)}
    local.update(
        add=lambda a, b: a + b,
        sub=lambda a, b: a - b,
        mul=lambda a, b: a * b,
        div=lambda a, b: a / b,
    )
    return parse_expr(text, local_dict=local)


# ---------------------------------------------------------------- the judge


@dataclass(frozen=True)
class Judgement:
    """``exact``: the found formula is the true one (:func:`judge`); ``max_rel_error``: its
    largest ``|found − y| / |y|`` on the test rows (``inf`` where it is not finite);
    ``recovered``: the found formula with its constants snapped, simplified, when ``exact``."""

    exact: bool
    max_rel_error: float
    recovered: sympy.Expr | None = None


def max_relative_error(expr: sympy.Expr, names: list[str], x: np.ndarray, y: np.ndarray) -> float:
    """``max |expr(x) − y| / |y|`` over the rows; ``inf`` if ``expr`` is not finite on one."""
    f = sympy.lambdify(list(_symbols(names).values()), expr, "numpy")
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(f(*np.asarray(x).T)), y.shape)
        if np.iscomplexobj(values) or not np.isfinite(values).all():
            return math.inf
        return float(np.max(np.abs(values - y) / np.abs(y)))


def simplest_fraction(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator in ``[low, high]``, ``0 < low <= high``.

    >>> simplest_fraction(Fraction(31, 100), Fraction(34, 100))
    Fraction(1, 3)
    """
    whole = math.floor(low)
    if math.ceil(low) <= high:
        return Fraction(math.ceil(low))
    # low and high share the integer part; continue with the reciprocals of the fractional parts
    return whole + 1 / simplest_fraction(1 / (high - whole), 1 / (low - whole))


def snap_constant(c: float, tol: float = SNAP_TOL) -> sympy.Expr:
    """The simplest ``(p/q)·π^k``, k ∈ {−2, …, 2}, within relative ``tol`` of ``c``: the one with
    the smallest ``q``, then the smallest ``|k|``.

    >>> snap_constant(0.0795774), snap_constant(-1.4999999), snap_constant(9.869604)
    (1/(4*pi), -3/2, pi**2)
    """
    if c == 0:
        return sympy.Integer(0)
    best = None
    for k in (0, 1, -1, 2, -2):
        a = Fraction(abs(c) / math.pi**k)
        f = simplest_fraction(a * Fraction(1 - tol), a * Fraction(1 + tol))
        if best is None or f.denominator < best[0].denominator:
            best = (f, k)
    f, k = best
    sign = 1 if c > 0 else -1
    return sympy.Rational(sign * f.numerator, f.denominator) * sympy.pi**k


def _prune(expr: sympy.Expr, names: list[str], x: np.ndarray, tol: float) -> sympy.Expr:
    """``expr`` without the terms of its sums that never reach ``tol`` of the sum on the rows
    ``x``."""
    if expr.is_Atom:
        return expr
    expr = expr.func(*(_prune(a, names, x, tol) for a in expr.args))
    if not expr.is_Add:
        return expr
    symbols = list(_symbols(names).values())
    with np.errstate(all="ignore"):
        terms = [
            np.broadcast_to(np.abs(sympy.lambdify(symbols, t, "numpy")(*x.T)), (len(x),))
            for t in expr.args
        ]
        total = np.abs(sympy.lambdify(symbols, expr, "numpy")(*x.T))
    floor = tol * np.min(total)
    kept = [t for t, v in zip(expr.args, terms, strict=True) if not np.max(v) <= floor]
    return sympy.Add(*kept)


def _monic(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` as one fraction whose denominator's first term has coefficient 1, so that a
    constant spread over numerator and denominator is gathered in the numerator."""
    num, den = sympy.fraction(sympy.together(expr))
    num, den = sympy.expand(num), sympy.expand(den)
    lead = sympy.Add.make_args(den)[0].as_coeff_Mul()[0]
    return sympy.expand(num / lead) / sympy.expand(den / lead)


def judge(
    found: sympy.Expr,
    truth: sympy.Expr,
    names: list[str],
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    tol: float = SNAP_TOL,
) -> Judgement:
    """Is ``found`` the true formula, and how far is it from the truth on the test rows?

    Exact recovery means: after (1) dropping the terms of sums that stay below ``tol`` of their
    sum on the training inputs — terms the training data cannot tell from 0, such as the 1e-8
    intercept that least-squares scaling in single precision leaves — and (2) replacing every
    floating-point number, exponents included, by a decimal constant of the truth (8.314) or else
    the simplest ``(p/q)·π^k`` within relative ``tol`` (:func:`snap_constant`), the formula is
    ``truth``: it agrees with it to 1e-9 relative
    on every test row, and ``sympy.simplify(found − truth) == 0`` with every variable taken
    positive (every range is), or, where the branches of its roots keep sympy from proving that,
    ``sympy.simplify(found² − truth²) == 0`` (equal squares and equal values on every test row:
    ``ω₀·√(c + v)/√(c − v)`` for ``ω₀·(1 + v/c)/√(1 − v²/c²)``, the same function where
    ``c > v``). This is tried on the formula as found, expanded, and as one
    fraction (:func:`_monic`), so that a constant split over several factors or terms is gathered
    first.

    ``tol`` is 1e-5 by default because Operon keeps its constants in single precision; with noisy
    training targets, pass the noise level (a constant within 1 % of ``1/(4π)`` then counts as
    it). ``max_rel_error`` is measured on ``found`` as it is — unpruned, unsnapped — so a dropped
    intercept still shows there.
    """
    unknown = {s.name for s in found.free_symbols} - set(names)
    if unknown:
        raise ValueError(f"the found formula uses {sorted(unknown)}, which are not in {names}")
    plain = _symbols(names)
    found = found.xreplace({s: plain[s.name] for s in found.free_symbols})
    truth = truth.xreplace({s: plain[s.name] for s in truth.free_symbols})
    error = max_relative_error(found, names, x_test, y_test)
    # a decimal constant of the truth (9.81, 8.314) is that decimal, exactly, on both sides
    decimals = {float(c): sympy.Rational(str(c)) for c in truth.atoms(sympy.Float)}
    truth = truth.xreplace({c: decimals[float(c)] for c in truth.atoms(sympy.Float)})

    def snapped_constant(c: float) -> sympy.Expr:
        for value, exact in decimals.items():
            if abs(c - value) <= tol * abs(value):
                return exact
        return snap_constant(c, tol)

    # a formula that is the truth up to its snapped constants and dropped terms is this close to
    # it on the training inputs; the others are not worth simplifying
    truth_f = sympy.lambdify(list(plain.values()), truth, "numpy")
    y_train = np.broadcast_to(truth_f(*np.asarray(x_train).T), (len(x_train),))
    if not max_relative_error(found, names, x_train, y_train) <= min(1.0, 1000 * tol):
        return Judgement(False, error)
    positive = {s: sympy.Symbol(s.name, positive=True) for s in plain.values()}
    for form in (lambda e: e, sympy.expand, _monic):
        candidate = _prune(form(_prune(found, names, x_train, tol)), names, x_train, tol)
        snapped = candidate.xreplace(
            {c: snapped_constant(float(c)) for c in candidate.atoms(sympy.Float)}
        )
        if max_relative_error(snapped, names, x_test, y_test) > SAME:
            continue
        difference = sympy.simplify((snapped - truth).xreplace(positive))
        if difference == 0:
            return Judgement(True, error, sympy.simplify(snapped))
        # equal on every test row (above) with equal squares: the same function there, where
        # the roots' branches keep simplify from proving it (√(c + v)/√(c − v) is
        # (1 + v/c)/√(1 − v²/c²) for c > v)
        squares = sympy.simplify((snapped**2 - truth**2).xreplace(positive))
        if squares == 0:
            return Judgement(True, error, sympy.simplify(snapped))
    return Judgement(False, error)
