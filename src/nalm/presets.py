"""The seed code's three demos as presets: its data, optimiser settings and printout.

Inputs are named from ``x0`` here, where the seed counts from ``x1``.

Each preset trains one unit full-batch with Adam and MSE, printing what the seed printed: the MSE
before and after training, actual against predicted for ten test rows, and (for the NAC) the
learned W; it plots log(MSE) over the steps. It adds what the seed left out: the error on integers
well above the training range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from . import runs
from .errors import NalmError
from .metrics import mean_relative_error, mse, predict
from .plots import save_loss_plot
from .reporting import describe_weights, fmt, table
from .tasks import DatasetTask, seed_demos
from .train import evaluate, fit
from .units import registry


@dataclass(frozen=True)
class SeedPreset:
    """One of the seed code's demos: the data, the unit and the optimiser settings."""

    unit: str
    lr: float
    steps: int
    data: Callable[..., DatasetTask]
    summary: str


SEED_PRESETS: dict[str, SeedPreset] = {
    "seed-nac-add": SeedPreset(
        "nac", 0.05, 22_000, seed_demos.nac_add, "NAC learns x0 + x1 (the seed's x1 + x2)"
    ),
    "seed-nac-mul": SeedPreset(
        "nac_mul", 0.5, 36_000, seed_demos.nac_mul, "complex NAC learns x0 · x1"
    ),
    "seed-nalu": SeedPreset(
        "nalu",
        0.005,
        30_000,
        seed_demos.nalu,
        "NALU learns x0/4 + x1/2 + x2² (the seed's x1/4 + x2/2 + x3²)",
    ),
}


def get_preset(name: str) -> SeedPreset:
    if name not in SEED_PRESETS:
        raise NalmError(f"unknown preset {name!r}; valid presets: {', '.join(SEED_PRESETS)}")
    return SEED_PRESETS[name]


def run_seed_preset(
    name: str,
    *,
    seed: int = 0,
    steps: int | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    print_fn: Callable[[str], None] = print,
) -> dict[str, object]:
    """Run one seed demo end to end; returns the run directory and the final metrics."""
    preset = get_preset(name)
    steps = preset.steps if steps is None else steps
    task = preset.data(seed=seed)
    torch.manual_seed(seed)
    model = registry.create(preset.unit, task.in_features, 1, preset="seed").to(device)
    print_fn(
        f"{name}: {preset.summary} (seed code's settings: Adam lr {preset.lr}, "
        f"{steps} full-batch steps, {task.train[0].shape[0]} training rows)"
    )
    before = {
        "train_mse": mse(predict(model, task.train[0], device), task.train[1]),
        **evaluate(model, task, device),
    }
    print_fn(
        f"MSE before training: train {fmt(before['train_mse'])}, "
        f"seed test {fmt(before['seed_test_mse'])}"
    )
    result = fit(
        model,
        task,
        steps=steps,
        lr=preset.lr,
        batch_size=None,
        seed=seed,
        eval_every=max(1, steps // 100),
        device=device,
        progress=progress,
        description=name,
    )
    after = {"train_mse": mse(predict(model, task.train[0], device), task.train[1]), **result.final}
    if result.diverged:
        print_fn(f"DIVERGED at step {result.diverged_at}: the loss became NaN or infinite")
    print_fn(
        f"MSE after training:  train {fmt(after['train_mse'])}, "
        f"seed test {fmt(after['seed_test_mse'])}"
    )
    x_far, y_far = task.evaluation["extrapolation"]
    print_fn("\nactual vs predicted, ten rows of the seed's test set:")
    print_fn(_rows(model, *task.evaluation["seed_test"], device))
    print_fn(
        f"\nbeyond the seed: extrapolation ({task.info['extrapolation']}): "
        f"MSE {fmt(after['extrapolation_mse'])}, "
        f"mean relative error {fmt(mean_relative_error(predict(model, x_far, device), y_far))}"
    )
    print_fn(_rows(model, *task.evaluation["extrapolation"], device))
    print_fn("\nlearned weights:\n" + describe_weights(model))

    run_dir = runs.new_run_dir(name, out)
    runs.write_config(
        run_dir,
        {
            "command": "train",
            "preset": name,
            "unit": preset.unit,
            "init": "seed",
            "lr": preset.lr,
            "steps": steps,
            "batch": "full",
            "optimizer": "adam",
            "seed": seed,
            "device": device,
            "task": task.config(),
        },
    )
    runs.write_metrics(run_dir, {preset.unit: result})
    runs.save_weights(
        run_dir / "model.safetensors",
        model,
        {
            "unit": preset.unit,
            "preset": "seed",
            "in_features": task.in_features,
            "out_features": 1,
            "layers": 1,
        },
    )
    save_loss_plot(run_dir / "loss.png", {preset.unit: result}, tuple(task.evaluation))
    print_fn(f"\nrun directory: {run_dir}")
    return {"run_dir": run_dir, "before": before, "after": after, "result": result}


def _rows(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: str) -> str:
    pred = predict(model, x[:10], device)
    headers = [*(f"x{i}" for i in range(x.shape[1])), "actual", "predicted"]
    rows = [
        [*(f"{v:g}" for v in x[i].tolist()), f"{y[i, 0].item():.6g}", f"{pred[i, 0].item():.6g}"]
        for i in range(min(10, x.shape[0]))
    ]
    return table(headers, rows)
