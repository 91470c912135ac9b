"""Ratios of sums of monomials, found by linear least squares on the law's implicit form.

A law ``y^k = N(x) / D(x)``, with ``N = c + Σᵢ aᵢ·nᵢ(x)`` and ``D = 1 − Σⱼ bⱼ·mⱼ(x)`` sums of
monomials, is linear in its constants once multiplied out:

.. math::
    y^k = c + \\sum_i a_i\\, n_i(x) + \\sum_j b_j\\, y^k m_j(x)

so the candidate terms are the monomials of the dictionary (:class:`~nalm.fitting.monomials.
Monomials`) and the same monomials times ``y^k``, and the terms are chosen as in a sum of
monomials: forward selection (here with a beam of :data:`BEAM` partial choices), then one term
at a time. ``m·c²/√(1 − v²/c²)`` is ``y² = m²c⁴ + y²·v²/c²`` (two terms), the Lorentz
transformation ``(x − ut)/√(1 − u²/c²)`` is ``y² = x² − 2xut + u²t² + y²·u²/c²`` (four).
Noise in ``y`` biases the constants (``y`` stands on both sides), so with noisy data a ratio
is only as good as its error on held-back rows says.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from fractions import Fraction

import sympy
import torch

from .monomials import Monomials, _squared_error, search_rows

BEAM = 200
"""Choices of terms kept at each size (the best pairs, then the best of their extensions)."""
CHUNK = 8
"""Denominator monomials searched at once (their pairs take ``CHUNK × n²/2`` numbers)."""
PAIRS = 8
"""The best pairs of numerator monomials grown further, per denominator monomial."""
SHORTLIST = 64
"""The pairs per denominator monomial whose errors are measured again (see :func:`_first`)."""
SEARCH_ROWS = 1000
"""The terms are chosen on at most this many rows (evenly spaced); the constants are then solved
on every row."""


@dataclass
class Ratio:
    """``y^k = (c + Σ a·n(x)) / (1 − Σ b·m(x))``: the exponent vectors of the numerator's and
    the denominator's monomials (``(n, d)`` and ``(m, d)``) and their constants."""

    numerator: torch.Tensor
    a: torch.Tensor
    c: float
    denominator: torch.Tensor
    b: torch.Tensor

    def formula(self, names: list[str], power: int | Fraction = 1) -> sympy.Expr:
        """The law ``y = (N/D)^(1/k)`` over the symbols ``names``, its constants as floats."""
        symbols = [sympy.Symbol(n) for n in names]

        def monomial(vector: torch.Tensor) -> sympy.Expr:
            return sympy.Mul(
                *(
                    s ** _rational(float(e))
                    for s, e in zip(symbols, vector.tolist(), strict=True)
                    if e != 0
                )
            )

        def total(weights: torch.Tensor, vectors: torch.Tensor) -> sympy.Expr:
            pairs = zip(weights.tolist(), vectors, strict=True)
            return sympy.Add(*(sympy.Float(w, 17) * monomial(v) for w, v in pairs))

        top = sympy.Float(self.c, 17) + total(self.a, self.numerator)
        bottom = 1 - total(self.b, self.denominator)
        power = Fraction(power)
        root = sympy.Rational(power.denominator, power.numerator)
        return (top / bottom) ** root  # one root: N and D may both be negative


Term = tuple[torch.Tensor, bool]
"""A term: its exponent vector, and whether it is in the denominator (a column ``y^k·m(x)``)."""

REACH = {1: 6, 2: 4, 3: 4, 4: 2}
"""The integer exponents a term may have, ``−R … R``, by the number of inputs; beyond, the
monomials of at most two inputs with exponents ``−2 … 2``."""


