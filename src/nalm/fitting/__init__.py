"""Fitting units to a user's table and reading each one's formula back (``nalm fit``).

Each model spec (``nau``, ``nmu``, ``real_npu``, ``nau>nmu``, ``mlp:relu``, ...) is trained with
several seeds at once on the table's rows; the seed with the lowest training MSE represents the
spec. Its formula is read with :func:`nalm.symbolic.extract_formula` and evaluated on the same
rows, so the report shows both what the network does and what the snapped formula does.

The best candidate is the one whose formula fits the training rows: among formulas that are
exact there (MSE ≤ 1e-9 × the mean square of the target), the shortest wins; otherwise the lowest
formula MSE. A spec without a formula (an MLP) competes with its model's MSE.

:mod:`.candidates` trains and reads; :mod:`.run` is the command (:class:`FitSettings` on the
experiment frame) and its report.
"""

from .candidates import (
    DEFAULT_UNITS,
    EXACT,
    Candidate,
    best_candidate,
    default_lr,
    fit_candidates,
    parse_specs,
    scaled_regularizer,
)
from .run import FitResult, FitSettings, candidates_table, run_fit, table_headers

__all__ = [
    "DEFAULT_UNITS",
    "EXACT",
    "Candidate",
    "FitResult",
    "FitSettings",
    "best_candidate",
    "candidates_table",
    "default_lr",
    "fit_candidates",
    "parse_specs",
    "run_fit",
    "scaled_regularizer",
    "table_headers",
]
