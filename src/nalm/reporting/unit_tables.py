"""The units at a glance (``nalm units``) and a trained model's weights, for the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import NalmError
from ..units.base import Unit
from .numbers import fmt, table

if TYPE_CHECKING:
    from ..train import FitResult

UNIT_COLUMNS = ("unit", "class", "operations", "keeps sign", "parameters", "policy", "paper")


def units_overview() -> list[list[str]]:
    """One row per registered unit, in :data:`UNIT_COLUMNS` order, for ``nalm units``.

    Examples:
        >>> row = next(r for r in units_overview() if r[0] == "nmu")
        >>> row[:5]
        ['nmu', 'NMU', '×', 'yes', 'W (out, in)']
    """
    from ..units import registry

    rows = []
    for name in registry.names():
        cls = registry.get(name)
        sign = {True: "yes", False: "no", None: "-"}[cls.keeps_sign]
        rows.append(
            [name, cls.__name__, cls.operations, sign, _parameters(name), cls.policy, cls.paper]
        )
    return rows


def _parameters(name: str) -> str:
    """``W_hat (out, in), G (out,)``: parameter names with symbolic shapes."""
    from ..units import registry

    n_in, n_out = 3, 2  # distinct sizes, so shapes can be read back as symbols
    needed = registry.required_options(name)
    if needed:  # a unit from outside nalm may have options without a default
        return "needs " + " ".join(f"--option {o}=VALUE" for o in needed)
    try:
        unit = registry.create(name, n_in, n_out)
    except Exception as e:  # a unit from outside: its error must not hide the other units
        return f"cannot be built ({type(e).__name__}): see nalm units check {name}"
    own = list(unit.named_parameters(recurse=False))
    if not own:
        return "torch.nn.Linear weights and biases"
    symbols = {n_in: "in", n_out: "out", 2 * n_in: "2·in"}
    parts = []
    for pname, p in own:
        dims = [symbols.get(d, str(d)) for d in p.shape]
        parts.append(f"{pname} ({', '.join(dims)}{',' if len(dims) == 1 else ''})")
    return ", ".join(parts)


def describe_weights(model: nn.Module, decimals: int = 3) -> str:
    """Each unit's effective weights, rounded: ``layer 0 NAC  W = [[1.0, -1.0]]``.

    Examples:
        >>> from nalm import NAU
        >>> unit = NAU(2, 1)
        >>> with torch.no_grad():
        ...     _ = unit.W.copy_(torch.tensor([[1.0, -0.99996]]))
        >>> print(describe_weights(unit))
        layer 0 NAU  W = [[1.0, -1.0]]
    """
    units = [(name, m) for name, m in model.named_modules() if isinstance(m, Unit)]
    lines = []
    for name, unit in units:
        label = f"layer {name}" if name else "layer 0"
        for key, w in unit.effective_weights().items():
            values = _rounded(w, decimals)
            lines.append(f"{label} {type(unit).__name__}  {key} = {values}")
    return "\n".join(lines)


def _rounded(w: torch.Tensor, decimals: int) -> object:
    if w.numel() > 64:
        return f"<{tuple(w.shape)} tensor>"
    # + 0.0 turns -0.0 into 0.0 so that printed zeros read cleanly.
    return (torch.round(w.double(), decimals=decimals) + 0.0).tolist()


def formula_line(model: torch.nn.Module, n_inputs: int) -> str:
    """``y = x0 + x1    [2 weight(s) snapped ...]``, or why the model has no formula."""
    from ..symbolic import extract_formula

    try:
        extraction = extract_formula(model, tolerance=0.05)
    except NalmError as e:
        return f"none ({e})"
    return f"y = {extraction.formula}    [{extraction.summary()}]"


def results_table(results: Mapping[str, FitResult]) -> str:
    """Final interpolation/extrapolation MSE per model, with divergence."""
    rows = []
    for name, r in results.items():
        status = f"diverged at step {r.diverged_at}" if r.diverged else "ok"
        rows.append(
            [
                name,
                fmt(r.final.get("interpolation_mse")),
                fmt(r.final.get("extrapolation_mse")),
                r.steps,
                status,
            ]
        )
    return table(["model", "interpolation MSE", "extrapolation MSE", "steps", "status"], rows)
