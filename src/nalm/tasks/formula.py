"""A target formula typed by the user, learned on one range and tested on another."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import NalmError
from ..limits import MAX_TARGET, check_dtype, check_elements, check_seed, check_size
from .base import GeneratedTask, Pair
from .expression import Expression, Intervals
from .ranges import Range


class ExpressionTask(GeneratedTask):
    """Learn ``y = f(x)`` for a typed formula: train on one range, test far outside it.

    Training batches are drawn fresh from ``train_range`` at every step. Two fixed sets of
    ``eval_size`` rows, drawn once from ``eval_seed``, measure the error: ``interpolation``
    (``train_range``) and ``extrapolation`` (``test_range``). Every input uses the same range.
    Targets are computed in float64 from the inputs the model sees (already in ``dtype``),
    then cast to ``dtype``.

    Args:
        target: the formula, e.g. ``"x0 * x1"`` (see :class:`~nalm.tasks.Expression`).
        train_range: e.g. ``"1,2"`` or a :class:`~nalm.tasks.Range`.
        test_range: e.g. ``"2,6"`` or ``"-6,-2|2,6"``.
        n_inputs: number of inputs (default: what the formula uses); extra inputs are distractors.
        eval_size: rows in each evaluation set.
        eval_seed: seed of the evaluation sets.

    Raises:
        NalmError: a bad formula or range, a formula undefined somewhere on a range (e.g. a
            divisor whose range contains 0), or one whose values on a range float32 cannot
            train on (``|y|`` above :data:`~nalm.limits.MAX_TARGET`, where the squared error
            overflows).

    Examples:
        >>> task = ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=100)
        >>> x, y = task.evaluation["extrapolation"]
        >>> x.shape, y.shape, bool((x >= 2).all())
        (torch.Size([100, 2]), torch.Size([100, 1]), True)
    """

    out_features = 1

    def __init__(
        self,
        target: str | Expression,
        train_range: str | Range,
        test_range: str | Range,
        *,
        n_inputs: int | None = None,
        eval_size: int = 10_000,
        eval_seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.expression = target if isinstance(target, Expression) else Expression(target)
        self.train_range = Range.parse(train_range, "the training range")
        self.test_range = Range.parse(test_range, "the test range")
        for r, what in ((self.train_range, "training"), (self.test_range, "test")):
            _check_bounds(self.expression, self.expression.check_domain(r, what), r, what)
        needed = self.expression.n_inputs
        if n_inputs is None:
            n_inputs = needed
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < needed:
            raise NalmError(
                f"target {self.expression} needs at least {needed} inputs; got {n_inputs!r}"
            )
        check_size(n_inputs, "n_inputs")
        check_size(eval_size, "eval_size")
        check_elements({"eval_size": eval_size, "n_inputs": n_inputs})
        check_seed(eval_seed, "eval_seed")
        self.in_features = n_inputs
        self.dtype = check_dtype(dtype)
        self.eval_size = eval_size
        self.eval_seed = eval_seed
        g = torch.Generator().manual_seed(eval_seed)
        self.evaluation = {
            "interpolation": self._draw(self.train_range, eval_size, g),
            "extrapolation": self._draw(self.test_range, eval_size, g),
        }

    def _draw(self, r: Range, n: int, generator: torch.Generator) -> Pair:
        x = r.sample((n, self.in_features), generator, torch.float64).to(self.dtype)
        return x, self.targets(x)

    def sample(self, batch_size: int | None, generator: torch.Generator) -> Pair:
        if batch_size is None:
            raise NalmError("an expression task draws fresh batches: give a batch size")
        return self._draw(self.train_range, batch_size, generator)

    def inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` fresh training inputs ``(n, in_features)`` (as :meth:`sample` draws them)."""
        x = self.train_range.sample((n, self.in_features), generator, torch.float64)
        return x.to(self.dtype)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """The formula on inputs ``(*, in_features)``, computed in float64: ``(*, 1)``."""
        return self.expression(x.to(torch.float64)).unsqueeze(-1).to(x.dtype)

    def line(self, n: int = 400) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(t, x, y)`` along a line from the lowest range end ``L`` to the highest.

        Input ``i`` of ``k`` is ``x_i = L + (t − L)·(1 − i/(2k))``: ``x0 = t`` and the others a
        little behind, so that formulas such as ``x0 − x1`` or ``x0 / x1`` are not constant
        along it, while for ``t`` in a training interval that starts at ``L`` every input stays
        inside it. Where the formula is undefined, ``y`` is NaN, which a plot shows as a gap.
        """
        low = min(self.train_range.low, self.test_range.low)
        high = max(self.train_range.high, self.test_range.high)
        t = torch.linspace(low, high, n, dtype=torch.float64)
        k = self.in_features
        slopes = 1 - torch.arange(k, dtype=torch.float64) / (2 * k)
        x = low + (t.unsqueeze(1) - low) * slopes
        y = self.expression(x)
        return t, x.to(self.dtype), y.to(self.dtype).unsqueeze(1)

    def config(self) -> dict[str, Any]:
        return {
            "task": "expression",
            "target": str(self.expression),
            "train_range": str(self.train_range),
            "test_range": str(self.test_range),
            "n_inputs": self.in_features,
            "eval_size": self.eval_size,
            "eval_seed": self.eval_seed,
        }


def _check_bounds(expression: Expression, bounds: Intervals, r: Range, what: str) -> None:
    """Refuse a target that float32 cannot train on anywhere on ``r``."""
    peak = max((max(abs(lo), abs(hi)) for lo, hi in bounds), default=0.0)
    if not peak <= MAX_TARGET:  # also NaN: an inf - inf in the interval arithmetic
        reach = f"reaches {peak:.3g}" if math.isfinite(peak) else "is too large to compute"
        raise NalmError(
            f"target {str(expression)!r} {reach} on the {what} range {r}; nalm trains on "
            f"|y| ≤ {MAX_TARGET:.2g}, where the squared error still fits in float32; choose a "
            "smaller range"
        )