def ratio_search(
    xs: torch.Tensor, target: torch.Tensor, terms: int, deadline: float
) -> Ratio | None:
    """The ratio ``y^k = (c + Σ a·n(x)) / (1 − b·m(x))`` with at most ``terms`` monomials in
    the numerator that fits ``target = y^k`` best; ``None`` where none is found before the
    deadline. An exact fit keeps only the terms it needs (no denominator left: a sum of
    monomials).

    For every denominator monomial ``m`` (:data:`CHUNK` at a time), every pair of numerator
    monomials is compared in closed form (on the Gram matrix of the columns, the column
    ``y^k·m`` and the constant projected out), then the :data:`PAIRS` best pairs grow one
    monomial at a time; the search stops at the first exact fit.

    Shapes: ``xs`` ``(N, d)`` (float64), ``target`` ``(N,)``.
    """
    rows = search_rows(xs.shape[0], SEARCH_ROWS)
    pool, y = Monomials(xs[rows]), target[rows]
    vectors = _vectors(pool.d).to(xs.dtype)
    n = vectors.shape[0]
    top = pool.columns(vectors)
    columns = torch.cat([top, y[:, None] * top], dim=1)  # numerator | y^k · denominator
    useless = (vectors == 0).all(1).repeat(2)  # the constant is always in; y^k·1 is y^k
    useless |= ~torch.isfinite(columns).all(0)
    columns = torch.where(useless, 0.0, columns)
    numerator = useless.clone()
    numerator[n:] = True  # growing: numerator monomials only
    exact = 1e-24 * float(y @ y)
    best: tuple[float, list[int]] | None = None
    simplest = torch.argsort(vectors.abs().sum(1), stable=True)  # 1 − v/c before 1 − v²/c⁴
    starts = n + simplest[~useless[n + simplest]]
    for chunk in starts.split(CHUNK):
        if time.perf_counter() > deadline:
            break
        chosen = _first(columns, y, numerator, chunk, min(terms, 2))
        while chosen.shape[1] < terms + 1:
            index, _ = _grow(columns, y, numerator, chosen)
            chosen = torch.cat([chosen, index[:, None]], dim=1)
        row = chosen[int(torch.argmin(_errors(columns, y, chosen)))].tolist()
        error = _squared_error(columns[:, row], y)
        if best is None or error < best[0]:
            best = (error, row)
        if best is not None and best[0] <= exact:
            break
    if best is None:
        return None
    chosen = best[1]
    if best[0] <= exact:  # drop every term the law does not need (the extra ones fit 0·m)
        for index in list(chosen):
            fewer = [i for i in chosen if i != index]
            if fewer and _squared_error(columns[:, fewer], y) <= exact:
                chosen = fewer
    return _solve([(vectors[i % n], i >= n) for i in chosen], xs, target)


def _first(
    columns: torch.Tensor, y: torch.Tensor, useless: torch.Tensor, starts: torch.Tensor, size: int
) -> torch.Tensor:
    """For each start column (a denominator term), the :data:`PAIRS` best choices of ``size``
    (1 or 2) other columns: rows ``[start, i]`` or ``[start, i, j]`` of one ``(B, size + 1)``
    tensor. Every single column and pair is scored in closed form on the Gram matrix of the
    centred columns with the start projected out, normalised; the best are measured again."""
    centred = columns - columns.mean(0)
    target = y - y.mean()
    keep = (~useless).nonzero()[:, 0]
    s = centred[:, starts].T[:, :, None]  # (S, N, 1)
    ss = (s**2).sum(1, keepdim=True)  # (S, 1, 1)
    fine = ss[:, 0, 0] > 0
    s = s / torch.where(ss > 0, ss, 1.0).sqrt()
    free = centred[:, keep]
    before = (free**2).sum(0)  # (m,)
    free = free - s @ (s.transpose(1, 2) @ free)  # (S, N, m): the start projected out
    target = target - (s @ (s.transpose(1, 2) @ target[None, :, None]))[..., 0]  # (S, N)
    gram = free.transpose(1, 2) @ free  # (S, m, m)
    g = torch.einsum("snm,sn->sm", free, target)
    total = (target**2).sum(1)  # (S,)
    diag = gram.diagonal(dim1=1, dim2=2)
    dead = diag <= 1e-12 * before  # constant, or the start itself
    norm = torch.where(dead, 1.0, diag).sqrt()
    g = g / norm
    if size == 1:
        explained = torch.where(dead, -1.0, g**2)
        index = explained.topk(min(PAIRS, explained.shape[1]), dim=1).indices
        picks = keep[index]  # (S, B)
        return torch.stack([starts[:, None].expand_as(picks), picks], 2).reshape(-1, 2)
    corr = gram / (norm[:, :, None] * norm[:, None, :])
    i, j = torch.triu_indices(len(keep), len(keep), offset=1)
    det = 1 - corr[:, i, j] ** 2
    explained = (
        g[:, i] ** 2 - 2 * corr[:, i, j] * g[:, i] * g[:, j] + g[:, j] ** 2
    ) / det.clamp_min(1e-300)
    valid = (det > 1e-8) & ~dead[:, i] & ~dead[:, j] & (explained <= total[:, None] * (1 + 1e-6))
    explained = torch.where(valid & fine[:, None], explained, -1.0)
    index = explained.topk(min(SHORTLIST, explained.shape[1]), dim=1).indices  # (S, B)
    first, second = keep[i[index]], keep[j[index]]
    rows = torch.stack([starts[:, None].expand_as(first), first, second], 2)  # (S, B, 3)
    # the Gram matrix ranks roughly (near-collinear pairs round up): the shortlist's errors
    # are measured again on an orthonormal basis, and the best PAIRS kept
    errors = _errors(columns, y, rows.reshape(-1, 3)).reshape(rows.shape[:2])
    best = errors.topk(min(PAIRS, errors.shape[1]), dim=1, largest=False).indices
    return torch.gather(rows, 1, best[:, :, None].expand(-1, -1, 3)).reshape(-1, 3)


