"""What is learned: input ranges, typed formulas, datasets and CSV tables, evaluation sets."""

from . import seed_demos
from .arithmetic import OPERATIONS, ArithmeticTask, Operation, get_operation
from .base import Batches, DatasetTask, GeneratedTask, Task
from .expression import Expression
from .formula import ExpressionTask
from .ranges import Range
from .table import Table, read_table, table_task

__all__ = [
    "OPERATIONS",
    "ArithmeticTask",
    "Batches",
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
