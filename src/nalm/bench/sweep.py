"""``nalm bench run`` and ``nalm bench report`` as functions of their flags: the settings built
from the flags, the checks, the sweep, and the lines the command prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .. import limits
from ..app import runs
from ..errors import NalmError
from ..train.policies import get_policy
from ..train.schedule import parse_ramp
from . import grid
from .cells import TASK_FIELDS, Settings, TrainingFlags
from .reference import write_ranking
from .report import summarize, write_report
from .rows import KEY
from .runner import Plan, SweepSummary, plan_sweep, run_sweep
from .store import Store
from .suites import get_suite

_GRIDDED = tuple(field for field, _, _ in grid.GRID_KEYS.values())


@dataclass(frozen=True)
class Sweep(TrainingFlags):
    """A ``nalm bench run`` request, one field per flag (``None``: the suite's or the model's
    default).

    ``grid`` holds ``--grid KEY=V1,V2`` items (:mod:`nalm.bench.grid`): the request then runs
    once per grid point (:meth:`points`).

    Examples:
        >>> s = Sweep("madsen", ramp="2,5,8", policy="madsen-nmu").settings()
        >>> s.lambda_hat, s.ramp, s.policy
        (2.0, (5, 8), 'madsen-nmu')
        >>> [p.lr for p in Sweep("madsen", grid=["lr=1e-3,1e-2"]).points()]
        [0.001, 0.01]
    """

    suite: str
    models: Sequence[str] | None = None
    ops: Sequence[str] | None = None
    ranges: str | None = None
    seeds: int | None = None
    first_seed: int = 0
    ramp: str | None = None
    db: str = "results.sqlite"
    backend: str = "local"
    address: str | None = None
    retries: int | None = None
    device: str = "cpu"
    no_progress: bool = False
    grid: Sequence[str] | None = None

    def points(self) -> list[Sweep]:
        """One request per grid point (this one alone without ``--grid``)."""
        if not self.grid:
            return [self]
        given = [k for k in _GRIDDED if getattr(self, k) is not None]
        return [replace(self, grid=None, **point) for point in grid.expand(self.grid, given)]

    def label(self) -> str:
        """What this request sets of what a grid may vary (for the sweep's log)."""
        return grid.label({k: getattr(self, k) for k in _GRIDDED if getattr(self, k) is not None})

    def settings(self) -> Settings:
        """The training settings; ``--ramp LAMBDA,START,END`` sets λ̂ as ``--lambda`` does, and
        both at once must agree."""
        ramp, lambda_hat = None, self.lambda_hat
        if self.ramp is not None:
            given, start, end = parse_ramp(self.ramp)
            if given is not None and lambda_hat is not None and given != lambda_hat:
                raise NalmError(f"--ramp {self.ramp!r} and --lambda {lambda_hat:g} give λ̂ twice")
            lambda_hat, ramp = (given if given is not None else lambda_hat), (start, end)
        self._check_task()
        shared = {f.name: getattr(self, f.name) for f in fields(TrainingFlags)}
        checked = limits.check_number(
            self.checkpoint_seconds, "--checkpoint-seconds", nonnegative=True
        )
        policy = None if self.policy in (None, "auto") else get_policy(self.policy).name
        shared |= {"lambda_hat": lambda_hat, "checkpoint_seconds": checked, "policy": policy}
        return Settings(ramp=ramp, **shared)

    def _check_task(self) -> None:
        """The task flags, each refused in one sentence naming it."""
        if self.input_size is not None:  # a whole number within nalm's limit
            limits.check_size(self.input_size, "--input-size")
        for name in TASK_FIELDS:
            if name != "input_size":
                grid.check(name, getattr(self, name))

    def run(self, log: Callable[[str], None] = print) -> SweepSummary:
        """Check the request (every grid point), then train and store every missing seed of
        it, one grid point after another."""
        if self.backend != "ray" and (self.address or self.retries is not None):
            flag = "--address" if self.address else "--retries"
            raise NalmError(f"{flag} is for the Ray backend; use it with --backend ray")
        points = self.points()
        plans = [point.plan() for point in points]  # every point refused or accepted up front
        runs.set_resume_hint(lambda: stored_message(self.db))
        total = SweepSummary()
        for i, (point, plan) in enumerate(zip(points, plans, strict=True)):
            if len(points) > 1:
                log(f"grid point {i + 1}/{len(points)}: {point.label()}")
            summary = run_sweep(plan, **point.backend_options(log))
            total.merge(summary)
        return total

    def plan(self) -> Plan:
        """This request checked and planned (:func:`~nalm.bench.runner.plan_sweep`)."""
        base = get_suite(self.suite)
        settings = self.settings()
        suite = settings.task_suite(base)
        models, ops = _names(self.models, "models"), _names(self.ops, "ops")
        n = self.seeds or suite.seeds
        operations = suite.parse_operations(ops)
        ranges = suite.parse_ranges(self.ranges)
        seeds = range(self.first_seed, self.first_seed + n)
        models = models or list(suite.models)
        return plan_sweep(base, models, operations, ranges, seeds, self.db, settings, self.device)

    def backend_options(self, log: Callable[[str], None]) -> dict[str, Any]:
        """The keyword arguments of :func:`~nalm.bench.runner.run_sweep` for where it trains."""
        return {
            "device": self.device,
            "progress": not self.no_progress,
            "log": log,
            "backend": self.backend,
            "address": self.address,
            "retries": 2 if self.retries is None else self.retries,
        }

    def closing_lines(self, summary: SweepSummary) -> list[str]:
        """What ``nalm bench run`` prints once the sweep is done."""
        return [
            f"{summary.written} rows written to {self.db}; 'nalm bench report --db {self.db}' "
            "summarises",
            f"{summary.diverged} of {summary.seeds} seeds in this sweep diverged (stopped, "
            "counted as failures)",
        ]


def _names(values: Sequence[str] | None, flag: str) -> list[str] | None:
    """``--ops add,sub`` as well as ``--ops add sub``."""
    if not values:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        raise NalmError(f"--{flag} names nothing; give NAME,NAME or NAME NAME")
    return names


def report(dbs: Sequence[str | Path], out: str | Path, reference: bool = False) -> dict[str, Path]:
    """``nalm bench report``: the rows of every database (a row in several counted once) into
    a new run directory under ``out``; with ``reference``, also ``ranking.md`` and
    ``ranking.png`` (:mod:`nalm.bench.reference`). Returns the files written."""
    rows, failures = [], []
    for db in dbs:
        with Store(db, create=False) as store:
            rows += store.rows()
            failures += store.failures()
    rows = list({tuple(r[k] for k in KEY): r for r in rows}.values())  # overlapping files
    if not rows:
        failed = f"; {len(failures)} cell(s) failed on Ray (see --backend ray)" if failures else ""
        raise NalmError(f"{' '.join(str(db) for db in dbs)} holds no results yet{failed}")
    settings = {"db": [str(Path(db).resolve()) for db in dbs], "reference": reference}
    with runs.run_directory("bench-report", out, command="bench report", settings=settings) as d:
        paths = write_report(rows, d, failures)
        if reference:
            paths |= write_ranking(summarize(rows), d)
    return paths


def stored_message(db: str | Path) -> str:
    """What an interrupted sweep has stored, for the Ctrl-C message."""
    try:
        with Store(db, create=False) as store:
            count = store.count()
    except NalmError:
        count = 0
    path = Path(db)
    kept = sorted(path.parent.glob(f"{path.name}.cell-*.safetensors"))
    others = " and others" if len(kept) > 1 else ""
    progress = (
        f"; the cell in progress kept its checkpoint ({kept[0]}{others}), so the same command "
        "resumes inside it"
        if kept
        else ""
    )
    if not count:
        return "no cell had finished, so " + (
            f"no row was stored{progress}" if kept else "nothing was stored"
        )
    return (
        f"{count} rows are stored in {db}; run the same command again to resume (finished "
        f"seeds are skipped){progress}"
    )
