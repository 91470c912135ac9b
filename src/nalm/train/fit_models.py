"""``fit``: the one-model door onto the training engine (one model, or several side by side)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import torch
from torch import nn

from ..errors import NalmError
from ..limits import (
    check_device,
    check_model,
    check_model_fits_task,
    check_model_runs,
    check_task,
)
from ..metrics import mse, predict
from ..tasks.base import Task
from .checkpoint import run_engines
from .checks import check_models, check_training
from .engine import Engine
from .policies import Policy, resolve
from .records import Cadence, Track

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


@dataclass
class FitResult:
    """What :func:`fit` measured for one model.

    Attributes:
        history: one row per evaluation: ``step``, ``train_loss`` (mean training MSE since the
            previous evaluation), ``<set>_mse`` for each of the task's evaluation sets and
            ``sparsity_error`` (as in :class:`~nalm.train.SeedResult`).
        train_loss: the training MSE at every step (for loss curves).
        steps: optimiser steps taken (fewer than asked for when the model diverged).
        diverged_at: the step whose loss was NaN or infinite, or ``None``.
        seconds: wall time spent on this model's steps and evaluations.
        policy: the name of the training policy that was applied.
        reinitialized_at: steps at which the policy's restart rule restarted the model.
        recovered_at: steps at which a non-finite loss or parameter was undone by restoring the
            last finite snapshot with a lower learning rate (``recover``).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    steps: int = 0
    diverged_at: int | None = None
    seconds: float = 0.0
    policy: str = "none"
    reinitialized_at: list[int] = field(default_factory=list)
    recovered_at: list[int] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final(self) -> dict[str, float]:
        """The last evaluation row (empty before the first)."""
        return self.history[-1] if self.history else {}


def evaluate(model: nn.Module, task: Task, device: torch.device | str = "cpu") -> dict[str, float]:
    """MSE of ``model`` on each of the task's evaluation sets, as ``{"<set>_mse": value}``.

    The model is first checked against the task as :func:`fit` checks it (its input and output
    sizes, then a dry run on two evaluation rows), so a mismatch is refused in one sentence.
    """
    check_model(model, trainable=False)
    check_task(task)
    device = check_device(device)
    check_model_fits_task(model, task)
    check_model_runs(model, task)
    return {
        f"{name}_mse": mse(predict(model, x, device), y) for name, (x, y) in task.evaluation.items()
    }


@overload
def fit(model: nn.Module, task: Task, **kwargs: Any) -> FitResult: ...
@overload
def fit(model: Mapping[str, nn.Module], task: Task, **kwargs: Any) -> dict[str, FitResult]: ...


