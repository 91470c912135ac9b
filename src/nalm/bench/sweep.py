"""``nalm bench run`` and ``nalm bench report`` as functions of their flags: the settings built
from the flags, the checks, the sweep, and the lines the command prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import limits, runs
from ..errors import NalmError
from ..train.schedule import parse_ramp
from .cells import Settings
from .reference import write_ranking
from .report import summarize, write_report
from .rows import KEY
from .runner import SweepSummary, run_sweep
from .store import Store
from .suites import get_suite


@dataclass(frozen=True)
class Sweep:
    """A ``nalm bench run`` request, one field per flag (``None``: the suite's or the model's
    default).

    Examples:
        >>> Sweep("madsen", ramp="2,5,8").settings()
        Settings(steps=None, batch_size=None, eval_every=None, lr=None, lambda_hat=2.0, \
ramp=(5, 8), eval_size=10000, early_stop=False, per_seed_inputs=False, \
checkpoint_seconds=30.0)
    """

    suite: str
    models: Sequence[str] | None = None
    ops: Sequence[str] | None = None
    ranges: str | None = None
    seeds: int | None = None
    first_seed: int = 0
    steps: int | None = None
    eval_every: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lambda_hat: float | None = None
    ramp: str | None = None
    eval_size: int = 10_000
    early_stop: bool = False
    per_seed_inputs: bool = False
    checkpoint_seconds: float = 30.0
    db: str = "results.sqlite"
    backend: str = "local"
    address: str | None = None
    retries: int | None = None
    device: str = "cpu"
    no_progress: bool = False

    def settings(self) -> Settings:
        """The training settings; ``--ramp LAMBDA,START,END`` sets λ̂ as ``--lambda`` does, and
        both at once must agree."""
        ramp, lambda_hat = None, self.lambda_hat
        if self.ramp is not None:
            given, start, end = parse_ramp(self.ramp)
            if given is not None and lambda_hat is not None and given != lambda_hat:
                raise NalmError(f"--ramp {self.ramp!r} and --lambda {lambda_hat:g} give λ̂ twice")
            lambda_hat, ramp = (given if given is not None else lambda_hat), (start, end)
        return Settings(
            steps=self.steps,
            batch_size=self.batch_size,
            eval_every=self.eval_every,
            lr=self.lr,
            lambda_hat=lambda_hat,
            ramp=ramp,
            eval_size=self.eval_size,
            early_stop=self.early_stop,
            per_seed_inputs=self.per_seed_inputs,
            checkpoint_seconds=limits.check_number(
                self.checkpoint_seconds, "--checkpoint-seconds", nonnegative=True
            ),
        )

    def run(self, log: Callable[[str], None] = print) -> SweepSummary:
        """Check the request, then train and store every missing seed of it."""
        suite = get_suite(self.suite)
        models, ops = _names(self.models, "models"), _names(self.ops, "ops")
        if self.backend != "ray" and (self.address or self.retries is not None):
            flag = "--address" if self.address else "--retries"
            raise NalmError(f"{flag} is for the Ray backend; use it with --backend ray")
        settings = self.settings()
        n = self.seeds or suite.seeds
        batch = self.batch_size or suite.batch_size
        limits.check_elements({"--seeds": n, "--batch-size": batch, "inputs": suite.input_size})
        limits.check_elements(
            {"--seeds": n, "--eval-size": self.eval_size, "inputs": suite.input_size}
        )
        operations = suite.parse_operations(ops)
        ranges = suite.parse_ranges(self.ranges)
        runs.set_resume_hint(lambda: stored_message(self.db))
        return run_sweep(
            suite,
            models or list(suite.models),
            operations,
            ranges,
            range(self.first_seed, self.first_seed + n),
            self.db,
            settings,
            device=self.device,
            progress=not self.no_progress,
            log=log,
            backend=self.backend,
            address=self.address,
            retries=2 if self.retries is None else self.retries,
        )

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
    directory = runs.new_run_dir("bench-report", out)
    paths = write_report(rows, directory, failures)
    if reference:
        paths |= write_ranking(summarize(rows), directory)
    return paths


def stored_message(db: str | Path) -> str:
    """What an interrupted sweep has stored, for the Ctrl-C message."""
    try:
        with Store(db, create=False) as store:
            count = store.count()
    except NalmError:
        count = 0
    if not count:
        return "no cell had finished, so nothing was stored"
    return (
        f"{count} rows are stored in {db}; run the same command again to resume (finished "
        "seeds are skipped)"
    )
