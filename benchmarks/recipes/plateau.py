"""Where a `nau>nmu` seed stalls on Madsen's × task, and where `nmu-fast` takes it.

Trains one seed with the paper's policy for 30,000 steps (its regulariser is still off) and with
`nmu-fast` for 100,000, and prints the NAU's two rows of weights grouped by the role of each
input: in both sums, in `a` only, in `b` only, in neither.

    .venv/bin/python benchmarks/recipes/plateau.py [--seed 0]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import get_policy
from nalm.units import NAU, NMU


def groups(task: ArithmeticTask, W: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    sel = task.selection.bool()
    roles = {
        "in a and b": sel[0] & sel[1],
        "in a only": sel[0] & ~sel[1],
        "in b only": sel[1] & ~sel[0],
        "in neither": ~sel[0] & ~sel[1],
    }
    return [(name, W[:, mask]) for name, mask in roles.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_printoptions(precision=2, linewidth=150, sci_mode=False)
    task = ArithmeticTask("mul", seed=args.seed, eval_size=10_000)
    for policy, steps, lr in (("madsen-nmu", 30_000, 1e-3), ("nmu-fast", 100_000, 1e-3)):
        run = fit_seeds(
            lambda: nn.Sequential(NAU(100, 2), NMU(2, 1)),
            [task],
            [args.seed],
            steps=steps,
            lr=lr,
            policy=get_policy(policy),
            progress=False,
        ).runs[0]
        last = run.history[-1]
        print(
            f"\n{policy}, {steps:,} steps: interpolation MSE {last['interpolation_mse']:.3g}, "
            f"extrapolation MSE {last['extrapolation_mse']:.3g}; NMU W = "
            f"{run.weights['1.W'].flatten().tolist()}"
        )
        W = run.weights["0.W"].clamp(-1, 1)
        for name, block in groups(task, W):
            sums = (block[0] + block[1]).abs()
            print(f"  {name} ({block.shape[1]} inputs): |w1 + w2| in [{sums.min():.2f}, "
                  f"{sums.max():.2f}]")  # fmt: skip
            if block.shape[1] <= 13:
                print(f"    w1 = {block[0]}\n    w2 = {block[1]}")


if __name__ == "__main__":
    main()
