"""What the reproductions shared before the experiment frame, under the names they had: the
resumable parts store and the settings hash (now :mod:`nalm.experiment`'s) and two number
formatters (now :mod:`nalm.reporting`'s)."""

from __future__ import annotations

from ..experiment import PARTS_FILE, Parts, settings_id
from ..reporting.numbers import finite_or_none, number

__all__ = ["PARTS_FILE", "Parts", "finite_or_none", "number", "settings_id"]
