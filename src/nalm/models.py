"""One grammar for every model a command, a workflow or a saved file names.

.. code-block:: text

    spec  := ALIAS | [acc:]layer ('>' layer)*
    layer := UNIT | '(' UNIT ('|' UNIT)+ ')' | mlp:ACTIVATION | lstm | gru | rnn

- ``UNIT``: a name from the unit registry (``nac``, ``nau``, ``nmu``, ``nalu``, ``linear``,
  ``mlp``, …): one unit ``in → out``.
- ``first>second>…``: a stack, ``in → hidden → … → hidden → out``, any depth.
- ``(first|second|…)``: branches, units side by side on the same input, each output a learned
  selection of one of them (:class:`~nalm.units.branches.Branches`): ``nau>(nau|nmu)`` adds or
  multiplies the sums of its first layer, whichever the data needs.
- ``mlp:ACTIVATION`` (``mlp:relu``, ``mlp:relu6``, …): an MLP baseline whose hidden layers are the
  ``hidden`` sizes given to :meth:`ModelSpec.build`.
- Recurrent models read a sequence ``(N, T, in)``: ``lstm``, ``gru`` and ``rnn`` (the torch cell
  and a linear head), ``lstm>nalu`` (the cell, then the units after ``>`` as the head),
  ``acc:UNIT`` (the accumulator cell ``h_t = h_{t−1} + unit(x_t)``) and, where the task is a
  sequence (``parse(..., recurrent=True)``), ``UNIT`` or ``UNIT>HEAD``: the unit as the cell
  ``h_t = unit([x_t, h_{t−1}])`` (and as the head, unless one is named).
- The papers' row names are aliases (:data:`ALIASES`): ``NMU`` = ``nau>nmu``, ``NAU`` =
  ``nau>nau``, ``NAC•`` (or ``NAC*``) = ``nac>nac_mul``, ``NAC+`` = ``nac>nac``, ``NALU`` =
  ``nalu>nalu``, ``Linear`` = ``linear>linear``, ``ReLU`` = ``mlp:relu``, ``ReLU6`` =
  ``mlp:relu6``.

Examples:
    >>> spec = parse("nau>nmu")
    >>> spec.build(100, 1, hidden=2)
    Sequential(
      (0): NAU(in_features=100, out_features=2, clamp=True)
      (1): NMU(in_features=2, out_features=1, clamp=True)
    )
    >>> str(parse("NMU")), str(parse("nau", layers=2)), parse("nau>nmu").paper_name
    ('nau>nmu', 'nau>nau', 'NMU')
    >>> type(parse("lstm>nalu").build(10, 1, hidden=8).head).__name__
    'NALU'
    >>> ModelSpec.from_json(parse("acc:nau").to_json()) == parse("acc:nau")
    True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from .errors import NalmError
from .limits import MAX_LAYERS, check_size, check_stack
from .units import MLP, make_activation, registry
from .units.branches import Branches, branch_units, tidy_layer
from .units.recurrent import AccumulatorCell, GRUCell, LSTMCell, Recurrent, RNNCell, UnitCell

ALIASES: dict[str, str] = {
    "NMU": "nau>nmu",
    "NAU": "nau>nau",
    "NAC•": "nac>nac_mul",
    "NAC*": "nac>nac_mul",
    "NAC+": "nac>nac",
    "NALU": "nalu>nalu",
    "Linear": "linear>linear",
    "ReLU": "mlp:relu",
    "ReLU6": "mlp:relu6",
    "all-six": "select_nau>(nau|nmu|int_snap_npu|snap_npu)",
}
"""The papers' row names (case-sensitive, as printed in the papers) and the specs they stand for,
and nalm's ``all-six`` (one configuration for + − × ÷ z² √, with the policy of the same name)."""

TORCH_CELLS: dict[str, type[nn.Module]] = {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell}
"""Recurrent cells of torch (with a linear head unless one is named)."""

BUILT_FROM = "nalm_built_from"
"""The attribute in which a model made by :meth:`ModelSpec.build` or :meth:`ModelSpec.cell_and_head`
keeps how it was made: the spec's JSON, ``call`` (which of the two), ``arguments`` and, for a cell
or head, ``part``. :func:`nalm.save` stores it, so :func:`nalm.load` rebuilds through the grammar.
"""

