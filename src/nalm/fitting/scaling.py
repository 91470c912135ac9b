"""The powers of ten ``nalm fit`` trains in, and its formulas put back in the data's units.

Arithmetic units learn on values near 1: on a table in micro-units the squared errors are about
1e-12, their gradients fall below Adam's ε and no weight moves. So the units are trained on
``x / 10**k`` and ``y / 10**m`` (:class:`Scaling`), and what they learned is read back in the
table's own units. The scaling is chosen so that the law itself does not change:

- every input is divided by the same ``10**k`` (``k`` the rounded median of ``log10 |x|``), so a
  sum of columns is still a sum of weight-1 terms;
- the target is divided by ``10**(k·d)``, with ``d`` the law's degree: the sum of the slopes of
  ``log |y|`` on each ``log |x_j|`` (least squares over the rows), rounded to a whole number. A
  law homogeneous of degree ``d`` (``a + b``: 1, ``a·b``: 2, ``a/b``: 0, ``a·(b + c)``: 2) is
  then the same law, with no constant, on the scaled rows, whatever each column's magnitude;
- where the rows follow a power law exactly with a power-of-ten constant (``y = 1e6·a·b``, every
  column of an ``a·b`` table in millionths), the constant goes into the target's power too, so
  the units still learn ``a·b`` (:func:`power_law`);
- the formula ``f`` read on the scaled rows is put back exactly, in rational arithmetic:
  ``y = 10**m · f(x / 10**k)``;
- a law the scaling cannot keep free of constants (``y = 2·a·b``, ``1e6·(a + b)``, ``a + b·c``, a
  law of degree ½) leaves the units a factor they cannot learn; a formula found up to a power of
  ten is multiplied by it when that makes it exact on the data (:func:`fold_power_of_ten`); any
  other is shown as it is, with its error, and is not called a fit.

A table whose powers would all be 0.1, 1 or 10 is not scaled: the units train well on it as it
is.

Examples:
    >>> import torch, sympy
    >>> x = torch.tensor([[2e-6, 3e-6], [5e-6, 4e-6], [7e-6, 9e-6], [1e-6, 8e-6], [3e-6, 3e-6]])
    >>> Scaling.of(x, x[:, 0] + x[:, 1])  # a sum: one power for all inputs
    Scaling(inputs=(-6, -6), target=-6)
    >>> Scaling.of(x, 1e6 * x[:, 0] * x[:, 1])  # a monomial: its constant goes into the target's
    Scaling(inputs=(-6, -5), target=-5)
    >>> a, b = sympy.symbols("a b")
    >>> Scaling((-6, -5), -5).undo(a * b, ["a", "b"])  # learned on the scaled rows, in the data's
    1000000*a*b
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from torch import nn

from ..tasks.base import DatasetTask

MIN_EXPONENT = 2
"""Inputs are scaled only when their typical magnitude rounds to ``10**k`` with ``|k| ≥`` this."""
MAX_DEGREE = 4
"""The largest ``|d|`` the target's power may be of the inputs' (``10**(k·d)``)."""
EXACT_LOG = 1e-4
"""A power law fits the rows exactly when no ``log10 |y|`` is further than this from it (float32
values and CSV digits are that far from exact)."""


@dataclass(frozen=True)
class Scaling:
    """The powers of ten the units were trained in: input ``i`` ÷ ``10**inputs[i]``, the target
    ÷ ``10**target`` (``Scaling()``: none)."""

    inputs: tuple[int, ...] = ()
    target: int = 0

    @classmethod
    def of(cls, x: torch.Tensor, y: torch.Tensor) -> Scaling:
        """The scaling for inputs ``x`` ``(N, in)`` and target ``y`` ``(N,)`` or ``(N, 1)``;
        none where the scaled values would not be finite in ``x``'s dtype."""
        scaling = cls._chosen(x, y)
        scaled = [_divide(x, scaling.inputs), _divide(y, (scaling.target,))]
        return scaling if all(bool(torch.isfinite(v).all()) for v in scaled) else cls()

    @classmethod
    def _chosen(cls, x: torch.Tensor, y: torch.Tensor) -> Scaling:
        n = x.shape[1]
        law = power_law(x, y)
        if law is not None and _monomial(law, len(x)):
            slopes, intercept, _ = law
            inputs = tuple(_power(x[:, i], p) for i, p in enumerate(slopes))
            degree = sum(p * k for p, k in zip(slopes, inputs, strict=True))
            target = round(intercept) + round(degree)
            if max(map(abs, (*inputs, target))) < MIN_EXPONENT:
                return cls()
            return cls(inputs, target)
        lx = _typical_log10(x)
        if lx is None or abs(round(lx)) < MIN_EXPONENT:
            return cls()
        k = round(lx)
        d = 0 if law is None else max(-MAX_DEGREE, min(MAX_DEGREE, round(sum(law[0]))))
        return cls((k,) * n, k * d)

    def __bool__(self) -> bool:
        return any(self.inputs) or bool(self.target)

    def task(self, task: DatasetTask) -> DatasetTask:
        """``task`` with every set's inputs and target divided by the powers of ten."""
        if not self:
            return task

        def scaled(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            x, y = pair
            return _divide(x, self.inputs), _divide(y, (self.target,))

        evaluation = {key: scaled(pair) for key, pair in task.evaluation.items()}
        return DatasetTask(scaled(task.train), evaluation, name=task.name, **task.info)

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What ``model`` (trained on the scaled rows) says for inputs ``x`` in the data's units."""
        if not self:
            return model(x)
        return _divide(model(_divide(x, self.inputs)), (-self.target,))

    def undo(self, formula: sympy.Expr, names: Sequence[str]) -> sympy.Expr:
        """``formula`` over the scaled inputs, in the data's units: ``10**m · f(x / 10**k)``,
        with exact rational powers of ten."""
        if not self:
            return formula
        ten = sympy.Integer(10)
        mapping = {
            sympy.Symbol(n): sympy.Symbol(n) / ten**k
            for n, k in zip(names, self.inputs, strict=True)
        }
        return tidy(ten**self.target * formula.xreplace(mapping))

    def describe(self, names: Sequence[str]) -> str:
        """One line for the report, e.g. ``trained on the inputs ÷ 1e-5 and the target ÷
        1e-10; the formulas are in the data's units``."""
        if len(set(self.inputs)) == 1:
            inputs = f"the inputs ÷ 1e{self.inputs[0]:+d}"
        else:
            inputs = ", ".join(f"{n} ÷ 1e{k:+d}" for n, k in zip(names, self.inputs, strict=True))
        return (
            f"trained on {inputs} and the target ÷ 1e{self.target:+d}; the formulas are in the "
            "data's units"
        )


def tidy(formula: sympy.Expr) -> sympy.Expr:
    """Powers of ten pulled out of sums (``(1e5·a + 1e5·b)/1e5`` → ``a + b``), a float factor of
    exactly ±1 dropped, and a fraction of more than 7 digits written as a float (``1e+20``)."""
    formula = sympy.factor_terms(formula)
    plainer = {f: sympy.Integer(int(f)) for f in formula.atoms(sympy.Float) if abs(f) == 1}
    for r in formula.atoms(sympy.Rational):
        if max(abs(r.p), r.q) >= 10**7:
            plainer[r] = sympy.Float(r, 6)
    return formula.xreplace(plainer) if plainer else formula


def fold_power_of_ten(
    formula: sympy.Expr,
    function: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    exact: float,
) -> sympy.Expr | None:
    """``10**j · formula`` when that is exact on the rows ``(x, y)`` and ``formula`` is not
    (MSE ≤ ``exact`` × the target's mean square); else ``None``.

    ``function`` computes ``formula`` on rows; ``j`` is read from the median ratio
    ``y / formula``, so only a formula that is right up to a power of ten gains one.
    """
    with np.errstate(all="ignore"):
        value = function(x)
        ratio = y / value
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        if not ratio.size:
            return None
        j = round(float(np.log10(np.median(ratio))))
        if j == 0:
            return None
        scale = float(np.mean(y**2)) or 1.0
        mse = float(np.mean((value * 10.0**j - y) ** 2))
    if not mse <= exact * scale:
        return None
    return tidy(sympy.Integer(10) ** j * formula)


def power_law(x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], float, float] | None:
    """``log10 |y| ≈ c + Σ p_j·log10 |x_j|`` by least squares over the rows where no value is 0:
    ``([p_j], c, the largest |residual|)``, or ``None`` with fewer than 2 such rows.

    For a monomial the fit is exact: no residual, its exponents, and ``c = log10`` of its
    constant. For any law homogeneous of degree ``d``, ``Σ p_j`` is near ``d`` (``a + b``: about 1).

    Examples:
        >>> x = torch.tensor([[1.0, 2e3], [3.0, 5e3], [4.0, 1e4], [6.0, 4e3]], dtype=torch.float64)
        >>> slopes, c, residual = power_law(x, 100 * x[:, 0] / x[:, 1])
        >>> [round(p, 6) for p in slopes], round(c, 6), round(residual, 6)
        ([1.0, -1.0], 2.0, 0.0)
        >>> round(sum(power_law(x, x.sum(1))[0]))
        1
    """
    x, y = x.double(), y.double().reshape(-1)
    rows = (x != 0).all(1) & (y != 0)
    n = int(rows.sum())
    if n < 2:
        return None
    logs = torch.cat([x[rows].abs().log10(), torch.ones(n, 1, dtype=x.dtype)], 1)
    target = y[rows].abs().log10()[:, None]
    solution = torch.linalg.lstsq(logs, target, driver="gelsd").solution
    residual = float((logs @ solution - target).abs().max())
    values = [float(v) for v in solution[:, 0]]
    if not all(math.isfinite(v) for v in [*values, residual]):
        return None
    return values[:-1], values[-1], residual


