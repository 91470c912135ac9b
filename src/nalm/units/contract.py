"""The checks of the unit contract that need only the unit, run by :func:`nalm.units.check`.

In order: ``builds``, ``shapes``, ``dtypes``, ``gradients``, ``fresh-weights``, ``finite``,
``reset``, ``regularization`` and ``after-step``; :mod:`nalm.unit_contract` adds those that
need the engine, persistence and the formula readers. Each returns ``None`` when the unit keeps
its part of the contract, else one sentence: what it saw, and what to fix. All of these are quick:
``nalm train``, ``nalm fit`` and ``nalm bench run`` run them on a unit from outside nalm before
training (:func:`nalm.units.checker.require`).

Example:
    >>> from nalm.units import NAU
    >>> from nalm.units.checker import Subject
    >>> _gradients(Subject(NAU, 3, 2)) is None
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .base import ClampedUnit, Unit
from .subject import Check, CheckFn, Subject, entry, short

CHECKS: list[Check] = []
"""The checks that need only the unit, in the order they run."""


def _quick(name: str, description: str) -> Callable[[CheckFn], CheckFn]:
    """Add a required check that runs before training (every check of this module is quick)."""
    return entry(CHECKS, name, description, quick=True)


def _shape(t: object) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


@_quick("builds", "the constructor builds the unit with the sizes it is given")
def _builds(s: Subject) -> str | None:
    unit = s.build()
    sizes = (getattr(unit, "in_features", None), getattr(unit, "out_features", None))
    if sizes != (s.in_features, s.out_features):
        return (
            f"built as {s.cls.__name__}({s.in_features}, {s.out_features}) it has in_features, "
            f"out_features = {sizes}: call super().__init__(in_features, out_features) first, "
            "or set self.in_features and self.out_features in __init__"
        )
    return None


@_quick("shapes", "forward maps (*, in_features) to (*, out_features) like torch.nn.Linear")
def _shapes(s: Subject) -> str | None:
    unit = s.build()
    for batch in ((), (5,), (4, 5)):
        x = s.inputs(*batch)
        y = unit(x)
        expected = (*batch, s.out_features)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != expected:
            return (
                f"forward maps {_shape(x)} to {_shape(y)}, not {expected}: map "
                "(*, in_features) to (*, out_features) like torch.nn.Linear"
            )
    return None


@_quick("dtypes", "dtype=torch.float32 and torch.float64 give parameters and outputs of it")
def _dtypes(s: Subject) -> str | None:
    for dtype in (torch.float32, torch.float64):
        try:
            unit = s.build(dtype=dtype)
        except TypeError as e:
            return (
                f"the constructor refused dtype={dtype} ({short(e)}): accept device= and dtype= "
                "keywords like torch.nn.Linear and pass them on to every parameter"
            )
        for name, p in unit.named_parameters():
            if p.dtype != dtype:
                return (
                    f"built with dtype={dtype}, parameter {name!r} is {p.dtype}: pass dtype "
                    "(and device) on to every parameter"
                )
        y = unit(s.inputs(2, dtype=dtype))
        if y.dtype != dtype:
            return (
                f"on {dtype} inputs forward returns {y.dtype}: compute in the dtype of the "
                "inputs and parameters (make constants with torch.as_tensor(c, dtype=x.dtype))"
            )
    return None


@_quick("gradients", "the gradient of the output reaches every parameter")
def _gradients(s: Subject) -> str | None:
    unit = s.build()
    y = unit(s.inputs(16))
    trained = next(unit.parameters(), None) is not None
    if isinstance(y, torch.Tensor) and not y.requires_grad and trained:
        return (
            "forward returns a tensor that carries no gradient: compute the output from the "
            "parameters with torch operations, without .detach(), torch.no_grad() or .item()"
        )
    y.square().sum().backward()
    for name, p in unit.named_parameters():
        if p.grad is None or not (p.grad != 0).any():
            kind = "no" if p.grad is None else "only a zero"
            return (
                f"parameter {name!r} gets {kind} gradient from the output: use every parameter "
                "in forward (a tensor that is not trained belongs in a buffer)"
            )
    return None


@_quick("fresh-weights", "forward computes the weights from the parameters, none cached")
def _fresh_weights(s: Subject) -> str | None:
    unit = s.build()
    x = s.inputs(8)
    y = unit(x)
    y.square().sum().backward()  # a direction in which each parameter surely moves the output
    before = y.detach().clone()
    for name, p in unit.named_parameters():
        if p.grad is None or not (p.grad != 0).any():
            continue  # 'gradients' reports it
        with torch.no_grad():
            saved = p.detach().clone()
            p.sub_(0.1 * p.grad / p.grad.abs().max())
            after = unit(x)
            p.copy_(saved)
        if torch.equal(after, before):
            return (
                f"changing parameter {name!r} in place did not change the output: compute the "
                "weights from the parameters inside forward, never once in __init__ (the engine "
                "swaps parameters in under torch.func.vmap)"
            )
    return None


@_quick("finite", "outputs and gradients are finite at initialisation on zeros and negatives")
def _finite(s: Subject) -> str | None:
    unit = s.build().train()
    y = unit(s.edge_inputs())
    guard = (
        "guard divisions, logarithms and powers (e.g. with an ε) so that a batch with 0 or a "
        "negative number cannot give NaN or inf"
    )
    if not torch.isfinite(y).all():
        bad = y[~torch.isfinite(y)][0].item()
        return f"at initialisation the output is {bad} on inputs with zeros and negatives: {guard}"
    penalty = unit.regularization()
    penalty = penalty if isinstance(penalty, torch.Tensor) and penalty.shape == () else 0
    (y.sum() + penalty).backward()  # a penalty of another shape: 'regularization' reports it
    for name, p in unit.named_parameters():
        if p.grad is not None and not torch.isfinite(p.grad).all():
            return (
                f"at initialisation the gradient of parameter {name!r} is not finite on inputs "
                f"with zeros and negatives: {guard}"
            )
    return None


@_quick("reset", "reset_parameters() redraws every parameter the same way under a seed")
def _reset(s: Subject) -> str | None:
    first, second = s.build(seed=3), s.build(seed=3)
    for (name, a), b in zip(first.named_parameters(), second.parameters(), strict=True):
        if not torch.equal(a, b):
            return (
                f"two units built under torch.manual_seed(3) differ in parameter {name!r}: draw "
                "the initial parameters from torch's global generator (seed s of fit_seeds is "
                "built under torch.manual_seed(s))"
            )
    unit = s.build()
    drawn = []
    for disturbance in (0.0, 1.0):  # the second draw starts from other values
        with torch.no_grad():
            for p in unit.parameters():
                p.add_(disturbance)
        try:
            torch.manual_seed(1)
            unit.reset_parameters()
        except NotImplementedError:
            return "reset_parameters() is not defined: define it to draw every parameter anew"
        except Exception as e:  # the unit's own code, whatever it raised
            return (
                f"reset_parameters() raised {type(e).__name__} ({short(e)}): make it draw every "
                "parameter anew (a restart calls it)"
            )
        drawn.append({n: p.detach().clone() for n, p in unit.named_parameters()})
    for name, value in drawn[0].items():
        if not torch.equal(value, drawn[1][name]):
            return (
                f"two calls of reset_parameters() under torch.manual_seed(1) left parameter "
                f"{name!r} with different values: draw every parameter in reset_parameters, "
                "from torch's global generator (a restart calls it)"
            )
    return None


@_quick("regularization", "regularization() is a finite scalar tensor")
def _regularization(s: Subject) -> str | None:
    penalty = s.build().regularization()
    if not isinstance(penalty, torch.Tensor) or penalty.shape != ():
        return (
            f"regularization() returned {_shape(penalty)}, not a scalar tensor: return a "
            "0-dimensional tensor (torch.zeros(()) for a unit without a penalty)"
        )
    if not torch.isfinite(penalty):
        return f"regularization() is {penalty.item()} at initialisation: keep the penalty finite"
    return None


@_quick("after-step", "after_step() projects the parameters in place, once and for all")
def _after_step(s: Subject) -> str | None:
    unit = s.build()
    if type(unit).after_step is Unit.after_step:
        return None  # no projection
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in unit.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 3)
    before = dict(unit.named_parameters())
    shapes = {n: tuple(p.shape) for n, p in before.items()}
    projected = []
    for _ in range(2):
        try:
            with torch.no_grad():  # as the engine calls it
                unit.after_step()
        except Exception as e:  # the unit's own code, whatever it raised
            return (
                f"after_step() raised {type(e).__name__} ({short(e)}): make it project the "
                "parameters in place after each optimiser step (or leave it undefined)"
            )
        projected.append({n: p.detach().clone() for n, p in unit.named_parameters()})
        for name, p in unit.named_parameters():
            if name in shapes and tuple(p.shape) != shapes[name]:
                return (
                    f"after_step() changed the shape of parameter {name!r} from {shapes[name]} "
                    f"to {tuple(p.shape)}: project its values in place and keep its shape"
                )
    return _projection_problem(unit, before, projected)


def _projection_problem(
    unit: Unit, before: dict[str, torch.Tensor], projected: list[dict[str, torch.Tensor]]
) -> str | None:
    for name, p in unit.named_parameters():
        if p is not before[name]:
            return (
                f"after_step() replaced parameter {name!r}: project it in place (e.g. "
                "self.W.clamp_(...)), since the optimiser and the engine hold the parameter itself"
            )
        if not torch.isfinite(p).all():
            return f"after_step() made parameter {name!r} non-finite: keep the projection finite"
        if not torch.equal(projected[0][name], projected[1][name]):
            return (
                f"a second after_step() changed parameter {name!r} again: make it a projection, "
                "whose second application changes nothing"
            )
    if isinstance(unit, ClampedUnit) and unit.clamp:
        W = unit.W.detach()
        if W.min() < unit.low or W.max() > unit.high:
            return (
                f"after_step() left W outside [{unit.low:g}, {unit.high:g}], the bounds a "
                "ClampedUnit keeps: clamp W in place to [low, high] (or call super().after_step())"
            )
    return None
