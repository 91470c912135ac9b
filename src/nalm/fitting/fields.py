"""The fields of ``nalm fit``'s settings (:class:`~nalm.app.fit.FitSettings`) and the
tables they name, apart from the command itself, so that the law search's report
(:mod:`.law_report`) can name their type without importing the command."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from ..tasks.base import DatasetTask
from ..tasks.table import Table, read_table, table_task
from .candidates import fit_candidates
from .search import find_law


def _default(name: str) -> Any:
    """A training setting's default: :func:`fit_candidates`' keyword, written there once."""
    return inspect.signature(fit_candidates).parameters[name].default


@dataclass(frozen=True)
class FitFields:
    """The fields of ``nalm fit``'s settings: the CSV ``data`` (and ``test``) file, the
    ``target`` column, and either the law search (no ``units``: :func:`~.search.find_law`
    within ``budget`` seconds) or the ``units`` to try with their training settings (see
    :func:`fit_candidates`).

    ``steps``, ``seeds`` and ``lr`` left ``None`` take the chosen mode's defaults (the search:
    4,000 steps, 32 seeds, 0.02; units: 10,000 steps, 3 seeds, 0.05 or 1e-3 for an MLP)."""

    data: str = ""
    target: str = ""
    test: str | None = None
    units: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    steps: int | None = None
    seeds: int | None = None
    first_seed: int = _default("first_seed")
    lr: float | None = _default("lr")
    hidden: int = _default("hidden")
    batch_size: int = _default("batch_size")
    tolerance: float = _default("tolerance")
    budget: float = 120.0

    def __post_init__(self) -> None:
        defaults = _SEARCH if not self.units else {k: _default(k) for k in ("steps", "seeds")}
        for key, value in defaults.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if not self.units and self.lr is None:
            object.__setattr__(self, "lr", _SEARCH["lr"])

    @property
    def search(self) -> bool:
        """Whether this is the law search (no ``units`` named)."""
        return not self.units

    def tables(self) -> tuple[Table, Table | None, DatasetTask, list[str]]:
        """The training table, the test table, the task and the input columns' names (each file
        read once: a pipe such as ``<(cat data.csv)`` or ``/dev/stdin`` can be read only once)."""
        read = self.__dict__.get("_tables")
        if read is None:
            train_table = read_table(self.data)
            test_table = read_table(self.test, min_rows=1) if self.test is not None else None
            read = (train_table, test_table)
            object.__setattr__(self, "_tables", read)  # a cache, not a setting
        train_table, test_table = read
        task, names = table_task(train_table, self.target, test_table, self.exclude)
        return train_table, test_table, task, list(names)


_SEARCH = {k: inspect.signature(find_law).parameters[k].default for k in ("steps", "seeds", "lr")}
