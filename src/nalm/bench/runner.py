"""Run a suite's cells: each cell's missing seeds trained together, judged, and stored."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import NalmError
from ..metrics import judge, success_threshold, wilson_interval
from ..train.ensemble import SeedResult, fit_seeds
from ..train.policies import Policy, get_policy, recommended_policy
from ..train.schedule import Ramp
from .models import ModelSpec, parse_spec
from .store import Store, range_key, settings_key
from .suites import Suite


@dataclass(frozen=True)
class Settings:
    """Training settings of a sweep; ``None`` means the suite's or the model's default.

    Attributes:
        steps, batch_size, eval_every: as in :func:`~nalm.train.fit_seeds`.
        lr: learning rate (default: the paper's for each model).
        lambda_hat: the regulariser's final weight (default: the model's policy).
        ramp: ``(start, end)`` steps of the regulariser's linear ramp (default: the policy's).
        eval_size: rows in each evaluation set.
        early_stop: stop a seed once it is solved (see :func:`solved_early`).
    """

    steps: int | None = None
    batch_size: int | None = None
    eval_every: int | None = None
    lr: float | None = None
    lambda_hat: float | None = None
    ramp: tuple[int, int] | None = None
    eval_size: int = 10_000
    early_stop: bool = False


def cell_policy(spec: ModelSpec, model: Any, settings: Settings) -> Policy:
    """The model's recommended policy with the sweep's regulariser overrides applied."""
    policy = recommended_policy(model) if spec.units else get_policy(None)
    if settings.lambda_hat is None and settings.ramp is None:
        return policy
    current = policy.regularizer
    if settings.lambda_hat is None and not isinstance(current, Ramp):
        raise NalmError(
            f"{spec} has no regulariser ramp to move (policy {policy.name!r}); give --lambda too"
        )
    lambda_hat = (
        settings.lambda_hat if settings.lambda_hat is not None else current.lambda_hat  # type: ignore[union-attr]
    )
    if settings.ramp is not None:
        start, end = settings.ramp
    elif isinstance(current, Ramp):
        start, end = current.start, current.end
    else:
        start, end = 0, 1
    return policy.replace(regularizer=Ramp(lambda_hat, start, end) if lambda_hat else None)


def solved_early(interpolation_threshold: float, extrapolation_threshold: float) -> Callable:
    """Early-stop rule: the latest evaluation is the seed's lowest interpolation MSE so far, and
    both its interpolation and extrapolation MSE are below their ε-thresholds. The seed is then
    judged a success at that step (training on could only move its best step)."""

    def rule(_index: int, history: list[dict[str, float]]) -> bool:
        last = history[-1]
        finite = [r["interpolation_mse"] for r in history if math.isfinite(r["interpolation_mse"])]
        best = min(finite, default=math.inf)
        return (
            last["interpolation_mse"] <= best
            and last["interpolation_mse"] < interpolation_threshold
            and last["extrapolation_mse"] < extrapolation_threshold
        )

    return rule


def run_suite(
    suite: Suite,
    models: Sequence[str],
    operations: Sequence[str],
    ranges: Sequence[tuple[str, str]],
    seeds: Sequence[int],
    db: str | Path,
    settings: Settings = Settings(),
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> int:
    """Train every missing (model, operation, range, seed) of a sweep and store its rows.

    Returns the number of rows written. A cell whose rows are all present is skipped; a cell
    with some present trains only the missing seeds (a seed's result does not depend on the
    others beside it).
    """
    specs = [parse_spec(m, suite.layers) for m in models]
    written = 0
    with Store(db) as store:
        for spec in specs:
            for operation in operations:
                for pair in ranges:
                    written += _run_cell(
                        suite, spec, operation, pair, seeds, store, settings, device, progress, log
                    )
    return written


def _run_cell(
    suite: Suite,
    spec: ModelSpec,
    operation: str,
    pair: tuple[str, str],
    seeds: Sequence[int],
    store: Store,
    settings: Settings,
    device: str,
    progress: bool,
    log: Callable[[str], None],
) -> int:
    resolved = {
        "steps": settings.steps or suite.steps,
        "batch_size": settings.batch_size or suite.batch_size,
        "eval_every": settings.eval_every or suite.eval_every,
        "lr": settings.lr or suite.default_lr(spec),
        "eval_size": settings.eval_size,
        "early_stop": settings.early_stop,
    }
    template = spec.build(suite.input_size, suite.hidden)
    policy = cell_policy(spec, template, settings)
    resolved["policy"] = policy.name
    resolved["regularizer"] = policy.describe()
    # the overrides exactly (describe() rounds), so other values never share a key
    resolved["lambda_hat"] = settings.lambda_hat
    resolved["ramp"] = list(settings.ramp) if settings.ramp else None
    key = settings_key(resolved)
    where = range_key(pair)
    label = f"{spec} {operation} {where}"
    todo = [
        s
        for s in seeds
        if s not in store.finished_seeds(suite.name, str(spec), operation, where, key)
    ]
    if not todo:
        log(f"{label}: all {len(seeds)} seeds done, skipped")
        return 0
    tasks = [suite.task(operation, pair, s, settings.eval_size) for s in todo]
    thresholds = [success_threshold(t, "extrapolation") for t in tasks]
    early = None
    if settings.early_stop:
        rules = [
            solved_early(success_threshold(t, "interpolation"), thr)
            for t, thr in zip(tasks, thresholds, strict=True)
        ]
        early = lambda i, history: rules[i](i, history)  # noqa: E731
    started = time.perf_counter()
    result = fit_seeds(
        lambda: spec.build(suite.input_size, suite.hidden),
        tasks,
        todo,
        steps=resolved["steps"],
        lr=resolved["lr"],
        batch_size=resolved["batch_size"],
        policy=policy,
        eval_every=resolved["eval_every"],
        shared_inputs=suite.shared_inputs,
        early_stop=early,
        device=device,
        progress=progress,
        description=label,
    )
    seconds = time.perf_counter() - started
    rows = [
        _row(
            suite, spec, operation, where, key, run, task, threshold, resolved, seconds / len(todo)
        )
        for run, task, threshold in zip(result.runs, tasks, thresholds, strict=True)
    ]
    store.write(rows)
    successes = sum(r["success"] for r in rows)
    low, high = wilson_interval(successes, len(rows))
    diverged = sum(r["diverged_at"] is not None for r in rows)
    log(
        f"{label}: {successes}/{len(rows)} solved ({100 * low:.0f}–{100 * high:.0f} % at 95 %), "
        f"{diverged} diverged, {seconds:.0f} s"
    )
    return len(rows)


def _row(
    suite: Suite,
    spec: ModelSpec,
    operation: str,
    where: str,
    key: str,
    run: SeedResult,
    task: Any,
    threshold: float,
    resolved: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    outcome = judge(run.history, threshold, diverged=run.diverged)
    history = [
        [int(r["step"])]
        + [
            float(f"{r[k]:.4g}") if math.isfinite(r[k]) else None
            for k in ("train_loss", "interpolation_mse", "extrapolation_mse", "sparsity_error")
        ]
        for r in run.history
    ]
    return {
        "suite": suite.name,
        "model": str(spec),
        "operation": operation,
        "range": where,
        "seed": run.seed,
        "settings": key,
        "success": outcome.success,
        "diverged_at": run.diverged_at,
        "stopped_at": run.stopped_at,
        "solved_at": outcome.solved_at,
        "best_step": outcome.best_step,
        "interpolation_mse": _finite(outcome.interpolation_mse),
        "extrapolation_mse": _finite(outcome.extrapolation_mse),
        "threshold": threshold,
        "sparsity_error": _finite(outcome.sparsity_error),
        "steps": run.steps,
        "seconds": seconds,
        "config": {"task": task.config(), "settings": resolved, "suite": asdict(suite)},
        "history": history,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
