"""The arithmetic task of Madsen & Johansen (2020): ``t = a ∘ b`` with ``a``, ``b`` sums of slices.

A task draws inputs ``x`` of ``input_size`` entries; ``a`` sums one slice of ``x`` and ``b``
another, overlapping it, at an offset drawn once per task from its seed (never per sample). The
single-module benchmark is the special case ``input_size=2, subset=0.5, overlap=0``: ``a = x0``,
``b = x1``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import NalmError
from ..limits import check_dtype, check_elements, check_size
from .base import GeneratedTask
from .operations import OPERATIONS, Operation, get_operation
from .ranges import Range

__all__ = [
    "EVALUATIONS",
    "OPERATIONS",
    "ArithmeticTask",
    "Operation",
    "RecurrentArithmeticTask",
    "get_operation",
    "slices",
    "stacked_targets",
]

EVALUATIONS = ("interpolation", "extrapolation")
"""The evaluation sets of the arithmetic tasks, in their order (the keys of ``evaluation``)."""


def slices(
    input_size: int, subset: float, overlap: float, seed: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``[start, stop)`` of ``a``'s and ``b``'s slices: ``n = ⌊subset · input_size⌋`` entries
    each, ``⌊overlap · n⌋`` of them shared, at an offset drawn from ``seed``.

    Examples:
        >>> slices(100, 0.25, 0.5, seed=3)
        ((40, 65), (53, 78))
    """
    if not 0 < subset <= 1:
        raise NalmError(f"subset must be in (0, 1]; got {subset!r}")
    if not 0 <= overlap <= 1:
        raise NalmError(f"overlap must be in [0, 1]; got {overlap!r}")
    size = math.floor(subset * input_size)
    shared = math.floor(overlap * size)
    span = 2 * size - shared
    if size < 1:
        raise NalmError(
            f"subset {subset} of {input_size} inputs leaves no input in a slice; raise subset"
        )
    if span > input_size:
        raise NalmError(
            f"two slices of {size} inputs overlapping by {shared} need {span} inputs; "
            f"input_size is {input_size}"
        )
    generator = torch.Generator().manual_seed(seed)
    offset = int(torch.randint(0, input_size - span + 1, (1,), generator=generator))
    return (offset, offset + size), (offset + size - shared, offset + 2 * size - shared)


