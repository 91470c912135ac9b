"""The training doors' argument checks: everything is checked before a model is moved or built
or a batch drawn, and refused in one sentence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..errors import NalmError
from ..limits import (
    check_elements,
    check_model,
    check_model_fits_task,
    check_model_runs,
    check_number,
    check_run,
    check_seed,
    check_size,
    check_task,
    check_task_values,
)
from ..tasks.base import GeneratedTask, Task


def check_training(
    tasks: Sequence[Task],
    seeds: Sequence[int],
    steps: int,
    eval_every: int,
    device: torch.device | str,
    batch_size: int | None,
    rates: Mapping[str, float],
    cohort: bool,
) -> tuple[torch.device, list[int]]:
    """Every argument of a training run checked before a model is moved, built or a batch drawn
    (``cohort``: the arguments of :func:`~nalm.train.fit_seeds`); returns the device and the
    seeds as torch takes them."""
    seeds = [check_seed(s, "every seed" if cohort else "seed") for s in seeds]
    for task in tasks:
        check_task(task, "every task" if cohort else "task")
    sizes = {(t.in_features, t.out_features) for t in tasks}
    if len(sizes) != 1 or len({tuple(t.evaluation) for t in tasks}) != 1:
        raise NalmError("the seeds' tasks must share input/output sizes and evaluation sets")
    parsed = check_run(steps, eval_every, device)
    n_in, many = tasks[0].in_features, {"seeds": len(seeds)} if cohort else {}
    fresh = [t for t in tasks if isinstance(t, GeneratedTask)]
    if batch_size is None and fresh:
        raise NalmError(
            f"batch_size=None trains on a fixed dataset's whole set, but {type(fresh[0]).__name__} "
            "draws fresh batches: give a batch size"
        )
    if batch_size is not None:
        check_size(batch_size, "batch_size")
        check_elements({**many, "batch_size": batch_size, "the task's inputs": n_in})
    for name, (x, _) in tasks[0].evaluation.items():
        shared = all(t.evaluation[name][0] is x for t in tasks)  # one (N, in) tensor for all
        width = (
            {"the task's outputs": tasks[0].out_features} if shared else {"the task's inputs": n_in}
        )
        check_elements({**many, f"{name} rows": len(x), **width})
    for name, lr in rates.items():
        check_number(lr, "lr" if len(rates) == 1 else f"lr of {name!r}", positive=True)
    checked: set[int] = set()  # shared evaluation inputs are checked once
    for task in {id(t): t for t in tasks}.values():
        check_task_values(task, checked=checked)
    return parsed, seeds


def check_models(models: Mapping[str, nn.Module], task: Task) -> None:
    """Each model is a module with trainable parameters of the task's dtype, shares none with
    another model, and takes the task's inputs and gives its outputs (a dry run on two
    evaluation rows)."""
    owners: dict[int, str] = {}
    x = next(iter(task.evaluation.values()))[0]
    for name, m in models.items():
        check_model(m, name)
        for p in m.parameters():
            if id(p) in owners and owners[id(p)] != name:
                raise NalmError(
                    f"{owners[id(p)]} and {name} share parameters (the same module, or one "
                    "inside the other), so each step would update them twice: give each name "
                    "a module of its own (e.g. copy.deepcopy(model))"
                )
            owners[id(p)] = name
            if p.is_floating_point() and p.dtype != x.dtype:
                raise NalmError(
                    f"{name} has {p.dtype} parameters but the task's inputs are {x.dtype}: "
                    f"build it with dtype={x.dtype} (or call .to({x.dtype}))"
                )
        check_model_fits_task(m, task, name)
        check_model_runs(m, task, name)
