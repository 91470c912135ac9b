"""What every task offers the trainer: fresh training batches and fixed evaluation sets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from ..errors import NalmError

Pair = tuple[torch.Tensor, torch.Tensor]


class Task(ABC):
    """A learning problem: inputs ``(N, in_features)`` → targets ``(N, out_features)``.

    Attributes:
        in_features, out_features: the sizes a model for this task must have.
        evaluation: named fixed evaluation sets, e.g. ``{"interpolation": (x, y),
            "extrapolation": (x, y)}``; the trainer reports the MSE on each.
    """

    in_features: int
    out_features: int
    evaluation: dict[str, Pair]

    @abstractmethod
    def sample(self, batch_size: int | None, generator: torch.Generator) -> Pair:
        """A training batch ``(x, y)`` on the CPU; ``batch_size=None`` asks for the full set
        where the task has a fixed one."""

    def config(self) -> dict[str, Any]:
        """A JSON-ready description of the task, written to a run's ``config.json``."""
        return {"task": type(self).__name__}


class DatasetTask(Task):
    """A task with a fixed training set, e.g. the seed code's demos or rows from a CSV.

    Args:
        train: ``(x, y)``, shapes ``(N, in)`` and ``(N, out)`` (a 1-D ``y`` becomes ``(N, 1)``).
        evaluation: named evaluation sets, shaped like ``train``.
        name: shown in reports and ``config.json``.

    ``sample(None, g)`` returns the whole training set (full-batch training); ``sample(B, g)`` draws
    ``B`` rows with replacement.

    Examples:
        >>> x = torch.arange(6.0).reshape(3, 2)
        >>> task = DatasetTask((x, x.sum(1)), {"test": (x, x.sum(1))})
        >>> task.sample(None, torch.Generator())[1].shape
        torch.Size([3, 1])
    """

    def __init__(
        self, train: Pair, evaluation: dict[str, Pair], name: str = "dataset", **info: Any
    ) -> None:
        self.name = name
        self.info = info
        self.train = _check_pair(train, f"{name}: training set")
        self.in_features = self.train[0].shape[1]
        self.out_features = self.train[1].shape[1]
        self.evaluation = {k: _check_pair(v, f"{name}: set {k!r}") for k, v in evaluation.items()}
        for key, (x, _) in self.evaluation.items():
            if x.shape[1] != self.in_features:
                raise NalmError(
                    f"{name}: set {key!r} has {x.shape[1]} inputs, the training set "
                    f"{self.in_features}"
                )

    def sample(self, batch_size: int | None, generator: torch.Generator) -> Pair:
        x, y = self.train
        if batch_size is None:
            return x, y
        idx = torch.randint(0, x.shape[0], (batch_size,), generator=generator)
        return x[idx], y[idx]

    def config(self) -> dict[str, Any]:
        sizes = {k: int(v[0].shape[0]) for k, v in self.evaluation.items()}
        return {
            "task": self.name,
            "train_rows": int(self.train[0].shape[0]),
            "evaluation_rows": sizes,
            **self.info,
        }


def _check_pair(pair: Pair, what: str) -> Pair:
    x, y = (torch.as_tensor(t) for t in pair)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise NalmError(
            f"{what} must be x of shape (N, in) and y of shape (N,) or (N, out) with N ≥ 1; "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y
