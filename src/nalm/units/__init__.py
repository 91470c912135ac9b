"""Arithmetic units and baselines, one file per family, behind one contract (see :class:`Unit`).

>>> from nalm import units
>>> units.get("nalu").__name__
'NALU'
"""

from .base import (
    ClampedUnit,
    Unit,
    after_step,
    factory_kwargs,
    regularization,
    sparsity_penalty,
)
from .baselines import MLP, Linear, activation_names, make_activation
from .checker import CheckReport, CheckResult, add_check, check
from .dmu import DMU
from .inalu import INALU
from .laws import Affine, ScaledPower
from .nac import NAC, NACMul, nac_weight
from .nalu import GNALU, NALU
from .nau import NAU, IntNAU, SelectNAU
from .nmru import NMRU, NRU
from .nmu import NMU
from .npu import NPU, IntSnapNPU, NaiveNPU, RealNaiveNPU, RealNPU, SnapNPU
from .recurrent import (
    AccumulatorCell,
    GRUCell,
    LSTMCell,
    Recurrent,
    RNNCell,
    UnitCell,
    recurrent,
)
from .registry import build, create, get, names, options, register

for _name, _cls in (
    ("nac", NAC),
    ("nac_mul", NACMul),
    ("nalu", NALU),
    ("gnalu", GNALU),
    ("inalu", INALU),
    ("nau", NAU),
    ("select_nau", SelectNAU),
    ("int_nau", IntNAU),
    ("nmu", NMU),
    ("npu", NPU),
    ("real_npu", RealNPU),
    ("naive_npu", NaiveNPU),
    ("real_naive_npu", RealNaiveNPU),
    ("snap_npu", SnapNPU),
    ("int_snap_npu", IntSnapNPU),
    ("nmru", NMRU),
    ("nru", NRU),
    ("linear", Linear),
    ("power", ScaledPower),
    ("affine", Affine),
    ("dmu", DMU),
    ("mlp", MLP),
):
    register(_name, _cls)

__all__ = [
    "DMU",
    "GNALU",
    "INALU",
    "MLP",
    "NAC",
    "NALU",
    "NAU",
    "NMRU",
    "NMU",
    "NPU",
    "NRU",
    "AccumulatorCell",
    "Affine",
    "CheckReport",
    "CheckResult",
    "ClampedUnit",
    "GRUCell",
    "IntNAU",
    "IntSnapNPU",
    "LSTMCell",
    "Linear",
    "NACMul",
    "NaiveNPU",
    "RNNCell",
    "RealNPU",
    "RealNaiveNPU",
    "Recurrent",
    "ScaledPower",
    "SelectNAU",
    "SnapNPU",
    "Unit",
    "UnitCell",
    "activation_names",
    "add_check",
    "after_step",
    "build",
    "check",
    "create",
    "factory_kwargs",
    "get",
    "make_activation",
    "nac_weight",
    "names",
    "options",
    "recurrent",
    "register",
    "regularization",
    "sparsity_penalty",
]
