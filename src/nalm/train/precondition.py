"""Input preconditioning of the first unit's gradient: a policy lever for wide, offset inputs.

On Madsen's task every input is drawn from U[1, 2]: the inputs' second moment
``M = E[x xᵀ] = μ² 11ᵀ + σ² I`` (μ = 1.5, σ² = 1/12) has one direction (all inputs together)
2,700 times stiffer than the others at 100 inputs. The first layer learns that direction in a
few thousand steps, and which input belongs to which sum (the other directions, where the
information is) orders of magnitude more slowly. Multiplying that layer's weight gradient by
``s · (M + δ s I)⁻¹`` (``s`` the mean of M's diagonal, ``δ`` the damping) evens the directions
out, as the input-side factor of K-FAC does.

Examples:
    >>> rule = Precondition(damping=0.5, start=1, every=1)
    >>> pre = InputPreconditioner(rule, "0.W")
    >>> x = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    >>> grads = {"0.W": torch.ones(1, 1, 2)}
    >>> pre.update(1, x, grads)
    >>> [round(v, 3) for v in grads["0.W"].flatten().tolist()]
    [0.435, 0.435]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import NalmError
from ..limits import MAX_STEPS, check_number, check_size
from ..units.base import Unit


@dataclass(frozen=True)
class Precondition:
    """How the first unit's weight gradient is preconditioned (see the module's docstring).

    Attributes:
        damping: δ, relative to the mean of the moment's diagonal (larger: milder).
        start: the first preconditioned step (the moment is averaged from step 1).
        every: steps between recomputations of the inverse.
        decay: the moment's exponential moving average factor per step.
    """

    damping: float = 0.01
    start: int = 10_000
    every: int = 100
    decay: float = 0.99

    def __post_init__(self) -> None:
        check_number(self.damping, "the preconditioner's damping", positive=True)
        check_size(self.start, "the preconditioner's start", minimum=0, limit=MAX_STEPS)
        check_size(self.every, "the preconditioner's every", minimum=1, limit=MAX_STEPS)
        if not 0 <= self.decay < 1:
            raise NalmError(f"the preconditioner's decay must be in [0, 1); got {self.decay!r}")


def first_weight(probe: nn.Module, names: list[str], in_features: int) -> str:
    """The stack's name of the first unit's ``W`` (it must read the model's inputs)."""
    for prefix, module in probe.named_modules():
        if isinstance(module, Unit):
            name = f"{prefix}.W" if prefix else "W"
            weight = getattr(module, "W", None)
            if name in names and weight is not None and weight.shape[-1] == in_features:
                return name
            break
    raise NalmError(
        "the policy preconditions the first unit's weight W, but this model's first unit has "
        f"no W of {in_features} inputs"
    )


def check_shared(policy: str, seeds: int, shared: bool, fix: str = "shared_inputs=True") -> None:
    """One moment serves every seed: several seeds must share their inputs (``fix``: how the
    caller's user gets them, named in the sentence)."""
    if seeds > 1 and not shared:
        raise NalmError(
            f"policy {policy!r} preconditions every seed with one moment of the inputs, so its "
            f"seeds must share their inputs ({fix})"
        )


def preconditioned(
    policy: Any,
    module: nn.Module,
    names: list[str],
    inputs: int,
    seeds: int,
    shared: bool,
    fix: str = "shared_inputs=True",
) -> str | None:
    """The engine's check of a preconditioning policy on a model, called by the engine and,
    ahead of a sweep, by the bench: the stacked weight name it preconditions (``None`` without
    a preconditioner), or one sentence on why it cannot."""
    if policy.precondition is None:
        return None
    check_shared(policy.name, seeds, shared, fix)
    return first_weight(module, names, inputs)


class InputPreconditioner:
    """The running moment of the batches' inputs and the inverse that preconditions one
    stacked gradient (all seeds share it: their inputs come from one distribution)."""

    def __init__(self, rule: Precondition, name: str) -> None:
        self.rule, self.name = rule, name
        self.moment: torch.Tensor | None = None
        self.inverse: torch.Tensor | None = None

    @torch.no_grad()
    def update(self, t: int, x: torch.Tensor, grads: dict[str, torch.Tensor]) -> None:
        """Fold step ``t``'s inputs ``x`` (``(B, in)`` or ``(S, B, in)``) into the moment, and
        from the rule's start on, precondition ``grads[name]`` in place."""
        inverse = self.fold(t, x)
        grad = grads.get(self.name)
        if inverse is not None and grad is not None:
            grad.copy_(grad @ inverse)

    @torch.no_grad()
    def fold(self, t: int, x: torch.Tensor) -> torch.Tensor | None:
        """Fold step ``t``'s inputs into the moment; the inverse that multiplies this step's
        gradient (recomputed every ``every`` steps from the rule's start), or ``None`` before
        the start."""
        rows = x.reshape(-1, x.shape[-1])
        moment = rows.T @ rows / len(rows)
        rule = self.rule
        if self.moment is not None and self.moment.device != moment.device:  # a resumed state
            self.moment = self.moment.to(moment.device)
            self.inverse = None if self.inverse is None else self.inverse.to(moment.device)
        # a new tensor, not in place: the compiled step keeps the last one to go back to
        self.moment = moment if self.moment is None else self.moment.lerp(moment, 1 - rule.decay)
        if t < rule.start:
            return None
        if self.inverse is None or (t - rule.start) % rule.every == 0:
            scale = self.moment.diagonal().mean()
            eye = torch.eye(len(self.moment), dtype=self.moment.dtype, device=self.moment.device)
            inverse = torch.linalg.inv(self.moment + rule.damping * scale * eye) * scale
            self.inverse = inverse.contiguous()  # as a checkpoint stores it: the same matmul
        return self.inverse

    def select(self, rows: list[int]) -> None:
        """Nothing per seed: the moment is over inputs every seed shares."""

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The tensors a checkpoint keeps."""
        out = {}
        if self.moment is not None:
            out["moment"] = self.moment
        if self.inverse is not None:
            out["inverse"] = self.inverse
        return out, {}

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        self.moment = tensors.get("moment")
        self.inverse = tensors.get("inverse")
