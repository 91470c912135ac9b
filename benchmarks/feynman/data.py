"""Training and test rows for one Feynman equation, made from a seed.

**Training** (interpolation): ``n`` rows, each variable uniform on its published range
``(low, high)``. With ``noise`` σ > 0 each training target is multiplied by ``1 + σ·ε``,
ε ~ N(0, 1); the test targets stay exact.

**Test** (extrapolation, "beyond the ranges"): ``n`` rows, each variable drawn independently and
uniformly from ``[2·high, 10·high]``: every value is at least twice the largest value of that
variable in training and at most ten times it. Independent draws break constraints that the
published ranges keep — v < c in the relativistic formulas, ω < ω₀ in I.32.17 and II.11.3,
n·α < 3 in II.11.27–28, ω/c > π/d in II.24.17, r₁ ≠ r₂ in I.13.12 — so a drawn row is kept only
when

1. the formula is finite and real there, and
2. every variable's elasticity ``|∂ ln y / ∂ ln xᵢ| = |xᵢ·(∂y/∂xᵢ)/y|`` is at most 20.

The second condition drops the rows next to a pole of the formula (1 − v²/c² → 0) or a zero of
it (1/r₂ − 1/r₁ → 0), where a relative error measures the distance to the singularity rather than
the formula. A monomial's elasticities are its exponents (at most 5 in the list), so away from
poles and zeros no row is dropped. Rows are drawn in batches until ``n`` pass;
:attr:`FeynmanData.rejected` counts the rows drawn and dropped. The training rows are not
filtered: every formula is finite on its published box (``equations.check``).

The random streams come from ``numpy.random.SeedSequence([seed, crc32(id)])``, one child each for
the training inputs, the test inputs and the noise, so the inputs do not change with ``noise``.

Run ``.venv/bin/python benchmarks/feynman/data.py`` to see, for every equation, how many test
rows were dropped and the targets' ranges.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import sympy
from equations import EQUATIONS, Equation

TEST_SCALE = (2.0, 10.0)  # test values lie in [2·high, 10·high]
MAX_ELASTICITY = 20.0


@dataclass(frozen=True)
class FeynmanData:
    """The rows of one equation: ``x_*`` of shape ``(n, d)`` in ``equation.names`` order, ``y_*``
    of shape ``(n,)``; ``y_train`` carries the noise, ``y_test`` is exact."""

    equation: Equation
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    noise: float
    rejected: int


def _elasticities(equation: Equation):
    """A function of the rows giving ``|xᵢ·(∂y/∂xᵢ)/y|`` for each variable, shape ``(N, d)``."""
    y = equation.expr
    terms = [sympy.diff(y, s) * s / y for s in equation.symbols]
    f = sympy.lambdify(equation.symbols, terms, "numpy")

    def elasticities(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = f(*x.T)
        return np.abs(np.stack([np.broadcast_to(v, (len(x),)) for v in values], axis=1))

    return elasticities


def make_data(
    equation: Equation,
    n: int = 300,
    seed: int = 0,
    noise: float = 0.0,
    test_scale: tuple[float, float] = TEST_SCALE,
    max_elasticity: float = MAX_ELASTICITY,
) -> FeynmanData:
    """``n`` training rows on the published ranges and ``n`` test rows beyond them (module
    docstring), the same for the same arguments."""
    if n < 1:
        raise ValueError(f"n must be a positive number of rows, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (a relative standard deviation), got {noise}")
    stream = np.random.SeedSequence([seed, zlib.crc32(equation.id.encode())])
    train_rng, test_rng, noise_rng = (np.random.default_rng(s) for s in stream.spawn(3))
    low, high = np.array(list(equation.ranges.values()), dtype=np.float64).T

    x_train = train_rng.uniform(low, high, (n, len(low)))
    y_train = equation(x_train)
    if noise > 0:
        y_train = y_train * (1 + noise * noise_rng.standard_normal(n))

    elasticities = _elasticities(equation)
    drawn: list[np.ndarray] = []
    usable: list[np.ndarray] = []
    while sum(int(u.sum()) for u in usable) < n:
        if len(drawn) > 50:
            raise RuntimeError(f"{equation.id}: fewer than 1 % of the test rows drawn are usable")
        x = test_rng.uniform(test_scale[0] * high, test_scale[1] * high, (2 * n, len(high)))
        y = equation(x)
        e = elasticities(x)
        drawn.append(x)
        usable.append(np.isfinite(y) & np.isfinite(e).all(1) & (e <= max_elasticity).all(1))
    rows = np.flatnonzero(np.concatenate(usable))[:n]
    x_test = np.concatenate(drawn)[rows]
    rejected = int(rows[-1]) + 1 - n  # rows drawn before the n-th usable one and dropped
    return FeynmanData(equation, x_train, y_train, x_test, equation(x_test), noise, rejected)


if __name__ == "__main__":
    print(f"{'id':<10} {'test rows dropped':>17}  {'train y range':>23}  {'test y range':>23}")
    for eq in EQUATIONS:
        d = make_data(eq)
        assert np.isfinite(d.y_train).all() and np.isfinite(d.y_test).all()
        assert (d.x_test >= TEST_SCALE[0] * np.array([h for _, h in eq.ranges.values()])).all()
        print(
            f"{eq.id:<10} {d.rejected:>17}  "
            f"{d.y_train.min():>10.3g} … {d.y_train.max():<10.3g}  "
            f"{d.y_test.min():>10.3g} … {d.y_test.max():<10.3g}"
        )