_FORMS = "UNIT, FIRST>SECOND>…, mlp:ACTIVATION, lstm/gru/rnn[>HEAD], acc:UNIT or a paper name"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec (build one with :func:`parse`).

    Attributes:
        layers: the feed-forward layers (registry unit names or ``mlp:ACTIVATION``), or for a
            recurrent model the layers of its head (empty: the default head).
        cell: ``None`` for a feed-forward model; else the recurrent cell: ``lstm``, ``gru``,
            ``rnn``, a unit name (a unit cell) or ``acc:UNIT`` (an accumulator cell).
    """

    layers: tuple[str, ...] = ()
    cell: str | None = None

    def __str__(self) -> str:
        return ">".join(([self.cell] if self.cell else []) + list(self.layers))

    @property
    def recurrent(self) -> bool:
        """Whether the model reads sequences."""
        return self.cell is not None

    @property
    def units(self) -> tuple[str, ...]:
        """The registry units of a feed-forward model (``()`` for an MLP baseline)."""
        if self.cell is not None or self.activation is not None:
            return ()
        return self.layers

    def vet(self, options: Mapping[str, Any] | None = None) -> None:
        """Refuse, in one sentence and before anything trains, a registry unit of this spec
        whose ``options`` are wrong or which fails the unit contract's quick checks (a unit
        from outside nalm; see :func:`nalm.units.registry.vet`)."""
        cell = (self.cell or "").removeprefix("acc:")
        layers = [n for layer in self.layers for n in branch_units(layer) or (layer,)]
        names = [cell, *layers] if cell not in TORCH_CELLS else layers
        for name in dict.fromkeys(n for n in names if n and not n.startswith("mlp:")):
            registry.vet(name, options if self.cell is None else None)

    @property
    def activation(self) -> str | None:
        """The activation of an MLP baseline spec (``mlp:relu`` → ``"relu"``), else ``None``."""
        if self.cell is None and len(self.layers) == 1 and self.layers[0].startswith("mlp:"):
            return self.layers[0].removeprefix("mlp:")
        return None

    @property
    def output_unit(self) -> str | None:
        """The registry name of the unit that computes the output, if one does (not for
        branches, where the selection decides)."""
        last = self.layers[-1] if self.layers else (self.cell or "").removeprefix("acc:")
        if last.startswith("mlp:") or last in TORCH_CELLS or branch_units(last):
            return None
        return last

    def default_lr(self, fallback: float) -> float:
        """The learning rate the output unit's paper used (its class's ``lr``), else
        ``fallback`` (e.g. the benchmark's)."""
        unit = self.output_unit
        lr = registry.get(unit).lr if unit is not None else None
        return fallback if lr is None else lr

    @property
    def paper_name(self) -> str | None:
        """The paper's row name for this spec, if it has one (``nau>nmu`` → ``NMU``)."""
        text = str(self)
        return next((k for k, v in ALIASES.items() if v == text and k != "NAC*"), None)

    def build(
        self,
        in_features: int,
        out_features: int,
        hidden: int | Sequence[int] = 2,
        *,
        options: Mapping[str, Any] | None = None,
        preset: str | None = None,
    ) -> nn.Module:
        """The model ``(*, in_features) → (*, out_features)`` (recurrent: ``(N, T, in) → (N,
        out)``), with fresh parameters.

        Args:
            in_features, out_features: the task's sizes (for a recurrent model, ``in_features``
                is the size of one step).
            hidden: the width between stacked layers (an int, or one width per gap); an
                ``mlp:ACTIVATION`` spec's hidden layer sizes; a recurrent model's state size.
            options: constructor options of every unit (e.g. ``{"eps": 1e-6}``).
            preset: ``"seed"`` for the seed code's initialisation of the units that have it.
        """
        if self.cell is not None:
            model: nn.Module = self._recurrent(in_features, out_features, hidden)
        else:
            widths = _widths(hidden, len(self.layers), self.activation is not None)
            model = self._stack(self.layers, in_features, out_features, widths, options, preset)
        arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "hidden": hidden if isinstance(hidden, int) else list(hidden),
            "options": dict(options or {}),
            "preset": preset,
        }
        return self._tag(model, "build", arguments)

    def cell_and_head(
        self, n_in: int, n_out: int, hidden: int, *, initial: float = 0.0
    ) -> tuple[nn.Module, nn.Module]:
        """A recurrent spec's cell and head as the sequence experiments use them: a torch cell
        ``n_in → hidden`` with a linear head (or the units named after ``>``, ``hidden → n_out``);
        a unit or accumulator cell with no head named is the whole model, ``n_in → n_out``, its
        state the output (the head is ``nn.Identity``). ``initial``: a unit cell's first state.
        """
        torch_cell = self.cell in TORCH_CELLS
        if not torch_cell and not self.layers:
            cell, head = self._cell(n_in, n_out, initial), nn.Identity()
        else:
            layers = () if torch_cell and self.layers == ("linear",) else self.layers
            cell, head = self._cell(n_in, hidden, initial), self._head(layers, hidden, n_out)
        arguments = {"n_in": n_in, "n_out": n_out, "hidden": hidden, "initial": initial}
        return (
            self._tag(cell, "cell_and_head", arguments, part="cell"),
            self._tag(head, "cell_and_head", arguments, part="head"),
        )

    def to_json(self) -> dict[str, str]:
        """A JSON-ready form that :meth:`from_json` reads back."""
        return {"spec": str(self), "kind": "recurrent" if self.recurrent else "feedforward"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelSpec:
        """The spec :meth:`to_json` wrote (checked as if typed on the command line)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("spec"), str):
            raise NalmError(
                f"a model description must be an object with a 'spec' string; got {data!r}"
            )
        kind = data.get("kind", "feedforward")
        if kind not in ("feedforward", "recurrent"):
            raise NalmError(
                f"a model description's kind must be feedforward or recurrent; got {kind!r}"
            )
        return parse(data["spec"], recurrent=kind == "recurrent")

    # -- building ---------------------------------------------------------------------------
    def _tag(
        self, model: nn.Module, call: str, arguments: dict[str, Any], part: str | None = None
    ) -> nn.Module:
        """Note on ``model`` how it was built (:data:`BUILT_FROM`), where the arguments are plain
        JSON values; ``nalm.save`` stores the note and ``nalm.load`` builds from it again."""
        if _plain_json(arguments):
            tag = {**self.to_json(), "call": call, "arguments": arguments}
            if part is not None:
                tag["part"] = part
            model.__dict__[BUILT_FROM] = tag
        return model

    @staticmethod
    def _stack(
        layers: Sequence[str],
        n_in: int,
        n_out: int,
        widths: Sequence[int] | tuple[tuple[int, ...]],
        options: Mapping[str, Any] | None,
        preset: str | None,
    ) -> nn.Module:
        if len(layers) == 1 and layers[0].startswith("mlp:"):  # widths: the MLP's hidden layers
            activation = layers[0].removeprefix("mlp:")
            return MLP(n_in, n_out, hidden=tuple(widths[0]), activation=activation)  # type: ignore[arg-type]
        sizes = [n_in, *widths, n_out]
        if len(layers) > 1:  # one unit checks its own sizes
            check_stack(sizes, f"model {'>'.join(layers)} with hidden {list(widths)}")
        built = []
        for name, (a, b) in zip(layers, itertools.pairwise(sizes), strict=True):
            if name.startswith("mlp:"):
                built.append(MLP(a, b, hidden=(a,), activation=name.removeprefix("mlp:")))
            elif branch_units(name):
                units = [
                    registry.create(n, a, b, preset=preset, **dict(options or {}))
                    for n in branch_units(name)
                ]
                built.append(Branches(units))
            else:
                built.append(registry.create(name, a, b, preset=preset, **dict(options or {})))
        return built[0] if len(built) == 1 else nn.Sequential(*built)

    def _recurrent(self, n_in: int, n_out: int, hidden: int | Sequence[int]) -> Recurrent:
        if not isinstance(hidden, int):
            raise NalmError(f"a recurrent model's hidden size is one number; got {hidden!r}")
        unit = (self.cell or "").removeprefix("acc:")
        head = self.layers or (() if self.cell in TORCH_CELLS else (unit,))
        return Recurrent(self._cell(n_in, hidden), self._head(head, hidden, n_out))

    def _cell(self, n_in: int, size: int, initial: float = 0.0) -> nn.Module:
        """The recurrent cell ``n_in → size`` (``initial``: a unit cell's first state)."""
        name = self.cell or ""
        if name in TORCH_CELLS:
            return TORCH_CELLS[name](n_in, size)
        unit = name.removeprefix("acc:")
        if name.startswith("acc:"):
            return AccumulatorCell(unit, n_in, size)
        return UnitCell(unit, n_in, size, initial=initial)

    def _head(self, layers: Sequence[str], hidden: int, n_out: int) -> nn.Module:
        """The head on the state: ``nn.Linear`` when no layers are named, else their stack."""
        if not layers:
            return nn.Linear(hidden, n_out)
        return self._stack(layers, hidden, n_out, [hidden] * (len(layers) - 1), None, None)


def parse(text: str, *, layers: int | None = None, recurrent: bool = False) -> ModelSpec:
    """Parse a model spec (see the module's grammar).

    Args:
        text: the spec, e.g. ``"nau>nmu"``, ``"mlp:relu"``, ``"NMU"``, ``"lstm>nalu"``.
        layers: how many layers a single unit name stands for (the ``madsen`` suite's ``nau`` is
            ``nau>nau``; ``nalm train --layers 3``); a stack names its own depth. With
            ``layers=1`` a paper name stands for its output unit alone (the ``single-module``
            suite) and a stack is refused.
        recurrent: the task is a sequence: a unit name is a unit cell (``nalu`` reads
            ``h_t = nalu([x_t, h_{t−1}])``).

    Raises:
        NalmError: in one sentence, for an unknown unit or activation or a malformed spec.
    """
    if not isinstance(text, str) or not text.strip():
        raise NalmError(f"a model spec must be a non-empty string; got {text!r}")
    text = text.strip()
    resolved = ALIASES.get(text, text)
    accumulate = resolved.startswith("acc:")
    parts = tuple(tidy_layer(p) for p in resolved.removeprefix("acc:").split(">"))
    if not all(parts) or len(parts) > MAX_LAYERS:
        raise NalmError(f"model spec {text!r} is not {_FORMS}")
    if accumulate or parts[0] in TORCH_CELLS or recurrent:
        for part in parts:
            _check_layer(part)
            if branch_units(part):
                raise NalmError(f"model spec {text!r}: branches are for feed-forward models")
        return _recurrent_spec(text, parts, accumulate)
    if layers is not None:
        check_size(layers, "layers", limit=MAX_LAYERS)
        if layers == 1 and len(parts) > 1 and text not in ALIASES:
            raise NalmError(f"this model is one unit; {text!r} names {len(parts)}")
    for part in parts:
        _check_layer(part)
    if any(p in TORCH_CELLS for p in parts):
        raise NalmError(f"model spec {text!r}: a recurrent cell must come first")
    if layers == 1:
        return ModelSpec(layers=parts[-1:])
    if layers is not None and len(parts) == 1 and not parts[0].startswith("mlp:"):
        return ModelSpec(layers=parts * layers)
    return ModelSpec(layers=parts)


def _check_layer(part: str) -> None:
    if part.startswith("(") or part.endswith(")") or "|" in part:
        units = branch_units(part)
        if len(units) < 2 or not all(units):
            raise NalmError(f"a branch layer is (UNIT|UNIT|…), two units or more; got {part!r}")
        for unit in units:
            if unit.startswith("mlp:") or unit in TORCH_CELLS or "(" in unit or ")" in unit:
                raise NalmError(f"branch layer {part!r}: {unit!r} is not a registry unit")
            registry.get(unit)  # names the valid units
        return
    if part.startswith("mlp:"):
        make_activation(part.removeprefix("mlp:"))  # names a bad activation (draws nothing)
    elif part not in TORCH_CELLS:
        registry.get(part)  # names the valid units


def _recurrent_spec(text: str, parts: tuple[str, ...], accumulate: bool) -> ModelSpec:
    first, head = parts[0], parts[1:]
    if any(p in TORCH_CELLS for p in head):
        raise NalmError(f"model spec {text!r}: only its first part may be a recurrent cell")
    if first.startswith("mlp:") or (accumulate and first in TORCH_CELLS):
        raise NalmError(f"model spec {text!r}: {first!r} cannot be a recurrent cell")
    return ModelSpec(layers=head, cell=f"acc:{first}" if accumulate else first)


def _widths(hidden: int | Sequence[int], n_layers: int, mlp: bool) -> Any:
    """The sizes between layers (an MLP spec: its hidden layers, as one tuple)."""
    sizes = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    for size in sizes:
        check_size(size, "hidden")
    if mlp:
        return (sizes,)
    if isinstance(hidden, int):
        return [hidden] * (n_layers - 1)
    if len(sizes) != n_layers - 1:
        raise NalmError(
            f"a stack of {n_layers} layers has {n_layers - 1} widths between them; got "
            f"hidden={list(sizes)}"
        )
    return list(sizes)


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is made of JSON's plain values only (strings as keys)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False
