"""The training loop: one readable function, ``fit``, for one model or several side by side."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import torch
from torch import nn
from tqdm.auto import tqdm

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
from ..metrics import mse, predict
from ..tasks.base import Task
from ..units.base import after_step, regularization
from . import checkpoint as ckpt
from .policies import Policy, gate_parameters, get_policy, recommended_policy, reinitialize

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
            previous evaluation) and ``<set>_mse`` for each of the task's evaluation sets.
        train_loss: the training MSE at every step (for loss curves).
        steps: optimiser steps taken (fewer than asked for when the model diverged).
        diverged_at: the step whose loss was NaN or infinite, or ``None``.
        seconds: wall time spent on this model's steps and evaluations.
        policy: the name of the training policy that was applied.
        reinitialized_at: steps at which the policy's stall rule restarted the model.
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
    """MSE of ``model`` on each of the task's evaluation sets, as ``{"<set>_mse": value}``."""
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
) -> FitResult | dict[str, FitResult]:
    """Train ``model`` on ``task`` and return its metrics.

    Each step draws a fresh batch from the task (on the CPU, from a generator seeded by
    ``seed``, so a run is repeatable), computes the MSE plus ``λ(step) ×`` the sum of the units'
    :meth:`~nalm.units.Unit.regularization`, takes an optimiser step, then applies every unit's
    :meth:`~nalm.units.Unit.after_step` projection. Every ``eval_every`` steps (and after the last)
    it measures the MSE on the task's fixed evaluation sets.

    The training :class:`~nalm.train.Policy` decides λ(t), gradient clipping, alternating
    gate/weight updates and restarts. By default (``policy="auto"``) each model gets the policy
    its output unit recommends (the NAU's sparsity ramp, iNALU's tricks, ...; none for NAC, NALU
    and the baselines).

    Pass a mapping ``{"name": model, ...}`` to train several models side by side: each has its own
    optimiser, and all see the same batches. A model whose loss (or, at a snapshot, a parameter)
    becomes NaN or infinite stops there and is marked diverged; the others go on. With
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
    if isinstance(lr, Mapping) and set(models) - set(lr):
        missing = sorted(set(models) - set(lr))[0]
        raise NalmError(f"lr gives no learning rate for model {missing!r}")
    rates = {name: lr[name] if isinstance(lr, Mapping) else lr for name in models}
    device, seed = _check(models, task, steps, rates, batch_size, eval_every, device, seed)
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise NalmError(f"checkpoint {str(checkpoint)!r} is a directory; give a file path")
    policies = {name: _resolve_policy(policy, name, m, regularizer) for name, m in models.items()}
    make_optimizer = OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else optimizer
    if make_optimizer is None:
        raise NalmError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")

    optimizers = {}
    for name, m in models.items():
        m.to(device).train()
        optimizers[name] = make_optimizer(m.parameters(), lr=rates[name])
    results = {name: FitResult(policy=policies[name].name) for name in models}
    gates = {name: gate_parameters(m) for name, m in models.items()}
    started_at = dict.fromkeys(models, 0)  # the step of each model's last (re)initialisation
    active = dict(models)
    generator = torch.Generator().manual_seed(seed)

    def record(name: str, step: int) -> None:
        started = time.perf_counter()
        result = results[name]
        # The training losses since the previous evaluation (train_loss[i] is step i + 1's).
        previous = int(result.history[-1]["step"]) if result.history else 0
        losses = result.train_loss[previous:step]
        finite = [v for v in losses if math.isfinite(v)]  # a recovered step's loss is NaN
        row = {"step": step, "train_loss": sum(finite) / len(finite) if finite else math.nan}
        row.update(evaluate(models[name], task, device))
        result.history.append(row)
        result.seconds += time.perf_counter() - started

    every = eval_every if checkpoint_every is None else checkpoint_every
    _check_recovery(every, recover, recover_factor)
    state = _State(models, optimizers, results, started_at, active, generator, rates)
    settings = {
        "models": {n: repr(m) for n, m in models.items()},
        "steps": steps,
        "lr": rates,
        "batch_size": batch_size,
        "optimizer": optimizer if isinstance(optimizer, str) else repr(optimizer),
        "policies": {n: p.describe() for n, p in policies.items()},
        "eval_every": eval_every,
        "checkpoint_every": every,
        "seed": seed,
        "recover": [recover, recover_factor],
        "task": task.config(),
    }
    first = 1
    if checkpoint is not None and Path(checkpoint).exists():
        first = state.restore(Path(checkpoint), ckpt.fingerprint(settings)) + 1
    else:
        for name in models:
            record(name, 0)
    snapshots = {name: state.snapshot(name) for name in models} if recover else {}
    recoveries = {name: len(results[name].recovered_at) for name in models}  # kept over resumes

    def diverged(name: str, step: int) -> None:
        """Stop the model, or restore its last finite snapshot with a lower learning rate."""
        if recoveries[name] < recover:
            recoveries[name] += 1
            state.load_snapshot(name, snapshots[name], recover_factor)
            results[name].recovered_at.append(step)
            results[name].train_loss.append(math.nan)  # keeps train_loss[i] = step i + 1's
            return
        results[name].diverged_at = step
        del active[name]

    bar = tqdm(
        range(first, steps + 1),
        desc=description,
        disable=not progress,
        leave=False,
        mininterval=1.0,
        initial=first - 1,
        total=steps,
    )
    for step in bar:
        x, y = (t.to(device) for t in task.sample(batch_size, generator))
        for name, m in list(active.items()):
            started = time.perf_counter()
            result, opt, rule = results[name], optimizers[name], policies[name]
            last_loss = result.train_loss[-1] if result.train_loss else None
            lam = rule.regularizer_weight(step, last_loss)
            mse = torch.mean((m(x) - y) ** 2)
            loss = mse + lam * regularization(m) if lam else mse
            value = loss.item()
            if not math.isfinite(value):
                diverged(name, step)
                continue
            opt.zero_grad(set_to_none=True)
            loss.backward()
            rule.prepare_step(step, m, gates[name])
            opt.step()
            after_step(m)
            result.steps = step
            result.train_loss.append(mse.item() if lam else value)
            if _stalled(rule, result.train_loss, started_at[name], step):
                reinitialize(m.modules())
                optimizers[name] = make_optimizer(m.parameters(), lr=state.rates[name])
                started_at[name] = step
                result.reinitialized_at.append(step)
            result.seconds += time.perf_counter() - started
            if step % eval_every == 0 or step == steps:
                record(name, step)
            if (step % every == 0 or step == steps) and name in active:
                if not all(torch.isfinite(p).all() for p in m.parameters()):
                    diverged(name, step)
                elif recover:
                    snapshots[name] = state.snapshot(name)
        if progress and step % eval_every == 0:
            bar.set_postfix(
                {n: f"{results[n].final.get('train_loss', math.nan):.2e}" for n in models}
            )
        if checkpoint is not None and (step % every == 0 or step == steps or not active):
            state.save(Path(checkpoint), ckpt.fingerprint(settings), step)
        if not active:
            break
    bar.close()
    return results if isinstance(model, Mapping) else results["model"]


class _State:
    """The whole state of one ``fit`` call, for checkpoints and recovery snapshots."""

    def __init__(
        self,
        models: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        results: dict[str, FitResult],
        started_at: dict[str, int],
        active: dict[str, nn.Module],
        generator: torch.Generator,
        rates: dict[str, float],
    ) -> None:
        self.models, self.optimizers, self.results = models, optimizers, results
        self.started_at, self.active, self.generator = started_at, active, generator
        self.rates = dict(rates)

    def snapshot(self, name: str) -> tuple[dict, dict]:
        model_state = {k: v.detach().clone() for k, v in self.models[name].state_dict().items()}
        return model_state, copy.deepcopy(self.optimizers[name].state_dict())

    def load_snapshot(self, name: str, snapshot: tuple[dict, dict], factor: float) -> None:
        model_state, optimizer_state = snapshot
        self.models[name].load_state_dict(model_state)
        self.optimizers[name].load_state_dict(copy.deepcopy(optimizer_state))
        self.set_lr(name, self.rates[name] * factor)

    def set_lr(self, name: str, lr: float) -> None:
        self.rates[name] = lr
        for group in self.optimizers[name].param_groups:
            group["lr"] = lr

    def save(self, path: Path, fingerprint: str, step: int) -> None:
        tensors = {
            "rng.generator": self.generator.get_state(),
            "rng.torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():  # a stall restart on CUDA draws from these
            for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = cuda_state
        meta: dict[str, Any] = {"fingerprint": fingerprint, "step": step, "models": {}}
        for name, model in self.models.items():
            for key, value in model.state_dict().items():
                tensors[f"model.{name}.{key}"] = value.detach().cpu()
            opt_tensors, opt_plain = ckpt.flatten_optimizer(
                f"opt.{name}", self.optimizers[name].state_dict()["state"]
            )
            tensors.update(opt_tensors)
            result = dataclasses.asdict(self.results[name])
            # the per-step losses go in as a tensor: a JSON header has a size limit
            tensors[f"loss.{name}"] = torch.tensor(result.pop("train_loss"), dtype=torch.float64)
            meta["models"][name] = {
                "result": result,
                "active": name in self.active,
                "started_at": self.started_at[name],
                "lr": self.rates[name],
                "optimizer": opt_plain,
            }
        ckpt.write(path, tensors, meta)

    def restore(self, path: Path, fingerprint: str) -> int:
        """Load the checkpoint at ``path``; returns the step it was written after."""
        tensors, meta = ckpt.read(path)
        if meta.get("fingerprint") != fingerprint or set(meta.get("models", {})) != set(
            self.models
        ):
            raise NalmError(
                f"{path} is a checkpoint of a run with other settings; delete it or train into "
                "another directory"
            )
        self.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
        for name, model in self.models.items():
            saved = meta["models"][name]
            head = f"model.{name}."
            model.load_state_dict(
                {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}
            )
            device = next(model.parameters()).device
            state = self.optimizers[name].state_dict()
            restored = ckpt.unflatten_optimizer(f"opt.{name}", tensors, saved["optimizer"])
            state["state"] = {
                i: {
                    k: v.to(device) if isinstance(v, torch.Tensor) and k != "step" else v
                    for k, v in entries.items()
                }
                for i, entries in restored.items()
            }
            self.optimizers[name].load_state_dict(state)
            self.set_lr(name, saved["lr"])
            result = FitResult(**saved["result"], train_loss=tensors[f"loss.{name}"].tolist())
            self.results[name].__dict__.update(result.__dict__)
            self.started_at[name] = saved["started_at"]
            if not saved["active"]:
                self.active.pop(name, None)
        return int(meta["step"])


def _check_recovery(every: int, recover: int, factor: float) -> None:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise NalmError(f"checkpoint_every must be a positive integer; got {every!r}")
    if isinstance(recover, bool) or not isinstance(recover, int) or recover < 0:
        raise NalmError(f"recover must be a whole number of recoveries ≥ 0; got {recover!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise NalmError(f"recover_factor must be a number in (0, 1); got {factor!r}")


def _stalled(rule: Policy, losses: list[float], since: int, step: int) -> bool:
    """Whether the policy's stall rule fires now (checked once per chunk since the last start)."""
    if rule.reinit is None or (step - since) % rule.reinit.chunk:
        return False
    return rule.reinit.stalled(losses[since:])


