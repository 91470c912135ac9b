"""Ranking a user's cells beside nalm's own reference results and the published numbers
(``nalm bench report --reference``).

nalm's reference results are a small table shipped in the package (``bench/data/reference.csv``,
built by ``benchmarks/make_reference.py`` from the recorded runs in ``benchmarks/results/``), one
line per cell with the training settings it came from. For each (suite, operation, range) of the
user's results, :func:`ranking` lists the user's models, the reference's and the paper's, ranked
by success rate (the lower end of the 95 % interval breaking ties). A reference cell whose
settings (:data:`COMPARED`) differ from the user's is kept on its own line and marked with what
differs; it is never pooled with the user's rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..files import open_atomic, write_text
from ..metrics import wilson_interval
from ..models import parse
from ..reporting import markdown_table
from ..reporting.figures import plt
from ..reporting.published import benchmark_figure as published
from ..tasks.arithmetic import get_operation
from .report import stop_rule

COMPARED = ("steps", "batch_size", "lr", "eval_size", "policy", "stop_rule")
"""The training settings a reference cell must share with the user's to be comparable."""


@dataclass(frozen=True)
class Entry:
    """One line of a ranking: who produced it, the model, its successes and its settings note."""

    source: str  # "yours", "nalm reference" or the paper
    model: str
    seeds: int
    successes: int | None  # None: a published rate without its count
    rate: float
    low: float
    high: float
    solved_at: float | None
    note: str = ""


def reference_cells() -> list[dict[str, Any]]:
    """The shipped reference table, one dict per cell (numbers parsed, settings as a dict)."""
    text = resources.files("nalm.bench").joinpath("data/reference.csv").read_text()
    cells = []
    for row in csv.DictReader(io.StringIO(text)):
        cells.append(
            row
            | {
                "steps": int(row["steps"]),
                "seeds": int(row["seeds"]),
                "successes": int(row["successes"]),
                "solved_at_median": float(row["solved_at_median"] or "nan"),
                "settings": json.loads(row["settings"]),
            }
        )
    return cells


def policy_name(settings: dict[str, Any]) -> str | None:
    """The policy's name in a settings key (its fields today, its name in keys of format 1)."""
    policy = settings.get("policy")
    return policy.get("name") if isinstance(policy, dict) else policy


def _settings(summary: dict[str, Any]) -> dict[str, Any]:
    try:
        key = json.loads(summary["settings"])
    except (TypeError, ValueError):
        key = {}
    if not isinstance(key, dict):
        key = {}
    return {k: key.get(k) for k in COMPARED} | {
        "steps": summary.get("steps") or key.get("steps"),
        "policy": policy_name(key),
        "stop_rule": stop_rule(summary["settings"]) if summary.get("settings") else None,
    }


def _difference(mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    changed = [
        f"{k} {theirs.get(k):,} vs your {mine.get(k):,}"
        if isinstance(theirs.get(k), int) and isinstance(mine.get(k), int)
        else f"{k} {theirs.get(k)} vs your {mine.get(k)}"
        for k in COMPARED
        if mine.get(k) is not None and theirs.get(k) != mine.get(k)
    ]
    return "settings differ: " + ", ".join(changed) if changed else ""


def ranking(summaries: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], list[Entry]]:
    """(suite, operation, range) → the ranked entries: the user's cells (``summaries`` from
    :func:`nalm.bench.report.summarize`), the reference's cells of that suite, operation and
    range, and the published rate where there is one."""
    reference = reference_cells()
    out: dict[tuple[str, str, str], list[Entry]] = {}
    for s in summaries:
        where = (s["suite"], s["operation"], s["range"])
        entries = out.setdefault(where, [])
        entries.append(
            _entry("yours", s["model"], s["seeds"], s["successes"], s["solved_at_median"])
        )
        mine = _settings(s)
        for ref in reference:
            if (ref["suite"], ref["operation"], ref["range"]) != where:
                continue
            note = _difference(mine, ref["settings"])
            entry = _entry(
                "nalm reference",
                ref["model"],
                ref["seeds"],
                ref["successes"],
                ref["solved_at_median"],
                note,
            )
            if entry not in entries:
                entries.append(entry)
        _add_published(entries, s)
    for entries in out.values():
        entries.sort(key=lambda e: (-e.rate, -e.low, e.source != "yours", e.model))
    return out


