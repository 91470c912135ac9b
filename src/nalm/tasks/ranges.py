"""Input ranges: an interval ``"1,2"`` or a union of intervals ``"-6,-2|2,6"``."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from ..errors import NalmError
from ..limits import FLOAT32_MAX

_NUMBER = re.compile(
    r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.ASCII | re.I
)


def _fmt(v: float) -> str:
    return f"{v:g}"


def _problem(intervals: Iterable[tuple[float, float]]) -> str | None:
    """What makes these intervals unusable as a range, as the end of a sentence; else None."""
    intervals = list(intervals)
    if not intervals:
        return "has no interval"
    for lo, hi in intervals:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return "has an end that is not a finite number"
        if lo > hi:
            return f"is inverted: in {_fmt(lo)},{_fmt(hi)} the low end is above the high end"
        if lo == hi:
            return f"is empty: in {_fmt(lo)},{_fmt(hi)} both ends are equal"
        if max(abs(lo), abs(hi)) > FLOAT32_MAX:
            return (
                f"has an end beyond float32's largest value (about 3.4e38) in {_fmt(lo)},{_fmt(hi)}"
            )
        if float(torch.tensor(lo, dtype=torch.float32)) == float(
            torch.tensor(hi, dtype=torch.float32)
        ):
            return f"is empty in float32: {lo!r} and {hi!r} round to the same number"
    for i, (lo, hi) in enumerate(intervals):
        for other_lo, other_hi in intervals[i + 1 :]:
            if max(lo, other_lo) < min(hi, other_hi):
                union = f"{_fmt(min(lo, other_lo))},{_fmt(max(hi, other_hi))}"
                return (
                    f"has overlapping intervals {_fmt(lo)},{_fmt(hi)} and "
                    f"{_fmt(other_lo)},{_fmt(other_hi)}, whose overlap would be drawn twice as "
                    f"often; write their union {union} instead"
                )
    return None


@dataclass(frozen=True)
class Range:
    """A union of closed intervals that inputs are drawn from uniformly.

    Sampling picks an interval with probability proportional to its length, then a point uniformly
    inside it, so the union is sampled uniformly as a whole. Intervals may touch but not overlap
    (an overlap would be drawn twice as often), and every end must fit in float32.

    Examples:
        >>> r = Range.parse("-6,-2|2,6")
        >>> r.intervals, r.low, r.high, str(r)
        (((-6.0, -2.0), (2.0, 6.0)), -6.0, 6.0, '-6,-2|2,6')
        >>> r.contains(0.0)
        False
    """

    intervals: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        problem = _problem(self.intervals)
        if problem:
            raise NalmError(f"range {self} {problem}")

    @classmethod
    def parse(cls, text: str, what: str = "range") -> Range:
        """Parse ``"lo,hi"`` or ``"lo,hi|lo,hi|…"``; ``what`` names the argument in errors."""
        if isinstance(text, Range):
            return text
        if not isinstance(text, str):
            raise NalmError(
                f"{what} must be text such as '1,2' or '-6,-2|2,6', or a Range; got "
                f"{type(text).__name__} {text!r}"[:200]
            )
        if not text.strip():
            raise NalmError(f"{what} is empty; expected 'low,high' such as '1,2' or '-6,-2|2,6'")
        intervals = []
        for part in text.split("|"):
            ends = part.split(",")
            try:
                if len(ends) != 2 or not all(_NUMBER.fullmatch(e.strip()) for e in ends):
                    raise ValueError  # float() would also take '1_0' and fullwidth digits
                lo, hi = (float(e) for e in ends)
            except ValueError:
                raise NalmError(
                    f"{what} {text!r} is not 'low,high' (or a union 'low,high|low,high'): "
                    f"cannot read {part.strip()!r}"
                ) from None
            intervals.append((lo, hi))
        problem = _problem(intervals)
        if problem:
            raise NalmError(f"{what} {text!r} {problem}")
        return cls(tuple(intervals))

    @classmethod
    def of(cls, low: float, high: float) -> Range:
        """One interval ``[low, high]``."""
        return cls(((float(low), float(high)),))

    @property
    def low(self) -> float:
        return min(lo for lo, _ in self.intervals)

    @property
    def high(self) -> float:
        return max(hi for _, hi in self.intervals)

    def contains(self, value: float) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)

    def sample(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Uniform samples over the union, of the given shape (drawn on the CPU)."""
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        if len(self.intervals) == 1:
            (lo, hi), *_ = self.intervals
            return (lo + (hi - lo) * u).to(dtype)
        # Map u ∈ [0, 1) onto the intervals laid end to end, so each gets draws ∝ its length.
        lengths = torch.tensor([hi - lo for lo, hi in self.intervals], dtype=torch.float64)
        starts = torch.tensor([lo for lo, _ in self.intervals], dtype=torch.float64)
        edges = torch.cumsum(lengths, 0)
        s = u * edges[-1]
        idx = torch.searchsorted(edges, s, right=True).clamp(max=len(self.intervals) - 1)
        offset = s - (edges[idx] - lengths[idx])
        return (starts[idx] + offset).to(dtype)

    def __str__(self) -> str:
        return "|".join(f"{_fmt(lo)},{_fmt(hi)}" for lo, hi in self.intervals)
