"""Reading a model of arithmetic units as a formula: :func:`extract_formula`, :func:`to_formula`."""

from __future__ import annotations

from collections.abc import Sequence

import sympy
import torch
from torch import nn

from ..errors import NalmError
from ..limits import check_number
from .readers import Rows, reader_for
from .snapping import DEFAULT_TOLERANCE, Extraction, Snapper

MAX_FORMULA_WEIGHTS = 20_000
"""The largest model (in weights) a formula is read from: sympy's work grows with every weight,
and a formula of more terms than this is not one a person reads."""


def _units(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        layers = [m for layer in model for m in _units(layer)]
        if not layers:
            raise NalmError("to_formula got an empty nn.Sequential")
        return layers
    reader_for(model)
    return [model]


def symbols(names: Sequence[str] | None, n: int, positive: bool = False) -> list[sympy.Symbol]:
    """``n`` real sympy symbols: ``names`` or ``x0 … x{n−1}`` (positive ones with ``positive``)."""
    if names is None:
        names = [f"x{i}" for i in range(n)]
    names = [str(s) for s in names]
    if len(names) != n:
        raise NalmError(f"the model has {n} inputs but {len(names)} names were given")
    if len(set(names)) != len(names):
        raise NalmError(f"input names must be distinct; got {names}")
    assumptions = {"positive": True} if positive else {"real": True}
    return [sympy.Symbol(name, **assumptions) for name in names]


def extract_formula(
    model: nn.Module,
    names: Sequence[str] | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    positive: bool = False,
    simplify: bool = True,
    digits: int = 6,
) -> Extraction:
    """Read ``model`` as a formula and say how each weight entered it.

    Args:
        model: a registry unit or an ``nn.Sequential`` stack of them.
        names: names of the inputs (default ``x0, x1, …``).
        tolerance: largest ``|weight − clean value|`` that is snapped (default 0.05).
        positive: declare the inputs positive, so ``Abs(x)`` reads as ``x``.
        simplify: run :func:`sympy.simplify` when no float is left (kept only if not longer).
        digits: significant digits of the weights kept as floats (17: every digit).

    Returns:
        An :class:`Extraction`: ``.formula``, ``.snapped``, ``.kept``, ``.pruned``.

    Raises:
        NalmError: for a model with a part that has no formula (an MLP, an unknown module), or
            a ``tolerance`` that is not a finite number ≥ 0.
    """
    tolerance = check_number(tolerance, "tolerance", nonnegative=True)
    layers = _units(model)
    weights = sum(p.numel() for layer in layers for p in layer.parameters())
    if weights > MAX_FORMULA_WEIGHTS:
        raise NalmError(
            f"the model has {weights:,} weights; formulas are read from models of at most "
            f"{MAX_FORMULA_WEIGHTS:,}"
        )
    extraction = Extraction(outputs=(), tolerance=tolerance)
    reader = Snapper(tolerance, extraction, digits)
    first = symbols(names, layers[0].in_features, positive)
    # Read from the output backwards, so only the hidden outputs that are used get read.
    needed = list(range(layers[-1].out_features))
    read: list[tuple[list[sympy.Symbol], Rows]] = []
    for depth in range(len(layers) - 1, -1, -1):
        unit = layers[depth]
        inputs = first if depth == 0 else _hidden_symbols(depth, unit.in_features)
        reader.layer, reader.unit = depth, type(unit).__name__
        if needed:
            with torch.no_grad():
                rows = reader_for(unit)(unit, list(inputs), needed, reader)
        else:
            rows = {}
        read.append((inputs, rows))
        if depth > 0:
            used = set().union(*(e.free_symbols for e in rows.values()))
            needed = [j for j, s in enumerate(inputs) if s in used]
            unused = [j for j in range(unit.in_features) if j not in needed]
            if unused:
                extraction.pruned.append(f"layer {depth - 1} outputs {unused} (unused)")
    # Compose from the first layer forwards.
    values: Rows = read[-1][1]
    for inputs, rows in reversed(read[:-1]):
        mapping = {s: values[j] for j, s in enumerate(inputs) if j in values}
        values = {k: e.subs(mapping) for k, e in rows.items()}
    outputs = [values[k] for k in range(layers[-1].out_features)]
    if simplify:
        outputs = [_simplified(e) for e in outputs]
    # The assumptions (real, positive) served the simplification; hand back plain symbols, so
    # the formula compares equal to sympy.Symbol("x0") and to user expressions.
    plain = {s: sympy.Symbol(s.name) for s in first}
    extraction.outputs = tuple(e.xreplace(plain) for e in outputs)
    return extraction


def _hidden_symbols(depth: int, n: int) -> list[sympy.Symbol]:
    # Dummy symbols cannot clash with user names. Hidden values are only real: x0 − x1 can be
    # negative even when every input is positive.
    return [sympy.Dummy(f"h{depth}_{j}", real=True) for j in range(n)]


def _simplified(expr: sympy.Expr) -> sympy.Expr:
    if expr.atoms(sympy.Float) or sympy.count_ops(expr) > 60:
        return expr
    candidate = sympy.simplify(expr)
    return candidate if sympy.count_ops(candidate) <= sympy.count_ops(expr) else expr


def to_formula(
    model: nn.Module,
    names: Sequence[str] | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    positive: bool = False,
) -> sympy.Expr:
    """The formula a model of arithmetic units computes, as a sympy expression.

    Weights within ``tolerance`` of a clean value are snapped to it, zero paths are pruned and
    the result is simplified; use :func:`extract_formula` to see which weights were snapped.

    Args:
        model: a registry unit or an ``nn.Sequential`` stack of them; shape ``(*, in) → (*, out)``.
        names: names of the ``in`` inputs (default ``x0, x1, …``).
        tolerance: largest ``|weight − clean value|`` that is snapped (default 0.05).
        positive: declare the inputs positive (``Abs(x)`` then reads as ``x``).

    Returns:
        A sympy expression (a column matrix when the model has several outputs) over plain
        symbols: ``to_formula(nau) == sympy.Symbol("x0") + sympy.Symbol("x1")``.

    Examples:
        >>> import torch
        >>> from nalm import RealNPU
        >>> npu = RealNPU(2, 1)
        >>> with torch.no_grad():
        ...     _ = npu.W.copy_(torch.tensor([[0.49, -1.02]])); _ = npu.g.fill_(1.0)
        >>> to_formula(npu, names=["V", "R"])
        sqrt(V)/R
    """
    return extract_formula(model, names, tolerance=tolerance, positive=positive).formula
