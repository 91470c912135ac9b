"""What is learned: input ranges, typed formulas, datasets and CSV tables, evaluation sets.

Each public name is imported from its module on first use, so that a module needing only the
task base classes does not load sympy (the formulas' parser).
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

_HOMES = {
    "seed_demos": "",
    **dict.fromkeys(("OPERATIONS", "ArithmeticTask", "Operation", "get_operation"), "arithmetic"),
    **dict.fromkeys(("DatasetTask", "GeneratedTask", "Task"), "base"),
    "Expression": "expression",
    "ExpressionTask": "formula",
    "Range": "ranges",
    **dict.fromkeys(("Table", "read_table", "table_task"), "table"),
}

if TYPE_CHECKING:  # what type checkers and the API reference read
    from . import seed_demos
    from .arithmetic import OPERATIONS, ArithmeticTask, Operation, get_operation
    from .base import DatasetTask, GeneratedTask, Task
    from .expression import Expression
    from .formula import ExpressionTask
    from .ranges import Range
    from .table import Table, read_table, table_task

__all__ = [
    "OPERATIONS",
    "ArithmeticTask",
    "DatasetTask",
    "Expression",
    "ExpressionTask",
    "GeneratedTask",
    "Operation",
    "Range",
    "Table",
    "Task",
    "get_operation",
    "read_table",
    "seed_demos",
    "table_task",
]


def __getattr__(name: str) -> Any:
    """``nalm.tasks.NAME``: the public name, its module imported on first use (a submodule,
    such as ``nalm.tasks.arithmetic``, too)."""
    if name not in _HOMES:
        if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'nalm.tasks' has no attribute {name!r}")
    home = _HOMES[name]
    value = import_module(f"{__name__}.{home or name}")
    if home:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
