"""A perfect ``nau>nmu`` on the madsen × extrapolation set with both NMU product orders:
``x·W + (1 − W)`` (nalm) and ``(x·W + 1) − W`` (the reference code).

Run: ``.venv/bin/python benchmarks/nmu_order.py``
"""

import torch

from nalm.metrics import success_threshold
from nalm.tasks import ArithmeticTask

task = ArithmeticTask("mul", seed=0)
x, y = task.evaluation["extrapolation"]
a = x[:, slice(*task.a_slice)].sum(-1, keepdim=True)
b = x[:, slice(*task.b_slice)].sum(-1, keepdim=True)
h = torch.cat([a, b], 1).unsqueeze(-2)  # what a perfect first layer gives
W = torch.ones(1, 2)
ours = (h * W + (1 - W)).prod(-1)
reference = (h * W + 1 - W).prod(-1)
print("success threshold", success_threshold(task, "extrapolation"))
print(
    "MSE, ours", ((ours - y) ** 2).mean().item(), "reference", ((reference - y) ** 2).mean().item()
)
