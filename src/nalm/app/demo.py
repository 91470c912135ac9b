"""The main job, ``nalm demo``: the seed's units against an MLP on four formulas.

Each formula is learned on U[1, 5] and tested on U[5, 50], ten times beyond the training range.
The units use the seed code's initialisation (:meth:`~nalm.NALU.seed_preset`); the MLP is a
ReLU6 network with two hidden layers of 64. Both see the same batches. Later nalm models train
beside them: one configuration, ``(nau|nmu)``, on each of +, − and ×, and RealNaiveNPU→NAU on
the seed's NALU formula.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import NalmError
from ..files import open_atomic
from ..metrics import mean_relative_error, predict
from ..models import parse
from ..reporting import describe_weights, fmt, table
from ..reporting.figures import plt
from ..tasks import ExpressionTask
from ..train import FitResult, fit
from ..units import MLP
from . import runs
from .experiment import Experiment, Log, Result, Run
from .plots import plot_line

TRAIN_RANGE = "1,5"
TEST_RANGE = "5,50"


@dataclass(frozen=True)
class LaterModel:
    """A later nalm model trained on a formula beside the seed's unit (plain training)."""

    spec: str
    hidden: int
    steps: int
    lr: float


@dataclass(frozen=True)
class DemoFormula:
    title: str
    target: str
    unit: str
    layers: int
    steps: int
    lr: float
    later: LaterModel | None = None


# One configuration for the three operations: an NAU and an NMU side by side, each output a
# learned selection of one of them (the branch layer of the grammar), same steps and lr.
EITHER = LaterModel("(nau|nmu)", 1, 4000, 0.05)
FORMULAS = (
    DemoFormula("addition", "x0 + x1", "nac", 1, 8000, 0.1, later=EITHER),
    DemoFormula("subtraction", "x0 - x1", "nac", 1, 8000, 0.1, later=EITHER),
    DemoFormula("multiplication", "x0 * x1", "nac_mul", 1, 8000, 0.5, later=EITHER),
    # RealNaiveNPU→NAU holds it exactly: exponents (1, 0, 0), (0, 1, 0), (0, 0, 2), then
    # the weighted sum ¼, ½, 1 (docs/recipes.md).
    DemoFormula(
        "the seed's NALU demo",
        "x0/4 + x1/2 + x2**2",
        "nalu",
        2,
        10_000,
        0.01,
        later=LaterModel("real_naive_npu>nau", 3, 40_000, 0.01),
    ),
)
MLP_LR = 1e-3


@dataclass(frozen=True)
class DemoSettings(Experiment):
    """Settings of ``nalm demo``: ``steps`` per formula (default: each formula's own, see
    :data:`FORMULAS`) and the ``seed`` of weights, batches and evaluation sets."""

    name: ClassVar[str] = "demo"
    command: ClassVar[str] = "demo"

    steps: int | None = None
    seed: int = 0

    def check(self) -> None:
        if self.steps is not None and (isinstance(self.steps, bool) or self.steps < 1):
            raise NalmError(f"steps must be a positive integer; got {self.steps!r}")

    def config(self, device: torch.device | str) -> dict[str, Any]:
        return {
            **super().config(device),
            "train_range": TRAIN_RANGE,
            "test_range": TEST_RANGE,
            "mlp_lr": MLP_LR,
            "formulas": [dataclasses.asdict(f) for f in FORMULAS],
        }

    def execute(self, run: Run) -> DemoResult:
        run.log(
            f"nalm demo: each formula is learned on U[{TRAIN_RANGE}] and tested on "
            f"U[{TEST_RANGE}], up to ten times beyond what training saw.\n"
        )
        result = DemoResult(self, out=run.out)
        result.figure, axes = plt.subplots(2, 2, figsize=(12, 8.5))
        weights = []
        for formula, ax in zip(FORMULAS, axes.flat, strict=True):
            weights.append(_formula(self, run, formula, ax, result))
        run.log(table(HEADERS, result.rows))
        run.log("\nlearned weights of the units (rounded):\n" + "\n".join(weights))
        run.log(f"\nplot and metrics: {run.out}")
        return result


HEADERS = [
    "formula",
    "model",
    f"MSE on U[{TRAIN_RANGE}]",
    f"MSE on U[{TEST_RANGE}]",
    "relative error there",
    "status",
]


