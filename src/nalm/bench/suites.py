"""The named benchmark suites: what is learned, from which ranges, by which models, how long."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from ..errors import NalmError
from ..limits import check_task_values
from ..models import ModelSpec
from ..tasks.arithmetic import OPERATIONS, ArithmeticTask, get_operation
from ..tasks.ranges import Range
from . import table1

if TYPE_CHECKING:
    from ..train.cohort import SeedResult


@dataclass(frozen=True)
class Suite:
    """A benchmark: every (model, operation, range pair) cell is trained with many seeds.

    Attributes:
        name: ``madsen``, ``single-module`` or ``table1``.
        paper: where the settings come from.
        layers: units per model (2: ``first>second`` with ``hidden`` in between; 1: one unit).
        input_size, subset, overlap: the task's input and slices (see
            :class:`~nalm.tasks.ArithmeticTask`).
        ranges: ``(interpolation, extrapolation)`` range pairs.
        operations: the operations in the paper.
        models: the paper's models, as specs.
        steps, seeds, batch_size, lr, eval_every: the paper's training settings.
        shared_inputs: seeds share each step's input batch (their targets differ because each
            seed has its own slices); off where every seed has the same task.
        epsilon_perfect: how the success threshold's ε-perfect solution is built.
        group_operations: the local backend trains a model's cells of every operation (same
            range and settings) as one batched computation, as Table 1's reproduction always
            has (faster at few seeds; a seed's numbers differ from a cell of its own only by
            float rounding).
    """

    name: str
    paper: str
    layers: int
    input_size: int
    subset: float
    overlap: float
    ranges: tuple[tuple[str, str], ...]
    operations: tuple[str, ...]
    models: tuple[str, ...]
    steps: int
    seeds: int
    batch_size: int = 128
    lr: float = 1e-3
    eval_every: int = 1000
    hidden: int = 2
    shared_inputs: bool = False
    epsilon_perfect: str = "selection"
    group_operations: bool = False

    def task(
        self, operation: str, ranges: tuple[str, str], seed: int, eval_size: int
    ) -> ArithmeticTask:
        """Seed ``seed``'s task for one cell."""
        interpolation, extrapolation = ranges
        return ArithmeticTask(
            operation,
            input_size=self.input_size,
            subset=self.subset,
            overlap=self.overlap,
            seed=seed,
            train_range=interpolation,
            extrapolation_range=extrapolation,
            eval_size=eval_size,
            epsilon_perfect=self.epsilon_perfect,
        )

    def check_cell(self, operation: str, ranges: tuple[str, str], eval_size: int) -> None:
        """Refuse a cell whose targets float32 cannot train on (e.g. ``mul`` on ``1e20,2e20``),
        from the suite's own task at seed 0, before a sweep opens its database."""
        check_task_values(  # 1,000 rows find the order of magnitude of the targets cheaply
            Suite.task(self, operation, ranges, 0, min(eval_size, 1000)),
            f"{operation} task on {':'.join(ranges)}",
        )

    def init_seed(self, operation: str, seed: int) -> int:
        """The seed that initialises seed ``seed``'s model on ``operation``: ``seed`` itself
        (a suite may make it differ per operation)."""
        return seed

    def scores(
        self,
        build: Callable[[], nn.Module],
        operation: str,
        ranges: tuple[str, str],
        eval_size: int,
        runs: Sequence[SeedResult],
        device: str,
    ) -> list[dict[str, Any]] | None:
        """What this suite's own scorer adds to each row of a trained cell (the rows'
        ``scores``); ``None``: nothing beyond the success judgement."""
        return None

    def default_lr(self, spec: ModelSpec) -> float:
        """The paper's learning rate for a model (NMRU/NRU: 1e-2, Mistry et al.)."""
        return spec.default_lr(self.lr) if spec.units else self.lr

    def parse_ranges(self, text: str | None) -> tuple[tuple[str, str], ...]:
        """``None`` → every pair; else pairs ``"1,2:2,6"`` separated by spaces or ``;``.

        A pair may also be given by its index in :attr:`ranges` (``"0;6"``).
        """
        if text is None:
            return self.ranges
        pairs = []
        for item in text.replace(";", " ").split():
            if item.isascii() and item.isdigit():
                index = int(item)
                if index >= len(self.ranges):
                    raise NalmError(
                        f"range index {index} is out of bounds: suite {self.name!r} has "
                        f"{len(self.ranges)} range pairs (0–{len(self.ranges) - 1})"
                    )
                pairs.append(self.ranges[index])
                continue
            interpolation, sep, extrapolation = item.partition(":")
            if not sep:
                raise NalmError(
                    f"range pair {item!r} is not INTERPOLATION:EXTRAPOLATION (e.g. 1,2:2,6)"
                )
            Range.parse(interpolation, "the interpolation range")
            Range.parse(extrapolation, "the extrapolation range")
            pairs.append((interpolation, extrapolation))
        if not pairs:
            raise NalmError(f"--ranges {text!r} names no range pair; give e.g. 1,2:2,6 or 0")
        return tuple(pairs)

    def parse_operations(self, names: list[str] | None) -> tuple[str, ...]:
        if not names:
            return self.operations
        return tuple(get_operation(n).name for n in names)


