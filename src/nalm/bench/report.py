"""Reports from a results database: Markdown + CSV tables and PNG plots."""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..files import open_atomic, write_text
from ..metrics import wilson_interval
from ..models import parse
from ..reporting import markdown_table
from ..reporting.published import benchmark_figure as published
from ..tasks.arithmetic import OPERATIONS, get_operation
from .cells import JUDGED, OLD_STOP_RULE, TASK_FIELDS
from .compare import comparison
from .compare import num as _num
from .compare import rate as _rate
from .store import range_key
from .suites import SUITES
from .table1 import scores_section

CELL = ("suite", "model", "operation", "range", "settings")


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per cell (suite, model, operation, range, settings), operations in the
    order + − × ÷ z² √."""
    cells: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        cells[tuple(row[k] for k in CELL)].append(row)
    order = list(OPERATIONS)

    def sort_key(key: tuple) -> tuple:
        suite, model, operation, range_, settings = key
        rank = order.index(operation) if operation in order else len(order)
        return (suite, model, rank, range_, settings)

    out = []
    for key in sorted(cells, key=sort_key):
        members = cells[key]
        suite, model, operation, range_, settings = key
        n = len(members)
        wins = [r for r in members if r["success"]]
        low, high = wilson_interval(len(wins), n)
        solved = [r["solved_at"] for r in wins if r["solved_at"] is not None]
        sparsity = [r["sparsity_error"] for r in wins if r["sparsity_error"] is not None]
        config = members[0]["config"] or {}
        steps = config.get("settings", {}).get("steps")
        paper_name = parse(model, layers=2 if ">" in model or model.startswith("mlp:") else 1)
        name = paper_name.paper_name if suite == "madsen" else None
        quoted = (
            published(suite, name, operation) if _papers_task(suite, range_, settings) else None
        )
        out.append(
            {
                "suite": suite,
                "model": model,
                "paper_name": name or "",
                "operation": operation,
                "symbol": get_operation(operation).symbol,
                "range": range_,
                "steps": steps,
                "seeds": n,
                "successes": len(wins),
                "success_rate": len(wins) / n,
                "ci_low": low,
                "ci_high": high,
                "diverged": sum(r["diverged_at"] is not None for r in members),
                "seconds": _seconds(members),
                "solved_at_median": statistics.median(solved) if solved else None,
                "solved_at_mean": statistics.fmean(solved) if solved else None,
                "sparsity_error_mean": statistics.fmean(sparsity) if sparsity else None,
                "published_success": quoted.success if quoted else None,
                "published_solved_at": quoted.solved_at if quoted else None,
                "published_sparsity_error": quoted.sparsity_error if quoted else None,
                "stop_rule": stop_rule(settings),
                "judged": judging(members),
                "settings": settings,
                "settings_id": hashlib.sha1(settings.encode()).hexdigest()[:6],
                "histories": [r["history"] for r in members],
            }
        )
    return out


def stop_rule(settings: str) -> str:
    """The early-stop rule a cell's rows were made with, from its settings key: ``"none"``,
    today's rule (:data:`~nalm.bench.cells.STOP_RULE`, reads the interpolation set only) or
    :data:`~nalm.bench.cells.OLD_STOP_RULE` (rows from before it, whose rule read the
    extrapolation set).

    Examples:
        >>> stop_rule('{"early_stop":false}'), stop_rule('{"early_stop":true}')
        ('none', 'solved-early')
        >>> stop_rule('{"early_stop":true,"stop_rule":"plateau-5"}')
        'plateau-5'
    """
    try:
        values = json.loads(settings)
    except ValueError:
        return "unknown"
    if not isinstance(values, dict) or not values.get("early_stop"):
        return "none"
    return str(values.get("stop_rule", OLD_STOP_RULE))


def judging(members: Sequence[dict[str, Any]]) -> str:
    """How a cell's rows were judged: ``"per try"`` (today's rule, or a policy without
    restarts, where the two rules agree) or ``"over all tries"`` (rows from before per-try
    judging whose policy restarts seeds: their best step may lie in an abandoned try)."""
    for row in members:
        config = row.get("config") or {}
        policy = (config.get("settings") or {}).get("policy") or {}
        if config.get("judged") != JUDGED and policy.get("reinit"):
            return "over all tries"
    return "per try"


def _papers_task(suite: str, range_: str, settings: str) -> bool:
    """Whether a cell is on its suite's own task (a range of the suite's, no task setting of its
    own), the only cells a published number may stand beside."""
    known = SUITES.get(suite)
    if known is None or range_ not in {range_key(pair) for pair in known.ranges}:
        return False
    return not any(f'"{name}":' in settings for name in TASK_FIELDS)


def _seconds(members: Sequence[dict[str, Any]]) -> float | None:
    """The wall-clock time a cell took: its seeds' shares summed (``None`` if none is known)."""
    known = [r["seconds"] for r in members if r.get("seconds") is not None]
    return sum(known) if known else None


