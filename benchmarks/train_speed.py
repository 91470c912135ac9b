"""Training speed of `nalm.fit`: optimiser steps per second for one model, on this machine.

Run:  .venv/bin/python benchmarks/train_speed.py [--steps 3000]
"""

from __future__ import annotations

import argparse
import time

import torch

from nalm import MLP, NAC, NALU, ExpressionTask, NACMul, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=1000)
    models = {
        "NAC(2, 1)": lambda: NAC(2, 1),
        "NACMul(2, 1)": lambda: NACMul(2, 1),
        "NALU(2, 1)": lambda: NALU(2, 1),
        "NALU seed preset, 2 layers": lambda: torch.nn.Sequential(
            NALU.seed_preset(2, 2), NALU.seed_preset(2, 1)
        ),
        "MLP(2, 1, hidden=(64, 64))": lambda: MLP(2, 1),
    }
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 128, "
        f"{args.steps} steps, evaluation every 1000 steps on 2 x 1000 rows"
    )
    print(f"{'model':32s} steps/s")
    for name, make in models.items():
        torch.manual_seed(0)
        fit(make(), task, steps=200, lr=1e-3, progress=False)  # warm-up: first calls are slower
        model = make()
        started = time.perf_counter()
        fit(model, task, steps=args.steps, lr=1e-3, progress=False)
        print(f"{name:32s} {args.steps / (time.perf_counter() - started):7.0f}")


if __name__ == "__main__":
    main()
