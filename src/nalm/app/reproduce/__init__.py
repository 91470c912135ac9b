"""Reproductions of published experiments: ``nalm reproduce identity`` (Trask et al. 2018,
Figure 1) and ``nalm reproduce table1`` (their Table 1, static and recurrent)."""

from .identity import TRASK_ACTIVATIONS, IdentityResult, IdentitySettings, run_identity
from .table1 import Table1Result, Table1Settings, run_table1

__all__ = [
    "TRASK_ACTIVATIONS",
    "IdentityResult",
    "IdentitySettings",
    "Table1Result",
    "Table1Settings",
    "run_identity",
    "run_table1",
]
