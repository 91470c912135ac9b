"""Fitting models: the training loop, the regulariser schedules and the training policies."""

from .loop import FitResult, evaluate, fit
from .policies import POLICIES, Policy, Stall, get_policy, recommended_policy
from .schedule import Geometric, Ramp

__all__ = [
    "POLICIES",
    "FitResult",
    "Geometric",
    "Policy",
    "Ramp",
    "Stall",
    "evaluate",
    "fit",
    "get_policy",
    "recommended_policy",
]
