"""Arithmetic units and baselines, one file per family, behind one contract (see :class:`Unit`).

>>> from nalm import units
>>> units.get("nalu").__name__
'NALU'
"""

from .base import Unit, after_step, regularization
from .baselines import MLP, Linear, activation_names, make_activation
from .nac import NAC, NACMul, nac_weight
from .nalu import NALU
from .registry import build, create, get, names, options, register

for _name, _cls in (
    ("nac", NAC),
    ("nac_mul", NACMul),
    ("nalu", NALU),
    ("linear", Linear),
    ("mlp", MLP),
):
    register(_name, _cls)

__all__ = [
    "MLP",
    "NAC",
    "NALU",
    "Linear",
    "NACMul",
    "Unit",
    "activation_names",
    "after_step",
    "build",
    "create",
    "get",
    "make_activation",
    "nac_weight",
    "names",
    "options",
    "register",
    "regularization",
]