@dataclass
class DemoResult(Result):
    """Each formula's fits (``results[title]["unit"|"mlp"]``, and ``"later"`` where a later nalm
    model trains beside them) and the printed table's rows."""

    settings: DemoSettings
    results: dict[str, dict[str, FitResult]] = field(default_factory=dict)
    rows: list[list[str]] = field(default_factory=list)
    figure: Any = None

    def write_report(self) -> dict[str, Path]:
        """``demo.png`` (each formula's fit against x) and ``metrics.csv`` (every history)."""
        assert self.out is not None
        self.figure.suptitle("nalm demo: arithmetic units vs an MLP, trained on the shaded range")
        self.figure.tight_layout()
        with open_atomic(self.out / "demo.png", "wb") as f:
            self.figure.savefig(f, format="png", dpi=100)
        plt.close(self.figure)
        fits = {f"{t} / {kind}": r for t, pair in self.results.items() for kind, r in pair.items()}
        return {"png": self.out / "demo.png", "csv": runs.write_metrics(self.out, fits)}


def _formula(s: DemoSettings, run: Run, formula: DemoFormula, ax: Any, result: DemoResult) -> str:
    """Train the unit and the MLP on one formula, add their rows and curves; the unit's weights."""
    task = ExpressionTask(formula.target, TRAIN_RANGE, TEST_RANGE, eval_seed=s.seed)
    torch.manual_seed(s.seed)
    unit = parse(formula.unit, layers=formula.layers).build(task.in_features, 1, 3, preset="seed")
    torch.manual_seed(s.seed)
    mlp = MLP(task.in_features, 1, hidden=(64, 64), activation="relu6")
    label = f"{formula.unit}" + (f" ×{formula.layers}" if formula.layers > 1 else "")
    models = {label: unit, "mlp": mlp}
    fits = fit(
        models,
        task,
        steps=s.steps or formula.steps,
        lr={label: formula.lr, "mlp": MLP_LR},
        seed=s.seed,
        device=run.device,
        progress=run.progress,
        description=formula.title,
    )
    result.results[formula.title] = {"unit": fits[label], "mlp": fits["mlp"]}
    weights = f"{formula.target}  ({label}):\n" + describe_weights(unit)
    if formula.later is not None:
        later, fitted = _later_model(s, run, formula, task)
        models[formula.later.spec] = later
        fits[formula.later.spec] = result.results[formula.title]["later"] = fitted
        weights += f"\n{formula.target}  ({formula.later.spec}):\n" + describe_weights(later)
    x_far, y_far = task.evaluation["extrapolation"]
    for name, r in fits.items():
        status = f"diverged at {r.diverged_at}" if r.diverged else "ok"
        relative = mean_relative_error(predict(models[name], x_far, run.device), y_far)
        final = [fmt(r.final.get("interpolation_mse")), fmt(r.final.get("extrapolation_mse"))]
        result.rows.append([formula.target, name, *final, f"{100 * relative:.3g} %", status])
    title = f"{formula.title}: {formula.target}\ntrained on [{TRAIN_RANGE}] (shaded)"
    plot_line(ax, task, models, run.device, title=title)
    return weights


def _later_model(
    s: DemoSettings, run: Run, formula: DemoFormula, task: ExpressionTask
) -> tuple[torch.nn.Module, FitResult]:
    """The formula's later nalm model, trained alone with plain training (no policy)."""
    assert formula.later is not None
    torch.manual_seed(s.seed)
    model = parse(formula.later.spec).build(task.in_features, 1, hidden=formula.later.hidden)
    fitted = fit(
        model,
        task,
        steps=s.steps or formula.later.steps,
        lr=formula.later.lr,
        seed=s.seed,
        policy="none",
        device=run.device,
        progress=run.progress,
        description=f"{formula.title} ({formula.later.spec})",
    )
    return model, fitted


def run_demo(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    log: Log = print,
) -> dict[str, dict[str, FitResult]]:
    """Train and compare; print a table, write ``demo.png``, ``metrics.csv`` and ``config.json``
    (``DemoSettings(steps, seed).run(...)`` returns the whole :class:`DemoResult`).

    Args:
        steps: steps per formula (default: each formula's own, see ``FORMULAS``).

    Returns:
        ``{formula title: {"unit": FitResult, "mlp": FitResult}}`` (plus ``"later"`` for each
        formula with a later nalm model).
    """
    settings = DemoSettings(steps=steps, seed=seed)
    result = settings.run(out, device=device, progress=progress, log=log)
    return result.results  # type: ignore[attr-defined]
