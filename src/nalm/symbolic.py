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

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy
import torch
from torch import nn

from .errors import NalmError
from .limits import check_elements, check_seed, check_size
from .tasks.expression import Expression
from .tasks.ranges import Range
from .units.base import Unit
from .units.baselines import MLP, Linear
from .units.inalu import INALU
from .units.nac import NAC, NACMul
from .units.nalu import NALU
from .units.nau import NAU
from .units.nmru import NMRU, NRU
from .units.nmu import NMU
from .units.npu import NPU, RealNPU

DEFAULT_TOLERANCE = 0.05
"""How far (absolute) a weight may be from a clean value and still be snapped to it."""

SIGNS = (-1, 0, 1)
SELECT = (0, 1)
ZERO = (0,)
MAX_DENOMINATOR = 4
"""Exponents and linear coefficients snap to ``p/q`` with ``q ≤ 4`` (e.g. 1/2, 1/3, 3/4)."""
RATIONAL = "rational"

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


class _Reader:
    """Snaps weights to clean values and records each one, once, in an :class:`Extraction`."""

    def __init__(self, tolerance: float, extraction: Extraction) -> None:
        self.tolerance = tolerance
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
            number: sympy.Expr = sympy.Float(value, 6)
            self.extraction.kept.append(record)
        else:
            number = clean
            self.extraction.snapped.append(record)
        self._seen[key] = number
        return number


def _snap(value: float, candidates: Candidates, tolerance: float) -> sympy.Rational | None:
    if not math.isfinite(value):
        return None
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


Rows = dict[int, sympy.Expr]
ReadFn = Callable[[Unit, list[sympy.Expr], list[int], _Reader], Rows]
_READERS: dict[type, ReadFn] = {}


def register_reader(cls: type[Unit], read: ReadFn) -> None:
    """Teach :func:`to_formula` a unit: ``read(unit, inputs, rows, snap) → {row: expression}``.

    ``inputs`` are the expressions of the unit's inputs, ``rows`` the outputs that are needed, and
    ``snap(name, tensor, index, candidates)`` returns the clean value of one weight (or a float)
    and records it. Subclasses of ``cls`` use the same reader unless they register their own.
    """
    _READERS[cls] = read


def _reader_for(unit: nn.Module) -> ReadFn:
    for cls in type(unit).__mro__:
        if cls in _READERS:
            return _READERS[cls]
    if isinstance(unit, MLP):
        raise NalmError("an MLP has no closed-form formula; to_formula reads arithmetic units")
    known = ", ".join(sorted(c.__name__ for c in _READERS))
    raise NalmError(
        f"to_formula cannot read a {type(unit).__name__}; it reads single units and nn.Sequential "
        f"stacks of {known}"
    )


def _weighted_sum(
    snap: _Reader, name: str, W: torch.Tensor, k: int, xs: Sequence[sympy.Expr], c: Candidates
) -> sympy.Expr:
    return sympy.Add(*(snap(name, W, (k, j), c) * x for j, x in enumerate(xs)))