def markdown(summaries: Sequence[dict[str, Any]]) -> str:
    """The report's Markdown table."""
    headers = [
        "suite",
        "model",
        "op",
        "range",
        "steps",
        "seeds",
        "success (95 % CI)",
        "published",
        "solved at: median / mean",
        "published solved at",
        "sparsity error",
        "diverged",
        "stop rule",
        "settings",
    ]
    rows = []
    for s in summaries:
        name = f"{s['model']} ({s['paper_name']})" if s["paper_name"] else s["model"]
        pub = s["published_success"]
        rows.append(
            [
                s["suite"],
                name,
                s["symbol"],
                s["range"],
                f"{s['steps']:,}" if s["steps"] else "—",
                s["seeds"],
                _rate(s),
                f"{pub:g} %" if pub is not None else "—",
                f"{_num(s['solved_at_median'])} / {_num(s['solved_at_mean'])}",
                _num(s["published_solved_at"]),
                _num(s["sparsity_error_mean"]),
                s["diverged"],
                _stop_shown(s),
                s["settings_id"],
            ]
        )
    return markdown_table(headers, rows)


def _stop_shown(summary: dict[str, Any]) -> str:
    """The stop-rule column: the rule, flagged where the rows read the test set or were judged
    over every try."""
    rule = summary["stop_rule"]
    text = f"{rule} (read the test set)" if rule == OLD_STOP_RULE else rule
    return text + ("; judged over all tries" if summary["judged"] != "per try" else "")


HEADER = (
    "# nalm benchmark report\n\n"
    "Success: extrapolation MSE below the ε-perfect solution's (ε = 1e-5) at the step with "
    "the lowest interpolation MSE; diverged seeds count as failures. Intervals are Wilson "
    "95 %. Solved at: first evaluated step below the threshold (successful seeds only; "
    "after a restart, in the try that was judged). The best step is chosen within the try "
    "that is judged (the last). Stop rule: how seeds were stopped early: `none`, `plateau-5` "
    "(interpolation MSE below its threshold for 5 evaluations with no halving: reads the "
    "interpolation set only) or `solved-early (read the test set)`, the first rule, which "
    "stopped a seed once its extrapolation MSE was below the threshold (rows from before the "
    "change; `judged over all tries` marks rows from before per-try judging). "
    "Published columns are quoted from the papers (Madsen & Johansen 2020 for `madsen`), "
    "not produced here. `settings` is a short id of the cell's training settings (the CSV "
    "holds them in full).\n\n"
)
"""The top of ``results.md``."""


def write_report(
    rows: Sequence[dict[str, Any]],
    out: str | Path,
    failures: Sequence[dict[str, Any]] = (),
) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``success.png`` and ``extrapolation.png``;
    cells that failed on a Ray cluster (``Store.failures``) and still have no rows are listed
    at the end of ``results.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summaries = summarize(rows)
    paths = {
        "markdown": out / "results.md",
        "csv": out / "results.csv",
        "success": out / "success.png",
        "extrapolation": out / "extrapolation.png",
    }
    have = {
        (r["suite"], r["model"], r["operation"], r["range"], r["settings"], r["seed"]) for r in rows
    }
    still = {  # failures some of whose seeds still have no row (the latest per cell)
        (f["suite"], f["model"], f["operation"], f["range"], f["settings"]): f
        for f in failures
        if any(
            (f["suite"], f["model"], f["operation"], f["range"], f["settings"], seed) not in have
            for seed in f["seeds"]
        )
    }
    tail = ""
    if still:
        tail = (
            "\n## Failed cells\n\nThese cells failed after their retries and have no rows; "
            "running the sweep again submits them again.\n\n"
            + "\n".join(
                f"- {f['suite']} {f['model']} {f['operation']} {f['range']} (seeds "
                f"{f['seeds'][0]}–{f['seeds'][-1]}, {f['attempts']} attempts): "
                f"{f['error'].splitlines()[-1]}"
                for f in still.values()
            )
            + "\n"
        )
    scores = scores_section(rows)
    body = HEADER + markdown(summaries) + "\n" + scores + comparison(summaries) + tail
    write_text(paths["markdown"], body)
    fields = [k for k in summaries[0] if k != "histories"]
    with open_atomic(paths["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for s in summaries:
            writer.writerow({k: s[k] for k in fields})
    from .plots import plot_extrapolation, plot_success

    plot_success(summaries, paths["success"])
    plot_extrapolation(summaries, paths["extrapolation"])
    return paths