def _monomial(law: tuple[list[float], float, float], rows: int) -> bool:
    """Whether the rows follow ``y = 10**j · Π x_i**p_i`` exactly, every ``p_i`` a multiple of
    ½: then each column may have its own power of ten (a fit with no spare row proves nothing)."""
    slopes, intercept, residual = law
    return (
        rows >= len(slopes) + 2
        and residual <= EXACT_LOG
        and abs(intercept - round(intercept)) <= 1e-3
        and all(abs(2 * p - round(2 * p)) <= 2 * EXACT_LOG for p in slopes)
    )


def _power(column: torch.Tensor, exponent: float) -> int:
    """A column's power of ten: its typical magnitude, even where its exponent is a half (so
    ``√(x / 10**k)`` is ``√x`` over a power of ten)."""
    typical = _typical_log10(column)
    if typical is None:
        return 0
    if abs(exponent - round(exponent)) > EXACT_LOG:  # a half: keep 10**(k·p) whole
        return 2 * round(typical / 2)
    return round(typical)


def _typical_log10(values: torch.Tensor) -> float | None:
    """The median of ``log10 |v|`` over the non-zero values (``None`` when all are 0)."""
    magnitudes = values.double().abs().flatten()
    magnitudes = magnitudes[magnitudes > 0]
    if not len(magnitudes):
        return None
    return float(torch.log10(magnitudes).median())


def _divide(values: torch.Tensor, exponents: tuple[int, ...]) -> torch.Tensor:
    """``values / 10**exponents`` (one per column, or one for all) in float64, returned in
    ``values``' dtype."""
    if not any(exponents):
        return values
    powers = torch.tensor([10.0**k for k in exponents], dtype=torch.float64)
    return (values.double() / powers).to(values.dtype)
