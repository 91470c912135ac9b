"""Run a suite's cells: each cell's missing seeds trained together, judged, and stored."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import NalmError
from ..limits import check_device, check_elements, check_seed
from ..models import ModelSpec, parse
from ..train.policies import Policy
from ..train.precondition import preconditioned
from ..train.stack import unit_factors
from .cells import (
    Cell,
    Settings,
    cell_checkpoint,
    cell_policy,
    cell_summary,
    groups,
    plan_cell,
    resolve_settings,
    solved_early,
    train_cell,
    train_cells,
)
from .ray_backend import check_address, map_on_ray
from .rows import ResultRow, cell_key
from .store import Failure, Store, range_key
from .suites import Suite

__all__ = [
    "Cell",
    "Plan",
    "Settings",
    "SweepSummary",
    "cell_checkpoint",
    "cell_policy",
    "cell_summary",
    "map_locally",
    "plan_cell",
    "plan_sweep",
    "resolve_settings",
    "run_sweep",
    "solved_early",
    "train_cell",
]


DEFAULT_SETTINGS = Settings()


@dataclass
class SweepSummary:
    """What a sweep did: rows added to the store, the sweep's seeds that have a row (stored
    before or now) and how many of those diverged, the cells that failed, and one line per
    cell (as logged)."""

    written: int = 0
    seeds: int = 0
    diverged: int = 0
    failures: list[tuple[Cell, Failure]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def merge(self, other: SweepSummary) -> None:
        """Add another sweep's counts, failures and lines (a grid's points)."""
        self.written += other.written
        self.seeds += other.seeds
        self.diverged += other.diverged
        self.failures += other.failures
        self.lines += other.lines

    def count(self, diverged: Iterable[bool]) -> None:
        """Count seeds with a row, by whether each diverged."""
        flags = list(diverged)
        self.seeds += len(flags)
        self.diverged += sum(flags)


@dataclass(frozen=True)
class Plan:
    """A sweep checked and planned once, before anything trains: the suite as registered, each
    model's spec with its policy (every model built once, for it), the operations, range
    pairs, seeds, database and settings. :func:`plan_sweep` makes it; :func:`run_sweep` runs it.
    """

    suite: Suite
    policies: dict[ModelSpec, Policy]
    operations: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...]
    seeds: tuple[int, ...]
    db: str | Path
    settings: Settings

    def key(self, spec: ModelSpec) -> str:
        """The settings key of ``spec``'s cells (as :func:`plan_cell` computes it), to find
        their rows in the store; ``spec`` is one of the plan's models."""
        policy = self.policies[spec]
        return cell_key(resolve_settings(self.suite, spec, self.settings, policy), policy)


def plan_sweep(
    suite: Suite,
    models: Sequence[str],
    operations: Sequence[str],
    ranges: Sequence[tuple[str, str]],
    seeds: Sequence[int],
    db: str | Path,
    settings: Settings = DEFAULT_SETTINGS,
    device: str = "cpu",
) -> Plan:
    """Refuse a sweep that cannot run, in one sentence, before anything trains (with the
    engine's own checks of each model's policy), and plan it."""
    specs = [parse(m, layers=suite.layers) for m in models]
    check_device(device)
    for seed in seeds:
        check_seed(seed)
    task = settings.task_suite(suite)
    shared = task.shared_inputs and not settings.per_seed_inputs
    fix = f"suite {suite.name!r} " + (
        "shares none" if not task.shared_inputs else "with --per-seed-inputs"
    )
    policies = {}
    for spec in specs:
        spec.vet()
        model = spec.build(task.input_size, 1, task.hidden)
        policies[spec] = policy = cell_policy(spec, model, settings)
        names = [name for name, _ in model.named_parameters()]
        try:
            unit_factors(policy, model)
            preconditioned(policy, model, names, task.input_size, len(seeds), shared, fix)
        except NalmError as error:
            raise NalmError(f"{spec}: {error}") from None
        batch = resolve_settings(suite, spec, settings, policy)["batch_size"]
        elements = {"--seeds": len(seeds), "inputs": task.input_size}
        check_elements({**elements, "--batch-size": batch})
        check_elements({**elements, "--eval-size": settings.eval_size})
    for operation in operations:
        for pair in ranges:
            task.check_cell(operation, pair, settings.eval_size)
    return Plan(suite, policies, tuple(operations), tuple(ranges), tuple(seeds), db, settings)


