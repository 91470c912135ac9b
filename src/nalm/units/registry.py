"""Name → class registry of units, and a builder for single units and stacks of them."""

from __future__ import annotations

import inspect
import itertools
import re
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar, overload

from torch import nn

from ..errors import NalmError
from ..limits import MAX_LAYERS, check_size, check_stack
from .base import Unit
from .checker import require

U = TypeVar("U", bound=Unit)

_REGISTRY: dict[str, type[Unit]] = {}

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RESERVED = frozenset({"lstm", "gru", "rnn"})  # the model grammar's torch cells (models.py)

ENTRY_POINT_GROUP = "nalm.units"
"""The entry-point group under which installed packages declare their units."""

_entry_points_loaded = False
_broken: dict[str, str] = {}  # entry-point name → why it did not load


@overload
def register(name: str) -> Callable[[type[U]], type[U]]: ...


@overload
def register(name: str, cls: type[U]) -> type[U]: ...


def register(name: str, cls: type[U] | None = None) -> type[U] | Callable[[type[U]], type[U]]:
    """Make ``cls`` available as ``get(name)``, by a call or as a class decorator.

    ``name`` is lower case (letters, digits and ``_``, a letter first); registering the same
    class under the same name again does nothing. From then on the name works in every model
    spec (``nalm train --unit NAME``, ``nau>NAME``, ``nalm bench run --models NAME``).

    Raises:
        NalmError: for a bad or taken name, or a class that is not a ``nalm.units.Unit``.

    Examples:
        >>> from nalm.units import NAU
        >>> @register("doc_scaled_nau")
        ... class ScaledNAU(NAU):
        ...     pass
        >>> get("doc_scaled_nau") is ScaledNAU
        True
        >>> register("doc_scaled_nau", NAU)
        Traceback (most recent call last):
        nalm.errors.NalmError: unit name 'doc_scaled_nau' is already registered to ScaledNAU
        >>> _unregister("doc_scaled_nau")
    """
    _check_name(name)
    if cls is None:
        return lambda c: register(name, c)
    if not (isinstance(cls, type) and issubclass(cls, Unit)):
        raise NalmError(
            f"cannot register {cls!r} as unit {name!r}: a unit is a subclass of nalm.units.Unit"
        )
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise NalmError(f"unit name {name!r} is already registered to {_REGISTRY[name].__name__}")
    _REGISTRY[name] = cls
    return cls


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NalmError(
            f"unit name {name!r} is not lower-case letters, digits and '_' starting with a letter"
        )
    if name in _RESERVED:
        raise NalmError(f"unit name {name!r} is taken by the model grammar's recurrent cell")


def _unregister(name: str) -> None:
    """Forget ``name`` (for tests that register units of their own)."""
    _REGISTRY.pop(name, None)


def load_entry_points() -> None:
    """Load the units installed packages declare under :data:`ENTRY_POINT_GROUP`, once.

    An entry point names a module (whose ``@register`` lines run on import) or a ``Unit``
    subclass (registered under the entry point's name unless its module registered it). One
    that fails to load is skipped with a warning, so that one broken package does not break
    ``nalm units`` for everything else; asking for its name later raises the same sentence.
    """
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True  # first: a unit module may itself ask the registry
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
            if isinstance(loaded, type) and loaded not in _REGISTRY.values():
                register(point.name, loaded)
        except Exception as e:  # the package's own code, whatever it raised
            distribution = getattr(point.dist, "name", None) or "an unknown distribution"
            _broken[point.name] = (
                f"the entry point {point.name} = {point.value} of {distribution} "
                f"(group {ENTRY_POINT_GROUP}) did not load: {type(e).__name__}: {e}"
            )
            warnings.warn(_broken[point.name], stacklevel=2)


def names() -> list[str]:
    """Registered unit names, sorted (installed packages' units included)."""
    load_entry_points()
    return sorted(_REGISTRY)


def get(name: str) -> type[Unit]:
    """The unit class registered as ``name`` (e.g. ``get("nalu") is NALU``).

    Raises:
        NalmError: for an unknown name; the message lists the valid ones (or, for an
            installed entry point that failed to load, why).
    """
    load_entry_points()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        if isinstance(name, str) and name in _broken:
            raise NalmError(_broken[name]) from None
        raise NalmError(f"unknown unit {name!r}; valid units: {', '.join(names())}") from None


def options(name: str) -> list[str]:
    """The keyword options a unit's constructor accepts (besides ``device`` and ``dtype``)."""
    params = inspect.signature(get(name).__init__).parameters.values()
    return [
        p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in ("device", "dtype")
    ]


def required_options(name: str) -> list[str]:
    """The keyword options a unit's constructor has no default for (a unit from outside nalm
    may have some; ``nalm train --option KEY=VALUE`` gives them)."""
    params = inspect.signature(get(name).__init__).parameters
    return [o for o in options(name) if params[o].default is inspect.Parameter.empty]


def check_options(name: str, given: Mapping[str, Any]) -> None:
    """Refuse options unit ``name`` does not have, and missing ones it needs, in one sentence.

    Example:
        >>> check_options("nalu", {"eps": 1e-6})
        >>> check_options("nalu", {"epsilon": 1e-6})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: unit 'nalu' has no option 'epsilon'; its options: ...
    """
    unknown = sorted(set(given) - set(options(name)) - {"device", "dtype"})
    if unknown:
        valid = ", ".join(options(name)) or "none"
        raise NalmError(f"unit {name!r} has no option {unknown[0]!r}; its options: {valid}")
    missing = [o for o in required_options(name) if o not in given]
    if missing:
        flags = " ".join(f"--option {o}=VALUE" for o in missing)
        raise NalmError(
            f"unit {name!r} needs the option{'s' * (len(missing) > 1)} {', '.join(missing)} "
            f"({get(name).__name__}.__init__ gives no default): pass {flags} to nalm train or "
            "nalm units check, a keyword in Python, or give it a default"
        )


def vet(name: str, options: Mapping[str, Any] | None = None) -> None:
    """Refuse unit ``name`` with ``options`` before anything trains: unknown or missing
    options, and a unit from outside nalm that fails a quick check of the unit contract
    (:func:`~.checker.require`), each in one sentence. ``nalm train``, ``nalm fit`` and
    ``nalm bench run`` call it (through :meth:`nalm.models.ModelSpec.vet`) before training."""
    given = dict(options or {})
    check_options(name, given)
    require(get(name), name, {k: v for k, v in given.items() if k not in ("device", "dtype")})


def create(
    name: str, in_features: int, out_features: int, *, preset: str | None = None, **kwargs: Any
) -> Unit:
    """One unit by registry name; ``preset="seed"`` uses the class's ``seed_preset``.

    Unknown and missing options raise :class:`NalmError` naming them.
    """
    cls = get(name)
    check_options(name, kwargs)
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
