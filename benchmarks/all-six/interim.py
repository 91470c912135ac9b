"""Where a running cell stands: each seed of the cell's checkpoint judged as the report will
judge it (the ε-threshold of its own task, the step with the lowest interpolation MSE of its
try), split into the seeds that stopped (their verdict is final) and those still training.

Run while ``nalm bench run`` trains a cell of the ``madsen`` suite (its rows are written only
when the cell ends; the checkpoint beside the database holds every seed's history):

    .venv/bin/python benchmarks/all-six/interim.py runs/all-six/hundred-a.sqlite div
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from nalm.bench import get_suite
from nalm.metrics import judge, success_threshold, wilson_interval
from nalm.train.checkpoint import read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("operation")
    parser.add_argument("--ranges", default="1,2:2,6", help="the cell's range pair")
    parser.add_argument("--eval-size", type=int, default=10_000)
    args = parser.parse_args()
    found = sorted(Path(args.db).parent.glob(Path(args.db).name + ".cell-*.safetensors"))
    if not found:
        raise SystemExit(f"no running cell beside {args.db}")
    tensors, meta = read(found[0])
    engine = meta["engines"][0]
    columns, suite = engine["columns"], get_suite("madsen")
    pair = tuple(args.ranges.split(":"))
    verdicts: dict[str, list[bool]] = {"stopped": [], "training": []}
    tries: Counter[int] = Counter()
    for i, track in enumerate(engine["tracks"]):
        history = [
            dict(zip(columns, row, strict=True)) for row in tensors[f"0/history.{i}"].tolist()
        ]
        task = suite.task(args.operation, pair, track["seed"], args.eval_size)
        restarts = track["reinitialized_at"]
        outcome = judge(
            history,
            success_threshold(task, "extrapolation"),
            diverged=track["diverged_at"] is not None,
            restarts=restarts,
        )
        done = track["stopped_at"] is not None or track["diverged_at"] is not None
        verdicts["stopped" if done else "training"].append(outcome.success)
        if outcome.success:
            tries[1 + sum(step <= outcome.solved_at for step in restarts)] += 1
    n = len(engine["tracks"])
    solved = sum(verdicts["stopped"]) + sum(verdicts["training"])
    low, high = wilson_interval(sum(verdicts["stopped"]), n)
    print(f"{found[0].name} at step {meta['step']:,} of the cell: {n} seeds")
    print(f"  stopped: {len(verdicts['stopped'])}, of them solved {sum(verdicts['stopped'])}")
    print(
        f"  still training: {len(verdicts['training'])}, solved so far {sum(verdicts['training'])}"
    )
    print(f"  solved for good: {sum(verdicts['stopped'])}/{n} (95 % interval {low:.0%}–{high:.0%})")
    print(f"  solved in all so far: {solved}/{n}")
    print(f"  the try that solved: {dict(sorted(tries.items()))}")


if __name__ == "__main__":
    main()