def _resolve_policy(
    policy: str | Policy | Mapping[str, str | Policy | None] | None,
    name: str,
    model: nn.Module,
    regularizer: float | Callable[[int], float] | None,
) -> Policy:
    chosen = policy.get(name, "auto") if isinstance(policy, Mapping) else policy
    resolved = recommended_policy(model) if chosen == "auto" else get_policy(chosen)
    if regularizer is None:
        return resolved
    if callable(regularizer):
        return resolved.replace(regularizer=regularizer)
    if isinstance(regularizer, bool) or not isinstance(regularizer, (int, float)):
        raise NalmError(f"regularizer must be a number or a schedule; got {regularizer!r}")
    constant = check_number(regularizer, "regularizer", nonnegative=True)
    return resolved.replace(regularizer=(lambda _step: constant) if constant else None)


def _check(
    models: dict[str, nn.Module],
    task: Task,
    steps: int,
    rates: dict[str, float],
    batch_size: int | None,
    eval_every: int,
    device: torch.device | str,
    seed: int,
) -> tuple[torch.device, int]:
    """Every argument of :func:`fit` checked before anything is moved, built or drawn; returns
    the device and the seed as torch takes them."""
    if not models:
        raise NalmError("fit needs at least one model")
    names = {name: "model" if list(models) == ["model"] else f"model {name!r}" for name in models}
    for name, m in models.items():
        check_model(m, names[name])
    check_task(task)
    for name, m in models.items():
        check_model_fits_task(m, task, names[name])
    parsed = check_run(steps, eval_every, device)
    if batch_size is not None:
        check_size(batch_size, "batch_size")
        check_elements({"batch_size": batch_size, "the task's inputs": task.in_features})
    for name, lr in rates.items():
        check_number(lr, "lr" if len(rates) == 1 else f"lr of {name!r}", positive=True)
    seed = check_seed(seed)
    check_task_values(task)
    for name, m in models.items():
        check_model_runs(m, task, names[name])
    return parsed, seed