def run_sweep(
    plan: Plan | Suite,
    *args: Any,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
    backend: str = "local",
    address: str | None = None,
    retries: int = 2,
    **planned: Any,
) -> SweepSummary:
    """Train every missing (model, operation, range, seed) of a :class:`Plan` and store its rows
    (or plan first: ``run_sweep(suite, models, operations, ranges, seeds, db, settings)``, its
    arguments given by place or by name, is ``run_sweep(plan_sweep(...))``).

    A cell whose rows are all present is skipped; a cell with some present trains only the
    missing seeds (a seed's result does not depend on the others beside it).
    ``backend="ray"`` sends each cell to a Ray cluster (``address``, or a local Ray started with
    this machine's cores) as one task, retried ``retries`` times; the rows still come back to
    this process and into ``db``. Returns a :class:`SweepSummary` (``written``: the rows this
    call added)."""
    if backend not in ("local", "ray"):
        raise NalmError(f"unknown backend {backend!r}; choose local or ray")
    # Everything that can be refused is refused before the database is opened or created.
    if not isinstance(plan, Plan):
        plan = plan_sweep(plan, *args, device=device, **planned)
    check_device(device)
    if backend == "ray":
        check_address(address)
    summary = SweepSummary()
    with Store(plan.db) as store:
        cells = []
        for spec, operation, pair in itertools.product(plan.policies, plan.operations, plan.ranges):
            policy = plan.policies[spec]
            where = (plan.suite, spec, operation, pair, plan.seeds)
            cell, finished = plan_cell(*where, store, plan.settings, policy)
            summary.count(finished[s] for s in plan.seeds if s in finished)
            if cell is None:
                done = f"all {len(plan.seeds)} seeds done, skipped"
                _note(summary, log, f"{spec} {operation} {range_key(pair)}: {done}")
            else:
                cells.append(cell)
        if backend == "ray":
            beside_db = partial(cell_checkpoint, plan.db)  # each cell's checkpoint, as locally
            outcomes = map_on_ray(
                cells, train_cell, address, retries, device, log, checkpoints=beside_db
            )
        else:
            outcomes = map_locally(cells, plan.db, device, progress, log)
        for cell, rows in outcomes:
            _store(store, cell, rows, summary, log)
    return summary


def _note(summary: SweepSummary, log: Callable[[str], None], line: str) -> None:
    summary.lines.append(line)
    log(line)


def _store(
    store: Store,
    cell: Cell,
    rows: list[ResultRow] | Failure,
    summary: SweepSummary,
    log: Callable[[str], None],
) -> None:
    """Store one backend outcome: a cell's rows, or its failure."""
    if isinstance(rows, Failure):
        store.record_failure(
            (cell.suite.name, str(cell.spec), cell.operation, cell.where, cell.key),
            cell.seeds,
            rows.attempts,
            rows.error,
        )
        summary.failures.append((cell, rows))
        reason = rows.error.splitlines()[-1]
        _note(summary, log, f"{cell.label}: failed after {rows.attempts} attempts: {reason}")
        return
    summary.written += store.write(rows)
    summary.count(r.diverged_at is not None for r in rows)
    _note(summary, log, cell_summary(cell, rows))


def map_locally(
    cells: Sequence[Cell],
    db: str | Path,
    device: str,
    progress: bool,
    log: Callable[[str], None],
) -> Iterator[tuple[Cell, list[ResultRow] | Failure]]:
    """The local backend: train the cells one after another in this process, each
    checkpointed beside ``db``; yield ``(cell, rows)`` (it never yields a
    :class:`~nalm.bench.store.Failure`: an error stops the sweep). A cell's checkpoint is
    removed once the caller has taken its rows (stored them) and asks for the next cell."""
    for group in groups(cells):
        checkpoint = cell_checkpoint(db, group)
        trained = train_cells(group, device, progress, checkpoint, log)
        yield from zip(group, trained, strict=True)
        checkpoint.unlink(missing_ok=True)  # the rows are stored: the cells are done
