"""Which try solved each seed of a cell trained with restarts (a policy with ``reinit``).

Rows written since the rows' config kept them (``config["restarts"]``) hold their restart
steps; for older rows they live in the cell's checkpoint (``DB.cell-ID.safetensors``, beside the
database until the cell ends): read them while the cell runs, and keep them with ``--save``.
With them, each success's try is the one its best step belongs to, and its solved-at is counted
from that try's start. The restarts are used for a database of one cell.

Run: ``.venv/bin/python benchmarks/recipes/tries.py DB [--save TRACKS.json | --tracks
TRACKS.json] [--after STEP] [--compare OTHER_DB]``, e.g. ``tries.py root-retry.sqlite --tracks
benchmarks/results/recipes/root-retry/tracks.json``.
"""

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from nalm.bench.store import Store
from nalm.train.checkpoint import read


def restarts_of(db: str, tracks: str | None, save: str | None) -> dict[int, list[int]] | None:
    """Seed → restart steps: from a saved file, else from the cell's running checkpoint."""
    if tracks:
        return {int(seed): steps for seed, steps in json.loads(Path(tracks).read_text()).items()}
    found = sorted(Path(db).parent.glob(Path(db).name + ".cell-*.safetensors"))
    if not found:
        return None
    meta = read(str(found[0]))[1]
    restarts = {t["seed"]: t.get("reinitialized_at", []) for t in meta["engines"][0]["tracks"]}
    print(f"read from {found[0].name} at step {meta['step']:,}")
    if save:
        Path(save).write_text(json.dumps(restarts, indent=0) + "\n")
    return restarts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--tracks", help="restart steps saved earlier with --save")
    parser.add_argument("--save", help="write the running checkpoint's restart steps here")
    parser.add_argument("--after", type=int, help="list the successes solved after this step")
    parser.add_argument("--compare", help="another database of the same seeds: shared successes")
    args = parser.parse_args()
    with Store(args.db) as store:
        rows = store.rows()
    cells: dict[tuple, list] = {}
    for r in rows:
        cells.setdefault((r["model"], r["operation"], r["range"], r["settings"]), []).append(r)
    restarts = restarts_of(args.db, args.tracks, args.save)
    for (model, op, where, _), cell in cells.items():
        print(f"{model} {op} {where}:")
        stored = {r["seed"]: r["config"].get("restarts") for r in cell}
        if all(isinstance(steps, list) for steps in stored.values()):
            report(cell, args, stored)  # the rows' own restart steps
        else:
            report(cell, args, restarts if len(cells) == 1 else None)


def report(rows: list, args: argparse.Namespace, restarts: dict[int, list[int]] | None) -> None:
    """One cell's successes, the late ones, the comparison, where the failures end, the tries."""
    wins = {r["seed"]: r for r in rows if r["success"]}
    print(f"  {len(wins)}/{len(rows)} solved")
    if args.after is not None:
        late = sorted((r["solved_at"], s) for s, r in wins.items() if r["solved_at"] > args.after)
        print(f"  solved after {args.after:,}: " + ", ".join(f"seed {s} at {a:,}" for a, s in late))
    if args.compare:
        seeds = {r["seed"] for r in rows}
        with Store(args.compare) as other:
            theirs = {r["seed"] for r in other.rows() if r["success"] and r["seed"] in seeds}
        print(f"  {args.compare}: {len(theirs)} of these seeds solved, "
              f"{len(theirs & wins.keys())} of them solved here too")  # fmt: skip
    failed = [r for r in rows if not r["success"]]
    if failed:
        inter = sorted(r["interpolation_mse"] for r in failed)
        extra = sorted(r["extrapolation_mse"] for r in failed)
        print(f"  failures end at interpolation MSE median {statistics.median(inter):.2g} "
              f"({inter[0]:.2g} to {inter[-1]:.2g}), extrapolation MSE from {extra[0]:.2g} "
              f"(threshold {failed[0]['threshold']:.2g})")  # fmt: skip
    if restarts is None:
        return
    tries, within = Counter(), []
    for seed, row in wins.items():
        before = [t for t in restarts.get(seed, []) if t <= row["best_step"]]
        tries[len(before) + 1] += 1
        within.append(row["solved_at"] - (before[-1] if before else 0))
    total = sum(len(r) + 1 for s, r in restarts.items() if s not in wins)
    total += sum(k * n for k, n in tries.items())
    solved = ", ".join(f"{n} in try {k}" for k, n in sorted(tries.items()))
    print(f"  the try that solved: {solved}")
    print(f"  tries in all: {total} (successes and failures)")
    if within:
        print(f"  solved-at from its try's start: median {statistics.median(within):,.0f}, "
              f"max {max(within):,}")  # fmt: skip


if __name__ == "__main__":
    main()
