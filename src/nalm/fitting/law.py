"""What the law search returns: the law found and every family tried (:class:`Law`,
:class:`Attempt`), and how the answer is chosen when no formula is exact."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy

OCCAM = 1.3
"""With no exact formula, the simplest family within this factor of the least held-back error
(relative MSE) is the answer (:func:`prefer_simplest`): a mean square over the 75 held-back
rows of a 300-row table varies by about 16 % (√(2/75)) from the rows' draw alone, so two
families closer than about two such deviations cannot be told apart by their errors."""


@dataclass
class Attempt:
    """One family tried: its best formula (``None`` when no seed gave a finite one), whether
    that is exact on the held-back rows, its largest relative error and relative MSE there, and
    the seconds it took."""

    structure: str
    formula: sympy.Expr | None = None
    exact: bool = False
    error: float = math.inf
    mse: float = math.inf
    seconds: float = 0.0
    trained: bool = True
    rank: int = 0
    """The family's place in the list tried, simplest first (a family may be tried twice, by
    least squares and then trained, and the least-squares ones all come first)."""


@dataclass
class Law:
    """What :func:`find_law` found.

    Attributes:
        formula: the law over ``sympy.Symbol(name)`` for each input name.
        exact: whether it is exact on the held-back rows.
        structure: the family it was found in (``Structure.label``).
        error: its largest relative error on the held-back rows.
        mse: its mean square error on the held-back rows ÷ the target's mean square there.
        seconds: the search's wall-clock time.
        tried: every family tried, in order (an :class:`Attempt` each).
        held_back: how many of the rows were held back to judge the formulas.
        trained: ``False`` where least squares over a dictionary of monomials found the formula
            before any seed was trained (:mod:`nalm.fitting.monomials`).
    """

    formula: sympy.Expr | None
    exact: bool
    structure: str = ""
    error: float = math.inf
    mse: float = math.inf
    seconds: float = 0.0
    tried: list[Attempt] = field(default_factory=list)
    held_back: int = 0
    trained: bool = True


def prefer_simplest(best: Law, defined: Callable[[sympy.Expr], bool] | None = None) -> None:
    """With no exact formula, the answer is the simplest family's whose held-back error is
    within :data:`OCCAM` × the least: with noise, deeper families fit the noise a little better
    on held-back rows and extrapolate far worse. Where ``defined`` is given, the formulas it
    accepts (finite beyond the table, say) are preferred to the others."""
    finite = [a for a in best.tried if a.formula is not None and math.isfinite(a.mse)]
    if best.exact or not finite:
        return
    finite.sort(key=lambda a: a.rank)  # simplest first, whatever the order they were tried in
    usable = finite
    if defined is not None:  # the least error among the accepted ones, checked from the least up
        first = next((a for a in sorted(finite, key=lambda a: a.mse) if defined(a.formula)), None)
        if first is not None:
            usable = [a for a in finite if a.mse <= OCCAM * first.mse and defined(a.formula)]
    least = min(a.mse for a in usable)
    chosen = next(a for a in usable if a.mse <= OCCAM * least)
    best.formula, best.structure, best.trained = chosen.formula, chosen.structure, chosen.trained
    best.error, best.mse = chosen.error, chosen.mse


def attempt_line(attempt: Attempt) -> str:
    """``power>affine (2): 9.81*h*m + m*v**2/2  exact (max rel. error 2e-16), 6.1 s``."""
    if attempt.formula is None:
        return f"{attempt.structure}: no finite formula, {attempt.seconds:.1f} s"
    verdict = "exact" if attempt.exact else "not exact"
    if not attempt.trained:
        verdict += ", by least squares"
    return (
        f"{attempt.structure}: {attempt.formula}  {verdict} (max rel. error "
        f"{attempt.error:.2g}), {attempt.seconds:.1f} s"
    )
