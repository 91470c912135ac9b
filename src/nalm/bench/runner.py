"""Run a suite's cells: each cell's missing seeds trained together, judged, and stored."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import NalmError
from ..limits import check_device, check_seed
from ..metrics import judge, success_threshold, wilson_interval
from ..train.checkpoint import fingerprint
from ..train.ensemble import SeedResult, fit_seeds
from ..train.policies import Policy, get_policy, recommended_policy, with_overrides
from .models import ModelSpec, parse_spec
from .ray_backend import map_on_ray
from .store import Failure, Store, range_key, settings_key
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
    them anywhere (Ray serialises it to send it to a worker)."""

    suite: Suite
    spec: ModelSpec
    operation: str
    pair: tuple[str, str]
    seeds: tuple[int, ...]
    settings: Settings
    resolved: dict[str, Any]
    key: str

    @property
    def where(self) -> str:
        return range_key(self.pair)

    @property
    def label(self) -> str:
        return f"{self.spec} {self.operation} {self.where}"


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
    backend: str = "local",
    address: str | None = None,
    retries: int = 2,
) -> int:
    """Train every missing (model, operation, range, seed) of a sweep and store its rows.

    Returns the number of rows written. A cell whose rows are all present is skipped; a cell
    with some present trains only the missing seeds (a seed's result does not depend on the
    others beside it). ``backend="ray"`` sends each cell to a Ray cluster (``address``, or a
    local Ray started with this machine's cores) as one task, retried ``retries`` times; the
    rows still come back to this process and into ``db``.
    """
    if backend not in ("local", "ray"):
        raise NalmError(f"unknown backend {backend!r}; choose local or ray")
    specs = [parse_spec(m, suite.layers) for m in models]
    check_device(device)
    for seed in seeds:
        check_seed(seed)
    # Everything that can be refused is refused before the database is opened or created.
    for spec in specs:
        spec.build(suite.input_size, 1, suite.hidden)
    for operation in operations:
        for pair in ranges:
            suite.check_cell(operation, pair, settings.eval_size)
    with Store(db) as store:
        cells = []
        for spec in specs:
            for operation in operations:
                for pair in ranges:
                    cell = plan_cell(suite, spec, operation, pair, seeds, store, settings)
                    if cell is None:
                        label = f"{spec} {operation} {range_key(pair)}"
                        log(f"{label}: all {len(seeds)} seeds done, skipped")
                    else:
                        cells.append(cell)
        if backend == "ray":
            outcomes = map_on_ray(cells, train_cell, address, retries, device, log)
        else:
            outcomes = map_locally(cells, db, device, progress, log)
        written = 0
        for cell, rows in outcomes:
            if isinstance(rows, Failure):
                store.record_failure(
                    (cell.suite.name, str(cell.spec), cell.operation, cell.where, cell.key),
                    cell.seeds,
                    rows.attempts,
                    rows.error,
                )
                reason = rows.error.splitlines()[-1]
                log(f"{cell.label}: failed after {rows.attempts} attempts: {reason}")
                continue
            written += store.write(rows)
            log(cell_summary(cell, rows))
        return written


def map_locally(
    cells: Sequence[Cell],
    db: str | Path,
    device: str,
    progress: bool,
    log: Callable[[str], None],
) -> Iterator[tuple[Cell, list[dict[str, Any]]]]:
    """The local backend: train the cells one after another in this process, each
    checkpointed beside ``db``; yield ``(cell, rows)``. A cell's checkpoint is removed once the
    caller has taken its rows (stored them) and asks for the next cell."""
    for cell in cells:
        checkpoint = cell_checkpoint(db, cell)
        yield cell, train_cell(cell, device, progress, checkpoint, log)
        checkpoint.unlink(missing_ok=True)  # the rows are stored: the cell is done


def plan_cell(
    suite: Suite,
    spec: ModelSpec,
    operation: str,
    pair: tuple[str, str],
    seeds: Sequence[int],
    store: Store,
    settings: Settings,
) -> Cell | None:
    """The cell's missing seeds and resolved settings, or ``None`` when it is finished."""
    resolved = {
        "steps": settings.steps or suite.steps,
        "batch_size": settings.batch_size or suite.batch_size,
        "eval_every": settings.eval_every or suite.eval_every,
        "lr": settings.lr or suite.default_lr(spec),
        "eval_size": settings.eval_size,
        "early_stop": settings.early_stop,
    }
    template = spec.build(suite.input_size, 1, suite.hidden)
    policy = cell_policy(spec, template, settings)
    resolved["policy"] = policy.name
    resolved["regularizer"] = policy.describe()
    # the overrides exactly (describe() rounds), so other values never share a key
    resolved["lambda_hat"] = settings.lambda_hat
    resolved["ramp"] = list(settings.ramp) if settings.ramp else None
    key = settings_key(resolved)
    finished = store.finished_seeds(suite.name, str(spec), operation, range_key(pair), key)
    todo = tuple(s for s in seeds if s not in finished)
    if not todo:
        return None
    return Cell(suite, spec, operation, tuple(pair), todo, settings, resolved, key)


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
) -> list[dict[str, Any]]:
    """Train a cell's seeds together and return one judged row per seed. With ``checkpoint``
    the training state is written there every ``eval_every`` steps, and a cell killed mid-way
    resumes from it (to the rows an uninterrupted run gives)."""
    suite, spec, settings, resolved = cell.suite, cell.spec, cell.settings, cell.resolved
    tasks = [suite.task(cell.operation, cell.pair, s, settings.eval_size) for s in cell.seeds]
    thresholds = [success_threshold(t, "extrapolation") for t in tasks]
    early = None
    if settings.early_stop:
        rules = [
            solved_early(success_threshold(t, "interpolation"), thr)
            for t, thr in zip(tasks, thresholds, strict=True)
        ]
        early = lambda i, history: rules[i](i, history)  # noqa: E731
    template = spec.build(suite.input_size, 1, suite.hidden)
    started = time.perf_counter()
    result = fit_seeds(
        lambda: spec.build(suite.input_size, 1, suite.hidden),
        tasks,
        list(cell.seeds),
        steps=resolved["steps"],
        lr=resolved["lr"],
        batch_size=resolved["batch_size"],
        policy=cell_policy(spec, template, settings),
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
    return [
        _row(cell, run, task, threshold, seconds / len(cell.seeds))
        for run, task, threshold in zip(result.runs, tasks, thresholds, strict=True)
    ]


def cell_summary(cell: Cell, rows: Sequence[dict[str, Any]]) -> str:
    """One line: solved seeds with the Wilson interval, diverged seeds, time."""
    successes = sum(r["success"] for r in rows)
    low, high = wilson_interval(successes, len(rows))
    diverged = sum(r["diverged_at"] is not None for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    return (
        f"{cell.label}: {successes}/{len(rows)} solved ({100 * low:.0f}–{100 * high:.0f} % at "
        f"95 %), {diverged} diverged, {seconds:.0f} s"
    )


def _row(
    cell: Cell, run: SeedResult, task: Any, threshold: float, seconds: float
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
        "suite": cell.suite.name,
        "model": str(cell.spec),
        "operation": cell.operation,
        "range": cell.where,
        "seed": run.seed,
        "settings": cell.key,
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
        "config": {
            "task": task.config(),
            "settings": cell.resolved,
            "suite": asdict(cell.suite),
        },
        "history": history,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