def _entry(source, model, seeds, successes, solved_at, note="") -> Entry:
    low, high = wilson_interval(successes, seeds)
    solved = solved_at if solved_at == solved_at else None  # NaN: none solved
    return Entry(source, model, seeds, successes, successes / seeds, low, high, solved, note)


def _add_published(entries: list[Entry], s: dict[str, Any]) -> None:
    if s["suite"] != "madsen":
        return
    name = parse(s["model"], layers=2).paper_name
    quoted = published(s["suite"], name, s["operation"])
    if quoted is None or quoted.success is None:
        return
    rate = quoted.success / 100
    entry = Entry(
        "Madsen & Johansen 2020", name or s["model"], 100, None, rate, rate, rate, quoted.solved_at
    )
    if entry not in entries:
        entries.append(entry)


def ranking_markdown(ranked: dict[tuple[str, str, str], list[Entry]]) -> str:
    """One Markdown table: a block of ranked lines per (suite, operation, range)."""
    rows = []
    for (suite, operation, range_), entries in ranked.items():
        symbol = get_operation(operation).symbol
        for rank, e in enumerate(entries, start=1):
            count = "" if e.successes is None else f"{e.successes}/{e.seeds}, "
            interval = "" if e.successes is None else f" ({100 * e.low:.0f}–{100 * e.high:.0f})"
            solved = "—" if e.solved_at is None else f"{e.solved_at:.2g}"
            rows.append(
                [
                    f"{suite} {symbol} {range_}",
                    rank,
                    e.source,
                    e.model,
                    f"{count}{100 * e.rate:.0f} %{interval}",
                    solved,
                    e.note,
                ]
            )
    headers = ["cell", "rank", "source", "model", "success (95 % CI)", "solved at", "note"]
    return markdown_table(headers, rows)


def plot_ranking(ranked: dict[tuple[str, str, str], list[Entry]], path: Path) -> Path:
    """Success rate with its interval, one panel per (suite, operation, range), one bar per
    entry, coloured by source."""
    colours = {"yours": "C0", "nalm reference": "C2"}
    fig, axes = plt.subplots(
        len(ranked),
        1,
        figsize=(8, 0.5 + 0.45 * sum(map(len, ranked.values())) + 0.6 * len(ranked)),
        squeeze=False,
    )
    for ax, ((suite, operation, range_), entries) in zip(axes[:, 0], ranked.items(), strict=True):
        labels = [f"{e.model} ({e.source})" + (" †" if e.note else "") for e in entries]
        y = list(range(len(entries)))[::-1]
        rates = [100 * e.rate for e in entries]
        # max(0, ·): at 0 % or 100 % the interval's end meets the rate up to rounding
        errors = [
            [max(0.0, 100 * (e.rate - e.low)) for e in entries],
            [max(0.0, 100 * (e.high - e.rate)) for e in entries],
        ]
        ax.barh(y, rates, xerr=errors, color=[colours.get(e.source, "C7") for e in entries])
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_title(f"{suite} {get_operation(operation).symbol} {range_}", fontsize=9)
    axes[-1, 0].set_xlabel("success rate, % (Wilson 95 %; † settings differ from yours)")
    fig.tight_layout()
    with open_atomic(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path


def write_ranking(summaries: Sequence[dict[str, Any]], out: Path) -> dict[str, Path]:
    """``ranking.md`` and ``ranking.png`` in ``out``."""
    ranked = ranking(summaries)
    text = (
        "# Your results beside nalm's reference and the papers\n\n"
        "Ranked by success rate within each cell. `nalm reference`: nalm's recorded runs "
        "(shipped with the package, from `benchmarks/results/`); a reference line whose "
        "training settings differ from yours is marked (†), never pooled with your rows. "
        "Published rates are the paper's, not produced here.\n\n" + ranking_markdown(ranked) + "\n"
    )
    write_text((out / "ranking.md"), text)
    return {"ranking": out / "ranking.md", "ranking_png": plot_ranking(ranked, out / "ranking.png")}
