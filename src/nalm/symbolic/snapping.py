"""Snapping weights to clean values, and the record of what a reading did with each weight.

:class:`Snapper` turns one trained weight into a clean number (−1, 0, 1 for additive and
selecting weights, 0 or 1 for gates, simple rationals such as 1/2 for exponents) when it lies
within the tolerance of one, or keeps it as a float, and notes which in an :class:`Extraction`.

Examples:
    >>> import torch
    >>> extraction = Extraction(outputs=())
    >>> snap = Snapper(0.05, extraction)
    >>> snap("W", torch.tensor([[0.98, 0.3]]), (0, 0), SIGNS)
    1
    >>> snap("W", torch.tensor([[0.98, 0.3]]), (0, 1), SIGNS)
    0.300000
    >>> len(extraction.snapped), len(extraction.kept)
    (1, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import sympy
import torch

DEFAULT_TOLERANCE = 0.05
"""How far (absolute) a weight may be from a clean value and still be snapped to it."""

SIGNS = (-1, 0, 1)
SELECT = (0, 1)
ZERO = (0,)
MAX_DENOMINATOR = 4
"""Exponents and linear coefficients snap to ``p/q`` with ``q ≤ 4`` (e.g. 1/2, 1/3, 3/4)."""
RATIONAL = "rational"
CONSTANT = "constant"
"""A free constant (an ``affine`` weight, a ``power`` factor): snapped to ``p/q`` with
``q ≤`` :data:`CONSTANT_DENOMINATOR` only within ``tolerance ×`` :data:`CONSTANT_SHARE` of its own
size (8.3140 stays a float, 0.49998 reads as 1/2)."""
CONSTANT_DENOMINATOR = 12
CONSTANT_SHARE = 0.01

Candidates = tuple[int, ...] | str


@dataclass(frozen=True)
class Weight:
    """One weight the reading used: where it is, its value, and what it became.

    Attributes:
        layer: index of the unit in the stack (0 for a single unit).
        unit: the unit's class name.
        name: which weight (``"W"``, ``"W_add"``, ``"g"``, ...).
        index: its position in that weight tensor.
        value: the trained value (for gates, the gate value σ(G) or clamp(g, 0, 1)).
        clean: the clean value it was snapped to, or ``None`` where it was kept as a float.
    """

    layer: int
    unit: str
    name: str
    index: tuple[int, ...]
    value: float
    clean: sympy.Rational | None

    def __str__(self) -> str:
        where = f"layer {self.layer} {self.unit}.{self.name}[{', '.join(map(str, self.index))}]"
        if self.clean is None:
            return f"{where} = {self.value:.6g} (kept)"
        return f"{where} = {self.value:.6g} → {self.clean}"


@dataclass
class Extraction:
    """What :func:`extract_formula` read: the formula and how each weight entered it.

    Attributes:
        outputs: one expression per output of the model.
        snapped: weights within the tolerance of a clean value, replaced by it.
        kept: weights used as they are (floats in the expression).
        pruned: human-readable notes on what was dropped (unused hidden outputs, closed gates).
        tolerance: the snapping tolerance that was used.
    """

    outputs: tuple[sympy.Expr, ...]
    snapped: list[Weight] = field(default_factory=list)
    kept: list[Weight] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def formula(self) -> sympy.Expr:
        """The single output's expression, or a column matrix for several outputs."""
        if len(self.outputs) == 1:
            return self.outputs[0]
        return sympy.ImmutableMatrix(self.outputs)

    @property
    def exact(self) -> bool:
        """Whether every weight that was used snapped to a clean value."""
        return not self.kept

    @property
    def largest_change(self) -> float:
        """The largest ``|value − clean|`` over the snapped weights (0 when none)."""
        return max((abs(w.value - float(w.clean)) for w in self.snapped), default=0.0)

    def summary(self) -> str:
        """One line: how many weights were snapped (and by how much), kept and pruned."""
        parts = [
            f"{len(self.snapped)} weight(s) snapped (largest change {self.largest_change:.2g})"
        ]
        parts.append(f"{len(self.kept)} kept as floats")
        if self.pruned:
            parts.append("pruned: " + "; ".join(self.pruned))
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.formula}    [{self.summary()}]"


class Snapper:
    """Snaps weights to clean values and records each one, once, in an :class:`Extraction`."""

    def __init__(self, tolerance: float, extraction: Extraction, digits: int = 6) -> None:
        self.tolerance = tolerance
        self.digits = digits
        self.extraction = extraction
        self.layer = 0
        self.unit = ""
        self._seen: dict[tuple, sympy.Expr] = {}

    def __call__(
        self, name: str, tensor: torch.Tensor, index: tuple[int, ...], candidates: Candidates
    ) -> sympy.Expr:
        key = (self.layer, name, index)
        if key in self._seen:
            return self._seen[key]
        value = float(tensor[index])
        clean = _snap(value, candidates, self.tolerance)
        record = Weight(self.layer, self.unit, name, index, value, clean)
        if clean is None:
            number: sympy.Expr = sympy.Float(value, self.digits)
            if candidates == CONSTANT and self.digits < 17:
                # the value cut to `digits`, held at full precision: 8.314 inside a formula
                number = sympy.Float(f"{value:.{self.digits}g}", 15)
            self.extraction.kept.append(record)
        else:
            number = clean
            self.extraction.snapped.append(record)
        self._seen[key] = number
        return number


def _snap(value: float, candidates: Candidates, tolerance: float) -> sympy.Rational | None:
    if not math.isfinite(value):
        return None
    if candidates == CONSTANT:
        fraction = Fraction(value).limit_denominator(CONSTANT_DENOMINATOR)
        if abs(value - fraction) > tolerance * CONSTANT_SHARE * max(1.0, abs(value)):
            return None
        return sympy.Rational(fraction.numerator, fraction.denominator)
    if candidates == RATIONAL:
        options = [Fraction(round(value * q), q) for q in range(1, MAX_DENOMINATOR + 1)]
    elif not candidates:
        return None
    else:
        options = [Fraction(c) for c in candidates]
    # closest first; between equally close values the simpler one (smaller denominator)
    best = min(options, key=lambda f: (abs(value - f), f.denominator))
    if abs(value - best) > tolerance:
        return None
    return sympy.Rational(best.numerator, best.denominator)
