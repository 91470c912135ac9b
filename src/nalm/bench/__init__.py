"""The benchmark behind ``nalm bench``: suites of cells (model × operation × range), sweeps that
train every seed of a cell as one batched model, the SQLite store of result rows and the report.

Public names (each importable from ``nalm.bench``, loaded on first use so that importing the
package stays cheap):

- :class:`~nalm.bench.suites.Suite`, :data:`~nalm.bench.suites.SUITES`,
  :func:`~nalm.bench.suites.get_suite`: the suites (``madsen``, ``single-module``, ``table1``);
- :class:`~nalm.bench.sweep.Sweep`: ``nalm bench run`` as a function of its flags;
- :class:`~nalm.bench.runner.Settings`, :func:`~nalm.bench.runner.run_sweep`: the settings of a
  cell and the runner of planned cells;
- :class:`~nalm.bench.store.Store`, :class:`~nalm.bench.rows.ResultRow`: the database and its
  rows;
- :func:`~nalm.bench.report.summarize`, :func:`~nalm.bench.report.write_report`: the report.

Example:
    >>> from nalm.bench import get_suite
    >>> get_suite("madsen").operations
    ('add', 'sub', 'mul', 'div', 'squared', 'root')
"""

from __future__ import annotations

from ..lazy import names

__all__ = [
    "SUITES",
    "ResultRow",
    "Settings",
    "Store",
    "Suite",
    "Sweep",
    "get_suite",
    "run_sweep",
    "summarize",
    "write_report",
]

__getattr__, __dir__ = names(
    __name__, __all__, ("suites", "sweep", "runner", "store", "rows", "report")
)
