"""Saving and loading models without pickle: safetensors for tensors, JSON for the architecture.

A file written by :func:`save` is a safetensors file whose metadata holds ``format``
(``"nalm-model"``), ``version`` and ``architecture``: a JSON description built only from
registry names, sizes and constructor options. :func:`load` parses that JSON, rebuilds the model
through :mod:`nalm.units.registry` (or the recurrent cells) and copies the tensors in. Nothing in
the file is ever executed or unpickled, so loading a file from a stranger is safe.

Examples:
    >>> import tempfile, os, torch
    >>> from torch import nn
    >>> from nalm.units import NAU, NMU
    >>> model = nn.Sequential(NAU(4, 2), NMU(2, 1))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save(model, os.path.join(d, "model.safetensors"))
    ...     again = load(os.path.join(d, "model.safetensors"))
    >>> x = torch.rand(5, 4)
    >>> torch.equal(model(x), again(x))
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .errors import NalmError
from .limits import MAX_MODULES, MAX_SIZE
from .units import registry
from .units.base import Unit
from .units.baselines import MLP, Linear
from .units.recurrent import AccumulatorCell, GRUCell, LSTMCell, Recurrent, RNNCell, UnitCell

FORMAT = "nalm-model"
VERSION = 1
"""The newest format version this nalm writes and reads."""


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
    try:
        return _build(description)
    except NalmError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise NalmError(
            f"the architecture description is not valid ({type(e).__name__}: {e})"
        ) from None


MAX_DEPTH = 16
"""Deepest nesting of stacks and recurrent models a description may have."""
DTYPES = ("float16", "bfloat16", "float32", "float64")


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
        return nn.Sequential(*(_build(layer, depth + 1) for layer in d["layers"]))
    if kind == "recurrent":
        return Recurrent(_build(d["cell"], depth + 1), _build(d["head"], depth + 1))
    if kind in ("unit_cell", "accumulator_cell"):
        options = _options(d["unit"], d["options"])
        sizes = _int(d["input_size"]), _int(d["hidden_size"])
        if kind == "accumulator_cell":
            return AccumulatorCell(d["unit"], *sizes, **options)
        initial = d.get("initial", 0.0)
        if isinstance(initial, bool) or not isinstance(initial, (int, float)):
            raise NalmError(f"the initial state {initial!r} is not a number")
        return UnitCell(d["unit"], *sizes, initial=float(initial), **options)
    if kind == "gru_cell":
        return GRUCell(_int(d["input_size"]), _int(d["hidden_size"]))
    if kind == "lstm_cell":
        return LSTMCell(_int(d["input_size"]), _int(d["hidden_size"]))
    if kind == "rnn_cell":
        return RNNCell(_int(d["input_size"]), _int(d["hidden_size"]), str(d["nonlinearity"]))
    if kind == "torch_linear":
        return nn.Linear(_int(d["in_features"]), _int(d["out_features"]), bias=bool(d["bias"]))
    if kind == "unit":
        options = _options(d["unit"], d["options"])
        return registry.create(
            d["unit"], _int(d["in_features"]), _int(d["out_features"]), **options
        )
    raise NalmError(f"unknown kind {kind!r} in the architecture description")


def _options(unit: Any, options: Any) -> dict[str, Any]:
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
            value = tuple(_int(h) for h in value)
        elif unit == "mlp" and key == "activation_kwargs":
            if not isinstance(value, Mapping) or not all(_plain(v) for v in value.values()):
                raise NalmError("the MLP's activation options are not plain values")
            value = dict(value)
        elif not _plain(value):
            raise NalmError(f"option {key!r} of unit {unit!r} is not a plain value: {value!r}")
        out[key] = value
    return out


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIZE:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise NalmError(
            f"a size in the architecture description is not a whole number from 1 to "
            f"{MAX_SIZE:,}: {shown}"
        )
    return value


def save(model: nn.Module, path: str | Path, **info: Any) -> Path:
    """Write ``model`` to ``path``: its tensors as safetensors, its architecture as JSON metadata.

    Args:
        model: a registry unit, a stack of them, or a recurrent model (see :func:`describe`).
        path: the file to write (conventionally ``*.safetensors``).
        **info: JSON-ready extras stored beside the architecture (e.g. ``formula="x0 + x1"``).

    Returns:
        The path written.
    """
    architecture = describe(model)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    dtypes = {
        str(v.dtype).removeprefix("torch.") for v in tensors.values() if v.is_floating_point()
    }
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "dtype": dtypes.pop() if len(dtypes) == 1 else "float32",
        "architecture": json.dumps(architecture),
        "info": json.dumps(info, default=str),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # a reader never sees a half-written file
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file, with one-sentence errors for unreadable files."""
    name = str(path)
    if Path(path).is_dir():
        raise NalmError(f"cannot load {name}: it is a directory, not a model file")
    try:
        with safe_open(name, framework="pt") as f:
            return dict(f.metadata() or {})
    except FileNotFoundError:
        raise NalmError(f"cannot load {name}: no such file") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise NalmError(
            f"cannot load {name}: it is truncated or not a safetensors file ({_short(e)})"
        ) from None


