"""The benchmark behind ``nalm bench``: suites of cells (model × operation × range), sweeps that
train every seed of a cell as one batched model, the SQLite store of result rows and the report.

Public names (each importable from ``nalm.bench``, loaded on first use so that importing the
package stays cheap):

- :class:`~nalm.bench.suites.Suite`, :data:`~nalm.bench.suites.SUITES`,
  :func:`~nalm.bench.suites.get_suite`: the suites (``madsen``, ``single-module``, ``table1``);
- :class:`~nalm.bench.sweep.Sweep`: ``nalm bench run`` as a function of its flags;
- :class:`~nalm.bench.runner.Settings`, :func:`~nalm.bench.runner.plan_sweep`,
  :class:`~nalm.bench.runner.Plan`, :func:`~nalm.bench.runner.run_sweep`: the settings of a
  cell, a sweep checked and planned once, and the runner of a plan;
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

_HOMES = {
    "Plan": "runner",
    "ResultRow": "rows",
    "SUITES": "suites",
    "Settings": "runner",
    "Store": "store",
    "Suite": "suites",
    "Sweep": "sweep",
    "get_suite": "suites",
    "plan_sweep": "runner",
    "run_sweep": "runner",
    "summarize": "report",
    "write_report": "report",
}

__all__ = [
    "SUITES",
    "Plan",
    "ResultRow",
    "Settings",
    "Store",
    "Suite",
    "Sweep",
    "get_suite",
    "plan_sweep",
    "run_sweep",
    "summarize",
    "write_report",
]

__getattr__, __dir__ = names(__name__, __all__, _HOMES)
