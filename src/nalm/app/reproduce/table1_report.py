"""The report of ``nalm reproduce table1``: ``table1.md``, ``table1.csv``,
``table1-seeds.csv`` and the heat maps of ``table1.png``, and the paper's claims checked."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import LogNorm

from ...bench.table1 import EVALUATIONS, median, score
from ...files import open_atomic, write_text
from ...reporting import markdown_table, number
from ...reporting.figures import plt
from ...reporting.published import as_number
from ...reporting.published import table1_score as published
from ...tasks.arithmetic import get_operation
from ..experiment import Result

if TYPE_CHECKING:
    from .table1_fields import Table1Fields

OP_LABELS = {"add": "a+b", "sub": "a−b", "mul": "a×b", "div": "a/b", "squared": "a²", "root": "√a"}


def run_score(run: dict[str, Any], evaluation: str, random: float | None) -> float:
    return score(run[f"{evaluation}_mse"], random, run["diverged_at"] is not None)


def summarize(
    runs: Sequence[dict[str, Any]],
    baselines: dict[tuple[str, str], dict[str, Any]],
    settings: Table1Fields,
) -> list[dict[str, Any]]:
    """One row per setting × evaluation × model × operation: median score over seeds (diverged
    and non-finite seeds count as infinite), quartiles, counts, and the published value."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["setting"], run["model"], run["operation"]), []).append(run)
    cells = []
    for (setting, model, op), rows in groups.items():
        for evaluation in EVALUATIONS:
            random, finite = baselines[setting, model][op][evaluation]
            scores = [run_score(r, evaluation, random) for r in rows]
            ordered = sorted(scores, key=lambda v: (math.isnan(v), v))
            quoted = published(setting, evaluation, model, op)
            mses = [r[f"{evaluation}_mse"] for r in rows]
            cells.append(
                {
                    "setting": setting,
                    "evaluation": evaluation,
                    "model": model,
                    "spec": rows[0]["spec"],
                    "operation": op,
                    "score_median": median(ordered),
                    "score_q1": _quantile(ordered, 0.25),
                    "score_q3": _quantile(ordered, 0.75),
                    "seeds": len(rows),
                    "diverged": sum(r["diverged_at"] is not None for r in rows),
                    "mse_median": median(sorted(math.inf if m is None else m for m in mses)),
                    "random_mse": math.nan if random is None else random,
                    "random_finite": finite,
                    "random_inits": settings.random_inits,
                    "published": quoted,
                }
            )
    return cells


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile (defined when some values are infinite)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def progress_line(
    setting: str, label: str, done: dict[str, Any], ops: Sequence[str], s: Table1Fields
) -> str:
    parts = []
    for op in ops:
        random = done["random"][op]["extrapolation"][0]
        scores = sorted(
            (run_score(r, "extrapolation", random) for r in done["rows"] if r["operation"] == op),
            key=lambda v: (math.isnan(v), v),
        )
        parts.append(f"{OP_LABELS[op]} {number(median(scores))}")
    diverged = sum(r["diverged_at"] is not None for r in done["rows"])
    tail = f", {diverged} diverged" if diverged else ""
    return f"{setting:<9} {label:<8} extrapolation score: " + ", ".join(parts) + tail


