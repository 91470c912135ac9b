"""A model made by the grammar is saved as the grammar's description and built from it again.

:meth:`~nalm.models.ModelSpec.build` and :meth:`~nalm.models.ModelSpec.cell_and_head` note on
the model how it was made (:data:`nalm.models.BUILT_FROM`: the spec, the call, its arguments).
:func:`grammar_of` gives that note when it still describes the model (a model changed after it
was built is saved by its structure alone); :func:`rebuild` makes the model from it again through
``ModelSpec.from_json(...).build(...)``, with fresh parameters, checking every value first.

Examples:
    >>> from nalm.models import parse
    >>> from nalm.persist.structure import describe
    >>> model = parse("nau>nmu").build(4, 1, hidden=3)
    >>> grammar = grammar_of(model, describe(model))
    >>> grammar["spec"], grammar["call"], grammar["arguments"]["hidden"]
    ('nau>nmu', 'build', 3)
    >>> rebuild(grammar)[1]
    NMU(in_features=3, out_features=1, clamp=True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import NalmError
from ..limits import MAX_LAYERS
from ..models import BUILT_FROM, ModelSpec
from .structure import check_int, check_options, describe, refused_as_invalid

ARGUMENTS = {
    "build": ("in_features", "out_features", "hidden", "options", "preset"),
    "cell_and_head": ("n_in", "n_out", "hidden", "initial"),
}
"""The arguments of each call a grammar description may name."""


def grammar_of(model: nn.Module, structure: Mapping[str, Any]) -> dict[str, Any] | None:
    """The grammar description ``model`` carries, if building from it gives ``structure``
    (:func:`~nalm.persist.structure.describe` of the model); else ``None``."""
    tag = model.__dict__.get(BUILT_FROM)
    if not isinstance(tag, Mapping):
        return None
    try:
        with torch.device("meta"):
            again = rebuild(tag)
    except (NalmError, RuntimeError):  # the note no longer builds: save the structure alone
        return None
    if not agrees(again, structure):
        return None
    return json.loads(json.dumps(tag))


def agrees(model: nn.Module, structure: Mapping[str, Any]) -> bool:
    """Whether ``structure`` is ``model``'s structural description (as read back from JSON)."""
    try:
        return json.loads(json.dumps(describe(model))) == structure
    except NalmError:
        return False


def rebuild(grammar: Any) -> nn.Module:
    """The model a grammar description names, with fresh parameters.

    Raises:
        NalmError: in one sentence, for an unknown unit, call or argument, or a bad value.
    """
    with refused_as_invalid("the model's grammar description"):
        return _rebuild(grammar)


def _rebuild(grammar: Any) -> nn.Module:
    if not isinstance(grammar, Mapping):
        raise NalmError("the model's grammar description is not a JSON object")
    if not isinstance(grammar.get("spec"), str):
        raise NalmError("the model's grammar description has no spec string")
    spec = ModelSpec.from_json(grammar)
    call, arguments = grammar.get("call"), grammar.get("arguments")
    if call not in ARGUMENTS:
        raise NalmError(
            f"the model's grammar description names the call {_shown(call)}; nalm builds models "
            f"with {' or '.join(ARGUMENTS)}"
        )
    if not isinstance(arguments, Mapping) or set(arguments) != set(ARGUMENTS[call]):
        raise NalmError(
            f"the arguments of the model's grammar description must be an object of "
            f"{', '.join(ARGUMENTS[call])}"
        )
    a = arguments
    if call == "build":
        return spec.build(
            check_int(a["in_features"]),
            check_int(a["out_features"]),
            _hidden(a["hidden"]),
            options=check_options(str(spec), a["options"]),
            preset=_preset(a["preset"]),
        )
    part = grammar.get("part")
    if part not in ("cell", "head"):
        raise NalmError(
            f"the model's grammar description names the part {_shown(part)}, not cell or head"
        )
    cell, head = spec.cell_and_head(
        check_int(a["n_in"]),
        check_int(a["n_out"]),
        check_int(a["hidden"]),
        initial=_number(a["initial"], "initial state"),
    )
    return cell if part == "cell" else head


def _hidden(value: Any) -> int | list[int]:
    if isinstance(value, list):
        if len(value) > MAX_LAYERS:
            raise NalmError(
                f"the model's grammar description has {len(value):,} hidden sizes; nalm's limit "
                f"is {MAX_LAYERS:,}"
            )
        return [check_int(v) for v in value]
    return check_int(value)


def _preset(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise NalmError(
            f"the preset in the model's grammar description is not a name: {_shown(value)}"
        )
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NalmError(
            f"the {what} in the model's grammar description is not a number: {_shown(value)}"
        )
    return float(value)


def _shown(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: a crafted value cannot make an error long."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