class ArithmeticTask(GeneratedTask):
    r"""Learn ``t = a ∘ b`` where ``a`` and ``b`` are sums of two overlapping slices of ``x``.

    .. math::
        a = \sum_{i=k}^{k+n-1} x_i, \qquad b = \sum_{i=k+n-m}^{k+2n-m-1} x_i, \qquad t = a \circ b

    with ``n = ⌊subset · input_size⌋`` entries per slice, ``m = ⌊overlap · n⌋`` shared entries and
    the offset ``k`` drawn uniformly from ``{0, …, input_size − (2n − m)}`` by ``seed`` (as in
    Madsen & Johansen's code). Training batches are fresh draws from ``train_range``; the fixed
    evaluation sets ``"interpolation"`` (``interpolation_range``, default the training range) and
    ``"extrapolation"`` hold ``eval_size`` rows drawn by ``eval_seed``, so tasks that differ only in
    ``seed`` share their evaluation inputs but not their targets.

    Args:
        operation: ``add``, ``sub``, ``mul``, ``div``, ``squared`` (``a²``) or ``root`` (``√a``).
        input_size: entries of ``x`` (100 in the paper).
        subset: fraction of the input in each slice (0.25).
        overlap: fraction of a slice shared by both (0.5).
        seed: draws the offset ``k``.
        train_range: the training range, such as ``"1,2"`` or ``"-6,-2|2,6"``.
        extrapolation_range: the test range, written the same way.
        interpolation_range: the interpolation set's range (default: the training range).
        eval_size: rows per evaluation set.
        eval_seed: draws the evaluation inputs.
        epsilon_perfect: how :func:`~nalm.metrics.success_threshold` builds the ε-perfect
            solution: ``"selection"`` (a two-layer model's selecting weights off by ε, Madsen &
            Johansen) or ``"module"`` (one unit's own weights off by ε, Mistry et al.).

    Shape:
        inputs ``(N, input_size)``, targets ``(N, 1)``.

    Examples:
        >>> task = ArithmeticTask("mul", seed=3)
        >>> task.a_slice, task.b_slice
        ((40, 65), (53, 78))
        >>> x = torch.ones(1, 100)
        >>> task.targets(x)
        tensor([[625.]])
        >>> ArithmeticTask("div", input_size=2, subset=0.5, overlap=0).a_slice
        (0, 1)
    """

    out_features = 1
    sequence = False

    def __init__(
        self,
        operation: str | Operation,
        *,
        input_size: int = 100,
        subset: float = 0.25,
        overlap: float = 0.5,
        seed: int = 0,
        train_range: str | Range = "1,2",
        extrapolation_range: str | Range = "2,6",
        interpolation_range: str | Range | None = None,
        eval_size: int = 10_000,
        eval_seed: int = 0,
        epsilon_perfect: str = "selection",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.operation = get_operation(operation)
        if epsilon_perfect not in ("selection", "module"):
            raise NalmError(
                f"epsilon_perfect must be 'selection' or 'module'; got {epsilon_perfect!r}"
            )
        self.epsilon_perfect = epsilon_perfect
        for what, value in (("input_size", input_size), ("eval_size", eval_size)):
            check_size(value, what)
        check_elements({"eval_size": eval_size, "input_size": input_size})
        self.in_features = input_size
        self.subset, self.overlap, self.seed = subset, overlap, seed
        self.a_slice, self.b_slice = slices(input_size, subset, overlap, seed)
        self.train_range = Range.parse(train_range, "the training range")
        self.interpolation_range = (
            self.train_range
            if interpolation_range is None
            else Range.parse(interpolation_range, "the interpolation range")
        )
        self.extrapolation_range = Range.parse(extrapolation_range, "the extrapolation range")
        self.eval_size, self.eval_seed = eval_size, eval_seed
        self.dtype = check_dtype(dtype)
        inputs = _evaluation_inputs(
            self.interpolation_range,
            self.extrapolation_range,
            eval_size,
            input_size,
            eval_seed,
            dtype,
        )
        self.evaluation = _evaluation_sets(self, inputs)

    @property
    def selection(self) -> torch.Tensor:
        """``(2, input_size)``: row 0 marks the entries summed into ``a``, row 1 those of ``b``."""
        rows = torch.zeros(2, self.in_features, dtype=torch.float64)
        rows[0, slice(*self.a_slice)] = 1
        rows[1, slice(*self.b_slice)] = 1
        return rows

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """``a ∘ b`` for inputs ``(*, input_size)``, shape ``(*, 1)``."""
        a = x[..., slice(*self.a_slice)].sum(-1)
        b = x[..., slice(*self.b_slice)].sum(-1)
        return self.operation(a, b).unsqueeze(-1)

    def inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` fresh training inputs ``(n, input_size)``."""
        return self.train_range.sample((n, self.in_features), generator, self.dtype)

    @classmethod
    def stacked_targets(
        cls, tasks: Sequence[GeneratedTask], shared: bool
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """All seeds' targets as one product with their slice selections (see
        :func:`stacked_targets`)."""
        return stacked_targets(tasks)  # type: ignore[arg-type]

    def _slices_config(self) -> dict[str, Any]:
        return {
            "operation": self.operation.name,
            "input_size": self.in_features,
            "subset": self.subset,
            "overlap": self.overlap,
            "seed": self.seed,
            "a_slice": list(self.a_slice),
            "b_slice": list(self.b_slice),
        }

    def config(self) -> dict[str, Any]:
        return {
            "task": "arithmetic",
            **self._slices_config(),
            "train_range": str(self.train_range),
            "interpolation_range": str(self.interpolation_range),
            "extrapolation_range": str(self.extrapolation_range),
            "eval_size": self.eval_size,
            "eval_seed": self.eval_seed,
            "epsilon_perfect": self.epsilon_perfect,
        }


def _evaluation_sets(
    task: ArithmeticTask | RecurrentArithmeticTask, inputs: Sequence[torch.Tensor]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The ``"interpolation"`` and ``"extrapolation"`` sets from their inputs: the targets are
    computed in float64 from the inputs the model will see, then rounded once to their dtype."""
    return {
        name: (x, task.targets(x.to(torch.float64)).to(x.dtype))
        for name, x in zip(EVALUATIONS, inputs, strict=True)
    }


@functools.lru_cache(maxsize=8)
def _evaluation_inputs(
    interpolation: Range, extrapolation: Range, n: int, size: int, seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed evaluation inputs, drawn once and shared by every task with the same settings
    (a cohort of 100 seeds would otherwise hold 100 copies)."""
    g = torch.Generator().manual_seed(seed)
    return tuple(
        r.sample((n, size), g, torch.float64).to(dtype) for r in (interpolation, extrapolation)
    )


class RecurrentArithmeticTask(GeneratedTask):
    r"""The recurrent version of :class:`ArithmeticTask`: ``x`` arrives as a sequence of vectors.

    .. math::
        a = \sum_{t=1}^{T} \sum_{i \in A} x_{t,i}, \qquad
        b = \sum_{t=1}^{T} \sum_{i \in B} x_{t,i}, \qquad y = a \circ b

    with the slices ``A``, ``B`` of :class:`ArithmeticTask` (fixed per task by ``seed``). Training
    sequences have ``train_length`` steps drawn from ``train_range``; the ``"interpolation"`` set
    is drawn like them and the ``"extrapolation"`` set has longer sequences
    (``extrapolation_length``) of larger values (``extrapolation_range``), so that ``a`` and ``b``
    leave the training range in two ways at once.

    Args:
        operation: as for :class:`ArithmeticTask`.
        input_size, subset, overlap, seed: the slices, as for :class:`ArithmeticTask`.
        train_length, extrapolation_length: steps per sequence.
        train_range, extrapolation_range: ranges of the entries of each ``x_t``.
        eval_size: sequences per evaluation set.
        eval_seed: draws the evaluation inputs (shared by tasks that differ only in ``seed``).

    Shape:
        inputs ``(N, T, input_size)``, targets ``(N, 1)``.

    Examples:
        >>> task = RecurrentArithmeticTask("add", seed=3, eval_size=8)
        >>> x, y = task.evaluation["extrapolation"]
        >>> tuple(x.shape), tuple(y.shape)
        ((8, 20, 100), (8, 1))
        >>> task.targets(torch.ones(1, 10, 100))
        tensor([[500.]])
    """

    out_features = 1
    sequence = True

    def __init__(
        self,
        operation: str | Operation,
        *,
        input_size: int = 100,
        subset: float = 0.25,
        overlap: float = 0.5,
        seed: int = 0,
        train_length: int = 10,
        extrapolation_length: int = 20,
        train_range: str | Range = "0.1,0.2",
        extrapolation_range: str | Range = "0.2,0.3",
        eval_size: int = 1000,
        eval_seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.operation = get_operation(operation)
        for what, value in (
            ("input_size", input_size),
            ("eval_size", eval_size),
            ("train_length", train_length),
            ("extrapolation_length", extrapolation_length),
        ):
            check_size(value, what)
        longest = max(train_length, extrapolation_length)
        check_elements({"eval_size": eval_size, "length": longest, "input_size": input_size})
        self.in_features = input_size
        self.subset, self.overlap, self.seed = subset, overlap, seed
        self.a_slice, self.b_slice = slices(input_size, subset, overlap, seed)
        self.train_length, self.extrapolation_length = train_length, extrapolation_length
        self.train_range = Range.parse(train_range, "the training range")
        self.extrapolation_range = Range.parse(extrapolation_range, "the extrapolation range")
        self.eval_size, self.eval_seed = eval_size, eval_seed
        self.dtype = check_dtype(dtype)
        inputs = _sequence_inputs(
            ((self.train_range, train_length), (self.extrapolation_range, extrapolation_length)),
            eval_size,
            input_size,
            eval_seed,
            dtype,
        )
        self.evaluation = _evaluation_sets(self, inputs)

    selection = ArithmeticTask.selection
    stacked_targets = ArithmeticTask.stacked_targets
    _slices_config = ArithmeticTask._slices_config

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """``a ∘ b`` for sequences ``(*, T, input_size)``, shape ``(*, 1)``."""
        return ArithmeticTask.targets(self, x.sum(-2))  # type: ignore[arg-type]

    def inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` fresh training sequences ``(n, train_length, input_size)``."""
        shape = (n, self.train_length, self.in_features)
        return self.train_range.sample(shape, generator, self.dtype)

    def config(self) -> dict[str, Any]:
        return {
            "task": "recurrent-arithmetic",
            **self._slices_config(),
            "train_length": self.train_length,
            "extrapolation_length": self.extrapolation_length,
            "train_range": str(self.train_range),
            "extrapolation_range": str(self.extrapolation_range),
            "eval_size": self.eval_size,
            "eval_seed": self.eval_seed,
        }


@functools.lru_cache(maxsize=8)
def _sequence_inputs(
    sets: tuple[tuple[Range, int], ...], n: int, size: int, seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(r.sample((n, length, size), g, torch.float64).to(dtype) for r, length in sets)


def stacked_targets(
    tasks: Sequence[ArithmeticTask | RecurrentArithmeticTask],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function computing the targets of S arithmetic tasks at once: it takes ``x`` shared by
    all tasks (``(B, in)``, or ``(B, T, in)`` for recurrent tasks) or one batch per task (a
    leading ``S``) and returns ``(S, B, 1)``. The tasks may differ in operation and slices.

    Examples:
        >>> tasks = [ArithmeticTask(op, seed=s) for s, op in enumerate(["add", "add", "mul"])]
        >>> x = torch.rand(5, 100)
        >>> all(torch.allclose(stacked_targets(tasks)(x)[i], t.targets(x))
        ...     for i, t in enumerate(tasks))
        True
    """
    kinds = {t.sequence for t in tasks}
    if len(kinds) != 1:
        raise NalmError("stacked tasks must be all static or all recurrent")
    sequence = kinds.pop()
    selection = torch.stack([t.selection for t in tasks])  # (S, 2, in)
    groups: dict[Operation, list[int]] = {}
    for i, t in enumerate(tasks):
        groups.setdefault(t.operation, []).append(i)
    index = {op: torch.tensor(rows) for op, rows in groups.items()}

    def targets(x: torch.Tensor) -> torch.Tensor:
        shared = x.dim() == (3 if sequence else 2)
        if sequence:
            x = x.sum(-2)
        pattern = "bi,sci->sbc" if shared else "sbi,sci->sbc"
        ab = torch.einsum(pattern, x, selection.to(x.dtype))
        if len(index) == 1:
            return next(iter(index)).function(ab[..., 0], ab[..., 1]).unsqueeze(-1)
        out = torch.empty(ab.shape[:-1], dtype=ab.dtype, device=ab.device)
        for op, rows in index.items():
            rows = rows.to(ab.device)
            out[rows] = op(ab[rows, ..., 0], ab[rows, ..., 1])
        return out.unsqueeze(-1)

    return targets
