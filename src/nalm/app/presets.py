"""The seed code's three demos as presets: its data, optimiser settings and printout.

Inputs are named from ``x0`` here, where the seed counts from ``x1``.

Each preset trains one unit full-batch with Adam and MSE, printing what the seed printed: the MSE
before and after training, actual against predicted for ten test rows, and (for the NAC) the
learned W; it plots log(MSE) over the steps. It adds what the seed left out: the error on integers
well above the training range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import NalmError
from ..metrics import mean_relative_error, mse, predict
from ..reporting import describe_weights, fmt, table
from ..tasks import DatasetTask
from ..train import FitResult, evaluate, fit
from ..units import registry
from . import runs
from .experiment import Experiment, Log, Result, Run
from .plots import save_loss_plot
from .train_settings import SEED_PRESETS, SeedPreset


def get_preset(name: str) -> SeedPreset:
    if name not in SEED_PRESETS:
        raise NalmError(f"unknown preset {name!r}; valid presets: {', '.join(SEED_PRESETS)}")
    return SEED_PRESETS[name]


@dataclass(frozen=True)
class PresetSettings(Experiment):
    """Settings of one seed demo (``nalm train --preset NAME``): the preset, the seed and the
    steps (default: the preset's own)."""

    command: ClassVar[str] = "train"

    preset: str = "seed-nac-add"
    seed: int = 0
    steps: int | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.preset

    def check(self) -> None:
        get_preset(self.preset)

    def config(self, device: torch.device | str) -> dict[str, Any]:
        preset = get_preset(self.preset)
        return {
            "command": "train",
            "preset": self.preset,
            "unit": preset.unit,
            "init": "seed",
            "lr": preset.lr,
            "steps": self._steps,
            "batch": "full",
            "optimizer": "adam",
            "seed": self.seed,
            "device": str(device),
            "task": preset.task(self.seed).config(),
        }

    @property
    def _steps(self) -> int:
        return get_preset(self.preset).steps if self.steps is None else self.steps

    def execute(self, run: Run) -> PresetResult:
        preset, steps = get_preset(self.preset), self._steps
        task = preset.task(self.seed)
        torch.manual_seed(self.seed)
        model = registry.create(preset.unit, task.in_features, 1, preset="seed").to(run.device)
        run.log(
            f"{self.preset}: {preset.summary} (seed code's settings: Adam lr {preset.lr}, "
            f"{steps} full-batch steps, {task.train[0].shape[0]} training rows)"
        )
        before = _measure(model, task, run.device, evaluate(model, task, run.device))
        run.log(
            f"MSE before training: train {fmt(before['train_mse'])}, "
            f"seed test {fmt(before['seed_test_mse'])}"
        )
        fitted = fit(
            model,
            task,
            steps=steps,
            lr=preset.lr,
            batch_size=None,
            seed=self.seed,
            eval_every=max(1, steps // 100),
            device=run.device,
            progress=run.progress,
            description=self.preset,
        )
        result = PresetResult(self, model, task, before, out=run.out, result=fitted)
        result.after = _measure(model, task, run.device, fitted.final)
        _print_after(run, result)
        return result


@dataclass
class PresetResult(Result):
    """One seed demo's model, task, the MSEs before and after and the :class:`FitResult`."""

    settings: PresetSettings
    model: torch.nn.Module
    task: DatasetTask
    before: dict[str, float]
    after: dict[str, float] = field(default_factory=dict)
    result: FitResult | None = field(default=None, kw_only=True)

    def write_report(self) -> dict[str, Path]:
        """``metrics.csv``, ``model.safetensors`` (``nalm.load`` reads it) and ``loss.png``."""
        assert self.out is not None and self.result is not None
        unit = get_preset(self.settings.preset).unit
        info = {"unit": unit, "preset": "seed", "in_features": self.task.in_features}
        model_path = runs.save_weights(
            self.out / "model.safetensors", self.model, {**info, "out_features": 1, "layers": 1}
        )
        evaluation = tuple(self.task.evaluation)
        save_loss_plot(self.out / "loss.png", {unit: self.result}, evaluation)
        return {
            "csv": runs.write_metrics(self.out, {unit: self.result}),
            "model": model_path,
            "png": self.out / "loss.png",
        }


def _measure(
    model: torch.nn.Module, task: DatasetTask, device: str, rest: dict[str, float]
) -> dict[str, float]:
    return {"train_mse": mse(predict(model, task.train[0], device), task.train[1]), **rest}


def _print_after(run: Run, r: PresetResult) -> None:
    assert r.result is not None
    if r.result.diverged:
        run.log(f"DIVERGED at step {r.result.diverged_at}: the loss became NaN or infinite")
    run.log(
        f"MSE after training:  train {fmt(r.after['train_mse'])}, "
        f"seed test {fmt(r.after['seed_test_mse'])}"
    )
    x_far, y_far = r.task.evaluation["extrapolation"]
    run.log("\nactual vs predicted, ten rows of the seed's test set:")
    run.log(_rows(r.model, *r.task.evaluation["seed_test"], run.device))
    relative = mean_relative_error(predict(r.model, x_far, run.device), y_far)
    run.log(
        f"\nbeyond the seed: extrapolation ({r.task.info['extrapolation']}): "
        f"MSE {fmt(r.after['extrapolation_mse'])}, mean relative error {fmt(relative)}"
    )
    run.log(_rows(r.model, *r.task.evaluation["extrapolation"], run.device))
    run.log("\nlearned weights:\n" + describe_weights(r.model))
    run.log(f"\nrun directory: {run.out}")


def run_seed_preset(
    name: str,
    *,
    seed: int = 0,
    steps: int | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    log: Log = print,
) -> dict[str, object]:
    """Run one seed demo end to end; returns the run directory and the final metrics
    (``PresetSettings(name, seed, steps).run(...)`` returns the whole :class:`PresetResult`)."""
    settings = PresetSettings(name, seed, steps)
    r = settings.run(out, device=device, progress=progress, log=log)
    assert isinstance(r, PresetResult)
    return {"run_dir": r.out, "before": r.before, "after": r.after, "result": r.result}


def _rows(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: str) -> str:
    pred = predict(model, x[:10], device)
    headers = [*(f"x{i}" for i in range(x.shape[1])), "actual", "predicted"]
    rows = [
        [*(f"{v:g}" for v in x[i].tolist()), f"{y[i, 0].item():.6g}", f"{pred[i, 0].item():.6g}"]
        for i in range(min(10, x.shape[0]))
    ]
    return table(headers, rows)
