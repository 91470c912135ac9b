"""Compare the tools of a Feynman run: who recovers which equation, and on the equations a tool
does not recover, whose formula is closer on the test rows.

    .venv/bin/python benchmarks/feynman/compare.py benchmarks/results/feynman/rows.jsonl
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path


def main(path: str, first: str = "nalm", second: str = "pyoperon") -> None:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    by = {(r["equation"], r["tool"]): r for r in rows}
    ids = sorted({r["equation"] for r in rows}, key=[r["equation"] for r in rows].index)
    both = [i for i in ids if (i, first) in by and (i, second) in by]
    a = {i for i in both if by[i, first]["exact"]}
    b = {i for i in both if by[i, second]["exact"]}
    print(f"{len(both)} equations: {first} exact {len(a)}, {second} exact {len(b)}")
    print(f"  both {len(a & b)}; only {first} {len(a - b)}: {', '.join(sorted(a - b))}")
    print(f"  only {second} {len(b - a)}: {', '.join(sorted(b - a))}")
    rest = [i for i in both if i not in a]

    def error(i: str, tool: str) -> float:
        value = by[i, tool]["max_rel_error"]
        return math.inf if value is None else value

    closer = sum(error(i, first) <= error(i, second) for i in rest)
    print(
        f"  on the {len(rest)} {first} does not recover: {first} closer on the test rows for "
        f"{closer}; median max rel. error {first} "
        f"{statistics.median(error(i, first) for i in rest):.2g}, {second} "
        f"{statistics.median(error(i, second) for i in rest):.2g}"
    )
    for tool in (first, second):
        seconds = [by[i, tool]["seconds"] for i in both]
        over = sum(s > 120 for s in seconds)
        print(
            f"  {tool}: median {statistics.median(seconds):.0f} s, max {max(seconds):.0f} s, "
            f"{over} over 120 s"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
