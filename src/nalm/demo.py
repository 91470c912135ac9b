"""The main job, ``nalm demo``: the seed's units against an MLP on four formulas.

Each formula is learned on U[1, 5] and tested on U[5, 50], ten times beyond the training range.
The units use the seed code's initialisation (:meth:`~nalm.NALU.seed_preset`); the MLP is a
ReLU6 network with two hidden layers of 64. Both see the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from . import runs
from .metrics import mean_relative_error, predict
from .plots import plot_line
from .reporting import describe_weights, fmt, table
from .reporting.figures import plt
from .tasks import ExpressionTask
from .train import FitResult, fit
from .units import MLP, registry

TRAIN_RANGE = "1,5"
TEST_RANGE = "5,50"


@dataclass(frozen=True)
class DemoFormula:
    title: str
    target: str
    unit: str
    layers: int
    steps: int
    lr: float


FORMULAS = (
    DemoFormula("addition", "x0 + x1", "nac", 1, 8000, 0.1),
    DemoFormula("subtraction", "x0 - x1", "nac", 1, 8000, 0.1),
    DemoFormula("multiplication", "x0 * x1", "nac_mul", 1, 8000, 0.5),
    DemoFormula("the seed's NALU demo", "x0/4 + x1/2 + x2**2", "nalu", 2, 10_000, 0.01),
)
MLP_LR = 1e-3


def run_demo(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    print_fn: Callable[[str], None] = print,
) -> dict[str, dict[str, FitResult]]:
    """Train and compare; print a table, write ``demo.png``, ``metrics.csv`` and ``config.json``.

    Args:
        steps: steps per formula (default: each formula's own, see ``FORMULAS``).

    Returns:
        ``{formula title: {"unit": FitResult, "mlp": FitResult}}``.
    """
    print_fn(
        f"nalm demo: each formula is learned on U[{TRAIN_RANGE}] and tested on "
        f"U[{TEST_RANGE}], up to ten times beyond what training saw.\n"
    )
    all_results: dict[str, dict[str, FitResult]] = {}
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    rows = []
    weights = []
    for formula, ax in zip(FORMULAS, axes.flat, strict=True):
        task = ExpressionTask(formula.target, TRAIN_RANGE, TEST_RANGE, eval_seed=seed)
        torch.manual_seed(seed)
        unit = registry.build(
            formula.unit, task.in_features, 1, layers=formula.layers, hidden=3, preset="seed"
        )
        torch.manual_seed(seed)
        mlp = MLP(task.in_features, 1, hidden=(64, 64), activation="relu6")
        label = f"{formula.unit}" + (f" ×{formula.layers}" if formula.layers > 1 else "")
        models = {label: unit, "mlp": mlp}
        results = fit(
            models,
            task,
            steps=steps or formula.steps,
            lr={label: formula.lr, "mlp": MLP_LR},
            seed=seed,
            device=device,
            progress=progress,
            description=formula.title,
        )
        all_results[formula.title] = {"unit": results[label], "mlp": results["mlp"]}
        x_far, y_far = task.evaluation["extrapolation"]
        for name, r in results.items():
            status = f"diverged at {r.diverged_at}" if r.diverged else "ok"
            relative = mean_relative_error(predict(models[name], x_far, device), y_far)
            rows.append(
                [
                    formula.target,
                    name,
                    fmt(r.final.get("interpolation_mse")),
                    fmt(r.final.get("extrapolation_mse")),
                    f"{100 * relative:.3g} %",
                    status,
                ]
            )
        weights.append(f"{formula.target}  ({label}):\n" + describe_weights(unit))
        plot_line(
            ax,
            task,
            models,
            device,
            title=f"{formula.title}: {formula.target}\ntrained on [{TRAIN_RANGE}] (shaded)",
        )
    headers = [
        "formula",
        "model",
        f"MSE on U[{TRAIN_RANGE}]",
        f"MSE on U[{TEST_RANGE}]",
        "relative error there",
        "status",
    ]
    print_fn(table(headers, rows))
    print_fn("\nlearned weights of the units (rounded):\n" + "\n".join(weights))

    run_dir = runs.new_run_dir("demo", out)
    fig.suptitle("nalm demo: arithmetic units vs an MLP, trained on the shaded range")
    fig.tight_layout()
    fig.savefig(run_dir / "demo.png", dpi=100)
    plt.close(fig)
    runs.write_config(
        run_dir,
        {
            "command": "demo",
            "seed": seed,
            "device": device,
            "train_range": TRAIN_RANGE,
            "test_range": TEST_RANGE,
            "mlp_lr": MLP_LR,
            "steps": steps,
            "formulas": [f.__dict__ for f in FORMULAS],
        },
    )
    runs.write_metrics(
        run_dir,
        {f"{title} / {kind}": r for title, pair in all_results.items() for kind, r in pair.items()},
    )
    print_fn(f"\nplot and metrics: {run_dir}")
    return all_results
