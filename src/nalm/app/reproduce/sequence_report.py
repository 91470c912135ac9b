"""The sequence experiments' report: ``NAME.csv``, ``NAME.md`` (tables and the papers' claims
checked) and ``NAME.png``."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files import open_atomic, write_text
from ...reporting import finite_or_none, markdown_table, number
from ...reporting.figures import plt
from ...reporting.published import quote

if TYPE_CHECKING:
    from .sequence_fields import SequenceFields

PUBLISHED_WORDS = {
    spec: q.value
    for spec, paper_name in (("lstm", "LSTM"), ("lstm>nalu", "LSTM+NALU"))
    if (q := quote("language to number", paper_name, "words", "test MAE")) is not None
}
"""Trask et al. (2018), language to number, test MAE, from :mod:`nalm.reporting.published` (as
quoted in the project's reference notes, not checked against the paper: unconfirmed)."""


@dataclass
class Cell:
    accuracy: list[float] = field(default_factory=list)
    mae: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    def mean(self, what: str) -> float:
        values = getattr(self, what)
        return sum(values) / len(values) if values else math.nan


def _cells(rows: list[dict[str, Any]]) -> dict[tuple, Cell]:
    cells: dict[tuple, Cell] = {}
    for r in rows:
        cell = cells.setdefault((r["kind"], r["model"], r["at"]), Cell())
        cell.accuracy.append(r["accuracy"])
        cell.mae.append(r["mae"])
        if r.get("scale") is not None:
            cell.scale.append(r["scale"])
    return cells


def claims(experiment: str, rows: list[dict[str, Any]], settings: SequenceFields) -> list[str]:
    """The papers' qualitative claims, checked against our numbers (one line each)."""
    cells = _cells(rows)
    lines = []
    if experiment in ("digits", "product"):
        far = str(settings.lengths[-1])
        for kind in settings.kinds:
            units = [m for m in settings.models if m not in ("lstm", "gru", "rnn")]
            rnns = [m for m in settings.models if m in ("lstm", "gru", "rnn")]
            if not units or not rnns:
                continue
            best_unit = min(units, key=lambda m: _relative(cells, kind, m, far))
            best_rnn = min(rnns, key=lambda m: _relative(cells, kind, m, far))
            u, r = _relative(cells, kind, best_unit, far), _relative(cells, kind, best_rnn, far)
            if u < min(r, 0.5):
                verdict = "**holds** (the arithmetic cell is lower, and within 50 %)."
            elif u < r:
                verdict = (
                    "**does not hold here**: the arithmetic cell is lower, but 50 % off or more."
                )
            else:
                verdict = "**does not hold here**."
            lines.append(
                f"{kind}: the best arithmetic cell ({best_unit}) has MAE / mean |target| "
                f"{number(u, 3)} at length {far}, the best of LSTM/GRU/RNN ({best_rnn}) "
                f"{number(r, 3)} (1 is what predicting 0 scores): " + verdict
            )
    elif experiment == "words":
        lstm = cells.get((None, "lstm", "test"))
        nalu = cells.get((None, "lstm>nalu", "test"))
        if lstm and nalu:
            holds = nalu.mean("mae") < lstm.mean("mae")
            lines.append(
                f"LSTM+NALU test MAE {number(nalu.mean('mae'), 2)} vs LSTM "
                f"{number(lstm.mean('mae'), 2)} (paper, unconfirmed: 0.42 vs 29.4): "
                + ("**holds** (LSTM+NALU is lower)." if holds else "**does not hold here**.")
            )
    else:
        lines.extend(
            f"{m}: MAE {number(cells[(None, m, 'interpolation')].mean('mae'), 2)} on programs "
            f"like the training ones, {number(cells[(None, m, 'extrapolation')].mean('mae'), 2)} "
            "with larger constants."
            for m in settings.models
            if (None, m, "extrapolation") in cells
        )
        plain = [m for m in settings.models if ">" not in m and (None, m, "extrapolation") in cells]
        units = [m for m in settings.models if ">" in m and (None, m, "extrapolation") in cells]
        if plain and units:
            best_unit = min(units, key=lambda m: cells[(None, m, "extrapolation")].mean("mae"))
            best_plain = min(plain, key=lambda m: cells[(None, m, "extrapolation")].mean("mae"))
            u = cells[(None, best_unit, "extrapolation")].mean("mae")
            r = cells[(None, best_plain, "extrapolation")].mean("mae")
            lines.append(
                f"Trask et al. report that NALU extrapolates here where LSTMs do not (no numbers "
                f"to set beside ours): the best unit head ({best_unit}) has extrapolation MAE "
                f"{number(u, 2)}, the best plain recurrent model ({best_plain}) {number(r, 2)}: "
                + ("**holds** (the unit head is lower)." if u < r else "**does not hold here**.")
            )
    return lines


def _relative(cells: dict[tuple, Cell], kind: str, model: str, at: str) -> float:
    """MAE over the mean |target| (1.0 is what predicting 0 scores)."""
    cell = cells.get((kind, model, at))
    if cell is None or not cell.scale:
        return math.inf
    return cell.mean("mae") / cell.mean("scale")


def write_report(
    out: Path, settings: SequenceFields, rows: list[dict[str, Any]], source: str
) -> dict[str, Path]:
    experiment = settings.experiment
    cells = _cells(rows)
    columns = list(dict.fromkeys(r["at"] for r in rows))
    _write_csv(out / f"{experiment}.csv", rows)
    what = "length" if experiment in ("digits", "product") else "split"
    lines = [f"# nalm reproduce {experiment}", ""]
    if settings.quick_run:
        lines += [
            f"**Quick run** ({settings.seeds} seed(s), {settings.steps} steps): a smoke test, "
            "not the paper's settings.",
            "",
        ]
    lines += [
        f"{settings.seeds} seed(s) per model, {settings.steps} Adam steps (lr {settings.lr:g}, "
        f"batch {settings.batch_size}), hidden size {settings.hidden}. {source}",
        "Cells: accuracy of the rounded output (all entries right) / MAE, mean over seeds, "
        f"by {what}.",
        _training_time(rows, columns[0]),
        "",
    ]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        if kind:
            lines += [f"## {kind}", ""]
        header = ["model", *columns]
        if experiment == "words":
            header.append("published test MAE (unconfirmed)")
        table_rows = []
        for model in settings.models:
            row = [model]
            for at in columns:
                cell = cells.get((kind, model, at))
                row.append(
                    "-"
                    if cell is None
                    else f"{100 * cell.mean('accuracy'):.0f} % / {number(cell.mean('mae'), 2)}"
                )
            if experiment == "words":
                row.append(str(PUBLISHED_WORDS.get(model, "-")))
            table_rows.append(row)
        lines += [markdown_table(header, table_rows), ""]
    lines += ["## Claims checked", "", *[f"- {c}" for c in claims(experiment, rows, settings)], ""]
    diverged = sum(r["diverged_at"] is not None for r in rows if r["at"] == columns[0])
    lines.append(f"{diverged} of {len(rows) // max(len(columns), 1)} trained models diverged.")
    write_text((out / f"{experiment}.md"), "\n".join(lines) + "\n")
    _plot(out / f"{experiment}.png", experiment, settings, cells, columns)
    return {
        "csv": out / f"{experiment}.csv",
        "markdown": out / f"{experiment}.md",
        "png": out / f"{experiment}.png",
    }


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open_atomic(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["kind", "model", "seed", "at", "accuracy", "mae", "diverged_at"])
        for r in rows:
            writer.writerow(
                [
                    r["kind"] or "",
                    r["model"],
                    r["seed"],
                    r["at"],
                    r["accuracy"],
                    finite_or_none(r["mae"]),
                    r["diverged_at"] if r["diverged_at"] is not None else "",
                ]
            )


def _training_time(rows: list[dict[str, Any]], first: str) -> str:
    times = [r.get("seconds") for r in rows if r["at"] == first]
    if not times or any(t is None for t in times):
        return ""
    return f"Training time, summed over models and seeds: {sum(times):.0f} s."


def _plot(path, experiment, settings, cells, columns) -> None:
    kinds = list(dict.fromkeys(k for k, _, _ in cells))
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.2), squeeze=False)
    numeric = experiment in ("digits", "product")
    for ax, kind in zip(axes[0], kinds, strict=True):
        for i, model in enumerate(settings.models):
            xs, ys = [], []
            for j, at in enumerate(columns):
                cell = cells.get((kind, model, at))
                if cell is not None and math.isfinite(cell.mean("mae")):
                    xs.append(float(at) if numeric else j)
                    ys.append(max(cell.mean("mae"), 1e-6))
            ax.plot(xs, ys, marker="o", label=model, color=f"C{i}")
        if numeric:
            ax.set_xscale("log" if experiment == "digits" else "linear")
            ax.set_xlabel(
                "sequence length (trained on %s)" % ("10" if experiment == "digits" else "2")
            )
        else:
            ax.set_xticks(range(len(columns)), columns)
            ax.set_xlabel("split")
        ax.set_yscale("log")
        ax.set_ylabel("MAE")
        ax.set_title(f"{experiment} {kind or ''}".strip())
        ax.legend(fontsize=8)
    fig.tight_layout()
    with open_atomic(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