def load(path: str | Path, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the model :func:`save` wrote to ``path``; nothing in the file is executed.

    Raises:
        NalmError: for a missing, truncated or corrupted file, a file that is not a nalm model,
            or one written by a newer nalm (a higher format version).
    """
    name = str(path)
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise NalmError(
            f"cannot load {name}: it is not a nalm model file (no '{FORMAT}' format tag)"
        )
    try:
        version = int(metadata.get("version", ""))
    except ValueError:
        raise NalmError(
            f"cannot load {name}: its format version {metadata.get('version')!r} is not a number"
        ) from None
    if version > VERSION:
        raise NalmError(
            f"cannot load {name}: it was written by a newer nalm (format version {version}; "
            f"this nalm reads up to {VERSION})"
        )
    try:
        architecture = json.loads(metadata["architecture"])
    except (KeyError, json.JSONDecodeError, RecursionError):
        raise NalmError(
            f"cannot load {name}: its architecture description is missing or not JSON"
        ) from None
    if not isinstance(architecture, dict):
        raise NalmError(f"cannot load {name}: its architecture description is not a JSON object")
    dtype_name = metadata.get("dtype", "float32")
    if dtype_name not in DTYPES:
        raise NalmError(f"cannot load {name}: its dtype {dtype_name!r} is not one of {DTYPES}")
    dtype = getattr(torch, dtype_name)
    # First a skeleton on the meta device (no memory), checked against the file's own tensors,
    # so that a description of a huge model in a small file cannot make us allocate it.
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build(architecture).state_dict().items()}
    try:
        with safe_open(name, framework="pt") as f:
            keys = list(f.keys())
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in keys}
            kinds = {key: f.get_slice(key).get_dtype() for key in keys}
            _match(name, expected, shapes, kinds)
            tensors = {key: f.get_tensor(key) for key in keys}
    except NalmError:
        raise
    except (SafetensorError, OSError, ValueError) as e:
        raise NalmError(
            f"cannot load {name}: its tensors are truncated or corrupted ({_short(e)})"
        ) from None
    model = build(architecture).to(dtype)
    model.load_state_dict(tensors)
    return model.to(device)


def _match(
    name: str, expected: dict[str, tuple], shapes: dict[str, tuple], kinds: dict[str, str]
) -> None:
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        problem = f"lacks {_few(missing)}" if missing else f"has unknown {_few(unexpected)}"
        raise NalmError(
            f"cannot load {name}: its tensors do not match its architecture ({problem})"
        )
    for key, shape in shapes.items():
        if shape != expected[key]:
            raise NalmError(
                f"cannot load {name}: tensor {key} has shape {shape}, the architecture needs "
                f"{expected[key]}"
            )
        if kinds[key] not in ("F16", "BF16", "F32", "F64"):
            raise NalmError(f"cannot load {name}: tensor {key} is {kinds[key]}, not a float type")


def _few(names: list[str], shown: int = 5) -> str:
    """At most ``shown`` names, then how many more: keeps an error message one short line."""
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more"


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:120]