# Madsen & Johansen's arithmetic task, on which Table 1's static half is also scored: a two-layer
# model, 100 inputs, two slices of a quarter each that overlap by half, U[1, 2] → U[2, 6].
_MADSEN_TASK: dict[str, Any] = {
    "layers": 2,
    "input_size": 100,
    "subset": 0.25,
    "overlap": 0.5,
    "ranges": (("1,2", "2,6"),),
}

MADSEN = Suite(
    name="madsen",
    paper="Madsen & Johansen 2020, arithmetic task",
    **_MADSEN_TASK,
    operations=("add", "sub", "mul", "div", "squared", "root"),
    models=("NMU", "NAU", "NAC•", "NAC+", "NALU", "Linear", "ReLU", "ReLU6"),
    steps=5_000_000,
    seeds=100,
    shared_inputs=True,
)

SINGLE_MODULE = Suite(
    name="single-module",
    paper="Mistry et al. 2022, A Primer for Neural Arithmetic Logic Modules",
    layers=1,
    input_size=2,
    subset=0.5,
    overlap=0.0,
    ranges=(
        ("-20,-10", "-40,-20"),
        ("-2,-1", "-6,-2"),
        ("-1.2,-1.1", "-6.1,-1.2"),
        ("-0.2,-0.1", "-2,-0.2"),
        ("-2,2", "-6,-2|2,6"),
        ("0.1,0.2", "0.2,2"),
        ("1,2", "2,6"),
        ("1.1,1.2", "1.2,6"),
        ("10,20", "20,40"),
    ),
    operations=("add", "sub", "mul", "div"),
    models=("nau", "nmu", "real_npu", "nmru", "nalu", "inalu"),
    steps=50_000,
    seeds=25,
    epsilon_perfect="module",
)


@dataclass(frozen=True)
class Table1Suite(Suite):
    """A :class:`~nalm.bench.suites.Suite` scored as Trask et al.'s Table 1: seeds start from
    :func:`init_seed`, every model trains at the suite's learning rate, and each row's
    ``scores`` hold its final MSEs and the random models'.

    Attributes:
        random_inits: random initialisations averaged in the score's denominator.
        baseline_tasks: the seeds ``0 … baseline_tasks − 1`` whose tasks score them.
    """

    random_inits: int = 100
    baseline_tasks: int = 10

    def init_seed(self, operation: str, seed: int) -> int:
        return table1.init_seed(operation, seed)

    def default_lr(self, spec: ModelSpec) -> float:
        return self.lr  # the paper's one learning rate for every model

    def scores(
        self,
        build: Callable[[], nn.Module],
        operation: str,
        ranges: tuple[str, str],
        eval_size: int,
        runs: Sequence[SeedResult],
        device: str,
    ) -> list[dict[str, Any]]:
        tasks = [self.task(operation, ranges, s, eval_size) for s in range(self.baseline_tasks)]
        return table1.table1_scores(tasks, build, runs, self.random_inits, device)


TABLE1 = Table1Suite(
    name="table1",
    paper="Trask et al. 2018, Table 1 (static)",
    **_MADSEN_TASK,
    operations=tuple(OPERATIONS),
    models=tuple(table1.STATIC_MODELS.values()),
    steps=20_000,
    seeds=10,
    eval_every=20_000,
    shared_inputs=True,
    group_operations=True,
)
"""The static half of ``nalm reproduce table1`` with its default (full-run) settings."""

SUITES: dict[str, Suite] = {s.name: s for s in (MADSEN, SINGLE_MODULE, TABLE1)}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except (KeyError, TypeError):
        raise NalmError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None
