"""The formula readers of the units, one function per family, in a registry keyed by class.

A reader maps ``(unit, inputs, rows, snap)`` to ``{row: expression}``: the expressions of the
unit's outputs ``rows`` over the expressions ``inputs`` of its inputs, each weight read through
``snap`` (a :class:`~nalm.symbolic.snapping.Snapper`). :func:`register_reader` teaches
:func:`~nalm.symbolic.to_formula` a unit; :func:`reader_for` finds the reader of a module.

Examples:
    >>> import torch
    >>> from nalm.units import NMU
    >>> from nalm.symbolic.snapping import Extraction, Snapper
    >>> nmu = NMU(2, 1)
    >>> with torch.no_grad():
    ...     _ = nmu.W.copy_(torch.tensor([[1.0, 0.97]]))
    >>> a, b = sympy.symbols("a b")
    >>> reader_for(nmu)(nmu, [a, b], [0], Snapper(0.05, Extraction(outputs=())))
    {0: a*b}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy
import torch
from torch import nn

from ..errors import NalmError
from ..units.base import Unit
from ..units.baselines import MLP, Linear
from ..units.branches import Branches
from ..units.dmu import DMU
from ..units.inalu import INALU
from ..units.laws import Affine, ScaledPower
from ..units.nac import NAC, NACMul
from ..units.nalu import NALU
from ..units.nau import NAU
from ..units.nmru import NMRU, NRU
from ..units.nmu import NMU
from ..units.npu import NPU, RealNPU
from .snapping import CONSTANT, RATIONAL, SELECT, SIGNS, ZERO, Candidates, Snapper

Rows = dict[int, sympy.Expr]
ReadFn = Callable[[Unit, list[sympy.Expr], list[int], Snapper], Rows]
_READERS: dict[type, ReadFn] = {}


def register_reader(cls: type[Unit], read: ReadFn) -> None:
    """Teach :func:`to_formula` a unit: ``read(unit, inputs, rows, snap) → {row: expression}``.

    ``inputs`` are the expressions of the unit's inputs, ``rows`` the outputs that are needed, and
    ``snap(name, tensor, index, candidates)`` returns the clean value of one weight (or a float)
    and records it. Subclasses of ``cls`` use the same reader unless they register their own.
    """
    _READERS[cls] = read


def reader_for(unit: nn.Module) -> ReadFn:
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
    snap: Snapper, name: str, W: torch.Tensor, k: int, xs: Sequence[sympy.Expr], c: Candidates
) -> sympy.Expr:
    return sympy.Add(*(snap(name, W, (k, j), c) * x for j, x in enumerate(xs)))


def _read_additive(unit: Unit, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    W = unit.effective_weights()["W"]
    return {k: _weighted_sum(snap, "W", W, k, xs, SIGNS) for k in rows}


def _read_linear(unit: Linear, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    W = unit.W.detach()
    out = {}
    for k in rows:
        bias = 0 if unit.b is None else snap("b", unit.b.detach(), (k,), RATIONAL)
        out[k] = _weighted_sum(snap, "W", W, k, xs, RATIONAL) + bias
    return out


def _read_nmu(unit: NMU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
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


def _read_nmru(unit: NMRU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    W = unit.effective_weights()["W"]
    extended = [*xs, *(1 / x for x in xs)]
    return {
        k: _signed_selection([snap("W", W, (k, j), SELECT) for j in range(len(extended))], extended)
        for k in rows
    }


def _read_nru(unit: NRU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
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
    snap: Snapper, name: str, W: torch.Tensor, k: int, xs: Sequence[sympy.Expr]
) -> sympy.Expr:
    """``Π |x_j|^{w_kj}``: the log-space path of NAC• and NALU."""
    return sympy.Mul(*(sympy.Abs(x) ** snap(name, W, (k, j), RATIONAL) for j, x in enumerate(xs)))


def _read_nac_mul(unit: NACMul, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    W = unit.effective_weights()["W"]
    return {k: _abs_power(snap, "W", W, k, xs) for k in rows}


def _gate(snap: Snapper, name: str, g: torch.Tensor, index: tuple[int, ...]) -> sympy.Expr:
    return snap(name, g, index, SELECT)


def _mix(g: sympy.Expr, add: Callable[[], sympy.Expr], mul: Callable[[], sympy.Expr]) -> sympy.Expr:
    """``g·a + (1 − g)·m``, reading only the paths that a snapped gate leaves open."""
    if g == 1:
        return add()
    if g == 0:
        return mul()
    return g * add() + (1 - g) * mul()


def _read_nalu(unit: NALU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
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


def _read_inalu(unit: INALU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
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


def _read_power(unit: Unit, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    """The NPUs; a gate-less one (no ``g``) reads as gates of 1."""
    weights = unit.effective_weights()
    complex_weights = "W_im" in weights
    re_name = "W_re" if complex_weights else "W"
    W_re = weights[re_name]
    if "g" in weights:
        gates = [_gate(snap, "g", weights["g"], (j,)) for j in range(len(xs))]
    else:
        gates = [sympy.Integer(1)] * len(xs)
    used = [j for j, g in enumerate(gates) if g != 0]
    out = {}
    for k in rows:
        w_re = {j: snap(re_name, W_re, (k, j), RATIONAL) for j in used}
        w_im = {j: 0 for j in used}
        if complex_weights:
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


def _read_scaled_power(
    unit: ScaledPower, xs: list[sympy.Expr], rows: list[int], snap: Snapper
) -> Rows:
    """``c · Π x^w``; the sign factor ``cos(π Σ w·1[x < 0])`` where an exponent is not rational."""
    W, factor = unit.W.detach(), torch.exp(unit.b.detach())
    out = {}
    for k in rows:
        c = snap("exp(b)", factor, (k,), CONSTANT)
        ws = [snap("W", W, (k, j), RATIONAL) for j in range(len(xs))]
        if all(w.is_Rational for w in ws):
            out[k] = c * sympy.Mul(*(x**w for w, x in zip(ws, xs, strict=True)))
            continue
        magnitude = sympy.Mul(*(sympy.Abs(x) ** w for w, x in zip(ws, xs, strict=True)))
        negatives = sympy.Add(*(w * sympy.Heaviside(-x, 0) for w, x in zip(ws, xs, strict=True)))
        out[k] = c * magnitude * sympy.cos(sympy.pi * negatives)
    return out


def _read_affine(unit: Affine, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    W, b = unit.W.detach(), unit.b.detach()
    return {
        k: _weighted_sum(snap, "W", W, k, xs, CONSTANT) + snap("b", b, (k,), CONSTANT) for k in rows
    }


def _read_dmu(unit: DMU, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    """``Σ O·x`` at ``g = 1``, ``Π x^O`` at ``g = 0``; in between the mixed magnitude
    ``|Σ O·x|^g · Π|x|^{O(1−g)}`` with its blended sign (``tanh(R/τ)`` read as ``sign R``)."""
    operands, g = unit.O.detach(), unit.gate().detach()
    out = {}
    for k in rows:
        gate = _gate(snap, "g", g, (k,))
        ws = [snap("O", operands, (k, j), RATIONAL) for j in range(len(xs))]
        total = sympy.Add(*(w * x for w, x in zip(ws, xs, strict=True)))
        clean_powers = all(w.is_Integer for w in ws)  # x**(1/2) of x < 0 is not the unit's 0
        power = sympy.Mul(*(x**w for w, x in zip(ws, xs, strict=True)))
        if gate == 1:
            out[k] = total
            continue
        if gate == 0 and clean_powers:
            out[k] = power
            continue
        magnitude = sympy.Mul(*(sympy.Abs(x) ** w for w, x in zip(ws, xs, strict=True)))
        negatives = sympy.Add(
            *(sympy.Abs(w) * sympy.Heaviside(-x, 0) for w, x in zip(ws, xs, strict=True))
        )
        sign = gate * sympy.sign(total) + (1 - gate) * sympy.cos(sympy.pi * negatives)
        out[k] = sign * sympy.Abs(total) ** gate * magnitude ** (1 - gate)
    return out


class _Prefixed:
    """A :class:`Snapper` that names each weight ``PREFIX + name``: two branches of one layer
    both have a ``W``, and the snapper keeps one value per layer and name."""

    def __init__(self, snap: Snapper, prefix: str) -> None:
        self._snap, self._prefix = snap, prefix

    def __call__(self, name: str, *args, **kwargs):
        return self._snap(self._prefix + name, *args, **kwargs)

    def __getattr__(self, attribute: str):
        return getattr(self._snap, attribute)


def _read_branches(unit: Branches, xs: list[sympy.Expr], rows: list[int], snap: Snapper) -> Rows:
    """Each output's chosen branch (its selection snapped to 1); else the selection-weighted
    sum of the branches' formulas."""
    share = unit.selection().detach()
    out = {}
    for k in rows:
        weights = [_gate(snap, "s", share, (i, k)) for i in range(len(unit.branches))]
        terms = []
        for i, (w, branch) in enumerate(zip(weights, unit.branches, strict=True)):
            if w != 0:
                formula = reader_for(branch)(branch, xs, [k], _Prefixed(snap, f"{i}."))[k]
                terms.append(formula if w == 1 else w * formula)
            else:
                snap.extraction.pruned.append(f"layer {snap.layer} output {k} branch {i} (s = 0)")
        out[k] = sympy.Add(*terms)
    return out


for _cls, _read in (
    (Branches, _read_branches),
    (DMU, _read_dmu),
    (NAC, _read_additive),
    (NAU, _read_additive),
    (Linear, _read_linear),
    (ScaledPower, _read_scaled_power),
    (Affine, _read_affine),
    (NMU, _read_nmu),
    (NMRU, _read_nmru),
    (NRU, _read_nru),
    (NACMul, _read_nac_mul),
    (NALU, _read_nalu),
    (INALU, _read_inalu),
    (NPU, _read_power),
    (RealNPU, _read_power),  # and their gate-less subclasses, found through the MRO
):
    register_reader(_cls, _read)
