"""Trask et al. (2018), Table 1, as quoted by reproductions: now kept in
:mod:`nalm.reporting.published`.

Examples:
    >>> published("static", "extrapolation", "ReLU6", "add"), as_number(">999")
    ('42.6', 1000.0)
"""

from __future__ import annotations

from ..reporting.published import OPERATION_ORDER, as_number
from ..reporting.published import table1_score as published

__all__ = ["OPERATION_ORDER", "as_number", "published"]
