"""The benchmark report's plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..reporting.figures import plt, save


def _label(s: dict[str, Any]) -> str:
    name = s["paper_name"] or s["model"]
    name = name if s["suite"] == "madsen" else f"{name} {s['range']}"
    return f"{name}, {s['steps']:,} steps" if s.get("steps") else name


def _short_labels(summaries: Sequence[dict[str, Any]]) -> None:
    """Drop the step count from labels where every cell of that model has the same one."""
    steps: dict[str, set] = {}
    for s in summaries:
        steps.setdefault(s["paper_name"] or s["model"], set()).add(s.get("steps"))
    for s in summaries:
        if len(steps[s["paper_name"] or s["model"]]) == 1:
            s["label"] = _label({**s, "steps": None})
        else:
            s["label"] = _label(s)
    # cells that still share a label differ in other settings: tag them with the settings id
    ids: dict[tuple[str, str], set] = {}
    for s in summaries:
        ids.setdefault((s["label"], s["symbol"]), set()).add(s["settings_id"])
    for s in summaries:
        if len(ids[s["label"], s["symbol"]]) > 1:
            s["label"] = f"{s['label']} [{s['settings_id']}]"


def plot_success(summaries: Sequence[dict[str, Any]], path: Path) -> Path:
    """Success rate per model and operation, with Wilson 95 % interval bars."""
    _short_labels(summaries)
    operations = list(dict.fromkeys(s["symbol"] for s in summaries))
    labels = list(dict.fromkeys(s["label"] for s in summaries))
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(operations) * max(1, len(labels) / 3)), 4))
    for j, label in enumerate(labels):
        xs, ys, errs, pubs = [], [], [[], []], []
        for i, op in enumerate(operations):
            match = [s for s in summaries if s["symbol"] == op and s["label"] == label]
            if not match:
                continue
            s = match[0]
            xs.append(i + (j - (len(labels) - 1) / 2) * width)
            ys.append(100 * s["success_rate"])
            errs[0].append(max(0.0, 100 * (s["success_rate"] - s["ci_low"])))
            errs[1].append(max(0.0, 100 * (s["ci_high"] - s["success_rate"])))
            pubs.append(s["published_success"])
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=label)
        for x, p in zip(xs, pubs, strict=True):
            if p is not None:
                ax.plot([x - width / 2, x + width / 2], [p, p], color="black", lw=1.5)
    ax.set_xticks(range(len(operations)), operations)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Success rate with Wilson 95 % intervals (black line: published)")
    ax.legend(fontsize=8, ncol=2)
    return save(fig, path, dpi=120)


def plot_extrapolation(summaries: Sequence[dict[str, Any]], path: Path) -> Path:
    """Median (and interquartile band) extrapolation MSE over steps, one panel per operation."""
    _short_labels(summaries)
    operations = list(dict.fromkeys(s["symbol"] for s in summaries))
    cols = min(3, len(operations))
    rows = math.ceil(len(operations) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    for ax, op in zip(axes.flat, operations, strict=False):
        for s in (s for s in summaries if s["symbol"] == op):
            curves = [h for h in s["histories"] if h]
            longest = max(curves, key=len)
            steps = np.array([row[0] for row in longest], dtype=float)
            # A seed frozen early (stopped or diverged) keeps its weights: carry its last value.
            values = np.array(
                [[h[min(i, len(h) - 1)][3] for i in range(len(longest))] for h in curves],
                dtype=float,
            )
            with np.errstate(all="ignore"):
                q1, median, q3 = np.nanpercentile(values, [25, 50, 75], axis=0)
            (line,) = ax.plot(steps, median, label=s["label"])
            ax.fill_between(steps, q1, q3, color=line.get_color(), alpha=0.15)
        ax.set_yscale("log")
        ax.set_title(f"operation {op}")
        ax.set_xlabel("step")
        ax.set_ylabel("extrapolation MSE")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(operations) :]:
        ax.axis("off")
    return save(fig, path, dpi=120)
