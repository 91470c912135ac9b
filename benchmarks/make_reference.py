"""Build nalm's shipped reference table, ``src/nalm/bench/data/reference.csv``, from the recorded
benchmark runs (``benchmarks/results/<suite>/results.csv``, written by ``nalm bench report``).

Each reference cell keeps what a ranked report needs: suite, model, operation, range, steps,
seeds, successes, the median solved-at step, the training settings it came from (those that
:data:`nalm.bench.reference.COMPARED` compares: with the policy's name and the early-stop rule)
and its source directory.

Run: ``.venv/bin/python benchmarks/make_reference.py``
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nalm.bench.reference import policy_name
from nalm.bench.report import stop_rule

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["benchmarks/results/madsen"]
OUT = ROOT / "src" / "nalm" / "bench" / "data" / "reference.csv"
KEPT = ("steps", "batch_size", "lr", "eval_size")
COLUMNS = ["suite", "model", "operation", "range", "steps", "seeds", "successes",
           "solved_at_median", "settings", "source"]  # fmt: skip


def main() -> None:
    rows = []
    for source in SOURCES:
        with (ROOT / source / "results.csv").open() as f:
            for cell in csv.DictReader(f):
                settings = json.loads(cell["settings"])
                kept = {k: settings[k] for k in KEPT if k in settings}
                kept |= {"policy": policy_name(settings), "stop_rule": stop_rule(cell["settings"])}
                rows.append(
                    {k: cell[k] for k in COLUMNS[:7]}
                    | {"solved_at_median": cell["solved_at_median"]}
                    | {"settings": json.dumps(kept, sort_keys=True), "source": source}
                )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} reference cells to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
