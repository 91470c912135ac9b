"""Polishing a trained law model: exponents snapped to simple rationals, the constants fitted
again to every digit of float64, and the exponents improved one at a time.

Gradient descent gets a law's structure roughly right; these steps make it exact. They work on
float64 copies of the model, in the scaled units the model was trained in.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import torch
from torch import nn

from ..units.laws import ScaledPower

GRIDS = (1, 2, 3)
"""Exponents snap to multiples of ``1/q`` for these ``q``, each tried in turn."""
EXPONENTS = (*(Fraction(k, 2) for k in range(-4, 5)), Fraction(1, 3), Fraction(-1, 3))
"""The exponents the local search tries for each weight of a ``power`` unit."""


def snap_exponents(
    model: nn.Module, grid: int, xs: torch.Tensor, ys: torch.Tensor, refitted: bool = True
) -> float:
    """Snap every ``power`` exponent to the nearest multiple of ``1/grid``, freeze them and refit
    the constants; the training error after (relative MSE; 0 without ``refitted``, where the
    constants are left as they are)."""
    with torch.no_grad():
        for m in model:
            if isinstance(m, ScaledPower):
                m.W.copy_(torch.round(m.W * grid) / grid)
                m.W.requires_grad_(False)
    return refit(model, xs, ys) if refitted else 0.0


def refit(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, iterations: int = 200) -> float:
    """Fit the constants (every parameter that requires a gradient) in float64: L-BFGS, then
    Gauss-Newton steps to the precision of float64 (:func:`gauss_newton`). Returns the final
    relative MSE on ``(xs, ys)``; ``inf`` where it is not finite (the parameters then put back).
    """
    free = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in free]
    scale = float((ys**2).mean()) or 1.0
    optimizer = torch.optim.LBFGS(
        free,
        lr=1,
        max_iter=iterations,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((model(xs) - ys) ** 2).mean() / scale
        if torch.isfinite(loss):
            loss.backward()
        return loss

    try:
        optimizer.step(closure)
        loss = gauss_newton(model, xs, ys, scale) if iterations >= GAUSS_NEWTON_AFTER else None
        if loss is None:
            with torch.no_grad():
                loss = float(((model(xs) - ys) ** 2).mean() / scale)
    except (RuntimeError, IndexError):  # IndexError: L-BFGS's line search on a flat loss
        loss = math.inf
    if not math.isfinite(loss) or not all(bool(torch.isfinite(p).all()) for p in free):
        with torch.no_grad():
            for p, value in zip(free, saved, strict=True):
                p.copy_(value)
        return math.inf
    return loss


SWEEPS = 6
"""Rounds of the local search over every exponent."""
IMPROVEMENT = 0.9
"""A change of one exponent is kept when it lowers the training error below this × the current."""
GAUSS_NEWTON_AFTER = 100
"""Refits of at least this many L-BFGS iterations end with Gauss-Newton steps (the final ones;
the local search's quick comparisons do without)."""


def gauss_newton(
    model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, scale: float, steps: int = 30
) -> float:
    """Levenberg-Marquardt steps on the free parameters: an exact law's constants converge
    to every digit of float64 (L-BFGS stops near 1e-10). Returns the relative MSE."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = dict(model.named_parameters())
    shapes = [params[n].shape for n in names]
    flat = torch.cat([params[n].detach().reshape(-1) for n in names])
    root = math.sqrt(scale * len(ys))

    def residual(theta: torch.Tensor) -> torch.Tensor:
        values, start = {}, 0
        for n, shape in zip(names, shapes, strict=True):
            size = math.prod(shape)
            values[n] = theta[start : start + size].reshape(shape)
            start += size
        out = torch.func.functional_call(model, values, (xs,))
        return ((out - ys) / root).reshape(-1)

    with torch.no_grad():
        r = residual(flat)
    loss, damping = float(r @ r), 1e-6
    for _ in range(steps):
        if loss <= 1e-30:
            break
        J = torch.func.jacrev(residual)(flat)
        if not bool(torch.isfinite(J).all()):
            break
        normal = J.T @ J
        normal = normal + damping * torch.diag(torch.diagonal(normal).clamp_min(1e-12))
        step = torch.linalg.lstsq(normal, -(J.T @ r)).solution
        with torch.no_grad():
            trial = flat + step
            r_trial = residual(trial)
        trial_loss = float(r_trial @ r_trial)
        if math.isfinite(trial_loss) and trial_loss < loss:
            flat, r, loss, damping = trial, r_trial, trial_loss, max(damping / 10, 1e-12)
        else:
            damping *= 10
            if damping > 1e6:
                break
    with torch.no_grad():
        start = 0
        for n, shape in zip(names, shapes, strict=True):
            size = math.prod(shape)
            params[n].copy_(flat[start : start + size].reshape(shape))
            start += size
    return loss


def local_search(
    model: nn.Module,
    powers: list[ScaledPower],
    xs: torch.Tensor,
    ys: torch.Tensor,
    loss: float,
    deadline: float,
) -> float:
    """Change one exponent at a time to each of :data:`EXPONENTS`, refit the constants and keep
    the change that lowers the training error most (below :data:`IMPROVEMENT` × the current);
    repeat while one helps, at most :data:`SWEEPS` rounds. Gradient descent often stops one
    exponent short (``x^{-1/2}`` where the law has ``x``)."""
    for _ in range(SWEEPS):
        best: tuple[float, dict[str, torch.Tensor]] | None = None
        start = {k: v.clone() for k, v in model.state_dict().items()}
        for unit in powers:
            for index in np.ndindex(*unit.W.shape):
                current = float(unit.W[index])
                if time.perf_counter() > deadline:
                    return loss
                for value in EXPONENTS:
                    if float(value) == current:
                        continue
                    with torch.no_grad():
                        unit.W[index] = float(value)
                    trial = refit(model, xs, ys, iterations=60)
                    if trial < IMPROVEMENT * loss and (best is None or trial < best[0]):
                        best = (trial, {k: v.clone() for k, v in model.state_dict().items()})
                    model.load_state_dict(start)
        if best is None:
            return loss
        model.load_state_dict(best[1])
        loss = refit(model, xs, ys)
        if loss <= 1e-20:
            return loss
    return loss
