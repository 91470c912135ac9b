"""nalm — Neural Arithmetic Logic Modules for PyTorch.

Arithmetic units that learn formulas and keep them exact far outside the training range, behind
one ``nn.Linear``-like contract, with a trainer and the tasks to test them.

>>> import torch
>>> import nalm
>>> from nalm import NAC, ExpressionTask, fit
>>> _ = torch.manual_seed(0)
>>> task = ExpressionTask("x0 - x1", train_range="1,2", test_range="10,100")
>>> model = NAC(2, 1)
>>> result = fit(model, task, steps=2000, lr=0.5, progress=False)
>>> model.weight().detach().round(decimals=2)
tensor([[ 1., -1.]])
>>> result.final["extrapolation_mse"] < 0.1
True
>>> nalm.to_formula(model)
x0 - x1
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

# Each public name's module: imported on first use, so that `import nalm` (and the `nalm`
# command's start) does not load torch, sympy or matplotlib before they are needed.
_HOMES = {
    **dict.fromkeys(("tasks", "units"), ""),
    **dict.fromkeys(
        ("ArithmeticTask", "DatasetTask", "Expression", "ExpressionTask", "Range", "Task"),
        ".tasks",
    ),
    "NalmError": ".errors",
    **dict.fromkeys(("load", "save"), ".persist"),
    **dict.fromkeys(("extract_formula", "to_formula", "verify"), ".symbolic"),
    **dict.fromkeys(
        ("EnsembleResult", "FitResult", "Ramp", "evaluate", "fit", "fit_seeds"), ".train"
    ),
    **dict.fromkeys(
        (
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
            "Affine",
            "IntNAU",
            "IntSnapNPU",
            "Linear",
            "NACMul",
            "NaiveNPU",
            "RealNaiveNPU",
            "RealNPU",
            "ScaledPower",
            "SelectNAU",
            "SnapNPU",
            "Unit",
        ),
        ".units",
    ),
}

if TYPE_CHECKING:  # what type checkers and the API reference read
    from . import tasks, units
    from .errors import NalmError
    from .persist import load, save
    from .symbolic import extract_formula, to_formula, verify
    from .tasks import ArithmeticTask, DatasetTask, Expression, ExpressionTask, Range, Task
    from .train import EnsembleResult, FitResult, Ramp, evaluate, fit, fit_seeds
    from .units import (
        DMU,
        GNALU,
        INALU,
        MLP,
        NAC,
        NALU,
        NAU,
        NMRU,
        NMU,
        NPU,
        NRU,
        Affine,
        IntNAU,
        IntSnapNPU,
        Linear,
        NACMul,
        NaiveNPU,
        RealNaiveNPU,
        RealNPU,
        ScaledPower,
        SelectNAU,
        SnapNPU,
        Unit,
    )

__version__ = "0.1.0"

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
    "Affine",
    "ArithmeticTask",
    "DatasetTask",
    "EnsembleResult",
    "Expression",
    "ExpressionTask",
    "FitResult",
    "IntNAU",
    "IntSnapNPU",
    "Linear",
    "NACMul",
    "NaiveNPU",
    "NalmError",
    "Ramp",
    "Range",
    "RealNPU",
    "RealNaiveNPU",
    "ScaledPower",
    "SelectNAU",
    "SnapNPU",
    "Task",
    "Unit",
    "evaluate",
    "extract_formula",
    "fit",
    "fit_seeds",
    "load",
    "save",
    "tasks",
    "to_formula",
    "units",
    "verify",
]


def __getattr__(name: str) -> Any:
    """``nalm.NAME``: the public name, its module imported on first use (and, as before the
    names were loaded on demand, ``nalm.persist`` and the other submodules)."""
    if name not in _HOMES:
        if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'nalm' has no attribute {name!r}")
    home = _HOMES[name]
    value = import_module(f"{__name__}.{name}" if not home else f"{__name__}{home}")
    if home:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
