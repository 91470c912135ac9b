"""Fitting models: the training loop, many seeds at once, regulariser schedules and policies."""

from .cohort import CohortResult, EnsembleResult, SeedResult, fit_seeds
from .fit_models import FitResult, evaluate, fit
from .policies import POLICIES, Policy, get_policy, recommended_policy
from .restarts import Deadline, Stall
from .schedule import Geometric, Ramp

__all__ = [
    "POLICIES",
    "CohortResult",
    "Deadline",
    "EnsembleResult",
    "FitResult",
    "Geometric",
    "Policy",
    "Ramp",
    "SeedResult",
    "Stall",
    "evaluate",
    "fit",
    "fit_seeds",
    "get_policy",
    "recommended_policy",
]
