"""Success and solved-at statistics of one cell's rows (the paper-scale NMU × run).

Run: ``.venv/bin/python benchmarks/solved_at.py DB [--ramp-start 1000000]``
"""

import argparse
import statistics

from nalm.bench.store import Store
from nalm.metrics import wilson_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--ramp-start", type=float, default=1e6)
    args = parser.parse_args()
    with Store(args.db) as store:
        rows = store.rows()
    wins = [r for r in rows if r["success"]]
    lo, hi = wilson_interval(len(wins), len(rows))
    diverged = sum(r["diverged_at"] is not None for r in rows)
    print(f"seeds {len(rows)}, success {len(wins)} ({lo:.0%}–{hi:.0%}), diverged {diverged}")
    solved = sorted(r["solved_at"] for r in wins)
    if not solved:
        return
    p90 = solved[min(len(solved) - 1, int(0.9 * len(solved)))]
    median = statistics.median(solved)
    print(
        f"solved at: min {solved[0]:,}, median {median:,.0f}, mean {statistics.mean(solved):,.0f}"
    )
    print(f"           90th pct {p90:,}, max {solved[-1]:,}")
    for cut in (1.2e6, 1.5e6, 2e6, 2.5e6, 3e6):
        print(f"solved by {cut:.2g}: {sum(x <= cut for x in solved)}")
    start = args.ramp_start
    print(
        f"from the ramp's start: {solved[0] - start:,.0f} / {median - start:,.0f} "
        f"/ {p90 - start:,.0f}"
    )
    print(f"sparsity error (successes): {statistics.mean(r['sparsity_error'] for r in wins):.3g}")
    for r in rows:
        if not r["success"]:
            print(f"failed seed {r['seed']}: interpolation {r['interpolation_mse']:.3g}, "
                  f"extrapolation {r['extrapolation_mse']:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
