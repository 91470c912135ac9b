"""Restart rules: when the engine gives a seed new weights and a fresh optimiser.

A rule is checked every ``chunk`` steps on the seed's mean training loss per chunk since its own
last (re)start (:meth:`fires`). :class:`Stall` is iNALU's; :class:`Deadline` is nalm's, and it
also *replays* the policy's schedules: after a restart, the seed's λ(t) and learning-rate decay
run on its own step since the restart, so each try trains under the schedules of the first (the
preconditioner, which starts once per run, is not replayed).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..errors import NalmError
from ..limits import MAX_STEPS, check_number, check_size


@dataclass(frozen=True)
class Stall:
    """iNALU's rule: reinitialise a model whose training loss has stopped falling while high.

    Every ``chunk`` steps, once ``2 * half`` chunks have passed since the last (re)start, the
    last ``2 * half`` chunk means are split into an older and a newer half. The model has
    stalled when ``mean(older) ≤ mean(newer) + std(newer)`` (no clear progress) and
    ``mean(newer) > threshold`` (still far from a solution). The paper checks per epoch; with
    fresh batches every step we count ``chunk`` steps as one epoch. The schedules run on the
    global step (a restarted seed comes back under the λ of that step).

    Examples:
        >>> rule = Stall(chunk=2, half=2, threshold=1.0)
        >>> rule.stalled_means([5.0] * 4), rule.stalled_means([9, 8, 3, 2])  # chunk means
        (True, False)
        >>> rule.stalled_means([0.5] * 4)   # flat, but already below the threshold
        False
    """

    chunk: int = 1000
    half: int = 5
    threshold: float = 1.0
    replay: ClassVar[bool] = False

    @property
    def window(self) -> int:
        return 2 * self.half * self.chunk

    @property
    def keep(self) -> int:
        """How many of the latest chunk means the rule reads."""
        return 2 * self.half

    def fires(self, age: int, means: Sequence[float]) -> bool:
        """Whether to restart, ``age`` steps after the last (re)start, given the chunk means."""
        return self.stalled_means(means)

    def describe(self) -> str:
        return f"reinitialise on stall (checked every {self.chunk} steps over {self.window})"

    def stalled_means(self, means: Sequence[float]) -> bool:
        """Whether per-chunk mean losses show a stall (the last ``2 * half`` are used)."""
        if len(means) < 2 * self.half:
            return False
        means = means[len(means) - 2 * self.half :]
        older, newer = means[: self.half], means[self.half :]
        newer_mean = statistics.fmean(newer)
        spread = statistics.pstdev(newer) if len(newer) > 1 else 0.0
        return statistics.fmean(older) <= newer_mean + spread and newer_mean > self.threshold


@dataclass(frozen=True)
class Deadline:
    """nalm's rule: a seed whose training loss is still above ``threshold`` once ``age`` steps
    have passed since its (re)start begins again, and its schedules with it.

    Checked every ``chunk`` steps from ``age`` on, on the mean training MSE of the last chunk.
    With early stopping, a seed still training at ``age`` has not solved the task; the threshold
    keeps the ones that are close. Each attempt replays the policy's λ(t) and learning-rate decay
    from its own step 0, so a seed gets independent tries, each trained like the first (the
    success rate of one try is *p*: *k* tries solve 1 − (1 − *p*)ᵏ of the seeds). Steps and
    solved-at stay counted on the global step.

    Examples:
        >>> rule = Deadline(age=60_000, threshold=1e-8)
        >>> rule.fires(59_000, [1e-3]), rule.fires(60_000, [1e-3]), rule.fires(60_000, [1e-9])
        (False, True, False)
    """

    age: int
    threshold: float
    chunk: int = 1000
    replay: ClassVar[bool] = True
    keep: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_size(self.chunk, "the deadline's chunk", limit=MAX_STEPS)
        check_size(self.age, "the deadline's age", minimum=self.chunk, limit=MAX_STEPS)
        check_number(self.threshold, "the deadline's threshold", nonnegative=True)
        if self.age % self.chunk:
            raise NalmError(
                f"the deadline's age ({self.age:,}) must be a whole number of chunks of "
                f"{self.chunk:,} steps, when the rule is checked"
            )

    def fires(self, age: int, means: Sequence[float]) -> bool:
        """Whether to restart, ``age`` steps after the last (re)start, given the chunk means."""
        return age >= self.age and bool(means) and means[-1] > self.threshold

    def describe(self) -> str:
        return (
            f"restart a seed still above loss {self.threshold:g} {self.age:,} steps after its "
            "start, its schedules with it"
        )
