"""The structural description of a model: registry names, sizes and options, as JSON.

:func:`describe` writes what :func:`build` needs to make a model again: a tree of
``{"kind": ...}`` objects (``unit``, ``sequential``, ``recurrent``, the cells, ``torch_linear``)
built only from registry names, sizes and plain constructor options. :func:`build` reads such a
tree back, refusing anything else in one sentence, before making anything large.

Examples:
    >>> from torch import nn
    >>> from nalm.units import NAU, NMU
    >>> description = describe(nn.Sequential(NAU(4, 2), NMU(2, 1)))
    >>> [layer["unit"] for layer in description["layers"]]
    ['nau', 'nmu']
    >>> build(description)[1]
    NMU(in_features=2, out_features=1, clamp=True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch import nn

from ..errors import NalmError
from ..limits import MAX_MODULES, MAX_SIZE
from ..units import registry
from ..units.base import Unit
from ..units.baselines import MLP, Linear
from ..units.branches import Branches
from ..units.recurrent import AccumulatorCell, GRUCell, LSTMCell, Recurrent, RNNCell, UnitCell


def describe(model: nn.Module) -> dict[str, Any]:
    """The JSON-ready architecture of ``model``: what :func:`build` needs to make it again.

    Supported: registry units, ``nn.Sequential`` of supported modules, ``nn.Linear``,
    :class:`~nalm.units.Recurrent` with :class:`~nalm.units.UnitCell`, :class:`~nalm.units.LSTMCell`
    or :class:`~nalm.units.RNNCell` cells.
    """
    if isinstance(model, nn.Sequential):
        return {"kind": "sequential", "layers": [describe(m) for m in model]}
    if isinstance(model, Recurrent):
        return {"kind": "recurrent", "cell": describe(model.cell), "head": describe(model.head)}
    if isinstance(model, (UnitCell, AccumulatorCell)):
        unit = describe(model.unit)
        return {
            "kind": "unit_cell" if isinstance(model, UnitCell) else "accumulator_cell",
            "unit": unit["unit"],
            "input_size": model.input_size,
            "hidden_size": model.hidden_size,
            "options": unit["options"],
            "initial": model.initial_value,
        }
    if isinstance(model, (LSTMCell, RNNCell, GRUCell)):
        kinds = {LSTMCell: "lstm_cell", RNNCell: "rnn_cell", GRUCell: "gru_cell"}
        description = {
            "kind": kinds[type(model)],
            "input_size": model.input_size,
            "hidden_size": model.hidden_size,
        }
        if isinstance(model, RNNCell):
            description["nonlinearity"] = model.nonlinearity
        return description
    if isinstance(model, Branches):
        return {"kind": "branches", "layers": [describe(m) for m in model.branches]}
    if type(model) is nn.Linear:
        return {
            "kind": "torch_linear",
            "in_features": model.in_features,
            "out_features": model.out_features,
            "bias": model.bias is not None,
        }
    if isinstance(model, Unit):
        name = _registry_name(model)
        return {
            "kind": "unit",
            "unit": name,
            "in_features": model.in_features,
            "out_features": model.out_features,
            "options": unit_options(model),
        }
    raise NalmError(
        f"nalm.save cannot describe a {type(model).__name__}; it saves registry units, "
        "nn.Sequential stacks, nn.Linear and recurrent models built from them"
    )


def _registry_name(unit: Unit) -> str:
    for name in registry.names():
        if registry.get(name) is type(unit):
            return name
    raise NalmError(
        f"nalm.save cannot describe a {type(unit).__name__}: it is not in the unit registry "
        "(register it with nalm.units.register(name, cls) first)"
    )


def unit_options(unit: Unit) -> dict[str, Any]:
    """The constructor options a unit was built with, read back from its attributes."""
    if isinstance(unit, Linear):
        return {"bias": unit.b is not None}
    if isinstance(unit, MLP):
        return {
            "hidden": list(unit.hidden),
            "activation": unit.activation,
            "activation_kwargs": dict(unit.activation_kwargs),
        }
    name = _registry_name(unit)
    options = {}
    for option in registry.options(name):
        if hasattr(unit, option):
            value = getattr(unit, option)
            if isinstance(value, (bool, int, float, str)) or value is None:
                options[option] = value
    return options


def build(description: Mapping[str, Any]) -> nn.Module:
    """Make the model that :func:`describe` described, with fresh parameters."""
    _count_modules(description)
    with refused_as_invalid("the architecture description"):
        return _build(description)


@contextmanager
def refused_as_invalid(what: str) -> Iterator[None]:
    """Turn a ``KeyError``, ``TypeError`` or ``ValueError`` raised while reading ``what`` into
    one sentence, ``"{what} is not valid (...)"``; a :class:`~nalm.errors.NalmError` passes as
    it is."""
    try:
        yield
    except NalmError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise NalmError(f"{what} is not valid ({type(e).__name__}: {e})") from None


MAX_DEPTH = 16
"""Deepest nesting of stacks and recurrent models a description may have."""


def _count_modules(description: Any) -> None:
    """Refuse a description of more than ``MAX_MODULES`` modules before building any of them."""
    stack, count = [(description, 0)], 0
    while stack:
        d, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NalmError(
                f"the architecture description is nested deeper than {MAX_DEPTH} levels"
            )
        if not isinstance(d, Mapping):
            continue  # _build names the problem
        count += 1
        if count > MAX_MODULES:
            raise NalmError(
                f"the architecture description has more than {MAX_MODULES:,} modules (nalm's limit)"
            )
        children = [d.get("cell"), d.get("head")]
        layers = d.get("layers")
        if isinstance(layers, list):
            children += layers
        stack += [(child, depth + 1) for child in children if child is not None]


def _build(d: Mapping[str, Any], depth: int = 0) -> nn.Module:
    if depth > MAX_DEPTH:
        raise NalmError(f"the architecture description is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(d, Mapping):
        raise NalmError(f"the architecture description has a {type(d).__name__} where a module is")
    kind = d["kind"]
    if kind == "sequential":
        layers = [_build(layer, depth + 1) for layer in d["layers"]]
        if not layers:
            raise NalmError("the architecture description has a stack with no layers")
        _check_chain(layers)
        return nn.Sequential(*layers)
    if kind == "branches":
        units = [_build(unit, depth + 1) for unit in d["layers"]]
        if not all(isinstance(u, Unit) for u in units):
            raise NalmError("the architecture description's branches must be units")
        return Branches(units)
    if kind == "recurrent":
        cell, head = _build(d["cell"], depth + 1), _build(d["head"], depth + 1)
        hidden, head_in = getattr(cell, "hidden_size", None), _features(head)[0]
        if hidden is not None and head_in is not None and hidden != head_in:
            raise NalmError(
                f"the architecture description's recurrent cell keeps {hidden} hidden values "
                f"but its head ({type(head).__name__}) takes {head_in} inputs"
            )
        return Recurrent(cell, head)
    if kind in ("unit_cell", "accumulator_cell"):
        options = check_options(registered(d["unit"]), d["options"])
        sizes = check_int(d["input_size"]), check_int(d["hidden_size"])
        if kind == "accumulator_cell":
            return AccumulatorCell(d["unit"], *sizes, **options)
        initial = d.get("initial", 0.0)
        if isinstance(initial, bool) or not isinstance(initial, (int, float)):
            raise NalmError(f"the initial state {initial!r} is not a number")
        return UnitCell(d["unit"], *sizes, initial=float(initial), **options)
    if kind == "gru_cell":
        return GRUCell(check_int(d["input_size"]), check_int(d["hidden_size"]))
    if kind == "lstm_cell":
        return LSTMCell(check_int(d["input_size"]), check_int(d["hidden_size"]))
    if kind == "rnn_cell":
        return RNNCell(
            check_int(d["input_size"]), check_int(d["hidden_size"]), str(d["nonlinearity"])
        )
    if kind == "torch_linear":
        return nn.Linear(
            check_int(d["in_features"]), check_int(d["out_features"]), bias=bool(d["bias"])
        )
    if kind == "unit":
        options = check_options(registered(d["unit"]), d["options"])
        return registry.create(
            d["unit"], check_int(d["in_features"]), check_int(d["out_features"]), **options
        )
    raise NalmError(f"unknown kind {kind!r} in the architecture description")


def _features(module: nn.Module) -> tuple[int | None, int | None]:
    """A module's ``(inputs, outputs)`` where it states them (a stack: its ends)."""
    if isinstance(module, nn.Sequential):
        return _features(module[0])[0], _features(module[-1])[1]
    if isinstance(module, Recurrent):
        return None, _features(module.head)[1]  # its input is a sequence, not one vector
    return getattr(module, "in_features", None), getattr(module, "out_features", None)


