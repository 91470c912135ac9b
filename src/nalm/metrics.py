"""Errors between a model and its targets, the success criterion, and confidence intervals."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import NalmError


def mse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error, as a float."""
    return torch.mean((prediction - target) ** 2).item()


def mean_relative_error(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """``mean(|ŷ − y| / |y|)``; rows with ``y = 0`` are left out.

    Examples:
        >>> mean_relative_error(torch.tensor([110.0, 9.0]), torch.tensor([100.0, 10.0]))
        0.10000000149011612
    """
    keep = target != 0
    return torch.mean((prediction[keep] - target[keep]).abs() / target[keep].abs()).item()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """``model(x)`` in eval mode without gradients, returned on the CPU."""
    was_training = model.training
    model.eval()
    try:
        return model(x.to(device)).cpu()
    finally:
        model.train(was_training)


EPSILON = 1e-5
"""Madsen & Johansen's ε: a solution counts if it is as good as weights off by ε."""


def success_threshold(task: Any, evaluation: str = "extrapolation", eps: float = EPSILON) -> float:
    """The MSE of the ε-perfect solution of an arithmetic task on one of its evaluation sets.

    A model succeeds when its MSE is below this. Computed in float64 on the task's fixed set, so
    each seed's task (its own slices) gets its own threshold. Two definitions, chosen by the task's
    ``epsilon_perfect``:

    - ``"selection"`` (Madsen & Johansen 2020, two layers): the first layer selects ``a`` and ``b``
      with weights ``1 − ε`` on their slices and ``ε`` everywhere else; ``a ∘ b`` is then exact.
    - ``"module"`` (Mistry et al. 2022, one unit): the unit's own weights are off by ε:
      ``+``/``−`` lose ``ε·Σ|x_i|``, ``×`` becomes ``(1 − ε)² a b`` and ``÷`` becomes
      ``(1 − ε) a / ((1 + ε) b)``.

    Args:
        task: an :class:`~nalm.tasks.ArithmeticTask` (anything with ``selection``,
            ``operation``, ``evaluation`` and ``epsilon_perfect``).
        evaluation: the evaluation set's name.
        eps: ε.

    Examples:
        >>> from nalm.tasks import ArithmeticTask
        >>> task = ArithmeticTask("mul", input_size=2, subset=0.5, overlap=0, eval_size=4,
        ...                       epsilon_perfect="module")
        >>> x = task.evaluation["extrapolation"][0].double()
        >>> by_hand = (((1 - 1e-5) ** 2 - 1) * x[:, 0] * x[:, 1]).pow(2).mean().item()
        >>> abs(success_threshold(task) - by_hand) <= 1e-12 * by_hand
        True
    """
    if evaluation not in task.evaluation:
        raise NalmError(
            f"the task has no evaluation set {evaluation!r}; it has {', '.join(task.evaluation)}"
        )
    x = task.evaluation[evaluation][0].to(torch.float64)
    selection = task.selection.to(torch.float64)
    op = task.operation
    exact = x @ selection.T
    target = op(exact[:, 0], exact[:, 1])
    if task.epsilon_perfect == "module":
        if op.name in ("add", "sub"):
            error = eps * x.abs().sum(1)
        elif op.name == "mul":
            error = ((1 - eps) ** 2 - 1) * target
        elif op.name == "div":
            error = ((1 - eps) / (1 + eps) - 1) * target
        else:
            raise NalmError(
                f"the one-unit ε-perfect solution is defined for + − × ÷, not {op.name}"
            )
    else:
        perturbed = selection * (1 - eps) + (1 - selection) * eps
        approx = x @ perturbed.T
        error = op(approx[:, 0], approx[:, 1]) - target
    return torch.mean(error**2).item()


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval for a success rate ``successes / trials``.

    .. math::
        \frac{\hat p + \frac{z^2}{2n} \pm z \sqrt{\frac{\hat p (1 - \hat p)}{n} + \frac{z^2}{4n^2}}}
             {1 + \frac{z^2}{n}}

    Returns ``(low, high)`` as fractions; ``(0, 1)`` for no trials.

    Examples:
        >>> [round(v, 4) for v in wilson_interval(98, 100)]
        [0.93, 0.9945]
        >>> [round(v, 4) for v in wilson_interval(0, 10)]
        [0.0, 0.2775]
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise NalmError(f"need 0 ≤ successes ≤ trials; got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Outcome:
    """How one seed did, judged on its evaluation history.

    Attributes:
        success: extrapolation MSE below the threshold at the step with the lowest
            interpolation MSE (a diverged seed is never a success).
        best_step: that step.
        interpolation_mse, extrapolation_mse: the MSEs at ``best_step``.
        solved_at: the first evaluated step whose extrapolation MSE is below the threshold,
            counted within the try (since the last restart) that ``best_step`` belongs to
            (``None`` for failures, as in the paper: solved-at is reported for successes).
        sparsity_error: at ``best_step`` (``NaN`` if the history has none).
    """

    success: bool
    best_step: int
    interpolation_mse: float
    extrapolation_mse: float
    solved_at: int | None
    sparsity_error: float


def judge(
    history: Sequence[Mapping[str, float]],
    threshold: float,
    diverged: bool = False,
    restarts: Sequence[int] = (),
) -> Outcome:
    """Judge one seed: ``history`` rows hold ``step``, ``interpolation_mse``,
    ``extrapolation_mse`` and optionally ``sparsity_error``; ``restarts`` are the steps at which
    a policy gave the seed new weights (the evaluation at such a step sees the new ones).

    The judged try is the last one that was evaluated (from its restart on): its best step is
    the one with the lowest interpolation MSE among its evaluations, and the verdict is the
    extrapolation MSE there; an abandoned try counts for nothing, neither for the best step nor
    for solved-at.
    Rows whose interpolation MSE is not finite are skipped when choosing the best step.

    Examples:
        >>> rows = [{"step": 0, "interpolation_mse": 5.0, "extrapolation_mse": 50.0},
        ...         {"step": 1000, "interpolation_mse": 1e-9, "extrapolation_mse": 1e-8},
        ...         {"step": 2000, "interpolation_mse": 1e-7, "extrapolation_mse": 1e-2}]
        >>> outcome = judge(rows, threshold=1e-6)
        >>> outcome.success, outcome.best_step, outcome.solved_at
        (True, 1000, 1000)
        >>> retried = [{"step": 1000, "interpolation_mse": 0.1, "extrapolation_mse": 1e-7},
        ...            {"step": 2000, "interpolation_mse": 1e-9, "extrapolation_mse": 1e-8}]
        >>> judge(retried, 1e-6).solved_at, judge(retried, 1e-6, restarts=[1500]).solved_at
        (1000, 2000)
        >>> abandoned = [{"step": 1000, "interpolation_mse": 1e-9, "extrapolation_mse": 1e-8},
        ...              {"step": 2000, "interpolation_mse": 1e-3, "extrapolation_mse": 5.0}]
        >>> judge(abandoned, 1e-6).success, judge(abandoned, 1e-6, restarts=[1500]).success
        (True, False)
    """
    if not history:
        raise NalmError("cannot judge a seed with no evaluations")
    last = history[-1]["step"]  # a restart after the last evaluation began no judged try
    start = max((t for t in restarts if t <= last), default=0)
    judged = [r for r in history if r["step"] >= start]
    finite = [r for r in judged if math.isfinite(r["interpolation_mse"])]
    best = min(finite, key=lambda r: r["interpolation_mse"]) if finite else judged[-1]
    extrapolation = best["extrapolation_mse"]
    success = not diverged and math.isfinite(extrapolation) and extrapolation < threshold
    solved_at = None
    if success:
        solved_at = next(int(r["step"]) for r in judged if r["extrapolation_mse"] < threshold)
    return Outcome(
        success=success,
        best_step=int(best["step"]),
        interpolation_mse=float(best["interpolation_mse"]),
        extrapolation_mse=float(extrapolation),
        solved_at=solved_at,
        sparsity_error=float(best.get("sparsity_error", math.nan)),
    )
