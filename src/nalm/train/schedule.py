"""Schedules for the regulariser weight λ(t)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NalmError


@dataclass(frozen=True)
class Ramp:
    """Madsen & Johansen's linear ramp: ``λ(t) = λ̂ · clip((t − start) / (end − start), 0, 1)``.

    Examples:
        >>> ramp = Ramp(lambda_hat=10.0, start=100, end=200)
        >>> ramp(50), ramp(150), ramp(1000)
        (0.0, 5.0, 10.0)
    """

    lambda_hat: float
    start: int = 0
    end: int = 1

    def __post_init__(self) -> None:
        if self.lambda_hat < 0:
            raise NalmError(f"lambda_hat must be ≥ 0; got {self.lambda_hat}")
        if self.end <= self.start:
            raise NalmError(f"the ramp must end after it starts; got {self.start} → {self.end}")

    def __call__(self, step: int) -> float:
        fraction = (step - self.start) / (self.end - self.start)
        return self.lambda_hat * min(max(fraction, 0.0), 1.0)
