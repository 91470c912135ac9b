"""Schedules for the regulariser weight λ(t)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import NalmError
from ..limits import MAX_STEPS, check_number, check_size


@dataclass(frozen=True)
class Constant:
    """One value at every step: a constant λ, or a constant learning-rate multiplier.

    Examples:
        >>> Constant(0.5)(1), Constant(0.5)(10**6)
        (0.5, 0.5)
    """

    value: float

    def __post_init__(self) -> None:
        check_number(self.value, "a constant schedule's value", nonnegative=True)

    def __call__(self, step: int) -> float:
        return self.value


def schedule_value(schedule: Callable[[int], float], step: int, what: str) -> float:
    """``schedule(step)``, refused in one sentence unless a finite number ≥ 0: a negative λ
    or learning-rate multiplier would turn descent into ascent (``what`` names the schedule).

    Examples:
        >>> schedule_value(Ramp(1.0, 0, 10), 5, "the regularizer")
        0.5
        >>> schedule_value(lambda t: -0.1, 3, "lr_decay")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: lr_decay gave -0.1 at step 3; it must give a finite number of at ...
    """
    value = schedule(step)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise NalmError(
            f"{what} gave {value!r} at step {step}; it must give a finite number of at least 0 "
            "(a negative one trains by gradient ascent)"
        )
    return number


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
        check_number(self.lambda_hat, "the ramp's λ (lambda_hat)", nonnegative=True)
        check_size(self.start, "the ramp's start", minimum=0, limit=MAX_STEPS)
        check_size(self.end, "the ramp's end", minimum=0, limit=MAX_STEPS)
        if self.end <= self.start:
            raise NalmError(
                f"the ramp must end after it starts; it starts at step {self.start} and ends at "
                f"{self.end}"
            )

    def __call__(self, step: int) -> float:
        fraction = (step - self.start) / (self.end - self.start)
        return self.lambda_hat * min(max(fraction, 0.0), 1.0)


@dataclass(frozen=True)
class Geometric:
    """The NPU paper's L1 weight β: ``start``, multiplied by ``factor`` every ``every`` steps,
    stopping at ``end``.

    ``β(t) = start · factor^⌊t / every⌋``, never past ``end``; with ``end < start`` it shrinks
    by ``factor`` instead.

    Examples:
        >>> beta = Geometric(start=1e-5, end=1e-3, factor=10, every=100)
        >>> [beta(t) for t in (0, 99, 100, 250, 10_000)]
        [1e-05, 1e-05, 0.0001, 0.001, 0.001]
    """

    start: float
    end: float
    factor: float = 10.0
    every: int = 10_000

    def __post_init__(self) -> None:
        check_number(self.start, "start", positive=True)
        check_number(self.end, "end", positive=True)
        if not (self.factor > 1 and self.factor < float("inf")):
            raise NalmError(f"factor must be > 1; got {self.factor}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise NalmError(f"every must be a positive integer; got {self.every!r}")

    def __call__(self, step: int) -> float:
        growth = self.factor if self.end >= self.start else 1 / self.factor
        value = self.start * growth ** (step // self.every)
        # Round so that repeated factors of 10 land on the decimal value users expect.
        value = float(f"{value:.12g}")
        return min(value, self.end) if self.end >= self.start else max(value, self.end)


@dataclass(frozen=True)
class Decay:
    """A learning-rate multiplier that falls geometrically from 1 at ``start`` to ``factor`` at
    ``end``, and stays there: ``factor ** clip((t − start) / (end − start), 0, 1)``.

    Examples:
        >>> decay = Decay(start=100, end=200, factor=0.01)
        >>> [decay(t) for t in (0, 150, 500)]
        [1.0, 0.1, 0.01]
    """

    start: int
    end: int
    factor: float

    def __post_init__(self) -> None:
        check_size(self.start, "the decay's start", minimum=0, limit=MAX_STEPS)
        check_size(self.end, "the decay's end", minimum=0, limit=MAX_STEPS)
        if self.end <= self.start:
            raise NalmError(f"the decay must end after it starts; got {self.start}–{self.end}")
        if not 0 < self.factor <= 1:
            raise NalmError(f"the decay's factor must be in (0, 1]; got {self.factor!r}")

    def __call__(self, step: int) -> float:
        fraction = min(max((step - self.start) / (self.end - self.start), 0.0), 1.0)
        return float(f"{self.factor**fraction:.12g}")


@dataclass(frozen=True)
class Cosine:
    """A learning-rate multiplier on half a cosine, from 1 at step 0 to ``floor`` at ``end``,
    then ``floor`` (PyTorch's ``CosineAnnealingLR`` with ``eta_min = floor × lr``):
    ``floor + (1 − floor)·(1 + cos(π·min(t/end, 1)))/2``.

    Examples:
        >>> cosine = Cosine(end=3000, floor=0.01)
        >>> [round(cosine(t), 4) for t in (0, 1500, 3000, 9000)]
        [1.0, 0.505, 0.01, 0.01]
    """

    end: int
    floor: float

    def __post_init__(self) -> None:
        check_size(self.end, "the cosine's end", minimum=1, limit=MAX_STEPS)
        if not 0 <= self.floor <= 1:
            raise NalmError(f"the cosine's floor must be in [0, 1]; got {self.floor!r}")

    def __call__(self, step: int) -> float:
        fraction = min(max(step / self.end, 0.0), 1.0)
        value = self.floor + (1 - self.floor) * (1 + math.cos(math.pi * fraction)) / 2
        return float(f"{value:.12g}")


def parse_ramp(text: str) -> tuple[float | None, int, int]:
    """The command line's one ramp grammar: ``LAMBDA,START,END`` (λ̂ and the steps over which λ
    ramps from 0 to it) or ``START,END`` (the steps alone; λ̂ comes from ``--lambda`` or the
    policy). Steps may be written ``2e4``.

    Examples:
        >>> parse_ramp("10,1e6,2e6"), parse_ramp("4e4,8e4")
        ((10.0, 1000000, 2000000), (None, 40000, 80000))
    """
    parts = [part.strip() for part in str(text).split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError(text)
        lambda_hat = float(parts[0]) if len(parts) == 3 else None
        start, end = (_whole(part) for part in parts[-2:])
    except (ValueError, OverflowError):
        raise NalmError(
            f"--ramp {text!r} is not START,END or LAMBDA,START,END with whole-number steps "
            "(e.g. 4e4,8e4 or 10,1e6,2e6)"
        ) from None
    Ramp(1.0 if lambda_hat is None else lambda_hat, start, end)  # checks λ̂ and the order
    return lambda_hat, start, end


def _whole(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)
