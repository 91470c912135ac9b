"""The benchmark's published figures: now kept in :mod:`nalm.reporting.published`.

Examples:
    >>> published("madsen", "NAU", "add").success
    100
"""

from __future__ import annotations

from ..reporting.published import MADSEN, PUBLISHED, Published
from ..reporting.published import benchmark_figure as published

__all__ = ["MADSEN", "PUBLISHED", "Published", "published"]
