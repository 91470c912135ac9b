"""Do a cell's seeds behave the same with one shared input batch per step and with their own?

``nalm bench run`` shares each step's inputs across a cell's seeds by default (their targets
differ, as each seed has its own slices); the papers' code gives each seed its own stream
(``--per-seed-inputs``). This script reads a database holding both kinds of rows for the same
cells and prints, per cell and kind: the success rate with its Wilson 95 % interval, and the
median solved-at step with a distribution-free 95 % interval (order statistics of the
successful seeds), and whether the two kinds' intervals overlap.

Run (the two sweeps, then this script):

    nalm bench run madsen --models NAU Linear --ops add sub --seeds 100 --steps 100000 \\
        --early-stop --db runs/inputs.sqlite --no-progress
    nalm bench run madsen --models NAU Linear --ops add sub --seeds 100 --steps 100000 \\
        --early-stop --per-seed-inputs --db runs/inputs.sqlite --no-progress
    .venv/bin/python benchmarks/shared_inputs.py runs/inputs.sqlite
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict

from nalm.bench.store import Store
from nalm.metrics import wilson_interval


def median_interval(values: list[float], z: float = 1.96) -> tuple[float, float, float]:
    """``(median, low, high)``: the sample median and the order statistics that bound the
    population median with about 95 % confidence (normal approximation to Binomial(n, ½))."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan, math.nan, math.nan
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    half = z * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return middle, ordered[low], ordered[high]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="a results database with shared and per-seed rows")
    args = parser.parse_args()
    with Store(args.db) as store:
        rows = store.rows()
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        own = '"per_seed_inputs":true' in row["settings"]
        cells[row["model"], row["operation"], row["range"], own].append(row)
    print("| model | op | inputs | seeds | success (95 % CI) | median solved-at (95 % CI) |")
    print("| --- | --- | --- | ---: | --- | --- |")
    intervals = {}
    for (model, op, pair, own), group in sorted(cells.items()):
        n, wins = len(group), sum(bool(r["success"]) for r in group)
        rate, (lo, hi) = wins / n, wilson_interval(wins, n)
        solved = [r["solved_at"] for r in group if r["success"] and r["solved_at"] is not None]
        med, mlo, mhi = median_interval(solved)
        intervals[model, op, pair, own] = ((lo, hi), (mlo, mhi))
        kind = "own per seed" if own else "shared"
        print(
            f"| {model} | {op} | {kind} | {n} | {rate:.0%} ({lo:.0%}–{hi:.0%}) | "
            f"{med:,.0f} ({mlo:,.0f}–{mhi:,.0f}) |"
        )
    print()
    for (model, op, pair, own), (rate, solved) in sorted(intervals.items()):
        other = intervals.get((model, op, pair, True))
        if own or other is None:
            continue
        words = []
        for what, a, b in zip(("success", "solved-at"), (rate, solved), other, strict=True):
            if math.isnan(a[0]) or math.isnan(b[0]):
                words.append(f"{what}: no solved seed on one side")
            else:
                overlap = max(a[0], b[0]) <= min(a[1], b[1])
                words.append(f"{what} intervals {'overlap' if overlap else 'DO NOT overlap'}")
        verdict = ", ".join(words)
        print(f"- {model} {op} on {pair}: {verdict}")


if __name__ == "__main__":
    main()
