"""What is learned: input ranges, typed formulas, fixed datasets and their evaluation sets."""

from . import seed_demos
from .arithmetic import OPERATIONS, ArithmeticTask, Operation, get_operation
from .base import DatasetTask, Task
from .expression import Expression
from .formula import ExpressionTask
from .ranges import Range

__all__ = [
    "OPERATIONS",
    "ArithmeticTask",
    "DatasetTask",
    "Expression",
    "ExpressionTask",
    "Operation",
    "Range",
    "Task",
    "get_operation",
    "seed_demos",
]
