"""What the reproductions share: number formatting (the resumable parts store and the settings
hash are the experiment frame's, :mod:`nalm.experiment`, re-exported here)."""

from __future__ import annotations

import math

from ..experiment import PARTS_FILE, Parts, settings_id

__all__ = ["PARTS_FILE", "Parts", "finite_or_none", "number", "settings_id"]


def finite_or_none(value: float) -> float | None:
    """``value`` for JSON, with NaN and ±inf as ``None``."""
    return value if math.isfinite(value) else None


def number(value: float | None, digits: int = 1) -> str:
    """A score or error for a table: ``12.3``, ``1.2e+04``, ``inf`` or ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** (-digits)):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"
