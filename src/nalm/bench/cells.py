"""One cell of a sweep: its settings and policy resolved, its seeds trained together, judged,
and turned into :class:`~nalm.bench.rows.ResultRow` s."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..metrics import judge, success_threshold, wilson_interval
from ..models import ModelSpec
from ..train.checkpoint import fingerprint
from ..train.cohort import SeedResult, fit_seeds
from ..train.policies import Policy, resolve
from .rows import ResultRow, cell_key, policy_fields
from .store import Store, range_key
from .suites import Suite


@dataclass(frozen=True, kw_only=True)
class TrainingFlags:
    """The training settings :class:`Settings` and :class:`~nalm.bench.sweep.Sweep` (one field per
    flag) share, by keyword: each is described in :class:`Settings`."""

    steps: int | None = None
    batch_size: int | None = None
    eval_every: int | None = None
    lr: float | None = None
    lambda_hat: float | None = None
    eval_size: int = 10_000
    early_stop: bool = False
    per_seed_inputs: bool = False
    checkpoint_seconds: float = 30.0
    compile: bool | None = False
    policy: str | None = None
    clip_value: float | None = None
    clip_norm: float | None = None
    input_size: int | None = None
    subset: float | None = None
    overlap: float | None = None


@dataclass(frozen=True)
class Settings(TrainingFlags):
    """Training settings of a sweep; ``None`` means the suite's or the model's default.

    Attributes:
        steps, batch_size, eval_every: as in :func:`~nalm.train.fit_seeds`.
        lr: learning rate (default: the paper's for each model).
        lambda_hat: the regulariser's final weight (default: the model's policy).
        ramp: ``(start, end)`` steps of the regulariser's linear ramp (default: the policy's).
        eval_size: rows in each evaluation set.
        early_stop: stop a seed once its interpolation MSE has settled below its threshold
            (:func:`plateau_stop`; it never reads the extrapolation set).
        per_seed_inputs: each seed draws its own input batches, where the suite would share
            them (:attr:`~nalm.bench.suites.Suite.shared_inputs`).
        checkpoint_seconds: a cell in progress writes its checkpoint every evaluation, but at
            most this often (not part of the settings' key: it does not change results).
        compile: train with the compiled step where it serves the cell and enough steps are
            left: ``True`` from 2,000, ``None`` (``nalm bench run``'s default) from 50,000;
            ``False``: the eager step (not part of the key: the same arithmetic, to float
            rounding; :mod:`nalm.train.compiled`).
        policy: a named training policy (:data:`~nalm.train.policies.POLICIES`) in place of
            each model's recommended one; its ``lr`` and ``batch_size``, where it has them,
            stand in for the suite's.
        clip_value, clip_norm: gradient clipping in place of the policy's.
        input_size, subset, overlap: the task's, in place of the suite's (keyed only where
            they differ from the suite's).
    """

    ramp: tuple[int, int] | None = None

    def task_suite(self, suite: Suite) -> Suite:
        """``suite`` with these settings' task in place of its own."""
        changes = {k: getattr(self, k) for k in TASK_FIELDS if getattr(self, k) is not None}
        return replace(suite, **changes) if changes else suite


TASK_FIELDS = ("input_size", "subset", "overlap")
"""The task's settings a sweep may change (:class:`~nalm.bench.suites.Suite` fields)."""


def cell_policy(spec: ModelSpec, model: Any, settings: Settings) -> Policy:
    """The sweep's policy (``settings.policy``, else the model's recommended one) with the
    sweep's regulariser and clipping overrides applied."""
    return resolve(
        "auto" if settings.policy is None else settings.policy,
        model,
        lambda_hat=settings.lambda_hat,
        ramp=settings.ramp,
        clip_value=settings.clip_value,
        clip_norm=settings.clip_norm,
        where=str(spec),
    )


STOP_RULE = "plateau-5"
"""The early-stop rule of rows made today (:func:`plateau_stop` with a patience of 5), stored in
their settings key as ``stop_rule``."""
OLD_STOP_RULE = "solved-early"
"""What rows with ``early_stop`` and no ``stop_rule`` were made with: :func:`solved_early`, which
read the extrapolation set (kept so that those rows can be named, never used to train)."""
PATIENCE = 5
"""Evaluations without a real improvement after which a seed below its interpolation threshold
stops."""


def plateau_stop(interpolation_threshold: float, patience: int = PATIENCE) -> Callable:
    """Early-stop rule that reads only what training may read, the interpolation (validation)
    set: stop once the last ``patience`` evaluations all have an interpolation MSE below its
    ε-threshold and none of them halved the lowest interpolation MSE before them.

    The seed is then judged exactly as without early stop (:func:`~nalm.metrics.judge`: the
    extrapolation MSE at the step with the lowest interpolation MSE of its try).

    Examples:
        >>> rule = plateau_stop(1e-6, patience=2)
        >>> rows = [{"interpolation_mse": v, "extrapolation_mse": 9.0} for v in (1.0, 1e-8)]
        >>> rule(0, rows), rule(0, rows + [{"interpolation_mse": 2e-8}])
        (False, False)
        >>> rule(0, rows + [{"interpolation_mse": 2e-8}, {"interpolation_mse": 0.9e-8}])
        True
    """

    def rule(_index: int, history: list[dict[str, float]]) -> bool:
        values = [r["interpolation_mse"] for r in history]
        if len(values) <= patience:
            return False
        recent, before = values[-patience:], values[:-patience]
        finite_before = [v for v in before if math.isfinite(v)]
        best_before = min(finite_before, default=math.inf)
        return all(math.isfinite(v) and v < interpolation_threshold for v in recent) and (
            min(recent) >= best_before / 2
        )

    return rule


def solved_early(interpolation_threshold: float, extrapolation_threshold: float) -> Callable:
    """The first early-stop rule (:data:`OLD_STOP_RULE`), no longer used to train: the latest
    evaluation is the seed's lowest interpolation MSE so far, and both its interpolation and
    extrapolation MSE are below their ε-thresholds. It read the extrapolation set, the success
    criterion itself, during training; rows made with it stay readable and are named as such."""

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


def resolve_settings(
    suite: Suite, spec: ModelSpec, settings: Settings, policy: Policy | None = None
) -> dict[str, Any]:
    """A cell's training settings with the defaults filled in: the sweep's, else the policy's
    (``lr``, ``batch_size``, ``steps``), else the suite's and the model's. ``suite`` is the suite as
    registered; the task settings that differ from it are added."""
    resolved = {
        "steps": settings.steps or (policy and policy.steps) or suite.steps,
        "batch_size": settings.batch_size or (policy and policy.batch_size) or suite.batch_size,
        "eval_every": settings.eval_every or suite.eval_every,
        "lr": settings.lr or (policy and policy.lr) or suite.default_lr(spec),
        "eval_size": settings.eval_size,
        "early_stop": settings.early_stop,
    }
    if settings.early_stop:
        resolved["stop_rule"] = STOP_RULE
    if settings.per_seed_inputs and suite.shared_inputs:  # only then does it change a run
        resolved["per_seed_inputs"] = True
    task = settings.task_suite(suite)
    resolved |= {k: getattr(task, k) for k in TASK_FIELDS if getattr(task, k) != getattr(suite, k)}
    return resolved


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
    resolved = resolve_settings(suite, spec, settings, policy)
    key = cell_key(resolved, policy)
    resolved |= {"policy": policy_fields(policy), "regularizer": policy.describe()}
    finished = store.finished(suite.name, str(spec), operation, range_key(pair), key)
    todo = tuple(s for s in seeds if s not in finished)
    if not todo:
        return None, finished
    where = (settings.task_suite(suite), spec, operation, tuple(pair), todo)
    return Cell(*where, settings, resolved, key, policy), finished


def cell_checkpoint(db: str | Path, cell: Cell | Sequence[Cell]) -> Path:
    """Where a cell (or a group of cells trained together) in progress keeps its training state:
    beside the database, named by a hash of the cells (suite, model, operation, range, settings
    and seeds)."""
    cells = [cell] if isinstance(cell, Cell) else list(cell)
    what = [[c.suite.name, str(c.spec), c.operation, c.where, c.key, c.seeds] for c in cells]
    name = f"{Path(db).name}.cell-{fingerprint(what[0] if len(what) == 1 else what)}.safetensors"
    return Path(db).with_name(name)


def groups(cells: Sequence[Cell]) -> list[list[Cell]]:
    """The cells in training order, those of one model, range and settings together where the
    suite groups operations (:attr:`~nalm.bench.suites.Suite.group_operations`)."""
    out: list[list[Cell]] = []

    def same(c: Cell) -> tuple:
        return (c.suite, c.spec, c.pair, c.key)

    for cell in cells:
        if out and cell.suite.group_operations and same(out[-1][0]) == same(cell):
            out[-1].append(cell)
        else:
            out.append([cell])
    return out


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
    return train_cells([cell], device, progress, checkpoint, log)[0]


def train_cells(
    cells: Sequence[Cell],
    device: str = "cpu",
    progress: bool = False,
    checkpoint: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> list[list[ResultRow]]:
    """:func:`train_cell` for cells of one model, range and settings trained as one batched
    computation (their seeds one after another); one list of rows per cell."""
    first = cells[0]
    suite, settings, resolved = first.suite, first.settings, first.resolved
    flat = [(c, s) for c in cells for s in c.seeds]
    tasks = [suite.task(c.operation, c.pair, s, settings.eval_size) for c, s in flat]
    thresholds = [success_threshold(t, "extrapolation") for t in tasks]
    early = None
    if settings.early_stop:  # reads the interpolation set only: the test set never steers
        rules = [plateau_stop(success_threshold(t, "interpolation")) for t in tasks]
        early = lambda i, history: rules[i](i, history)  # noqa: E731
    started = time.perf_counter()
    label = first.label if len(cells) == 1 else f"{first.spec} ({len(cells)} operations)"
    result = fit_seeds(
        first.build,
        tasks,
        [suite.init_seed(c.operation, s) for c, s in flat],
        steps=resolved["steps"],
        lr=resolved["lr"],
        batch_size=resolved["batch_size"],
        policy=first.policy,
        eval_every=resolved["eval_every"],
        shared_inputs=suite.shared_inputs and not resolved.get("per_seed_inputs", False),
        early_stop=early,
        device=device,
        progress=progress,
        description=label,
        checkpoint=checkpoint,
        checkpoint_seconds=first.settings.checkpoint_seconds,
        compile=first.settings.compile,
    )
    if result.resumed_from and log is not None:
        log(
            f"{label}: resumed from its checkpoint at step {result.resumed_from:,} of "
            f"{resolved['steps']:,}"
        )
    seconds = result.seconds if result.resumed_from else time.perf_counter() - started
    each = seconds / len(flat)
    out, start = [], 0
    for cell in cells:
        n = len(cell.seeds)
        runs, mine = result.runs[start : start + n], range(start, start + n)
        judged = (cell.build, cell.operation, cell.pair, settings.eval_size, runs, device)
        scores = suite.scores(*judged) or [None] * n
        out.append(
            [
                _row(cell, seed, run, tasks[i], thresholds[i], each, score)
                for seed, run, i, score in zip(cell.seeds, runs, mine, scores, strict=True)
            ]
        )
        start += n
    return out


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
    outcome = judge(run.history, threshold, diverged=run.diverged, restarts=run.reinitialized_at)
    # The judgement's fields are the row's of the same name; a number that is not finite is None.
    judged = {k: _finite(v) if isinstance(v, float) else v for k, v in asdict(outcome).items()}
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
        diverged_at=run.diverged_at,
        stopped_at=run.stopped_at,
        threshold=threshold,
        steps=run.steps,
        seconds=seconds,
        config={
            "task": task.config(),
            "settings": cell.resolved,
            "suite": asdict(cell.suite),
            "restarts": list(run.reinitialized_at),
            "judged": JUDGED,
        },
        history=history,
        scores=scores,
        **judged,
    )


JUDGED = "per-try"
"""How today's rows are judged (stored in their ``config``): the best step within the try that
is judged. Rows without it chose the best step over every try, abandoned ones included."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
