"""Checking a formula against a model far outside the data: :func:`verify` and its numerics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import sympy
import torch
from torch import nn

from ..errors import NalmError
from ..limits import check_elements, check_seed, check_size
from ..tasks.expression import Expression
from ..tasks.ranges import Range
from .extraction import symbols

RangeSpec = Range | str | Mapping[str, Range | str]


def verify(
    model: nn.Module,
    formula: sympy.Expr | str | Sequence[sympy.Expr | str],
    ranges: RangeSpec | Iterable[RangeSpec],
    *,
    names: Sequence[str] | None = None,
    samples: int = 10_000,
    seed: int = 0,
) -> float:
    """The largest relative error between ``model`` and ``formula`` on samples from ``ranges``.

    For each range, ``samples`` input rows are drawn (every input from that range, or per input
    from a ``{name: range}`` mapping), the model runs on them in its own dtype, and the formula
    is evaluated in float64 on the same (rounded) inputs. The relative error of a row is
    ``|model − formula| / max(|formula|, 1e-6 · rms(formula))``; the floor keeps rows where the
    formula is 0 from dividing by 0. Rows where the formula is undefined (e.g. ``sqrt`` of a
    negative number) are skipped; a non-finite model output where the formula is finite counts
    as an infinite error.

    Args:
        model: any module mapping ``(N, in)`` to ``(N, out)``.
        formula: a sympy expression, or text such as ``"x0*(x1 + x2)"`` (parsed with a
            whitelist, never evaluated as code); for a model with several outputs, one per
            output (a list, or the column matrix :func:`to_formula` returns).
        ranges: one range (``"1,2"``, ``Range``) or several, e.g. ``["1,2", "1e3,1e4"]`` to
            include far extrapolation, or mappings ``{"x0": "1,2", "x1": "-5,-1"}``.
        names: the inputs' names, in column order (default ``x0, x1, …``).
        samples: rows drawn per range.
        seed: seeds the draw.

    Returns:
        The largest relative error over every range (0.0 for an exact model).

    Examples:
        >>> import torch
        >>> from nalm import NAU
        >>> nau = NAU(2, 1)
        >>> with torch.no_grad():
        ...     _ = nau.W.copy_(torch.tensor([[1.0, 1.0]]))
        >>> verify(nau, "x0 + x1", ["1,2", "1e4,1e5"]) < 1e-6
        True
    """
    n = _in_features(model)
    names = [s.name for s in symbols(names, n)]
    parts = _outputs(formula)
    functions = [formula_function(part, names) for part in parts]
    if isinstance(ranges, (str, Range, Mapping)):
        ranges = [ranges]
    ranges = list(ranges)
    if not ranges:
        raise NalmError("verify needs at least one range")
    check_size(samples, "samples")
    check_elements({"samples": samples, "inputs": n})
    generator = torch.Generator().manual_seed(check_seed(seed))
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.get_default_dtype()
    device = parameter.device if parameter is not None else torch.device("cpu")
    errors = []
    for spec in ranges:
        per_input = _per_input(spec, names)
        x = torch.stack([r.sample((samples,), generator, torch.float64) for r in per_input], 1)
        x = x.to(dtype)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            predicted = model(x.to(device)).reshape(samples, -1).double().cpu().numpy()
        model.train(was_training)
        if predicted.shape[1] != len(functions):
            raise NalmError(
                f"the model has {predicted.shape[1]} outputs but {len(functions)} formula(s) were "
                "given; give one per output (a column matrix, as to_formula returns)"
            )
        for k, function in enumerate(functions):
            expected = function(x.double().numpy())
            if np.isinf(expected).any():
                raise NalmError(
                    f"the formula {parts[k]} overflows float64 on the range {_range_text(spec)}, "
                    "so its error there cannot be measured; verify on a smaller range"
                )
            errors.append(relative_errors(predicted[:, k], expected))
    defined = np.concatenate(errors)
    defined = defined[~np.isnan(defined)]
    if not defined.size:
        raise NalmError(f"the formula {formula} is undefined on every sample of the given ranges")
    return float(defined.max())


def formula_function(
    formula: sympy.Expr | str, names: Sequence[str]
) -> Callable[[np.ndarray], np.ndarray]:
    """A float64 numpy function of ``(N, len(names))`` rows computing ``formula``.

    Rows where the formula is undefined or not real (``sqrt(-1)``, ``1/0``) give NaN; rows
    where it is too large for float64 (``exp(1000)``) give ±inf.
    ``formula`` may be text, parsed with the same whitelist as target expressions.
    """
    names = [str(n) for n in names]
    expr = _as_expression(formula, names)
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise NalmError(
            f"the formula {expr} has an infinite or undefined constant (a division by a path that "
            "snapped to 0); read it with a smaller tolerance"
        )
    plain = [sympy.Symbol(n) for n in names]
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in names)
    if unknown:
        raise NalmError(
            f"the formula uses {', '.join(unknown)}, which is not among the inputs "
            f"({', '.join(names)})"
        )
    expr = expr.xreplace({s: plain[names.index(s.name)] for s in expr.free_symbols})
    # Heaviside(x, 0) as numpy's heaviside: sympy's default turns it into a Piecewise that numpy
    # cannot always select with.
    heaviside = {"Heaviside": lambda v, h0=0.5: np.heaviside(v, h0)}
    try:
        compiled = sympy.lambdify(plain, expr, modules=[heaviside, "numpy"])
    except Exception as e:  # sympy's printers raise many types for what they cannot print
        raise NalmError(f"the formula {expr} cannot be evaluated numerically ({e})") from None

    def evaluate(x: np.ndarray, overflow: str) -> np.ndarray:
        with np.errstate(all="ignore", over=overflow):
            try:
                return np.asarray(compiled(*x.T), dtype=np.complex128)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
                raise NalmError(
                    f"the formula {expr} cannot be evaluated numerically ({e})"
                ) from None

    def function(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        try:
            value, overflowed = evaluate(x, "raise"), False
        except FloatingPointError:  # numpy's overflow flag, apart from a division by 0
            value, overflowed = evaluate(x, "ignore"), True
        value = np.broadcast_to(value, (x.shape[0],))
        with np.errstate(all="ignore"):
            real = np.isfinite(value) & (np.abs(value.imag) <= 1e-12 * np.abs(value.real))
        out = np.where(real, value.real, np.nan)
        if overflowed:  # too large for float64 is not "undefined": keep it as ±inf
            out = np.where(np.isinf(value.real) & (value.imag == 0), value.real, out)
        return out

    return function


def relative_errors(predicted: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``|predicted − expected| / max(|expected|, 1e-6 · rms(expected))`` per row.

    Rows where ``expected`` is NaN (formula undefined) give NaN; a non-finite prediction, or an
    ``expected`` that overflowed to ±inf, gives ``inf`` (an error that cannot be measured is
    never reported as small).
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    finite = expected[np.isfinite(expected)]
    # rms scaled by the largest value, so squaring 1e200 cannot overflow the floor to inf
    # (which would make every error 0)
    largest = float(np.max(np.abs(finite))) if finite.size else 0.0
    rms = largest * float(np.sqrt(np.mean((finite / largest) ** 2))) if largest > 0 else 0.0
    floor = max(1e-6 * rms, np.finfo(np.float64).tiny)
    with np.errstate(all="ignore"):
        error = np.abs(predicted - expected) / np.maximum(np.abs(expected), floor)
    error = np.where(np.isfinite(predicted) & ~np.isinf(expected), error, np.inf)
    return np.where(np.isnan(expected), np.nan, error)


def _range_text(spec: RangeSpec) -> str:
    if isinstance(spec, Mapping):
        return ", ".join(f"{name}: {r}" for name, r in spec.items())
    return str(spec)


def _in_features(model: nn.Module) -> int:
    n = getattr(model, "in_features", None)
    if n is None and isinstance(model, nn.Sequential) and len(model):
        n = getattr(model[0], "in_features", None)
    if not isinstance(n, int):
        raise NalmError(
            f"verify cannot tell how many inputs a {type(model).__name__} takes; "
            "give a unit, an nn.Sequential of units, or any module with in_features"
        )
    return n


def _outputs(formula: sympy.Expr | str | Sequence[sympy.Expr | str]) -> list[sympy.Expr | str]:
    """One formula per model output: a column matrix or a list gives several."""
    if isinstance(formula, sympy.MatrixBase):
        return list(formula)
    if isinstance(formula, (list, tuple)):
        if not formula:
            raise NalmError("verify got an empty list of formulas")
        return list(formula)
    return [formula]


def _as_expression(formula: sympy.Expr | str, names: list[str]) -> sympy.Expr:
    if isinstance(formula, str):
        try:  # a constant, such as the "1" of an NMU whose selections all snapped to 0
            return sympy.Rational(repr(float(formula.strip())))
        except ValueError:
            pass
        return Expression(formula, names=names).to_sympy(
            {name: sympy.Symbol(name) for name in names}
        )
    if isinstance(formula, (int, float)) and not isinstance(formula, bool):
        return sympy.Float(formula)
    if not isinstance(formula, sympy.Expr) or isinstance(formula, sympy.MatrixBase):
        raise NalmError(
            f"formula must be a sympy expression or a string; got {type(formula).__name__}"
        )
    return formula


def _per_input(spec: RangeSpec, names: list[str]) -> list[Range]:
    if isinstance(spec, Mapping):
        missing = [n for n in names if n not in spec]
        extra = [str(k) for k in spec if k not in names]
        if missing or extra:
            problem = f"no range for {', '.join(missing)}" if missing else ""
            if extra:
                problem += ("; " if problem else "") + f"unknown inputs {', '.join(extra)}"
            raise NalmError(f"range mapping {dict(spec)}: {problem}")
        return [_range(spec[n]) for n in names]
    return [_range(spec)] * len(names)


def _range(spec: Range | str) -> Range:
    if isinstance(spec, Range):
        return spec
    if isinstance(spec, str):
        return Range.parse(spec)
    raise NalmError(f"a range must be text such as '1,2' or a Range; got {spec!r}")
