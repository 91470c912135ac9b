"""Fitting units to a user's table and reading each one's formula back (``nalm fit``).

Each model spec (``nau``, ``nmu``, ``real_npu``, ``nau>nmu``, ``mlp:relu``, ...) is trained with
several seeds at once on the table's rows; the seed with the lowest training MSE represents the
spec. Its formula is read with :func:`nalm.symbolic.extract_formula` and evaluated on the same
rows, so the report shows both what the network does and what the snapped formula does.

The best candidate is the one whose formula fits the training rows: among formulas that are
exact there (MSE ≤ 1e-9 × the mean square of the target), the shortest wins; otherwise the lowest
formula MSE. A spec without a formula (an MLP) competes with its model's MSE. No candidate is
called best when even that one leaves more than 1 % of the target's variance unexplained.

The units train on the table divided by powers of ten chosen so that the law keeps its form
(:mod:`.scaling`), and every formula is put back in the table's units; formulas are written over
the column names, or over ``x0, x1, …`` with a legend when a name is not one symbol
(:mod:`.names`).

:mod:`.candidates` trains and reads; the command (``FitSettings`` on the experiment frame) and its
report are :mod:`nalm.app.fit`.
"""

from .candidates import (
    CLOSE,
    DEFAULT_UNITS,
    EXACT,
    Candidate,
    best_candidate,
    closest_candidate,
    default_lr,
    fit_candidates,
    parse_specs,
    scaled_regularizer,
    unexplained,
)
from .names import formula_names
from .scaling import Scaling
from .search import Law, Structure, default_structures, find_law

__all__ = [
    "CLOSE",
    "DEFAULT_UNITS",
    "EXACT",
    "Candidate",
    "Law",
    "Scaling",
    "Structure",
    "best_candidate",
    "closest_candidate",
    "default_lr",
    "default_structures",
    "find_law",
    "fit_candidates",
    "formula_names",
    "parse_specs",
    "scaled_regularizer",
    "unexplained",
]
