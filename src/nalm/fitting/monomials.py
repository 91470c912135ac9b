"""The exponents of a sum of monomials, searched with the coefficients solved exactly.

A ``power>affine`` stack is ``y = Σⱼ wⱼ·Πᵢ xᵢ^Eⱼᵢ + b``: once the exponents ``E`` are fixed, the
coefficients ``w, b`` are a linear least-squares problem. So each candidate exponent vector for
one monomial costs one projection, and thousands are compared at once: every vector of the grid
:data:`~nalm.fitting.polish.EXPONENTS` when the law has at most :data:`DICTIONARY_INPUTS` inputs,
else every vector within two changed exponents of the current one. Gradient descent finds a
monomial's rough shape; this finds the exponents it stopped short of, several at a time
(``1/m² − v²/(m²c²)`` from ``c^⅓ v^⅓ / m²``).
"""

from __future__ import annotations

import itertools
import math
import time

import torch
from torch import nn

from ..units.laws import Affine, ScaledPower
from .polish import EXPONENTS, refit

DICTIONARY_INPUTS = 4
"""Up to this many inputs, every monomial of the grid is a candidate (11⁴ = 14,641 at 4)."""
SWEEPS = 8
"""Rounds over the monomials, each one changed in turn to its best candidate."""
TOLERANCE = 1e-9
"""A change is kept when it lowers the squared error by more than this share."""


def is_sum_of_monomials(model: nn.Module) -> bool:
    """Whether ``model`` is a ``power`` unit followed by an ``affine`` one with one output."""
    return (
        isinstance(model, nn.Sequential)
        and len(model) == 2
        and isinstance(model[0], ScaledPower)
        and isinstance(model[1], Affine)
        and model[1].out_features == 1
    )


def monomial_search(
    model: nn.Sequential,
    xs: torch.Tensor,
    ys: torch.Tensor,
    deadline: float,
    forward: bool = False,
) -> float:
    """Improve the exponents of a ``power>affine`` model (float64) in place, one monomial at a
    time, each time to the candidate with the least squared error, the coefficients solved by
    least squares; then refit every constant (:func:`~nalm.fitting.polish.refit`). Returns the
    relative MSE on ``(xs, ys)``.

    With ``forward``, the model's exponents are ignored: the monomials are first chosen one
    after another, each the best given those before (forward selection; from the grid's full
    dictionary, or the monomials of at most two inputs beyond :data:`DICTIONARY_INPUTS`).

    Shapes: ``xs`` ``(N, d)``, ``ys`` ``(N, 1)``.
    """
    power = model[0]
    exponents = power.W.detach().clone()
    logs = torch.log(xs.abs() + torch.finfo(xs.dtype).tiny)
    negative = (xs < 0).to(xs.dtype)
    y = ys[:, 0]

    def columns(vectors: torch.Tensor) -> torch.Tensor:
        """``(N, C)``: each vector's monomial over the rows (the unit's formula with ``b = 0``)."""
        return torch.exp(logs @ vectors.T) * torch.cos(math.pi * (negative @ vectors.T))

    grid = torch.tensor([float(e) for e in EXPONENTS], dtype=xs.dtype)
    dictionary = _dictionary(grid, xs.shape[1]) if xs.shape[1] <= DICTIONARY_INPUTS else None
    if forward:
        pool = dictionary if dictionary is not None else _near(torch.zeros_like(grid[:1]).expand(xs.shape[1]).clone(), grid)
        for j in range(exponents.shape[0]):
            best, _ = _best_candidate(columns(exponents[:j]), columns(pool), y)
            exponents[j] = pool[best]
    error = _squared_error(columns(exponents), y)
    for _ in range(SWEEPS):
        changed = False
        for j in range(exponents.shape[0]):
            if time.perf_counter() > deadline:
                break
            others = torch.cat([exponents[:j], exponents[j + 1 :]])
            candidates = dictionary if dictionary is not None else _near(exponents[j], grid)
            best, value = _best_candidate(columns(others), columns(candidates), y)
            if value < (1 - TOLERANCE) * error:
                exponents[j], error, changed = candidates[best], value, True
        if not changed or error <= 1e-28 * float(y @ y):
            break
    if not _write(model, exponents, columns(exponents), y):
        return math.inf
    return refit(model, xs, ys)


def _dictionary(grid: torch.Tensor, d: int) -> torch.Tensor:
    """Every vector of ``d`` exponents from ``grid``: ``(len(grid)^d, d)``."""
    return torch.tensor(list(itertools.product(grid.tolist(), repeat=d)), dtype=grid.dtype)


def _near(vector: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``vector`` with one or two of its exponents changed to any value of ``grid``."""
    d, found = vector.shape[0], [vector[None]]
    for i in range(d):
        one = vector.repeat(len(grid), 1)
        one[:, i] = grid
        found.append(one)
    for i, k in itertools.combinations(range(d), 2):
        two = vector.repeat(len(grid) ** 2, 1)
        two[:, i] = grid.repeat_interleave(len(grid))
        two[:, k] = grid.repeat(len(grid))
        found.append(two)
    return torch.cat(found)


def _basis(fixed: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the fixed columns and the constant: ``(N, r)``."""
    with_constant = torch.cat([fixed, fixed.new_ones(fixed.shape[0], 1)], dim=1)
    q, r = torch.linalg.qr(with_constant)
    keep = r.diagonal().abs() > 1e-12 * r.diagonal().abs().max()
    return q[:, keep]


def _squared_error(fixed: torch.Tensor, y: torch.Tensor) -> float:
    """The least squared error of ``y`` on the columns and a constant."""
    if not bool(torch.isfinite(fixed).all()):
        return math.inf
    q = _basis(fixed)
    residual = y - q @ (q.T @ y)
    return float(residual @ residual)


def _best_candidate(
    fixed: torch.Tensor, candidates: torch.Tensor, y: torch.Tensor
) -> tuple[int, float]:
    """The candidate column that, added to the fixed ones and the constant, leaves the least
    squared error of ``y``, and that error (one projection for all candidates)."""
    if not bool(torch.isfinite(fixed).all()):
        return 0, math.inf
    q = _basis(fixed)
    r_y = y - q @ (q.T @ y)
    r_c = candidates - q @ (q.T @ candidates)
    norms = (r_c**2).sum(0)
    scale = (candidates**2).sum(0)
    usable = torch.isfinite(norms) & (norms > 1e-20 * scale) & torch.isfinite(scale)
    gain = torch.where(usable, (r_c.T @ r_y) ** 2 / norms.clamp_min(1e-300), 0.0)
    gain = torch.nan_to_num(gain, nan=0.0, posinf=0.0)
    best = int(torch.argmax(gain))
    return best, float(r_y @ r_y) - float(gain[best])


def _write(model: nn.Sequential, exponents: torch.Tensor, monomials: torch.Tensor, y) -> bool:
    """Put the exponents in the ``power`` unit (its constants at 1) and the least-squares
    coefficients in the ``affine`` one; ``False`` where they are not finite."""
    design = torch.cat([monomials, torch.ones_like(monomials[:, :1])], dim=1)
    solution = torch.linalg.lstsq(design, y[:, None], driver="gelsd").solution[:, 0]
    if not bool(torch.isfinite(solution).all()):
        return False
    power, affine = model[0], model[1]
    with torch.no_grad():
        power.W.copy_(exponents)
        power.b.zero_()
        affine.W.copy_(solution[:-1].reshape(affine.W.shape))
        affine.b.copy_(solution[-1:].reshape(affine.b.shape))
    return True
