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

from typing import TYPE_CHECKING

from .lazy import names

if TYPE_CHECKING:  # what type checkers and the API reference read
    from . import tasks, units
    from .errors import NalmError
    from .persist import load, save
    from .symbolic import extract_formula, to_formula, verify
    from .tasks import ArithmeticTask, DatasetTask, Expression, ExpressionTask, Range, Task
    from .train import CohortResult, EnsembleResult, FitResult, Ramp, evaluate, fit, fit_seeds
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
    "CohortResult",
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

# Each public name is imported from the first of these modules that has it, on first use, so
# that `import nalm` (and the `nalm` command's start) loads torch, sympy and matplotlib only
# when a name needs them.
__getattr__, __dir__ = names(
    __name__, __all__, ("errors", "tasks", "persist", "train", "units", "symbolic")
)