def write_cells(cells: Sequence[dict[str, Any]], path: Path) -> Path:
    columns = list(cells[0]) if cells else []
    with open_atomic(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for c in cells:
            writer.writerow({k: "" if v is None else v for k, v in c.items()})
    return path


def write_runs(
    runs: Sequence[dict[str, Any]], baselines: dict[tuple[str, str], Any], path: Path
) -> Path:
    columns = [
        "setting",
        "model",
        "spec",
        "operation",
        "seed",
        "init_seed",
        "interpolation_mse",
        "extrapolation_mse",
        "interpolation_score",
        "extrapolation_score",
        "diverged_at",
    ]
    with open_atomic(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in runs:
            random = baselines[r["setting"], r["model"]][r["operation"]]
            row = {k: r.get(k) for k in columns}
            for evaluation in EVALUATIONS:
                mse = r[f"{evaluation}_mse"]
                row[f"{evaluation}_mse"] = "inf" if mse is None else mse
                row[f"{evaluation}_score"] = run_score(r, evaluation, random[evaluation][0])
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def _cell_text(cell: dict[str, Any]) -> str:
    text = number(cell["score_median"])
    if cell["diverged"]:
        text += f" ({cell['diverged']}✝)"
    if cell["published"] is not None:
        text += f" [{cell['published']}]"
    return text


SOLVED, FAILED = 1.0, 10.0
"""Qualitative classes for comparing with the paper: a score below 1 is "≈ 0" (solved), 10 or
above is "far from 0" (not solved)."""


def disagreements(cells: Sequence[dict[str, Any]]) -> list[str]:
    """Cells where ours and the quoted paper value fall on opposite sides: one below
    :data:`SOLVED`, the other at or above :data:`FAILED`."""
    lines = []
    for c in cells:
        if c["published"] is None or math.isnan(c["score_median"]):
            continue
        paper, ours = as_number(c["published"]), c["score_median"]
        if paper < SOLVED <= FAILED <= ours:
            verdict = "≈ 0 in the paper, not here"
        elif ours < SOLVED <= FAILED <= paper:
            verdict = "≈ 0 here, not in the paper"
        else:
            continue
        lines.append(
            f"- {c['setting']} {c['evaluation']}, {c['model']} on {OP_LABELS[c['operation']]}: "
            f"ours {number(ours)}, paper {c['published']} ({verdict})."
        )
    return lines


def claims(result: Table1Result) -> list[str]:
    """The paper's qualitative claims about the static table, checked against our numbers."""
    checks = [
        ("NAC", ("add", "sub"), "NAC ≈ 0 on a+b and a−b in extrapolation"),
        ("NALU", ("mul", "squared", "root"), "NALU ≈ 0 on a×b, a² and √a in extrapolation"),
    ]
    lines = []
    for model, ops, claim in checks:
        try:
            cells = [result.cell("static", "extrapolation", model, op) for op in ops]
        except KeyError:
            continue
        values = ", ".join(
            f"{OP_LABELS[c['operation']]} {number(c['score_median'])}" for c in cells
        )
        holds = all(c["score_median"] < SOLVED for c in cells)
        lines.append(f"- {claim}: {'holds' if holds else 'does not hold'} here ({values}).")
    mlp = [c for c in result.cells if c["setting"] == "static" and c["model"] == "ReLU6"]
    if mlp:
        far = [c for c in mlp if c["evaluation"] == "extrapolation"]
        above = sum(c["score_median"] >= FAILED for c in far)
        lines.append(
            f"- The ReLU6 MLP is far from 0 (score ≥ {FAILED:g}) in extrapolation on "
            f"{above} of {len(far)} operations here."
        )
    return lines


def _header(result: Table1Result) -> list[str]:
    """The title, the quick-run note and the settings of ``table1.md``."""
    s = result.settings
    lines = ["# Trask et al. 2018, Table 1: simple function learning", ""]
    if s.quick_run:
        lines += [
            "**Quick run** (`--quick`): a smaller version of the full reproduction (settings "
            "below); its numbers are rougher.",
            "",
        ]
    described = {
        "static": f"- Static: x ∈ U[{s.train_range}]^{s.input_size} for training and "
        f"interpolation, U[{s.extrapolation_range}] for extrapolation; slices of {s.subset:g} of "
        f"the input overlapping by {s.overlap:g}; {s.static_steps:,} steps; two layers, hidden "
        f"size {s.hidden}.",
        "recurrent": f"- Recurrent: sequences of {s.train_length} vectors from "
        f"U[{s.sequence_train_range}] for training and interpolation, {s.extrapolation_length} "
        f"vectors from U[{s.sequence_extrapolation_range}] for extrapolation; "
        f"{s.recurrent_steps:,} steps; unit cells of hidden size {s.hidden}, LSTM/RNN cells of "
        f"{s.rnn_hidden} with a linear head.",
    }
    lines += [
        "Score: 100 × MSE / MSE of a randomly initialised model of the same architecture "
        f"(mean over {s.random_inits} initialisations); 0 is perfect, 100 is as bad as random. "
        f"Median over {s.seeds} seeds of the final model; ✝ counts diverged seeds (scored as "
        "infinite). **[In brackets: the paper's value as quoted by reproductions — unconfirmed, "
        "not read from the paper.]**",
        "",
        *(described[setting] for setting in s.settings),
        f"- Adam lr {s.lr:g}, batch {s.batch_size}, each model's recommended policy; "
        f"training time {result.training_seconds:.0f} s (summed over the models, whichever "
        "run trained them).",
        "",
    ]
    return lines


def write_markdown(result: Table1Result, path: Path) -> Path:
    s = result.settings
    lines = _header(result)
    for setting in s.settings:
        models = list(s.models(setting))
        for evaluation in EVALUATIONS:
            lines += [f"## {setting.capitalize()}, {evaluation}", ""]
            rows = []
            for op in (get_operation(o).name for o in s.operations):
                row = [OP_LABELS[op]]
                for model in models:
                    try:
                        row.append(_cell_text(result.cell(setting, evaluation, model, op)))
                    except KeyError:
                        row.append("-")
                rows.append(row)
            lines += [markdown_table(["", *models], rows), ""]
    partial = sorted(
        {
            (c["setting"], c["model"], c["operation"], c["evaluation"], c["random_finite"])
            for c in result.cells
            if c["random_finite"] < c["random_inits"]
        }
    )
    if partial:
        lines += [
            "Random initialisations whose MSE overflowed are left out of the denominator "
            "(which raises the score): "
            + "; ".join(
                f"{setting} {model} on {OP_LABELS[op]} ({evaluation}): {n} of "
                f"{s.random_inits} finite"
                for setting, model, op, evaluation, n in partial
            )
            + ".",
            "",
        ]
    lines += ["## The paper's claims, checked", "", *claims(result), ""]
    found = disagreements(result.cells)
    lines += ["## Where ours and the paper disagree", ""]
    lines += found or ["- Nowhere by the rule below."]
    lines += [
        "",
        f"Rule: a cell disagrees when one side is below {SOLVED:g} (≈ 0) and the other is at "
        f"or above {FAILED:g}. Nothing was tuned to match the paper.",
        "",
    ]
    write_text(path, "\n".join(lines))
    return path


def plot_table1(result: Table1Result, path: Path) -> Path:
    """A heat map per setting and evaluation: models × operations, log colour scale of the
    median score (green ≈ 0, red ≥ 100), the value written in each cell."""
    s = result.settings
    panels = [(setting, ev) for setting in s.settings for ev in EVALUATIONS]
    ops = [get_operation(o).name for o in s.operations]
    widths = [len(s.models(setting)) for setting, _ in panels]
    fig, axes = plt.subplots(
        len(s.settings),
        2,
        figsize=(2 + 0.9 * max(len(ops), 4) * 2, 0.45 * max(widths) * len(s.settings) + 2),
        squeeze=False,
    )
    norm = LogNorm(vmin=0.01, vmax=1000)
    image = None
    for ax, (setting, evaluation) in zip(axes.flat, panels, strict=True):
        models = list(s.models(setting))
        grid = np.full((len(models), len(ops)), np.nan)
        for i, model in enumerate(models):
            for j, op in enumerate(ops):
                try:
                    value = result.cell(setting, evaluation, model, op)["score_median"]
                except KeyError:
                    continue
                grid[i, j] = value
        shown = np.clip(np.nan_to_num(grid, nan=np.nan, posinf=1000.0), 0.01, 1000)
        image = ax.imshow(shown, cmap="RdYlGn_r", norm=norm, aspect="auto")
        for i in range(len(models)):
            for j in range(len(ops)):
                v = grid[i, j]
                text = "-" if np.isnan(v) else ("inf" if np.isinf(v) else number(float(v)))
                ax.text(j, i, text, ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(ops)), [OP_LABELS[o] for o in ops])
        ax.set_yticks(range(len(models)), models)
        ax.set_title(f"{setting}, {evaluation}", fontsize=10)
    quick = " (quick run)" if s.quick_run else ""
    fig.suptitle(f"Trask et al. Table 1: score = 100 × MSE / random MSE, median{quick}")
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="score (log)")
    with open_atomic(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path


@dataclass
class Table1Result(Result):
    """Per-seed rows, the per-cell summary and the files written; ``seconds`` is this call's
    wall time, ``training_seconds`` the training time of all parts (including resumed ones)."""

    settings: Table1Fields
    runs: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    training_seconds: float = 0.0
    baselines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def write_report(self) -> dict[str, Path]:
        """``table1.csv`` (cells), ``table1-seeds.csv``, ``table1.md`` and ``table1.png``."""
        assert self.out is not None
        out = self.out
        return {
            "csv": write_cells(self.cells, out / "table1.csv"),
            "seeds_csv": write_runs(self.runs, self.baselines, out / "table1-seeds.csv"),
            "markdown": write_markdown(self, out / "table1.md"),
            "png": plot_table1(self, out / "table1.png"),
        }

    def cell(self, setting: str, evaluation: str, model: str, operation: str) -> dict[str, Any]:
        op = get_operation(operation).name
        for c in self.cells:
            if (c["setting"], c["evaluation"], c["model"], c["operation"]) == (
                setting,
                evaluation,
                model,
                op,
            ):
                return c
        raise KeyError((setting, evaluation, model, operation))
