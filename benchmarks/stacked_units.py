"""Units on the stacked path against vmap: milliseconds per step at 16 seeds, NAU→UNIT on
Madsen's task (NMRU on ÷, the NPUs on √, Linear on −).

Run: ``.venv/bin/python benchmarks/stacked_units.py [UNIT ...]`` (one thread; the
per-step time is the difference of a 600- and a 100-step run, so set-up drops out).
"""

import argparse
import time

import torch
from torch import nn

import nalm.units
from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import get_policy
from nalm.units import NAU

SETUPS = {
    "NMRU": ("nmru", "div", 1e-2),
    "RealNPU": ("npu", "root", 1e-3),
    "NPU": ("npu", "root", 1e-3),
    "RealNaiveNPU": ("npu", "root", 1e-3),
    "Linear": ("none", "sub", 1e-3),
}


def seconds(unit: type, steps: int) -> float:
    policy, op, lr = SETUPS[unit.__name__]
    tasks = [ArithmeticTask(op, seed=s, eval_size=300) for s in range(16)]
    started = time.perf_counter()
    fit_seeds(
        lambda: nn.Sequential(NAU(100, 2), unit(2, 1)), tasks, list(range(16)), steps=steps,
        eval_every=100, lr=lr, policy=get_policy(policy), shared_inputs=True, progress=False,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", nargs="*", help=f"any of {', '.join(SETUPS)} (default: all)")
    torch.set_num_threads(1)
    names = parser.parse_args().units or list(SETUPS)
    for name in names:
        if name not in SETUPS:
            parser.error(f"unknown unit {name!r}; choose from {', '.join(SETUPS)}")
    for name in names:
        unit = getattr(nalm.units, name)
        for stacked in (False, True):
            unit.stackable = stacked
            per_step = (seconds(unit, 600) - seconds(unit, 100)) / 500
            print(
                f"{name:12} {'stacked' if stacked else 'vmap':8} {1000 * per_step:.2f} ms per step"
            )
        unit.stackable = True


if __name__ == "__main__":
    main()