def fit(
    model: nn.Module | Mapping[str, nn.Module],
    task: Task,
    *,
    steps: int = 20_000,
    lr: float | Mapping[str, float] = 1e-3,
    batch_size: int | None = 128,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
    regularizer: float | Callable[[int], float] | None = None,
    policy: str | Policy | Mapping[str, str | Policy | None] | None = "auto",
    eval_every: int = 1000,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    description: str = "training",
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    recover: int = 0,
    recover_factor: float = 0.1,
    compile: bool | None = False,
) -> FitResult | dict[str, FitResult]:
    """Train ``model`` on ``task`` and return its metrics.

    ``fit`` is the one-seed door onto the training engine (:class:`~nalm.train.engine.Engine`,
    the same one :func:`~nalm.train.fit_seeds` drives): a model built after
    ``torch.manual_seed(s)`` and trained with ``seed=s`` ends with the same weights and history
    as ``fit_seeds(make_model, [task], [s])``. Each step draws a fresh batch from the task (on
    the CPU, from a generator seeded by ``seed``, so a run is repeatable), computes the MSE plus
    ``λ(step) ×`` the sum of the units' :meth:`~nalm.units.Unit.regularization` (each weighted
    by the policy's ``unit_lambda``, 1 by default), takes an
    optimiser step, then applies every unit's :meth:`~nalm.units.Unit.after_step` projection.
    Every ``eval_every`` steps (and after the last) it measures the MSE on the task's fixed
    evaluation sets and the units' sparsity error.

    The training :class:`~nalm.train.Policy` decides λ(t), gradient clipping, alternating
    gate/weight updates and restarts. By default (``policy="auto"``) each model gets the policy
    its output unit recommends (the NAU's sparsity ramp, iNALU's tricks, ...; none for NAC, NALU
    and the baselines).

    The policy's stall rule restarts a model from weights drawn by a seed derived from ``seed``
    and the restart count (the global random generator is not touched).

    Pass a mapping ``{"name": model, ...}`` to train several models side by side: each has its own
    optimiser, and all see the same batches (they are trained one after the other). A model whose
    loss (or, at a snapshot, a parameter) becomes NaN or infinite stops there and is marked
    diverged; the others go on. With
    ``recover=N`` it is instead restored to its last finite snapshot (taken every
    ``checkpoint_every`` steps) with its learning rate times ``recover_factor``, up to N times.

    With ``checkpoint=PATH`` the whole state (weights, optimiser moments, random generators,
    history) is written to PATH every ``checkpoint_every`` steps; calling ``fit`` again with the
    same arguments and PATH resumes there and ends with exactly the result of an uninterrupted
    run. A checkpoint from a run with other settings is refused.

    Args:
        model: an ``nn.Module`` (usually built from :mod:`nalm.units`), or a mapping of them.
            Moved to ``device`` in place.
        task: e.g. :class:`~nalm.tasks.ExpressionTask`.
        steps: optimiser steps.
        lr: learning rate, or one per model name when training a mapping of models.
        batch_size: rows per step; ``None`` trains on a fixed dataset's full set every step.
        optimizer: ``"adam"`` (default), ``"adamw"``, ``"sgd"``, ``"rmsprop"``, or a factory
            ``f(params, lr=...)``.
        regularizer: λ, a constant or a schedule ``step → λ`` such as
            :class:`~nalm.train.Ramp`; replaces the policy's schedule when given.
        policy: ``"auto"`` (each model's recommended policy), a name from
            :data:`~nalm.train.POLICIES`, a :class:`~nalm.train.Policy`, ``None`` (plain
            training), or a mapping of these per model name.
        eval_every: steps between evaluations.
        seed: seed of the batch sampler (initialise models with ``torch.manual_seed`` before
            building them).
        device: ``"cpu"`` or ``"cuda"``.
        progress: show a progress bar.
        description: the progress bar's label.
        checkpoint: file to write the training state to, and to resume from if it exists.
        checkpoint_every: steps between checkpoints and snapshots (default ``eval_every``).
        recover: how many times a model may be restored after a non-finite loss (0: never).
        recover_factor: what its learning rate is multiplied by at each recovery.
        compile: train with the compiled step (:mod:`~nalm.train.compiled`: a model of
            stackable units under Adam) where it serves the model and the run is long enough
            (``True``: 2,000 steps, ``None``: 50,000; ``False``: the eager step); a resumed run
            goes on on its checkpoint's step. The choice is printed once, to stderr, where it
            is the compiled step or asked for.

    Returns:
        A :class:`FitResult`, or a dict of them for a mapping of models.

    Examples:
        >>> from nalm.units import NAC
        >>> from nalm.tasks import ExpressionTask
        >>> _ = torch.manual_seed(0)
        >>> result = fit(NAC(2, 1), ExpressionTask("x0 + x1", "1,2", "2,6"),
        ...              steps=3000, lr=0.5, progress=False)
        >>> [row["step"] for row in result.history][-2:]
        [2000, 3000]
        >>> result.final["extrapolation_mse"] < 1e-3
        True
    """
    models = dict(model) if isinstance(model, Mapping) else {"model": model}
    if not models:
        raise NalmError("fit needs at least one model")
    labels = {n: "model" if list(models) == ["model"] else f"model {n!r}" for n in models}
    for name, m in models.items():
        check_model(m, labels[name])
    rates = _rates(lr, models)
    device, (seed,) = check_training(
        [task], [seed], steps, eval_every, device, batch_size, rates, False
    )
    check_models({labels[n]: m for n, m in models.items()}, task)
    schedule = Cadence.of(steps, eval_every, checkpoint_every, recover, recover_factor, True)
    policies = {
        name: resolve(policy, m, name=name, regularizer=regularizer) for name, m in models.items()
    }
    make = OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else optimizer
    if make is None:
        raise NalmError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    one = {"batch_size": batch_size, "schedule": schedule, "device": device, "optimizer": make}
    engines = {
        name: Engine.of([m], [task], [seed], [seed], policy=policies[name], lr=rates[name], **one)
        for name, m in models.items()
    }
    bars = {n: description if len(models) == 1 else f"{description} {n}" for n in models}
    settings = {
        "models": {n: repr(m) for n, m in models.items()},
        "lr": rates,
        "batch_size": batch_size,
        "optimizer": optimizer if isinstance(optimizer, str) else repr(optimizer),
        "policies": {n: p.describe() for n, p in policies.items()},
        "seed": seed,
        "task": task.config(),
    }
    run_engines(engines, bars, settings, schedule, checkpoint, progress, compile)
    results = {n: _result(e.book.all_tracks[0], e, policies[n]) for n, e in engines.items()}
    return results if isinstance(model, Mapping) else results["model"]


def _rates(lr: float | Mapping[str, float], models: Mapping[str, nn.Module]) -> dict[str, Any]:
    """Each model's learning rate; a mapping must name every model, and only those."""
    if not isinstance(lr, Mapping):
        return dict.fromkeys(models, lr)
    if set(lr) - set(models):  # a stray key is likely a misspelt name: name it first
        extra = ", ".join(repr(k) for k in lr if k not in models)
        given = ", ".join(repr(n) for n in models)
        raise NalmError(f"lr has a learning rate for {extra}, not a model given to fit ({given})")
    if set(models) - set(lr):
        missing = sorted(set(models) - set(lr))[0]
        raise NalmError(f"lr gives no learning rate for model {missing!r}")
    return {name: lr[name] for name in models}


def _result(track: Track, engine: Engine, policy: Policy) -> FitResult:
    t = track
    return FitResult(
        t.history,
        t.train_loss,
        t.steps,
        t.diverged_at,
        engine.seconds,
        policy.name,
        t.reinitialized_at,
        t.recovered_at,
    )
