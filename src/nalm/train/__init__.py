"""Fitting models: the training loop and the regulariser schedules."""

from .loop import FitResult, evaluate, fit
from .schedule import Ramp

__all__ = ["FitResult", "Ramp", "evaluate", "fit"]
