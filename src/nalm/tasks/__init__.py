"""What is learned: input ranges, typed formulas, datasets and CSV tables, evaluation sets.

Each public name is imported from its module on first use, so that a module needing only the
task base classes does not load sympy (the formulas' parser).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import names

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

__getattr__, __dir__ = names(
    __name__, __all__, ("ranges", "base", "arithmetic", "expression", "formula", "table")
)
