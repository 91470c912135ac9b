"""The model families the law search tries (:func:`~nalm.fitting.search.find_law`), simplest
first: stacks of ``power`` and ``affine`` units, some learning a power of the target, and ratios
of sums solved by least squares alone."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

from ..models import parse
from ..units.laws import ScaledPower


@dataclass(frozen=True)
class Structure:
    """One model family: a stack of ``power`` and ``affine`` units with its hidden widths.

    Examples:
        >>> Structure(("power", "affine"), (2,)).label
        'power>affine (2)'
    """

    layers: tuple[str, ...]
    hidden: tuple[int, ...] = ()
    description: str = ""
    target_power: int | Fraction = 1
    """The stack learns ``y^k`` and the law is its ``1/k``-th power: ``k = −2`` makes
    ``m/√(1 − v²/c²)`` a sum of two monomials, ``1/m² − v²/(m²c²)``."""

    @property
    def ratio(self) -> bool:
        """Whether this is the family ``y^k = (c + Σ a·n(x)) / (1 − b·m(x))``, solved by least
        squares alone (:mod:`nalm.fitting.ratios`; ``hidden`` holds the numerator's number of
        monomials), rather than a stack of units."""
        return self.layers == ("ratio",)

    @property
    def spec(self) -> str:
        return ">".join(self.layers)

    @property
    def label(self) -> str:
        widths = f" ({', '.join(map(str, self.hidden))})" if self.hidden else ""
        learns = f" on y^{self.target_power}" if self.target_power != 1 else ""
        return f"{self.spec}{widths}{learns}"

    def build(self, inputs: int, start: int | None = None) -> nn.Module:
        """The stack for ``inputs`` columns. With ``start``, a stack ending in a ``power`` unit
        after others starts its last exponents at the ``start``-th of :data:`LAST_EXPONENTS`
        (seeds spread over the ratios and roots a law's last step usually is)."""
        model = parse(self.spec).build(inputs, 1, hidden=list(self.hidden) or 1)
        model = model if isinstance(model, nn.Sequential) else nn.Sequential(model)
        last = model[-1]
        if start is not None and len(model) > 1 and isinstance(last, ScaledPower):
            options = LAST_EXPONENTS[min(last.in_features, max(LAST_EXPONENTS))]
            with torch.no_grad():
                last.W.copy_(torch.tensor([options[start % len(options)]], dtype=last.W.dtype))
        return model


LAST_EXPONENTS: dict[int, list[tuple[float, ...]]] = {
    1: [(-1.0,), (0.5,), (-0.5,), (2.0,), (-2.0,), (1.0,)],
    2: [(1.0, -1.0), (1.0, -0.5), (1.0, -2.0), (1.0, 0.5), (1.0, 1.0), (-1.0, 0.0)],
}
"""Where the last ``power`` unit of a deeper stack starts, by its number of inputs: a ratio,
a root, a square (``P/Q``, ``M/√S``, ``M/S²``, ``M·√S``, …); seed ``i`` takes option ``i``."""


def default_structures(inputs: int) -> list[Structure]:
    """The families tried for ``inputs`` columns, simplest first."""
    sums = Structure(("power", "affine"), (2,), "a sum of two monomials")
    found = [
        Structure(("power",), (), "a monomial: c·Π x^p"),
        Structure(("affine",), (), "a linear function: Σ w·x + c"),
        sums,
        Structure(("power", "affine", "power"), (2, 1), "a power of a sum of two monomials"),
        Structure(("power", "affine"), (3,), "a sum of three monomials"),
        Structure(("power", "affine"), (2,), "y² a sum of two monomials", 2),
        Structure(("power", "affine"), (2,), "1/y² a sum of two monomials", -2),
        Structure(("power", "affine"), (2,), "1/y a sum of two monomials", -1),
        Structure(("power", "affine"), (2,), "1/√y a sum of two monomials", Fraction(-1, 2)),
        Structure(("power", "affine"), (3,), "y² a sum of three monomials", 2),
        Structure(("ratio",), (3,), "a sum of monomials over 1 − b·m"),
        Structure(("ratio",), (3,), "y² a sum of monomials over 1 − b·m", 2),
        Structure(("power", "affine", "power"), (2, 2), "a monomial times a power of a sum"),
        Structure(("power", "affine", "power"), (3, 2), "a ratio of sums, monomials of sums"),
        Structure(("power", "affine"), (4,), "a sum of four monomials"),
        Structure(("power", "affine", "power"), (4, 2), "a ratio of sums, monomials of sums"),
        Structure(("power", "affine"), (6,), "y² a sum of six monomials (a distance)", 2),
    ]
    return found
