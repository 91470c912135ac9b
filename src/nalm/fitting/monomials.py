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

import functools
import itertools
import math
import time
from fractions import Fraction

import torch
from torch import nn

from ..units.laws import Affine, ScaledPower
from .polish import EXPONENTS, refit

DICTIONARY_INPUTS = 4
"""Up to this many inputs, every monomial of the grid is a candidate (11⁴ = 14,641 at 4)."""
WIDE_INPUTS = 3
"""Up to this many inputs, the grid is :data:`WIDE_EXPONENTS` (23³ = 12,167 monomials at 3)."""
WIDE_EXPONENTS = sorted(
    {Fraction(k) for k in range(-6, 7)}
    | {Fraction(k, 2) for k in (-5, -3, -1, 1, 3, 5)}
    | {Fraction(k, 3) for k in (-2, -1, 1, 2)}
)
"""Integers to ±6 (``c⁻⁶`` in ``1/(m²c⁴) − v²/(m²c⁶)``), halves to ±5/2, thirds to ±2/3."""
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


class Monomials:
    """The candidate monomials over a table ``xs`` ``(N, d)``: the exponent grid for ``d``
    inputs, the whole dictionary up to :data:`DICTIONARY_INPUTS` inputs, and its columns
    (computed once and shared by every model searched on the same rows)."""

    def __init__(self, xs: torch.Tensor) -> None:
        self.d = xs.shape[1]
        self.logs = torch.log(xs.abs() + torch.finfo(xs.dtype).tiny)
        self.negative = (xs < 0).to(xs.dtype) if bool((xs < 0).any()) else None
        exponents = WIDE_EXPONENTS if self.d <= WIDE_INPUTS else EXPONENTS
        self.grid = torch.tensor([float(e) for e in exponents], dtype=xs.dtype)
        self.dictionary = _dictionary(self.d).to(xs.dtype) if self.d <= DICTIONARY_INPUTS else None
        self._columns: torch.Tensor | None = None

    def columns(self, vectors: torch.Tensor) -> torch.Tensor:
        """``(N, C)``: each vector's monomial over the rows (the unit's formula with ``b = 0``)."""
        magnitude = torch.exp(self.logs @ vectors.T)
        if self.negative is None:
            return magnitude
        return magnitude * torch.cos(math.pi * (self.negative @ vectors.T))

    def candidates(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The candidates for a monomial now ``vector``, and their columns."""
        if self.dictionary is None:
            near = _near(vector, self.grid)
            return near, self.columns(near)
        if self._columns is None:
            self._columns = self.columns(self.dictionary)
        return self.dictionary, self._columns


def monomial_search(
    model: nn.Sequential,
    xs: torch.Tensor,
    ys: torch.Tensor,
    deadline: float,
    forward: bool = False,
    monomials: Monomials | None = None,
) -> float:
    """Improve the exponents of a ``power>affine`` model (float64) in place, one monomial at a
    time, each time to the candidate with the least squared error, the coefficients solved by
    least squares; then refit every constant (:func:`~nalm.fitting.polish.refit`). Returns the
    relative MSE on ``(xs, ys)``.

    With ``forward``, the model's exponents are ignored: the monomials are first chosen one
    after another, each the best given those before (forward selection; from the grid's full
    dictionary, or the monomials of at most two inputs beyond :data:`DICTIONARY_INPUTS`).
    ``monomials`` (built from ``xs`` when not given) shares the candidates between calls.

    Shapes: ``xs`` ``(N, d)``, ``ys`` ``(N, 1)``.
    """
    rows = search_rows(xs.shape[0])
    pool = Monomials(xs[rows]) if monomials is None else monomials
    exponents = model[0].W.detach().clone()
    y = ys[rows, 0]
    if forward:
        vectors, columns = pool.candidates(xs.new_zeros(pool.d))
        for j in range(exponents.shape[0]):
            if time.perf_counter() > deadline:
                exponents[j:] = 0.0  # constant monomials: the rest adds nothing
                break
            best, gain = _best_candidate(pool.columns(exponents[:j]), columns, y, gain=True)
            exponents[j] = vectors[best] if gain > 0 else 0.0
    error = _squared_error(pool.columns(exponents), y)
    for _ in range(SWEEPS):
        changed = False
        for j in range(exponents.shape[0]):
            if time.perf_counter() > deadline:
                break
            others = torch.cat([exponents[:j], exponents[j + 1 :]])
            vectors, columns = pool.candidates(exponents[j])
            best, value = _best_candidate(pool.columns(others), columns, y)
            if value < (1 - TOLERANCE) * error:
                exponents[j], error, changed = vectors[best], value, True
        if not changed or error <= 1e-28 * float(y @ y):
            break
    if not _write(model, exponents, Monomials(xs).columns(exponents), ys[:, 0]):
        return math.inf
    return refit(model, xs, ys)


SEARCH_ROWS = 2000
"""The exponents are chosen on at most this many rows (evenly spaced; the candidates' columns
take rows × 12,167 numbers); the coefficients are then solved and refitted on every row."""


def search_rows(n: int, limit: int = SEARCH_ROWS) -> torch.Tensor:
    """The rows the exponents are chosen on: all, or ``limit`` evenly spaced."""
    if n <= limit:
        return torch.arange(n)
    return torch.linspace(0, n - 1, limit).round().long()


@functools.lru_cache(maxsize=8)
def _dictionary(d: int) -> torch.Tensor:
    """Every vector of ``d`` exponents from the grid for ``d`` inputs: ``(len(grid)^d, d)``."""
    grid = [float(e) for e in (WIDE_EXPONENTS if d <= WIDE_INPUTS else EXPONENTS)]
    return torch.tensor(list(itertools.product(grid, repeat=d)), dtype=torch.float64)


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
    fixed: torch.Tensor, candidates: torch.Tensor, y: torch.Tensor, gain: bool = False
) -> tuple[int, float]:
    """The candidate column that, added to the fixed ones and the constant, leaves the least
    squared error of ``y``, and that error (one projection for all candidates); with ``gain``,
    the decrease of the squared error instead (0: no candidate helps)."""
    if not bool(torch.isfinite(fixed).all()):
        return 0, 0.0 if gain else math.inf
    q = _basis(fixed)
    r_y = y - q @ (q.T @ y)
    r_c = candidates - q @ (q.T @ candidates)
    norms = (r_c**2).sum(0)
    scale = (candidates**2).sum(0)
    usable = torch.isfinite(norms) & (norms > 1e-20 * scale) & torch.isfinite(scale)
    decrease = torch.where(usable, (r_c.T @ r_y) ** 2 / norms.clamp_min(1e-300), 0.0)
    decrease = torch.nan_to_num(decrease, nan=0.0, posinf=0.0)
    best = int(torch.argmax(decrease))
    if gain:
        return best, float(decrease[best])
    return best, float(r_y @ r_y) - float(decrease[best])


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
