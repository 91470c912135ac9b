"""Every unit on the four operations: how often a single unit learns a ∘ b and extrapolates.

One unit, two inputs, trained on U[1, 2] (× also on U[−2, 2], for the sign) and tested on
U[2, 6] (U[−6, −2] ∪ U[2, 6]); each unit with its recommended policy, one learning rate for all.
A seed succeeds when its final extrapolation MSE is below 1e-4. This is a quick look for the
"which unit for which job" page, not the benchmark (that is `nalm bench`).

Run:  .venv/bin/python benchmarks/units_quick.py [--seeds 5 --steps 5000 --lr 0.03 --jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from nalm import ExpressionTask, fit, units
from nalm.reporting import markdown_table

TASKS = {
    "+": ("x0 + x1", "1,2", "2,6"),
    "−": ("x0 - x1", "1,2", "2,6"),
    "×": ("x0 * x1", "1,2", "2,6"),
    "× signed": ("x0 * x1", "-2,2", "-6,-2|2,6"),
    "÷": ("x0 / x1", "1,2", "2,6"),
}
SUCCESS = 1e-4


def one_run(job: tuple[str, str, int, int, float]) -> dict[str, object]:
    unit, op, seed, steps, lr = job
    torch.set_num_threads(1)
    target, train_range, test_range = TASKS[op]
    task = ExpressionTask(target, train_range, test_range, eval_seed=seed, eval_size=5000)
    torch.manual_seed(seed)
    model = units.create(unit, 2, 1)
    result = fit(model, task, steps=steps, lr=lr, seed=seed, progress=False, eval_every=steps)
    mse = result.final.get("extrapolation_mse", float("nan"))
    return {
        "unit": unit,
        "op": op,
        "seed": seed,
        "extrapolation_mse": mse,
        "diverged": result.diverged,
        "success": (not result.diverged) and mse < SUCCESS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--units", default=",".join(n for n in units.names() if n != "mlp"))
    parser.add_argument("--csv", type=Path, help="also write every run to this CSV")
    args = parser.parse_args()
    names = args.units.split(",")
    jobs = [
        (u, op, s, args.steps, args.lr) for u in names for op in TASKS for s in range(args.seeds)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_run, jobs))
    seconds = time.perf_counter() - started
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    table = []
    for unit in names:
        cells = [f"`{unit}`"]
        for op in TASKS:
            runs = [r for r in rows if r["unit"] == unit and r["op"] == op]
            wins = sum(bool(r["success"]) for r in runs)
            median = statistics.median(float(r["extrapolation_mse"]) for r in runs)
            diverged = sum(bool(r["diverged"]) for r in runs)
            note = f", {diverged} diverged" if diverged else ""
            cells.append(f"{wins}/{len(runs)} ({median:.0e}{note})")
        table.append(cells)
    print(
        f"{args.seeds} seeds, {args.steps} steps, Adam lr {args.lr}, recommended policies; "
        f"successes (median extrapolation MSE); {seconds:.0f} s"
    )
    print(markdown_table(["unit", *TASKS], table))


if __name__ == "__main__":
    main()
