"""Where each seed of a running (or cut) Madsen ÷/√ cell stands: its first layer's weights
averaged over the items only in ``a``, only in ``b``, in both and in neither, and its power
unit's exponents, read from the cell's checkpoint while the sweep runs.

Run: ``.venv/bin/python benchmarks/recipes/checkpoint_weights.py CHECKPOINT OP [SEED...]``, e.g.
``/work/runs/r3/sel-exact-div.sqlite.cell-1c7a1079da7c4115.safetensors div 4 7 15`` (a cell's
checkpoint sits beside its database as ``DB.cell-ID.safetensors`` until the cell ends). The first
layer's weights are clamped to ``[low, 1]`` as the unit reads them (``--low 0`` for a SelectNAU).
Assumes the standard task's input size (100) and shared inputs.
"""

import argparse
import sys
from pathlib import Path

from nalm.tasks import ArithmeticTask
from nalm.train.checkpoint import read

sys.path.insert(0, str(Path(__file__).parent))
from npu_weights import groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("op")
    parser.add_argument("seeds", nargs="*", type=int, help="seeds (default: every running one)")
    parser.add_argument("--low", type=float, default=-1.0, help="the first layer's lowest weight")
    args = parser.parse_args()
    tensors, meta = read(args.checkpoint)
    # the stack's rows, as the engine's compaction left them: stopped or diverged seeds are gone
    engine = meta["engines"][0]
    running = [
        engine["tracks"][r]["seed"] for r in engine.get("rows", range(len(engine["tracks"])))
    ]
    first = tensors["0/stack.model.0.W"].clamp(args.low, 1.0)
    exponents = tensors["0/stack.model.1.W"]
    print(f"step {meta['step']}; running seeds {running}")
    for seed in args.seeds or running:
        if seed not in running:
            print(f"seed {seed}: not in the checkpoint (stopped early or not in this cell)")
            continue
        at = running.index(seed)
        masks = groups(ArithmeticTask(args.op, seed=seed))
        for h in range(first.shape[1]):
            means = ", ".join(f"{k} {first[at, h][m].mean():+.3f}" for k, m in masks.items())
            print(f"seed {seed}, hidden {h}: {means}")
        print(f"seed {seed}, exponents {[round(w, 4) for w in exponents[at].flatten().tolist()]}")


if __name__ == "__main__":
    main()
