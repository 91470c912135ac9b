"""Issue 34's Linear − puzzle, a first probe: does a bias explain 100 % here against 7 %?

Madsen & Johansen's Linear (two linear layers) on their − task, 25 seeds, trained with the suite's
settings and the stop rule that never reads the test set; judged as the benchmark judges (the
extrapolation MSE at the step with the lowest interpolation MSE, below the ε-perfect threshold).
Three models: nalm's `linear>linear` without a bias (the bench's `Linear`); with a bias in each
layer (nalm's init, U[−1/√in, 1/√in] for both); and as the reference code builds its `linear`
layer (stable-nalu `BasicLayer`: a bias, initialised at 0, and Xavier-uniform weights).

Run: ``.venv/bin/python benchmarks/honest/linear_sub.py [--seeds 25] [--steps 100000]``
"""

from __future__ import annotations

import argparse
import time

import torch

from nalm.bench.cells import plateau_stop
from nalm.bench.suites import SUITES
from nalm.metrics import judge, success_threshold, wilson_interval
from nalm.models import parse
from nalm.train.ensemble import fit_seeds


def build(variant: str, size: int) -> torch.nn.Module:
    """``"none"``, ``"bias"`` or ``"reference"`` (see the module's docstring)."""
    model = parse("linear>linear").build(size, 1, hidden=2, options={"bias": variant != "none"})
    if variant == "reference":
        with torch.no_grad():
            for layer in model:
                torch.nn.init.xavier_uniform_(layer.W)
                layer.b.zero_()
    return model


def run(variant: str, seeds: int, steps: int) -> str:
    suite = SUITES["madsen"]
    pair = suite.ranges[0]
    tasks = [suite.task("sub", pair, s, 10_000) for s in range(seeds)]
    rules = [plateau_stop(success_threshold(t, "interpolation")) for t in tasks]
    started = time.perf_counter()
    result = fit_seeds(
        lambda: build(variant, suite.input_size),
        tasks,
        list(range(seeds)),
        steps=steps,
        lr=1e-3,
        batch_size=suite.batch_size,
        policy="none",
        eval_every=suite.eval_every,
        shared_inputs=True,
        early_stop=lambda i, history: rules[i](i, history),
        progress=False,
    )
    wins = 0
    for run_, task in zip(result.runs, tasks, strict=True):
        outcome = judge(run_.history, success_threshold(task, "extrapolation"), run_.diverged)
        wins += outcome.success
    low, high = wilson_interval(wins, seeds)
    seconds = time.perf_counter() - started
    return (
        f"linear>linear ({variant}): {wins}/{seeds} solved ({100 * low:.0f}–{100 * high:.0f} %), "
        f"{steps:,} steps, {seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=25)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--variants", nargs="+", default=["none", "bias", "reference"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for variant in args.variants:
        print(run(variant, args.seeds, args.steps), flush=True)


if __name__ == "__main__":
    main()