def _read_additive(unit: Unit, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.effective_weights()["W"]
    return {k: _weighted_sum(snap, "W", W, k, xs, SIGNS) for k in rows}


def _read_linear(unit: Linear, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.W.detach()
    out = {}
    for k in rows:
        bias = 0 if unit.b is None else snap("b", unit.b.detach(), (k,), RATIONAL)
        out[k] = _weighted_sum(snap, "W", W, k, xs, RATIONAL) + bias
    return out


def _read_nmu(unit: NMU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.effective_weights()["W"]
    out = {}
    for k in rows:
        ws = [snap("W", W, (k, j), SELECT) for j in range(len(xs))]
        out[k] = sympy.Mul(*(w * x + 1 - w for w, x in zip(ws, xs, strict=True)))
    return out


def _signed_selection(ws: list[sympy.Expr], xs: list[sympy.Expr]) -> sympy.Expr:
    """``Π (w|x| + 1 − w) · cos(π Σ w·1[x < 0])``; ``Π x`` over the selected when W ∈ {0, 1}."""
    if all(w in (0, 1) for w in ws):
        return sympy.Mul(*(x for w, x in zip(ws, xs, strict=True) if w == 1))
    magnitude = sympy.Mul(*(w * sympy.Abs(x) + 1 - w for w, x in zip(ws, xs, strict=True)))
    negatives = sympy.Add(*(w * sympy.Heaviside(-x, 0) for w, x in zip(ws, xs, strict=True)))
    return magnitude * sympy.cos(sympy.pi * negatives)


def _read_nmru(unit: NMRU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.effective_weights()["W"]
    extended = [*xs, *(1 / x for x in xs)]
    return {
        k: _signed_selection([snap("W", W, (k, j), SELECT) for j in range(len(extended))], extended)
        for k in rows
    }


def _read_nru(unit: NRU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.effective_weights()["W"]
    out = {}
    for k in rows:
        factors = []
        for j, x in enumerate(xs):
            w = snap("W", W, (k, j), SIGNS)
            if w in SIGNS:
                factors.append(x**w)
            else:
                factors.append(sympy.sign(x) * sympy.Abs(x) ** w * abs(w) + 1 - abs(w))
        out[k] = sympy.Mul(*factors)
    return out


def _abs_power(
    snap: _Reader, name: str, W: torch.Tensor, k: int, xs: Sequence[sympy.Expr]
) -> sympy.Expr:
    """``Π |x_j|^{w_kj}``: the log-space path of NAC• and NALU."""
    return sympy.Mul(*(sympy.Abs(x) ** snap(name, W, (k, j), RATIONAL) for j, x in enumerate(xs)))


def _read_nac_mul(unit: NACMul, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W = unit.effective_weights()["W"]
    return {k: _abs_power(snap, "W", W, k, xs) for k in rows}


def _gate(snap: _Reader, name: str, g: torch.Tensor, index: tuple[int, ...]) -> sympy.Expr:
    return snap(name, g, index, SELECT)


def _mix(g: sympy.Expr, add: Callable[[], sympy.Expr], mul: Callable[[], sympy.Expr]) -> sympy.Expr:
    """``g·a + (1 − g)·m``, reading only the paths that a snapped gate leaves open."""
    if g == 1:
        return add()
    if g == 0:
        return mul()
    return g * add() + (1 - g) * mul()


def _read_nalu(unit: NALU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W_a, W_m = (w.detach() for w in unit.weights())
    add_name, mul_name = ("W", "W") if unit.shared_weights else ("W_add", "W_mul")
    add_values = RATIONAL if unit.shared_weights else SIGNS
    out = {}
    for k in rows:
        if unit.gate == "independent":
            g = _gate(snap, "g", unit.gate_value(torch.empty(0)).detach(), (k,))
        else:  # g = σ(scale · x·G_k): depends on x, its weights kept as they are
            G = unit.G.detach()
            logits = sympy.Add(*(snap("G", G, (k, j), ()) * x for j, x in enumerate(xs)))
            if unit._scale != 1.0:
                logits = sympy.Float(unit._scale, 6) * logits
            g = 1 / (1 + sympy.exp(-logits))
        out[k] = _mix(
            g,
            lambda k=k: _weighted_sum(snap, add_name, W_a, k, xs, add_values),
            lambda k=k: _abs_power(snap, mul_name, W_m, k, xs),
        )
    return out


def _read_inalu(unit: INALU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    W_a, W_m = (w.detach() for w in unit.weights())
    g = torch.sigmoid(unit.G.detach())

    def product(k: int) -> sympy.Expr:
        ws = [snap("W_mul", W_m, (k, j), RATIONAL) for j in range(len(xs))]
        if all(w in SIGNS for w in ws):  # m · msv is then exactly Π x^w
            return sympy.Mul(*(x**w for w, x in zip(ws, xs, strict=True)))
        magnitude = sympy.Mul(*(sympy.Abs(x) ** w for w, x in zip(ws, xs, strict=True)))
        sign = sympy.Mul(
            *(sympy.sign(x) * abs(w) + 1 - abs(w) for w, x in zip(ws, xs, strict=True))
        )
        return magnitude * sign

    return {
        k: _mix(
            _gate(snap, "g", g, (k,)),
            lambda k=k: _weighted_sum(snap, "W_add", W_a, k, xs, SIGNS),
            lambda k=k: product(k),
        )
        for k in rows
    }


def _read_power(unit: NPU | RealNPU, xs: list[sympy.Expr], rows: list[int], snap: _Reader) -> Rows:
    weights = unit.effective_weights()
    W_re = weights["W_re" if isinstance(unit, NPU) else "W"]
    re_name = "W_re" if isinstance(unit, NPU) else "W"
    gates = [_gate(snap, "g", weights["g"], (j,)) for j in range(len(xs))]
    used = [j for j, g in enumerate(gates) if g != 0]
    out = {}
    for k in rows:
        w_re = {j: snap(re_name, W_re, (k, j), RATIONAL) for j in used}
        w_im = {j: 0 for j in used}
        if isinstance(unit, NPU):
            w_im = {j: snap("W_im", weights["W_im"], (k, j), ZERO) for j in used}
        clean = all(gates[j] == 1 and w_im[j] == 0 and w_re[j].is_Rational for j in used)
        if clean:  # cos(π Σ w·1[x<0]) · Π|x|^w = Π x^w (principal power for non-integers)
            out[k] = sympy.Mul(*(xs[j] ** w_re[j] for j in used))
            continue
        log_r = {j: sympy.log(gates[j] * sympy.Abs(xs[j]) + 1 - gates[j]) for j in used}
        k_neg = {j: gates[j] * sympy.Heaviside(-xs[j], 0) for j in used}
        log_m = sympy.Add(*(w_re[j] * log_r[j] - sympy.pi * w_im[j] * k_neg[j] for j in used))
        angle = sympy.Add(*(w_im[j] * log_r[j] + sympy.pi * w_re[j] * k_neg[j] for j in used))
        out[k] = sympy.exp(log_m) * sympy.cos(angle)
    dropped = [j for j, g in enumerate(gates) if g == 0]
    if dropped:
        snap.extraction.pruned.append(f"layer {snap.layer} inputs {dropped} (relevance gate g = 0)")
    return out


for _cls, _read in (
    (NAC, _read_additive),
    (NAU, _read_additive),
    (Linear, _read_linear),
    (NMU, _read_nmu),
    (NMRU, _read_nmru),
    (NRU, _read_nru),
    (NACMul, _read_nac_mul),
    (NALU, _read_nalu),
    (INALU, _read_inalu),
    (NPU, _read_power),
    (RealNPU, _read_power),
):
    register_reader(_cls, _read)


MAX_FORMULA_WEIGHTS = 20_000
"""The largest model (in weights) a formula is read from: sympy's work grows with every weight,
and a formula of more terms than this is not one a person reads."""


def _units(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        layers = [m for layer in model for m in _units(layer)]
        if not layers:
            raise NalmError("to_formula got an empty nn.Sequential")
        return layers
    _reader_for(model)
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
) -> Extraction:
    """Read ``model`` as a formula and say how each weight entered it.

    Args:
        model: a registry unit or an ``nn.Sequential`` stack of them.
        names: names of the inputs (default ``x0, x1, …``).
        tolerance: largest ``|weight − clean value|`` that is snapped (default 0.05).
        positive: declare the inputs positive, so ``Abs(x)`` reads as ``x``.
        simplify: run :func:`sympy.simplify` when no float is left (kept only if not longer).

    Returns:
        An :class:`Extraction`: ``.formula``, ``.snapped``, ``.kept``, ``.pruned``.

    Raises:
        NalmError: for a model with a part that has no formula (an MLP, an unknown module).
    """
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or tolerance < 0:
        raise NalmError(f"tolerance must be a number ≥ 0, got {tolerance!r}")
    layers = _units(model)
    weights = sum(p.numel() for layer in layers for p in layer.parameters())
    if weights > MAX_FORMULA_WEIGHTS:
        raise NalmError(
            f"the model has {weights:,} weights; formulas are read from models of at most "
            f"{MAX_FORMULA_WEIGHTS:,}"
        )
    extraction = Extraction(outputs=(), tolerance=float(tolerance))
    reader = _Reader(float(tolerance), extraction)
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
                rows = _reader_for(unit)(unit, list(inputs), needed, reader)
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
