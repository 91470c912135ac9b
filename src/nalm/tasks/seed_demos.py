"""The data of the seed code's three demos (Trask et al.'s blog, TF1), plus real extrapolation.

The seed's own "test" sets are kept as they were (for NAC they lie inside the training range; for
NALU mostly below it). What the seed left out is added as ``extrapolation``: integers well above
every training value.
"""

from __future__ import annotations

import torch

from ..limits import check_dtype
from .base import DatasetTask


def _cols(*columns: torch.Tensor) -> torch.Tensor:
    return torch.stack([c.to(torch.float64) for c in columns], dim=1)


def _randint(low: int, high: int, n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=g)


def _nac_data(op: str, seed: int, dtype: torch.dtype) -> DatasetTask:
    def f(x: torch.Tensor) -> torch.Tensor:
        return x[:, 0] + x[:, 1] if op == "add" else x[:, 0] * x[:, 1]

    check_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    # x1 = 0, 5, …, 9995 and x2 = 5, 10, …, 10000: 2000 rows.
    train = _cols(torch.arange(0, 10_000, 5), torch.arange(5, 10_005, 5))
    # x1 = 1000, 1008, …, 1992 and x2 = 1000, 1004, …, 1496: 125 rows, inside the training range.
    seed_test = _cols(torch.arange(1000, 2000, 8), torch.arange(1000, 1500, 4))
    extrapolation = _cols(_randint(20_000, 100_000, 1000, g), _randint(20_000, 100_000, 1000, g))
    sets = {"seed_test": seed_test, "extrapolation": extrapolation}
    return DatasetTask(
        (train.to(dtype), f(train).to(dtype)),
        {k: (x.to(dtype), f(x).to(dtype)) for k, x in sets.items()},
        name=f"seed-nac-{op}",
        target="x0 + x1" if op == "add" else "x0 * x1",
        extrapolation="x0, x1 random integers in [20000, 100000)",
    )


def nac_add(seed: int = 0, dtype: torch.dtype = torch.float32) -> DatasetTask:
    """The seed's NAC demo: y = x1 + x2 on multiples of 5 up to 10000."""
    return _nac_data("add", seed, dtype)


def nac_mul(seed: int = 0, dtype: torch.dtype = torch.float32) -> DatasetTask:
    """The seed's complex-NAC demo: y = x1 · x2 on the same data as :func:`nac_add`."""
    return _nac_data("mul", seed, dtype)


def nalu(seed: int = 0, dtype: torch.dtype = torch.float32) -> DatasetTask:
    """The seed's NALU demo: y = x1/4 + x2/2 + x3²."""

    def f(x: torch.Tensor) -> torch.Tensor:
        return x[:, 0] / 4 + x[:, 1] / 2 + x[:, 2] ** 2

    check_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    # x1 = 1000, 1005, …, 10995; x2 = 500, 503, …, 6497; x3 = 0, 1, …, 1999: 2000 rows.
    train = _cols(torch.arange(1000, 11_000, 5), torch.arange(500, 6500, 3), torch.arange(0, 2000))
    # 200 random integers x1 ∈ [0, 1000), x2 ∈ [1, 500), x3 ∈ [50, 150): mostly below training.
    seed_test = _cols(
        _randint(0, 1000, 200, g), _randint(1, 500, 200, g), _randint(50, 150, 200, g)
    )
    extrapolation = _cols(
        _randint(11_000, 110_000, 1000, g),
        _randint(6500, 65_000, 1000, g),
        _randint(2000, 20_000, 1000, g),
    )
    sets = {"seed_test": seed_test, "extrapolation": extrapolation}
    return DatasetTask(
        (train.to(dtype), f(train).to(dtype)),
        {k: (x.to(dtype), f(x).to(dtype)) for k, x in sets.items()},
        name="seed-nalu",
        target="x0/4 + x1/2 + x2**2",
        extrapolation="x0 in [11000, 110000), x1 in [6500, 65000), x2 in [2000, 20000)",
    )
