"""The Feynman benchmark: for every kept equation and every tool, make the data, fit, judge.

Run::

    .venv/bin/python benchmarks/feynman/run.py [--tools nalm,pyoperon,gplearn] [--only I.12.2,...]
        [--noise 0.01] [--budget 120] [--n 300] [--seed 0] [--out benchmarks/results/feynman]

Each fit gets the training rows of :func:`data.make_data` and ``--budget`` seconds (Operon uses
all of it; gplearn stops at 30 generations; nalm's ``find_law`` decides). Each result is judged
by :func:`peers.judge` on the test rows and appended to ``OUT/rows.jsonl`` (one JSON object a
line: equation, tool, exact, max_rel_error — null when not finite —, seconds, formula, recovered,
note and the settings) as soon as it is known. A run that is cut off resumes: the rows already in
the file for the same equation, tool, seed, noise, n and budget are skipped. At the end
``OUT/results.md`` gets the table of every row with the current settings.

The nalm tool is ``nalm.fitting.find_law``, imported when the run starts; if that import fails,
the nalm rows are skipped with a message, as are the rows of a peer whose package is missing
(``pip install -e '.[sr]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import numpy as np
import sympy
from data import make_data
from equations import BY_ID, EQUATIONS, EVERYDAY
from peers import SNAP_TOL, fit_gplearn, fit_pyoperon, judge

OUT = Path(__file__).resolve().parents[1] / "results" / "feynman"


@dataclass(frozen=True)
class Fit:
    formula: sympy.Expr
    seconds: float
    note: str = ""


def fit_nalm(x: np.ndarray, y: np.ndarray, names: list[str], budget: float, seed: int) -> Fit:
    from nalm.fitting import find_law

    start = perf_counter()
    law = find_law(x, y, names, budget=budget, seed=seed, progress=False)
    seconds = perf_counter() - start
    note = f"structure {law.structure}; exact on held-back rows: {law.exact}; "
    note += f"find_law's own seconds {law.seconds:.1f}"
    return Fit(law.formula, seconds, note)


def _peer(fit: Callable) -> Callable[..., Fit]:
    def run(x: np.ndarray, y: np.ndarray, names: list[str], budget: float, seed: int) -> Fit:
        formula, seconds = fit(x, y, names, budget=budget, seed=seed)
        return Fit(formula, seconds)

    return run


TOOLS: dict[str, Callable[..., Fit]] = {
    "nalm": fit_nalm,
    "pyoperon": _peer(fit_pyoperon),
    "gplearn": _peer(fit_gplearn),
}
IMPORTS = {
    "nalm": ("nalm.fitting", "find_law"),
    "pyoperon": ("pyoperon.sklearn", "SymbolicRegressor"),
    "gplearn": ("gplearn.genetic", "SymbolicRegressor"),
}


def available(tool: str) -> str | None:
    """``None`` when ``tool`` can run here, else why not."""
    module, name = IMPORTS[tool]
    try:
        getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError) as error:
        return f"cannot import {name} from {module} ({type(error).__name__}: {error})"
    return None


def settings_key(row: dict) -> tuple:
    return (row["equation"], row["tool"], row["seed"], row["noise"], row["n"], row["budget"])


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut off by a kill
                continue
    return rows


def append_row(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_one(tool: str, equation_id: str, n: int, seed: int, noise: float, budget: float) -> dict:
    eq = BY_ID[equation_id]
    data = make_data(eq, n=n, seed=seed, noise=noise)
    row = {"equation": eq.id, "tool": tool, "seed": seed, "noise": noise, "n": n, "budget": budget}
    try:
        fit = TOOLS[tool](data.x_train, data.y_train, eq.names, budget, seed)
        verdict = judge(
            fit.formula,
            eq.expr,
            eq.names,
            data.x_train,
            data.x_test,
            data.y_test,
            tol=max(SNAP_TOL, noise),
        )
    except Exception as error:  # one failed fit is a result, not the end of the run
        traceback.print_exc()
        return row | {
            "exact": False,
            "max_rel_error": None,
            "seconds": None,
            "formula": "",
            "recovered": "",
            "note": f"error: {type(error).__name__}: {error}",
        }
    finite = math.isfinite(verdict.max_rel_error)
    return row | {
        "exact": verdict.exact,
        "max_rel_error": verdict.max_rel_error if finite else None,
        "seconds": round(fit.seconds, 2),
        "formula": str(fit.formula),
        "recovered": str(verdict.recovered) if verdict.exact else "",
        "note": fit.note,
    }


def _cell(row: dict | None) -> str:
    if row is None:
        return ""
    if row["note"].startswith("error"):
        return "error"
    error = row["max_rel_error"]
    error = "inf" if error is None else f"{error:.1e}"
    seconds = f"{row['seconds']:.0f} s"
    return f"**exact** {error}, {seconds}" if row["exact"] else f"no, {error}, {seconds}"


def markdown(rows: list[dict], tools: list[str], equation_ids: list[str]) -> str:
    """The table of ``rows``: one line per equation, one column per tool ("exact"/"no", the
    largest relative error on the test rows, seconds), then a summary per tool."""
    by_key = {(r["equation"], r["tool"]): r for r in rows}
    lines = [
        "| equation | formula | " + " | ".join(tools) + " |",
        "| --- | --- | " + " | ".join("---" for _ in tools) + " |",
    ]
    for eid in equation_ids:
        cells = [_cell(by_key.get((eid, tool))) for tool in tools]
        lines.append(f"| {eid} | `{BY_ID[eid].formula}` | " + " | ".join(cells) + " |")
    lines += ["", "| tool | exact | rows | median max rel error | total seconds |"]
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for tool in tools:
        done = [r for r in rows if r["tool"] == tool and r["equation"] in equation_ids]
        errors = [math.inf if r["max_rel_error"] is None else r["max_rel_error"] for r in done]
        median = f"{statistics.median(errors):.1e}" if errors else ""
        seconds = sum(r["seconds"] or 0 for r in done)
        exact = sum(r["exact"] for r in done)
        lines.append(f"| {tool} | {exact} | {len(done)} | {median} | {seconds:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", default="nalm,pyoperon,gplearn", help="comma-separated")
    parser.add_argument("--only", default="", help="comma-separated equation ids (default all)")
    parser.add_argument(
        "--set",
        choices=("feynman", "everyday"),
        default="feynman",
        help="the 71 Feynman equations (default) or issue 35's five everyday laws",
    )
    parser.add_argument("--noise", type=float, default=0.0, help="relative noise on y_train")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per fit")
    parser.add_argument("--n", type=int, default=300, help="training rows (and test rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for rows.jsonl, results.md")
    args = parser.parse_args(argv)

    tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        parser.error(f"unknown tools {unknown}; choose from {list(TOOLS)}")
    chosen = EQUATIONS if args.set == "feynman" else EVERYDAY
    ids = [i for i in args.only.split(",") if i] or [eq.id for eq in chosen]
    unknown = [i for i in ids if i not in BY_ID]
    if unknown:
        parser.error(f"unknown equations {unknown}; the kept ids are in equations.py")
    for tool in list(tools):
        why = available(tool)
        if why:
            print(f"skipping {tool}: {why}", file=sys.stderr)
            tools.remove(tool)

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "rows.jsonl"
    settings = {"seed": args.seed, "noise": args.noise, "n": args.n, "budget": args.budget}
    done = {settings_key(r) for r in read_rows(path)}
    for eid in ids:
        for tool in tools:
            key = settings_key({"equation": eid, "tool": tool, **settings})
            if key in done:
                continue
            row = run_one(tool, eid, args.n, args.seed, args.noise, args.budget)
            append_row(path, row)
            print(f"{eid:<10} {tool:<9} {_cell(row)}  {row['formula'][:100]}", flush=True)

    rows = [r for r in read_rows(path) if all(r[k] == v for k, v in settings.items())]
    table = markdown(rows, tools, ids)
    header = (
        f"Feynman benchmark: {len(ids)} equations, n = {args.n}, noise = {args.noise}, "
        f"budget = {args.budget:g} s, seed = {args.seed}.\n\n"
    )
    (args.out / "results.md").write_text(header + table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