def _check_chain(layers: list[nn.Module]) -> None:
    """Refuse a stack where one layer's outputs are not the next layer's inputs."""
    for i in range(len(layers) - 1):
        out, into = _features(layers[i])[1], _features(layers[i + 1])[0]
        if out is not None and into is not None and out != into:
            raise NalmError(
                f"the architecture description chains layer {i} ({type(layers[i]).__name__}, "
                f"{out} outputs) into layer {i + 1} ({type(layers[i + 1]).__name__}, {into} "
                "inputs)"
            )


def registered(unit: Any) -> Any:
    """``unit`` if it names a registered unit; else the one sentence on how to bring it in (a
    file never imports anything itself)."""
    if isinstance(unit, str) and unit not in registry.names():
        raise NalmError(
            f"the model uses the unknown unit {unit[:40]!r}, which is not registered in this "
            "process; make it available with --import MODULE_OR_FILE on the command line, by "
            "importing the module that defines it first in Python, or by installing its package"
        )
    return unit


def check_options(unit: Any, options: Any) -> dict[str, Any]:
    """A unit's options from a file: plain values only, never a device or a dtype."""
    if not isinstance(options, Mapping):
        raise NalmError(f"the options of unit {unit!r} are not a JSON object")
    out = {}
    for key, value in options.items():
        if key in ("device", "dtype") or not isinstance(key, str):
            raise NalmError(f"the options of unit {unit!r} may not set {key!r}")
        if unit == "mlp" and key == "hidden":
            if not isinstance(value, list):
                raise NalmError("the MLP's hidden sizes are not a list")
            value = tuple(check_int(h) for h in value)
        elif unit == "mlp" and key == "activation_kwargs":
            if not isinstance(value, Mapping) or not all(plain(v) for v in value.values()):
                raise NalmError("the MLP's activation options are not plain values")
            value = dict(value)
        elif not plain(value):
            raise NalmError(f"option {key!r} of unit {unit!r} is not a plain value: {value!r}")
        out[key] = value
    return out


def plain(value: Any) -> bool:
    """Whether ``value`` is a plain JSON value (no list, no object)."""
    return value is None or isinstance(value, (bool, int, float, str))


def check_int(value: Any) -> int:
    """``value`` when it is a size from 1 to ``MAX_SIZE``; otherwise a one-sentence refusal."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIZE:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise NalmError(
            f"a size in the architecture description is not a whole number from 1 to "
            f"{MAX_SIZE:,}: {shown}"
        )
    return value
