"""Training batches of S seeds' tasks, one step at a time: the engine's batch source, with
the per-seed protocol of :mod:`nalm.train.seeds` (its generators are per-seed state)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ..errors import NalmError
from ..tasks.base import GeneratedTask, Task

Batch = tuple[torch.Tensor, torch.Tensor, bool]
"""One step's inputs, targets and whether the inputs are shared by the seeds."""


class Batches:
    """Training batches of S seeds' tasks, one step at a time.

    Args:
        tasks: one task per seed.
        streams: one generator seed per seed (each seed draws its own batches), or a single
            integer: one stream whose inputs every seed shares (the tasks must be
            `GeneratedTask` s with equal :meth:`~nalm.tasks.base.GeneratedTask.input_source`).
        batch_size: rows per step (``None``: a fixed dataset's whole training set).
        device: where the batches go.

    :meth:`next` returns ``(x, y, shared)``: ``x`` is ``(B, …)`` when shared (and for one seed),
    else ``(S, B, …)``; ``y`` is ``(S, B, out)``. For one seed it is exactly
    ``task.sample(batch_size, generator)``.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        streams: Sequence[int] | int,
        batch_size: int | None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.tasks, self.batch_size, self.device = list(tasks), batch_size, device
        self.shared = isinstance(streams, int)
        seeds = [streams] if isinstance(streams, int) else list(streams)
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        generated = all(isinstance(t, GeneratedTask) for t in tasks)
        if self.shared:
            sources = {t.input_source() for t in tasks} if generated else set()
            if len(sources) != 1:
                raise NalmError(
                    "shared inputs need tasks that draw fresh inputs (e.g. ArithmeticTask) from "
                    "the same range, dtype and shape"
                )
        self.targets: Callable[[torch.Tensor], torch.Tensor] | None = None
        if generated and (self.shared or len(tasks) > 1):
            self.targets = self._stacked_targets()

    def _stacked_targets(self) -> Callable[[torch.Tensor], torch.Tensor]:
        # one kind of task: its own stacked targets; several kinds: each task's in turn
        tasks = self.tasks
        kind = type(tasks[0]) if len({type(t) for t in tasks}) == 1 else GeneratedTask
        return kind.stacked_targets(tasks, self.shared)  # type: ignore[attr-defined]

    def select(self, keep: list[int]) -> None:
        """Keep only the seeds ``keep`` (their streams and targets)."""
        self.tasks = [self.tasks[i] for i in keep]
        if not self.shared:
            self.generators = [self.generators[i] for i in keep]
        if self.targets is not None:
            self.targets = self._stacked_targets()

    def next(self) -> Batch:
        if self.shared:
            x = self.tasks[0].inputs(self.batch_size, self.generators[0])  # type: ignore[attr-defined]
            x = x.to(self.device)
            return x, self.targets(x), True  # type: ignore[misc]
        if self.targets is not None:
            pairs = zip(self.tasks, self.generators, strict=True)
            x = torch.stack([t.inputs(self.batch_size, g) for t, g in pairs]).to(self.device)  # type: ignore[attr-defined]
            return x, self.targets(x), False
        drawn = [
            t.sample(self.batch_size, g) for t, g in zip(self.tasks, self.generators, strict=True)
        ]
        if len(drawn) == 1:  # one seed: its batch is the "shared" one
            x, y = drawn[0]
            return x.to(self.device), y.to(self.device).unsqueeze(0), True
        x = torch.stack([p[0] for p in drawn]).to(self.device)
        return x, torch.stack([p[1] for p in drawn]).to(self.device), False

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The generators' states, by their place (for checkpoints)."""
        return {str(i): g.get_state() for i, g in enumerate(self.generators)}, {}

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        for i, g in enumerate(self.generators):
            g.set_state(tensors[str(i)])
