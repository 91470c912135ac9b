"""Where a step of the all-six model goes at 100 seeds: ``cProfile`` over a short ``madsen`` ÷
cell (600 steps, one thread), the functions with the most time of their own.

    .venv/bin/python benchmarks/all-six/step_profile.py [--steps 600] [--seeds 100]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path

import torch

from nalm.bench.sweep import Sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        sweep = Sweep(
            "madsen",
            models=["all-six"],
            policy="all-six",
            ops=["div"],
            seeds=args.seeds,
            steps=args.steps,
            db=str(Path(folder) / "profile.sqlite"),
            no_progress=True,
        )
        profile = cProfile.Profile()
        profile.runcall(sweep.run, log=lambda line: None)
    pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
