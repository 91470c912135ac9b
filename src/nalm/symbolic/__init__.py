"""Reading a trained model back as a formula, and checking that formula far outside the data.

A unit's promise is that its weights *are* a formula: a NAU with ``W = [[1, 1]]`` computes
``x0 + x1`` at any magnitude. :func:`to_formula` reads that formula out of a model built from the
registry's units (one unit, or an ``nn.Sequential`` stack of them): each weight within
``tolerance`` of a clean value is snapped to it (−1, 0, 1 for additive and selecting weights,
0 or 1 for gates, simple rationals such as 1/2 for exponents), paths that end in a zero weight or
a closed gate are pruned, and the rest becomes a :mod:`sympy` expression. Weights that are not
near a clean value stay in the expression as floats. :func:`extract_formula` returns the same
expression together with the list of snapped, kept and pruned weights; :func:`verify` measures
the largest relative error between the model and a formula on samples from given ranges.

Conventions of the symbolic forms (the units' ε, which only keeps logs finite, is left out):

- a clean non-integer power such as ``W = 1/2`` reads as the principal power ``sqrt(x)``, which
  equals the unit wherever it is real (``x ≥ 0``);
- the log-space paths of NAC• and NALU read as ``Abs(x)**w`` (they lose the sign), and become
  ``x**w`` when the symbols are declared positive (``positive=True``);
- a weight that stays a float keeps the unit's exact functional form (for example
  ``(0.3*Abs(x0) + 0.7)**w`` for a half-open NPU gate), so the expression still equals the
  model.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> from nalm.units import NAU, NMU
    >>> model = nn.Sequential(NAU(3, 2), NMU(2, 1))
    >>> with torch.no_grad():
    ...     _ = model[0].W.copy_(torch.tensor([[1.0, 0.999, 0.0], [0.0, 0.0, 1.0]]))
    ...     _ = model[1].W.copy_(torch.tensor([[1.0, 0.998]]))
    >>> to_formula(model)
    x2*(x0 + x1)
    >>> extraction = extract_formula(model)
    >>> len(extraction.snapped), round(extraction.largest_change, 4), extraction.kept
    (8, 0.002, [])
"""

from .extraction import MAX_FORMULA_WEIGHTS, extract_formula, symbols, to_formula
from .readers import ReadFn, Rows, register_reader
from .snapping import (
    DEFAULT_TOLERANCE,
    MAX_DENOMINATOR,
    RATIONAL,
    SELECT,
    SIGNS,
    ZERO,
    Candidates,
    Extraction,
    Weight,
)
from .verification import RangeSpec, formula_function, relative_errors, verify

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_DENOMINATOR",
    "MAX_FORMULA_WEIGHTS",
    "RATIONAL",
    "SELECT",
    "SIGNS",
    "ZERO",
    "Candidates",
    "Extraction",
    "RangeSpec",
    "ReadFn",
    "Rows",
    "Weight",
    "extract_formula",
    "formula_function",
    "register_reader",
    "relative_errors",
    "symbols",
    "to_formula",
    "verify",
]
