"""Name → class registry of units, and a builder for single units and stacks of them."""

from __future__ import annotations

import inspect
import itertools
from typing import Any

from torch import nn

from ..errors import NalmError
from ..limits import MAX_LAYERS, check_size, check_stack
from .base import Unit

_REGISTRY: dict[str, type[Unit]] = {}


def register(name: str, cls: type[Unit]) -> type[Unit]:
    """Make ``cls`` available as ``get(name)``; names are lower case."""
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise NalmError(f"unit name {name!r} is already registered to {_REGISTRY[name].__name__}")
    _REGISTRY[name] = cls
    return cls


def names() -> list[str]:
    """Registered unit names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> type[Unit]:
    """The unit class registered as ``name`` (e.g. ``get("nalu") is NALU``).

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise NalmError(f"unknown unit {name!r}; valid units: {', '.join(names())}") from None


def options(name: str) -> list[str]:
    """The keyword options a unit's constructor accepts (besides ``device`` and ``dtype``)."""
    params = inspect.signature(get(name).__init__).parameters.values()
    return [
        p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in ("device", "dtype")
    ]


def create(
    name: str, in_features: int, out_features: int, *, preset: str | None = None, **kwargs: Any
) -> Unit:
    """One unit by registry name; ``preset="seed"`` uses the class's ``seed_preset``.

    Unknown options raise ``ValueError`` naming the option and the valid ones.
    """
    cls = get(name)
    unknown = sorted(set(kwargs) - set(options(name)) - {"device", "dtype"})
    if unknown:
        valid = ", ".join(options(name)) or "none"
        raise NalmError(f"unit {name!r} has no option {unknown[0]!r}; its options: {valid}")
    if preset is None:
        return cls(in_features, out_features, **kwargs)
    if preset != "seed" or not hasattr(cls, "seed_preset"):
        has = [n for n in names() if hasattr(_REGISTRY[n], "seed_preset")]
        raise NalmError(
            f"unit {name!r} has no {preset!r} preset; the seed preset exists for: {', '.join(has)}"
        )
    return cls.seed_preset(in_features, out_features, **kwargs)


def build(
    name: str,
    in_features: int,
    out_features: int,
    *,
    layers: int = 1,
    hidden: int = 2,
    preset: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """A model of ``layers`` units of one kind: ``in → hidden → … → hidden → out``.

    ``layers=1`` returns the unit itself; more layers return an ``nn.Sequential`` of units, each
    built with the same options.

    Examples:
        >>> build("nac", 4, 1, layers=2, hidden=3)
        Sequential(
          (0): NAC(in_features=4, out_features=3, init='xavier')
          (1): NAC(in_features=3, out_features=1, init='xavier')
        )
    """
    check_size(layers, "layers", limit=MAX_LAYERS)
    check_size(hidden, "hidden")
    sizes = [in_features] + [hidden] * (layers - 1) + [out_features]
    if layers > 1:  # one unit checks its own sizes
        check_stack(sizes, f"layers {layers} × hidden {hidden}")
    units = [
        create(name, n_in, n_out, preset=preset, **kwargs)
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    return units[0] if layers == 1 else nn.Sequential(*units)
