"""Public names loaded on first use: what keeps ``import nalm`` and the ``nalm`` command's start
free of torch, sympy and matplotlib until a name that needs them is used.

A package lists its public names in ``__all__`` (and imports them under ``TYPE_CHECKING`` for type
checkers and the API reference) and gets its module ``__getattr__`` and ``__dir__`` from
:func:`names`: a public name is looked up in the package's modules, in the order given, and kept
once found; any other submodule of the package is imported when asked for by name.

Example:
    >>> getattr_, dir_ = names("nalm.tasks", ["Range"], ["ranges"])
    >>> getattr_("Range").__name__, "Range" in dir_()
    ('Range', True)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from importlib.util import find_spec
from typing import Any


def names(
    package: str, public: Sequence[str], homes: Sequence[str] | Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: a submodule by its name, else each of
    ``public`` from the first of the submodules ``homes`` (relative names) that has it, or from
    its own module where ``homes`` maps each name to one (a submodule, or a whole dotted name
    such as ``nalm.app.training``)."""

    def attribute(name: str) -> Any:
        if not name.startswith("_") and find_spec(f"{package}.{name}") is not None:
            return import_module(f"{package}.{name}")
        if name in public:
            for home in [homes[name]] if isinstance(homes, Mapping) else homes:
                module = import_module(home if "." in home else f"{package}.{home}")
                if hasattr(module, name):
                    value = getattr(module, name)
                    setattr(sys.modules[package], name, value)
                    return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def listing() -> list[str]:
        return sorted({*vars(sys.modules[package]), *public})

    return attribute, listing
