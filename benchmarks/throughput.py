"""Seed-iterations per second: the ensemble trainer against a one-seed training loop.

The model is ``nau>nmu`` (NAU(100, 2) → NMU(2, 1)) on the ``madsen`` × task (input 100, subset
0.25, overlap 0.5, U[1, 2], batch 128, Adam lr 1e-3), as in ``nalm bench run madsen``.

- ``plain loop``: the shortest honest one-seed loop: draw a batch, MSE, backward, Adam step,
  the units' clamping. No evaluation, no bookkeeping.
- ``nalm.train.fit``: the library's one-seed trainer (loss check per step, policy hooks).
- ``fit_seeds S=...``: the ensemble trainer with S seeds, each on its own task (own slices),
  sharing one input batch per step (as the ``madsen`` suite does), evaluation every 1000 steps
  on the 10,000-row sets included.

Run: ``.venv/bin/python benchmarks/throughput.py [--steps 2000]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from nalm.tasks import ArithmeticTask
from nalm.train import fit, fit_seeds
from nalm.units import NAU, NMU, after_step


def make_model() -> nn.Module:
    return nn.Sequential(NAU(100, 2), NMU(2, 1))


def plain_loop(steps: int) -> float:
    """Seed-iterations per second of a minimal one-seed loop."""
    torch.manual_seed(0)
    model, task = make_model(), ArithmeticTask("mul", seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(steps):
        x, y = task.sample(128, generator)
        loss = torch.mean((model(x) - y) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        after_step(model)
    return steps / (time.perf_counter() - started)


def library_fit(steps: int) -> float:
    torch.manual_seed(0)
    task = ArithmeticTask("mul", seed=0)
    started = time.perf_counter()
    fit(make_model(), task, steps=steps, eval_every=1000, progress=False, policy=None)
    return steps / (time.perf_counter() - started)


def ensemble(seeds: int, steps: int) -> float:
    tasks = [ArithmeticTask("mul", seed=s) for s in range(seeds)]
    started = time.perf_counter()
    fit_seeds(
        make_model,
        tasks,
        list(range(seeds)),
        steps=steps,
        eval_every=1000,
        shared_inputs=True,
        progress=False,
    )
    return seeds * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps per measurement")
    parser.add_argument("--sizes", default="1,10,100", help="cohort sizes S")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    plain = plain_loop(args.steps)
    rows = [("plain loop (1 seed)", plain), ("nalm.train.fit (1 seed)", library_fit(args.steps))]
    rows += [(f"fit_seeds S={s}", ensemble(s, args.steps)) for s in map(int, args.sizes.split(","))]
    print(f"nau>nmu on madsen ×, {args.steps} steps, {torch.get_num_threads()} threads")
    print("| trainer | seed-iterations/s | × plain loop |\n| --- | ---: | ---: |")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / plain:.1f} |")


if __name__ == "__main__":
    main()
