"""Plain-text tables and weight printouts for the command line."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .units.base import Unit


def fmt(value: float | None) -> str:
    """A number for a table: ``1.2e-05``, ``nan`` or ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a rule under the header."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe_weights(model: nn.Module, decimals: int = 3) -> str:
    """Each unit's effective weights, rounded: ``layer 0 NAC  W = [[1.0, -1.0]]``."""
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
