"""One seed of NAU→(Real)NPU on Madsen's task, trained alone: where its weights end.

Shows how a ÷ or √ run settles on inexact weights that fit U[1, 2]: the first layer's weights
averaged over the items only in ``a``, only in ``b``, in both and in neither, then the second
unit's exponents and (for the RealNPU) relevance gates.

Run: ``.venv/bin/python benchmarks/recipes/npu_weights.py OP STEPS SEED POLICY [--gate G]
[--model SPEC]``, e.g. ``div 40000 0 npu-exact`` (``--gate 1.5`` starts every gate above 1, where
the clamp holds it at 1 with no gradient: the RealNPU acting as the gate-less RealNaiveNPU;
``--model`` another first layer and power unit, default ``nau>real_npu``).
"""

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from nalm.models import parse
from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import get_policy
from nalm.units import registry

sys.path.insert(0, str(Path(__file__).parent))
import candidates  # noqa: F401  (registers the candidate policies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("op")
    parser.add_argument("steps", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("policy")
    parser.add_argument("--gate", type=float, default=None, help="the gates' starting value")
    parser.add_argument("--model", default="nau>real_npu", help="first layer>power unit")
    args = parser.parse_args()
    torch.set_num_threads(1)

    def build() -> nn.Module:
        model = parse(args.model).build(100, 1, hidden=2)
        if args.gate is not None:
            with torch.no_grad():
                model[1].g.fill_(args.gate)
        return model

    task = ArithmeticTask(args.op, seed=args.seed, eval_size=2000)
    run = fit_seeds(
        build, [task], [args.seed], steps=args.steps, eval_every=5000, lr=1e-3,
        policy=get_policy(args.policy), shared_inputs=True, progress=False,
    ).runs[0]  # fmt: skip
    last = run.history[-1]
    print(f"step {last['step']}: interpolation MSE {last['interpolation_mse']:.3g}, "
          f"extrapolation MSE {last['extrapolation_mse']:.3g}")  # fmt: skip
    W = run.weights["0.W"].clamp(model_low(args.model), 1)
    for i in range(W.shape[0]):
        means = ", ".join(f"{k} {W[i][m].mean().item():+.3f}" for k, m in groups(task).items())
        print(f"hidden {i} (mean weight): {means}")
    exponents = [round(w, 4) for w in run.weights["1.W"].flatten().tolist()]
    if "1.g" in run.weights:
        gates = [round(g, 4) for g in run.weights["1.g"].clamp(0, 1).tolist()]
        print(f"RealNPU exponents {exponents}, gates {gates}")
    else:
        print(f"exponents {exponents}")


def groups(task: ArithmeticTask) -> dict[str, torch.Tensor]:
    """The task's input items as masks: only in ``a``, only in ``b``, in both, in neither."""
    in_a, in_b = task.selection[0] > 0, task.selection[1] > 0
    return {"a only": in_a & ~in_b, "b only": in_b & ~in_a, "both": in_a & in_b,
            "neither": ~in_a & ~in_b}  # fmt: skip


def model_low(spec: str) -> float:
    """The first layer's lowest weight (−1 for the NAU, 0 for the SelectNAU)."""
    return registry.get(spec.split(">")[0]).low


if __name__ == "__main__":
    main()
