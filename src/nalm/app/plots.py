"""The PNGs a run writes: prediction against truth along a line, loss curves, parity plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..metrics import predict
from ..reporting.figures import plt, save
from ..tasks import DatasetTask, ExpressionTask
from ..train import FitResult


def plot_line(
    ax: plt.Axes,
    task: ExpressionTask,
    models: Mapping[str, nn.Module],
    device: torch.device | str = "cpu",
    title: str | None = None,
) -> None:
    """Truth and each model's prediction along ``x_i = t``, the training range shaded."""
    t, x, y = task.line()
    for lo, hi in task.train_range.intervals:
        ax.axvspan(lo, hi, color="0.88", zorder=0)
    ax.plot(t, y[:, 0], color="black", linewidth=2.5, label="truth")
    for name, model in models.items():
        pred = predict(model, x, device)[:, 0]
        ax.plot(t, pred, linewidth=1.5, linestyle="--", label=name)
    n = task.in_features
    low = min(lo for lo, _ in (*task.train_range.intervals, *task.test_range.intervals))
    ax.set_xlabel(f"x0 = t;  x_i = {low:g} + (t − {low:g})·(1 − i/{2 * n})" if n > 1 else "x0")
    ax.set_ylabel(str(task.expression))
    ax.set_title(title or f"{task.expression}: trained on {task.train_range} (shaded)")
    finite = y[torch.isfinite(y)]
    low, high = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 1.0)
    pad = 0.15 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)  # keep the truth in view when a model runs away
    ax.legend(fontsize=8)


def plot_losses(ax: plt.Axes, results: Mapping[str, FitResult], sets: tuple[str, ...]) -> None:
    """Training MSE per step (thin) and evaluation MSE (markers), log scale."""
    for i, (name, result) in enumerate(results.items()):
        color = f"C{i}"
        if result.train_loss:
            steps = torch.arange(1, len(result.train_loss) + 1)
            ax.plot(steps, result.train_loss, color=color, alpha=0.35, linewidth=0.7)
        for marker, key in zip("os^v", sets, strict=False):
            rows = [r for r in result.history if r["step"] > 0]
            ax.plot(
                [r["step"] for r in rows],
                [r[f"{key}_mse"] for r in rows],
                color=color,
                marker=marker,
                markersize=3,
                label=f"{name} {key}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.set_title("training MSE (thin) and evaluation MSE")
    ax.legend(fontsize=7)


def save_run_plot(
    path: Path,
    task: ExpressionTask,
    models: Mapping[str, nn.Module],
    results: Mapping[str, FitResult],
    device: torch.device | str = "cpu",
) -> Path:
    """Two panels: prediction vs truth along a line, and the loss curves."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_line(left, task, models, device)
    plot_losses(right, results, tuple(task.evaluation))
    return save(fig, path)


def save_loss_plot(path: Path, results: Mapping[str, FitResult], sets: tuple[str, ...]) -> Path:
    """One panel: the loss curves of :func:`plot_losses`."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_losses(ax, results, sets)
    return save(fig, path)


def save_parity_plot(path: Path, candidates: Sequence[Any], task: DatasetTask, target: str) -> Path:
    """One panel per fitted unit: its prediction against the true value, data and test rows.

    Points on the diagonal are exact; log axes when every value is positive.
    """
    n = len(candidates)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for ax, candidate in zip(axes[0], candidates, strict=True):
        everything = []
        for (key, (x, y)), color in zip(task.evaluation.items(), ("C0", "C1"), strict=False):
            with torch.no_grad():
                predicted = candidate.predict(x)[:, 0]  # in the data's units
            label = "data" if key == "interpolation" else "test"
            ax.scatter(y[:, 0], predicted, s=8, color=color, alpha=0.7, label=label)
            everything += [y[:, 0], predicted[torch.isfinite(predicted)]]
        values = torch.cat(everything)
        low, high = float(values.min()), float(values.max())
        ax.plot([low, high], [low, high], color="black", linewidth=0.8, zorder=0)
        if low > 0:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(candidate.spec, fontsize=9)
        ax.set_xlabel(f"true {target}")
        ax.set_ylabel("predicted")
        ax.legend(fontsize=7)
    return save(fig, path)
