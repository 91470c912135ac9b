"""Which branch each seed of an all-six candidate chose, and its weights (issue 36).

Runs one `nalm bench run madsen` cell in this process and prints, for every seed, its last
evaluation and its final weights: the branch layer's selection logits ``S`` (one per branch),
each branch unit's weights, and the first layer's entries above 0.05. From the repository root:

    .venv/bin/python benchmarks/all-six/selections.py --op div --seeds 4 --steps 150000
"""

from __future__ import annotations

import argparse

import nalm.bench.cells as cells
from nalm.cli import main

MODEL = "select_nau>(nau|nmu|int_snap_npu|snap_npu)"


def _weights(name: str, w) -> str:
    if w.numel() <= 16:
        return f"    {name} {[round(x, 3) for x in w.flatten().tolist()]}"
    big = [(tuple(i), round(w[tuple(i)].item(), 3)) for i in (w.abs() > 0.05).nonzero().tolist()]
    more = " …" if len(big) > 8 else ""
    return f"    {name} {tuple(w.shape)}, entries above 0.05: {big[:8]}{more}"


def run(args: argparse.Namespace) -> None:
    captured = {}
    train = cells.fit_seeds

    def keep(*a, **k):
        captured["result"] = result = train(*a, **k)
        return result

    cells.fit_seeds = keep
    db = f"runs/all-six/selections-{args.policy}-{args.op}-{args.steps}.sqlite"
    main(["bench", "run", "madsen", "--import", "benchmarks/all-six/candidates.py", "--models",
          args.model, "--ops", args.op, "--policy", args.policy, "--seeds", str(args.seeds),
          "--steps", str(args.steps), "--early-stop", "--db", db, "--no-progress"])  # fmt: skip
    if "result" not in captured:
        print(f"nothing trained: {db} holds these seeds already; remove it to run again")
        return
    for seed in captured["result"].runs:
        last = {k: f"{v:.3g}" for k, v in seed.history[-1].items()}
        print(f"seed {seed.seed}: {last}, restarts at {seed.reinitialized_at}")
        for name, w in seed.weights.items():
            print(_weights(name, w))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--policy", default="six-branch-4")
    parser.add_argument("--op", default="div")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=150_000)
    run(parser.parse_args())