def _errors(columns: torch.Tensor, y: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """``(B,)``: the least squared error of ``y`` on each row of ``chosen``'s columns and a
    constant."""
    q = _orthonormal(columns, chosen)
    r_y = y - (q @ (q.transpose(1, 2) @ y[None, :, None]))[..., 0]
    return torch.nan_to_num((r_y**2).sum(1), nan=float("inf"))


def _orthonormal(columns: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """``(B, N, k + 1)``: an orthonormal basis of each row of ``chosen``'s columns and a
    constant."""
    fixed = columns.T[chosen].transpose(1, 2)  # (B, N, k)
    fixed = torch.cat([fixed, torch.ones_like(fixed[:, :, :1])], dim=2)
    return torch.linalg.qr(fixed).Q


def _grow(
    columns: torch.Tensor, y: torch.Tensor, useless: torch.Tensor, chosen: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of ``chosen`` ``(B, k)`` (column indices), the column (not ``useless``)
    that, added to them and a constant, leaves the least squared error of ``y``, and that
    error: ``(B,)`` each."""
    allowed = (~useless).nonzero()[:, 0]
    candidates = columns[:, allowed]
    q = _orthonormal(columns, chosen)
    r_y = y - (q @ (q.transpose(1, 2) @ y[None, :, None]))[..., 0]  # (B, N)
    r_c = candidates - q @ (q.transpose(1, 2) @ candidates)  # (B, N, C)
    norms = (r_c**2).sum(1)
    usable = torch.isfinite(norms) & (norms > 1e-20 * (candidates**2).sum(0))
    decrease = torch.where(usable, torch.einsum("bnc,bn->bc", r_c, r_y) ** 2 / norms, 0.0)
    decrease = torch.nan_to_num(decrease, nan=0.0, posinf=0.0)
    value, index = decrease.max(dim=1)
    return allowed[index], (r_y**2).sum(1) - value


def _vectors(d: int) -> torch.Tensor:
    """The candidate exponent vectors for ``d`` inputs (see :data:`REACH`)."""
    if d in REACH:
        grid = range(-REACH[d], REACH[d] + 1)
        return torch.tensor(list(itertools.product(grid, repeat=d)), dtype=torch.float64)
    found = [[0.0] * d]
    for i in range(d):
        found += [[float(e) if k == i else 0.0 for k in range(d)] for e in (-2, -1, 1, 2)]
    for i, j in itertools.combinations(range(d), 2):
        for e, f in itertools.product((-2, -1, 1, 2), repeat=2):
            found.append([float(e) if k == i else float(f) if k == j else 0.0 for k in range(d)])
    return torch.tensor(found, dtype=torch.float64)


def _columns(terms: list[Term], pool: Monomials, y: torch.Tensor) -> torch.Tensor:
    if not terms:
        return y.new_zeros(y.shape[0], 0)
    return torch.stack([pool.columns(v[None])[:, 0] * (y if side else 1.0) for v, side in terms], 1)


def _solve(terms: list[Term], xs: torch.Tensor, target: torch.Tensor) -> Ratio | None:
    """The constants of the chosen terms by least squares on every row."""
    top = [v for v, side in terms if not side]
    bottom = [v for v, side in terms if side]
    design = torch.cat([_columns(terms, Monomials(xs), target), torch.ones_like(xs[:, :1])], 1)
    solution = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution[:, 0]
    if not bool(torch.isfinite(solution).all()):
        return None
    sides = torch.tensor([side for _, side in terms])
    empty = xs.new_zeros(0, xs.shape[1])
    return Ratio(
        torch.stack(top) if top else empty,
        solution[:-1][~sides],
        float(solution[-1]),
        torch.stack(bottom) if bottom else empty,
        solution[:-1][sides],
    )


def _rational(value: float) -> sympy.Rational:
    fraction = Fraction(value).limit_denominator(12)
    return sympy.Rational(fraction.numerator, fraction.denominator)
