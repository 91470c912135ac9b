"""Judge stored rows again with the current :func:`peers.judge`, without fitting anything.

Run::

    .venv/bin/python benchmarks/feynman/rejudge.py benchmarks/results/feynman/rows.jsonl [...]

Each row's formula (as the tool printed it) is judged on the data its settings make (the same
:func:`data.make_data` rows), and the file is rewritten with the new verdicts; every row whose
verdict changed is printed. A judge that changes is applied to every tool's rows alike, so the
table stays one judge's.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import sympy
from data import make_data
from equations import BY_ID
from peers import SNAP_TOL, judge


def rejudge(row: dict) -> dict:
    if not row["formula"]:
        return row
    eq = BY_ID[row["equation"]]
    data = make_data(eq, n=row["n"], seed=row["seed"], noise=row["noise"])
    symbols = {n: sympy.Symbol(n) for n in eq.names}
    formula = sympy.sympify(row["formula"], locals=symbols)
    verdict = judge(
        formula,
        eq.expr,
        eq.names,
        data.x_train,
        data.x_test,
        data.y_test,
        tol=max(SNAP_TOL, row["noise"]),
    )
    finite = math.isfinite(verdict.max_rel_error)
    return row | {
        "exact": verdict.exact,
        "max_rel_error": verdict.max_rel_error if finite else None,
        "recovered": str(verdict.recovered) if verdict.exact else "",
    }


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        judged = [rejudge(row) for row in rows]
        for old, new in zip(rows, judged, strict=True):
            if old["exact"] != new["exact"]:
                print(f"{path}: {old['equation']} {old['tool']}: {old['exact']} -> {new['exact']}")
        path.write_text("".join(json.dumps(row) + "\n" for row in judged))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
