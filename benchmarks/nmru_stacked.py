"""NAU→NMRU on the stacked path against vmap: seconds per step at 16 seeds (÷, Madsen's task).

Run: ``.venv/bin/python benchmarks/nmru_stacked.py`` (one thread; the per-step time is the
difference of a 600- and a 100-step run, so set-up drops out).
"""

import time

import torch
from torch import nn

from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import get_policy
from nalm.units import NAU
from nalm.units.nmru import NMRU


def seconds(steps: int) -> float:
    tasks = [ArithmeticTask("div", seed=s, eval_size=300) for s in range(16)]
    started = time.perf_counter()
    fit_seeds(
        lambda: nn.Sequential(NAU(100, 2), NMRU(2, 1)), tasks, list(range(16)), steps=steps,
        eval_every=100, lr=1e-2, policy=get_policy("nmru"), shared_inputs=True, progress=False,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    torch.set_num_threads(1)
    for stacked in (False, True):
        NMRU.stackable = stacked
        per_step = (seconds(600) - seconds(100)) / 500
        print(f"{'stacked' if stacked else 'vmap':8} {1000 * per_step:.2f} ms per step")


if __name__ == "__main__":
    main()
