"""What is learned: input ranges, typed formulas, fixed datasets and their evaluation sets."""

from . import seed_demos
from .base import DatasetTask, Task
from .expression import Expression
from .formula import ExpressionTask
from .ranges import Range

__all__ = ["DatasetTask", "Expression", "ExpressionTask", "Range", "Task", "seed_demos"]
