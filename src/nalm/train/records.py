"""What a training run records per seed, when the engine acts, and the stall rule's
per-seed bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import NalmError
from ..limits import check_number
from .policies import Policy
from .schedule import schedule_value

EarlyStop = Callable[[int, list[dict[str, float]]], bool]


@dataclass
class Track:
    """One seed's record: what the doors turn into a ``FitResult`` or a ``SeedResult``.

    Attributes:
        seed: the seed's number.
        history: one row per evaluation: ``step``, ``train_loss`` (mean training MSE of the steps
            since the previous evaluation), ``<set>_mse`` per evaluation set and
            ``sparsity_error`` (max over the units' weight matrices of ``min(|w|, |1 − |w||)``;
            NaN for a model without units).
        train_loss: the training MSE of every step (kept when asked for; NaN at a recovery).
        steps: optimiser steps the seed took (a seed whose loss went non-finite at step t took
            t − 1; one whose parameters were found non-finite after step t took t).
        diverged_at, stopped_at: the step at which it diverged or was stopped early.
        diverged_by: what went non-finite: ``"loss"`` or ``"parameters"``.
        reinitialized_at, recovered_at: steps of its restarts and recoveries.
    """

    seed: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    steps: int = 0
    diverged_at: int | None = None
    diverged_by: str | None = None
    stopped_at: int | None = None
    reinitialized_at: list[int] = field(default_factory=list)
    recovered_at: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Cadence:
    """When the engine does what: ``steps`` in all, an evaluation every ``eval_every``, a
    parameter check, recovery snapshot and checkpoint every ``checkpoint_every``; ``recover``
    recoveries per seed, each multiplying its learning rate by ``recover_factor``. With
    ``checkpoint_seconds``, a checkpoint file is written at most that often (and always at the
    end); the checks and snapshots keep their cadence, so the results do not depend on it.
    ``compact``: seeds that stopped or diverged leave the batched computation at the next
    evaluation (``Engine.compact``)."""

    steps: int
    eval_every: int
    checkpoint_every: int
    recover: int = 0
    recover_factor: float = 0.1
    keep_losses: bool = False
    early_stop: EarlyStop | None = None
    checkpoint_seconds: float = 0.0
    compact: bool = True

    @classmethod
    def of(
        cls,
        steps: int,
        eval_every: int,
        checkpoint_every: int | None = None,
        recover: int = 0,
        recover_factor: float = 0.1,
        keep_losses: bool = False,
        early_stop: EarlyStop | None = None,
        checkpoint_seconds: float = 0.0,
        compact: bool = True,
    ) -> Cadence:
        """A schedule from the doors' arguments, checked (``checkpoint_every`` defaults to
        ``eval_every``)."""
        every = eval_every if checkpoint_every is None else checkpoint_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise NalmError(f"checkpoint_every must be a positive integer; got {every!r}")
        if isinstance(recover, bool) or not isinstance(recover, int) or recover < 0:
            raise NalmError(f"recover must be a whole number of recoveries ≥ 0; got {recover!r}")
        factor = recover_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise NalmError(f"recover_factor must be a number in (0, 1); got {factor!r}")
        if early_stop is not None and not callable(early_stop):
            raise NalmError(
                f"early_stop must be a function (index, history) → bool; got {early_stop!r}"
            )
        seconds = check_number(checkpoint_seconds, "checkpoint_seconds", nonnegative=True)
        return cls(
            steps,
            eval_every,
            every,
            recover,
            float(factor),
            keep_losses,
            early_stop,
            seconds,
            bool(compact),
        )


class RestartTracker:
    """Per-seed chunk means of the training loss for the policy's restart rule, and each seed's
    step of its last (re)start."""

    def __init__(self, policy: Policy, n: int, steps: int | None = None) -> None:
        self.rule = policy.reinit
        self.steps = steps  # the run's length: a replaying rule starts no try it cannot finish
        self.started = [0] * n
        self.means: list[list[float]] = [[] for _ in range(n)]
        self.sums = torch.zeros(n, dtype=torch.float64)

    def update(self, t: int, losses: torch.Tensor, active: torch.Tensor) -> list[int]:
        """Add this step's losses; return the seeds that stalled at step ``t``."""
        if self.rule is None:
            return []
        self.sums += losses.double().cpu()
        due = [i for i, s in enumerate(self.started) if (t - s) % self.rule.chunk == 0]
        if not due:
            return []
        late = self.rule.replay and self.steps is not None and t + self.rule.age > self.steps
        sums, flags = self.sums.tolist(), active.tolist()
        stalled = []
        for i in due:
            self.means[i] = [*self.means[i], sums[i] / self.rule.chunk][-self.rule.keep :]
            self.sums[i] = 0
            if flags[i] and not late and self.rule.fires(t - self.started[i], self.means[i]):
                stalled.append(i)
                self.started[i] = t
                self.means[i] = []
        return stalled

    def scheduled(
        self,
        schedule: Callable[[int], float] | None,
        t: int,
        like: torch.Tensor,
        unset: float,
        field: str = "schedule",
    ) -> float | torch.Tensor:
        """``schedule(t)`` (``unset`` without one); under a rule that replays the schedules once
        a seed has restarted, each seed's value at its own step since its restart (a tensor
        shaped and typed like ``like``). A value that is negative or not finite is refused,
        naming the policy's ``field``."""
        if schedule is None:
            return unset
        what = f"the policy's {field}"
        if self.rule is None or not self.rule.replay or not any(self.started):
            return schedule_value(schedule, t, what)
        values = {s: schedule_value(schedule, t - s, what) for s in set(self.started)}
        if len(set(values.values())) == 1:  # every seed at one value (e.g. λ = 0): a float
            return next(iter(values.values()))
        return torch.tensor([values[s] for s in self.started], dtype=like.dtype, device=like.device)

    def select(self, keep: list[int]) -> None:
        self.started = [self.started[i] for i in keep]
        self.means = [self.means[i] for i in keep]
        self.sums = self.sums[keep]

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {"sums": self.sums}, {"started": self.started, "means": self.means}

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        self.sums.copy_(tensors["sums"])
        self.started, self.means = list(meta["started"]), [list(m) for m in meta["means"]]
