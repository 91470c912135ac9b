"""What a check of the unit contract works with: the unit under check (:class:`Subject`), one
check (:class:`Check`), and :func:`entry`, which adds a check to a list of them.

:mod:`nalm.units.contract` and :mod:`nalm.unit_contract` each hold a list of nalm's own checks,
:mod:`nalm.units.checker` the list of those added by other code (:func:`~.checker.add_check`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import NalmError
from .base import Unit


@dataclass(frozen=True)
class Subject:
    """The unit class under check, the sizes and constructor options to build it with, and the
    inputs checks feed it."""

    cls: type[Unit]
    in_features: int
    out_features: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, seed: int = 0, **kwargs: object) -> Unit:
        """``cls(in_features, out_features, **options, **kwargs)`` under
        ``torch.manual_seed(seed)``, leaving the global generator as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.cls(self.in_features, self.out_features, **{**self.options, **kwargs})

    def inputs(
        self, *batch: int, seed: int = 0, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """``(*batch, in_features)`` inputs of magnitude 0.5 to 2.5, the first input negative."""
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(*batch, self.in_features, generator=generator, dtype=dtype) * 2 + 0.5
        x[..., 0] *= -1
        return x

    def edge_inputs(self) -> torch.Tensor:
        """Four rows with zeros and negatives: mixed, one nonzero, all zero, all negative."""
        pattern = [[0.0, -1.5, 2.0], [-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-0.5, -2.0, -7.0]]
        return torch.tensor([[row[j % 3] for j in range(self.in_features)] for row in pattern])


CheckFn = Callable[[Subject], "str | None"]


@dataclass(frozen=True)
class Check:
    """One check of the contract: ``run(subject)`` returns ``None`` when the unit passes, else
    one sentence: what it saw and what to fix. ``quick``: it needs only the unit and takes
    milliseconds, so :func:`require` runs it before anything trains."""

    name: str
    description: str
    run: CheckFn
    required: bool = True
    quick: bool = False


def entry(
    checks: list[Check], name: str, description: str, *, required: bool = True, quick: bool = False
) -> Callable[[CheckFn], CheckFn]:
    """Decorator: append ``fn`` to ``checks`` as check ``name`` (a name may stand once).

    Example:
        >>> own: list[Check] = []
        >>> @entry(own, "example", "an example check")
        ... def _example(subject):
        ...     return None
        >>> [(c.name, c.required, c.quick) for c in own]
        [('example', True, False)]
    """

    def add(fn: CheckFn) -> CheckFn:
        if any(c.name == name for c in checks):
            raise NalmError(f"a unit check named {name!r} exists already")
        checks.append(Check(name, description, fn, required, quick))
        return fn

    return add


def short(error: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, at most ``limit`` characters."""
    text = (str(error).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"
