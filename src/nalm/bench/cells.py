"""One cell of a sweep: its settings and policy resolved, its seeds trained together, judged,
and turned into :class:`~nalm.bench.rows.ResultRow` s."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..metrics import judge, success_threshold, wilson_interval
from ..train.checkpoint import fingerprint
from ..train.ensemble import SeedResult, fit_seeds
from ..train.policies import Policy, get_policy, recommended_policy, with_overrides
from .models import ModelSpec
from .rows import ResultRow, cell_key, policy_fields
from .store import Store, range_key
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
    return with_overrides(
        policy, lambda_hat=settings.lambda_hat, ramp=settings.ramp, model=str(spec)
    )


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


@dataclass(frozen=True)
class Cell:
    """One cell's work: the seeds still missing from the store, with everything needed to train
    them anywhere (Ray serialises it to send it to a worker), its policy resolved once."""

    suite: Suite
    spec: ModelSpec
    operation: str
    pair: tuple[str, str]
    seeds: tuple[int, ...]
    settings: Settings
    resolved: dict[str, Any]
    key: str
    policy: Policy

    @property
    def where(self) -> str:
        return range_key(self.pair)

    @property
    def label(self) -> str:
        return f"{self.spec} {self.operation} {self.where}"

    def build(self) -> Any:
        """One seed's model (call under the seed's ``torch.manual_seed``)."""
        return self.spec.build(self.suite.input_size, 1, self.suite.hidden)


def resolve_settings(suite: Suite, spec: ModelSpec, settings: Settings) -> dict[str, Any]:
    """A cell's training settings with the suite's and the model's defaults filled in."""
    return {
        "steps": settings.steps or suite.steps,
        "batch_size": settings.batch_size or suite.batch_size,
        "eval_every": settings.eval_every or suite.eval_every,
        "lr": settings.lr or suite.default_lr(spec),
        "eval_size": settings.eval_size,
        "early_stop": settings.early_stop,
    }


def sweep_key(suite: Suite, spec: ModelSpec, settings: Settings) -> str:
    """The settings key of a model's cells in a sweep with ``settings`` (as :func:`plan_cell`
    computes it), to find their rows in the store."""
    policy = cell_policy(spec, spec.build(suite.input_size, 1, suite.hidden), settings)
    return cell_key(resolve_settings(suite, spec, settings), policy)


def plan_cell(
    suite: Suite,
    spec: ModelSpec,
    operation: str,
    pair: tuple[str, str],
    seeds: Sequence[int],
    store: Store,
    settings: Settings,
    policy: Policy,
) -> tuple[Cell | None, dict[int, bool]]:
    """The cell's missing seeds (``None`` when it is finished) and its stored seeds → whether
    each diverged."""
    resolved = resolve_settings(suite, spec, settings)
    key = cell_key(resolved, policy)
    resolved |= {"policy": policy_fields(policy), "regularizer": policy.describe()}
    finished = store.finished(suite.name, str(spec), operation, range_key(pair), key)
    todo = tuple(s for s in seeds if s not in finished)
    if not todo:
        return None, finished
    return Cell(
        suite, spec, operation, tuple(pair), todo, settings, resolved, key, policy
    ), finished


def cell_checkpoint(db: str | Path, cell: Cell) -> Path:
    """Where a cell in progress keeps its training state: beside the database, named by a hash
    of the cell (suite, model, operation, range, settings and seeds)."""
    what = [cell.suite.name, str(cell.spec), cell.operation, cell.where, cell.key, cell.seeds]
    name = f"{Path(db).name}.cell-{fingerprint(what)}.safetensors"
    return Path(db).with_name(name)


def train_cell(
    cell: Cell,
    device: str = "cpu",
    progress: bool = False,
    checkpoint: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> list[ResultRow]:
    """Train a cell's seeds together and return one judged row per seed. With ``checkpoint``
    the training state is written there every ``eval_every`` steps, and a cell killed mid-way
    resumes from it (to the rows an uninterrupted run gives)."""
    suite, settings, resolved = cell.suite, cell.settings, cell.resolved
    tasks = [suite.task(cell.operation, cell.pair, s, settings.eval_size) for s in cell.seeds]
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
        cell.build,
        tasks,
        [suite.init_seed(cell.operation, s) for s in cell.seeds],
        steps=resolved["steps"],
        lr=resolved["lr"],
        batch_size=resolved["batch_size"],
        policy=cell.policy,
        eval_every=resolved["eval_every"],
        shared_inputs=suite.shared_inputs,
        early_stop=early,
        device=device,
        progress=progress,
        description=cell.label,
        checkpoint=checkpoint,
    )
    if result.resumed_from and log is not None:
        log(
            f"{cell.label}: resumed from its checkpoint at step {result.resumed_from:,} of "
            f"{resolved['steps']:,}"
        )
    seconds = result.seconds if result.resumed_from else time.perf_counter() - started
    scores = suite.scores(cell.build, cell.operation, cell.pair, settings.eval_size, result.runs,
                          device)  # fmt: skip
    return [
        _row(cell, seed, run, task, threshold, seconds / len(cell.seeds), score)
        for seed, run, task, threshold, score in zip(
            cell.seeds, result.runs, tasks, thresholds, scores or [None] * len(tasks), strict=True
        )
    ]


def cell_summary(cell: Cell, rows: Sequence[ResultRow]) -> str:
    """One line: solved seeds with the Wilson interval, diverged seeds, time."""
    successes = sum(r.success for r in rows)
    low, high = wilson_interval(successes, len(rows))
    diverged = sum(r.diverged_at is not None for r in rows)
    seconds = sum(r.seconds or 0.0 for r in rows)
    return (
        f"{cell.label}: {successes}/{len(rows)} solved ({100 * low:.0f}–{100 * high:.0f} % at "
        f"95 %), {diverged} diverged, {seconds:.0f} s"
    )


def _row(
    cell: Cell,
    seed: int,
    run: SeedResult,
    task: Any,
    threshold: float,
    seconds: float,
    scores: dict[str, Any] | None,
) -> ResultRow:
    outcome = judge(run.history, threshold, diverged=run.diverged)
    names = ("train_loss", "interpolation_mse", "extrapolation_mse", "sparsity_error")
    history = [
        [int(r["step"])] + [float(f"{r[k]:.4g}") if math.isfinite(r[k]) else None for k in names]
        for r in run.history
    ]
    return ResultRow(
        suite=cell.suite.name,
        model=str(cell.spec),
        operation=cell.operation,
        range=cell.where,
        seed=seed,
        settings=cell.key,
        success=outcome.success,
        diverged_at=run.diverged_at,
        stopped_at=run.stopped_at,
        solved_at=outcome.solved_at,
        best_step=outcome.best_step,
        interpolation_mse=_finite(outcome.interpolation_mse),
        extrapolation_mse=_finite(outcome.extrapolation_mse),
        threshold=threshold,
        sparsity_error=_finite(outcome.sparsity_error),
        steps=run.steps,
        seconds=seconds,
        config={"task": task.config(), "settings": cell.resolved, "suite": asdict(cell.suite)},
        history=history,
        scores=scores,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
