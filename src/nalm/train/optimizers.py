"""The optimisers that step a :class:`~nalm.train.stack.Stack`: ``torch.optim`` for one seed, and
Adam over stacked parameters with per-seed state for many; and the policy's gradient clipping
before them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .policies import Policy
    from .stack import Stack


class TorchOptimizer:
    """A ``torch.optim`` optimiser over the stacked leaves of a one-seed stack: ``fit``'s
    optimisers (Adam, AdamW, SGD, RMSprop or a factory), with exactly their arithmetic."""

    needs_grads = False  # it reads the leaves' ``.grad`` itself
    selects = False  # its state is not per seed: a stack it steps is never compacted

    def select(self, rows: list[int]) -> None:
        raise NotImplementedError("a torch.optim optimiser's stack is never compacted")

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state` (the per-seed protocol of :mod:`nalm.train.seeds`)."""
        self.load(tensors, meta)

    def __init__(self, make: Callable[..., torch.optim.Optimizer], stack: Stack, lr: float):
        self.make, self.leaves = make, list(stack.leaves.values())
        self.lr = torch.tensor([float(lr)], dtype=torch.float64)
        self.optimizer = make(self.leaves, lr=lr)
        self.scaled = False  # the groups' lr is not self.lr (a decay's factor)

    def step(
        self,
        grads: Mapping[str, torch.Tensor],
        live: torch.Tensor,
        everyone: bool,
        factor: float | torch.Tensor = 1.0,
    ) -> None:
        if not everyone:  # one seed: a step is taken by all or by none
            return
        factor = float(factor)  # one seed: a per-seed factor has one value
        if factor != 1.0 or self.scaled:
            for group in self.optimizer.param_groups:
                group["lr"] = float(self.lr[0]) * factor
            self.scaled = factor != 1.0
        self.optimizer.step()

    def reset(self, i: int) -> None:
        self.optimizer = self.make(self.leaves, lr=float(self.lr[0]))

    def scale_lr(self, i: int, factor: float) -> None:
        self.lr[i] *= factor
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.lr[0])

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, plain = {}, {}
        for index, entries in self.optimizer.state_dict()["state"].items():
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{index}.{key}"] = value.detach().clone()
                else:
                    plain[f"{index}.{key}"] = value
        tensors["lr"] = self.lr.clone()
        return tensors, plain

    def load(
        self, tensors: Mapping[str, torch.Tensor], plain: Mapping[str, Any], rows: Any = None
    ) -> None:
        """Load a :meth:`state`; with ``rows`` (a recovery) the current learning rate stays."""
        if rows is None:
            self.lr.copy_(tensors["lr"])
        self.optimizer = self.make(self.leaves, lr=float(self.lr[0]))
        state: dict[int, dict[str, Any]] = {}
        for name, value in [*tensors.items(), *plain.items()]:
            if name != "lr":
                index, key = name.split(".", 1)
                device = self.leaves[int(index)].device
                moved = (
                    value.to(device) if isinstance(value, torch.Tensor) and key != "step" else value
                )
                state.setdefault(int(index), {})[key] = moved
        full = self.optimizer.state_dict()
        full["state"] = state
        self.optimizer.load_state_dict(full)


class StackedAdam:
    """Adam over stacked parameters with a learning rate, step counts and an update mask per seed.

    Follows ``torch.optim.Adam``'s arithmetic. A seed that is masked out (diverged, stopped,
    recovering) or a parameter that rests this step (its ``grad`` is ``None``) keeps its value
    and its moments; step counts are per parameter and seed, as torch counts per parameter.
    """

    needs_grads = True
    selects = True  # per-seed state: compaction keeps the rows it is given (``select``)

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state` (the per-seed protocol of :mod:`nalm.train.seeds`)."""
        self.load(tensors, meta)

    def __init__(self, stack: Stack, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        self.stack, self.params = stack, stack.params
        (self.beta1, self.beta2), self.eps = betas, 1e-8
        first = next(iter(self.params.values()))
        self.lr = torch.full((stack.size,), float(lr), dtype=torch.float64, device=first.device)
        self.steps = {
            k: torch.zeros(v.shape[0], dtype=torch.float64, device=v.device)
            for k, v in self.params.items()
        }
        self.m = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in self.params.items()}
        # While every seed of a parameter has the same step count and learning rate (no mask,
        # restart or recovery yet), the count and rate are kept as Python numbers and the bias
        # corrections computed once per step; ``steps``/``lr`` are brought up to date on leaving.
        self.count: dict[str, int | None] = dict.fromkeys(self.params, 0)
        self.rate: float | None = float(lr)
        self.uniform = True  # may it keep that mode (the compiled step reads per-seed tensors)

    def _leave_uniform(self, name: str | None = None) -> None:
        """Move to per-seed counts (for ``name``, or every parameter) and per-seed rates."""
        for k in self.params if name is None else [name]:
            if self.count[k] is not None:
                self.steps[k].fill_(self.count[k])
                self.count[k] = None
        if name is None:
            self.rate = None

    @torch.no_grad()
    def step(
        self,
        grads: Mapping[str, torch.Tensor],
        live: torch.Tensor,
        everyone: bool,
        factor: float | torch.Tensor = 1.0,
    ) -> None:
        """One step for the ``live`` seeds (parameters without a gradient rest); ``everyone``
        says that all seeds are live (the in-place path); ``factor`` scales this step's
        learning rate (a policy's decay; one per seed as a tensor)."""
        uniform = not isinstance(factor, torch.Tensor)
        for name, g in grads.items():
            p = self.params[name]
            m, v, count = self.m[name], self.v[name], self.count[name]
            if everyone and uniform and count is not None and self.rate is not None:
                count = self.count[name] = count + 1
                step_size = -self.rate * factor / (1 - self.beta1**count)
                correction2 = math.sqrt(1 - self.beta2**count)
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                p.addcdiv_(m * step_size, (v.sqrt() / correction2).add_(self.eps))
                continue
            self._leave_uniform(name)
            steps = self.steps[name]
            steps.add_(live.to(steps.dtype))
            t = steps.clamp_min(1)
            shape = (-1,) + (1,) * (p.dim() - 1)
            step_size = (-self.lr * factor / (1 - self.beta1**t)).to(p.dtype).view(shape)
            correction2 = torch.sqrt(1 - self.beta2**t).to(p.dtype).view(shape)
            if everyone:
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                p.addcdiv_(m * step_size, (v.sqrt() / correction2).add_(self.eps))
                continue
            m_new = m.lerp(g, 1 - self.beta1)
            v_new = (v * self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p_new = p.addcdiv(m_new * step_size, (v_new.sqrt() / correction2).add_(self.eps))
            mask = live.view(shape)
            m.copy_(torch.where(mask, m_new, m))
            v.copy_(torch.where(mask, v_new, v))
            p.copy_(torch.where(mask, p_new, p))

    def select(self, rows: list[int]) -> None:
        """Keep only the seeds ``rows``, stepping the stack's new leaves (the stack selects
        first)."""
        self.params = self.stack.params
        self.lr = self.lr[rows]
        for state in (self.steps, self.m, self.v):
            for k, value in state.items():
                state[k] = value[rows]

    def reset(self, i: int) -> None:
        self._leave_uniform()
        for k in self.params:
            self.steps[k][i] = 0
            self.m[k][i] = 0
            self.v[k][i] = 0

    def scale_lr(self, i: int, factor: float) -> None:
        self._leave_uniform()
        self.lr[i] *= factor

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        lr = self.lr if self.rate is None else torch.full_like(self.lr, self.rate)
        tensors = {"lr": lr.clone()}
        for k in self.params:
            count = self.count[k]
            steps = self.steps[k] if count is None else torch.full_like(self.steps[k], count)
            tensors[f"{k}.steps"] = steps.clone()
            tensors[f"{k}.m"] = self.m[k].clone()
            tensors[f"{k}.v"] = self.v[k].clone()
        return tensors, {}

    @torch.no_grad()
    def load(
        self, tensors: Mapping[str, torch.Tensor], plain: Mapping[str, Any], rows: Any = None
    ) -> None:
        """Load a :meth:`state` (all seeds, or with ``rows`` those seeds, keeping their
        current learning rate: a recovery lowers it from where it is)."""
        self._leave_uniform()
        every = slice(None) if rows is None else rows
        if rows is None:
            self.lr.copy_(tensors["lr"])
        for k in self.params:
            for mine, key in ((self.steps[k], "steps"), (self.m[k], "m"), (self.v[k], "v")):
                mine[every] = tensors[f"{k}.{key}"][every].to(mine.device)
        if rows is None and self.uniform:  # a resumed run takes up the mode it was in
            for k, steps in self.steps.items():
                self.count[k] = int(steps[0]) if bool((steps == steps[0]).all()) else None
            self.rate = float(self.lr[0]) if bool((self.lr == self.lr[0]).all()) else None


def clipped(policy: Policy, grads: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The policy's clipping of stacked gradients (a leading seed dimension): each element to
    ±``clip_value``, then each seed's gradient to its own norm ``clip_norm``."""
    if policy.clip_value is not None:
        grads = {k: g.clamp(-policy.clip_value, policy.clip_value) for k, g in grads.items()}
    if policy.clip_norm is not None and grads:
        norm = sum(g.pow(2).flatten(1).sum(1) for g in grads.values()).sqrt()
        scale = (policy.clip_norm / (norm + 1e-6)).clamp(max=1.0)
        grads = {k: g * scale.view((-1,) + (1,) * (g.dim() - 1)) for k, g in grads.items()}
    return grads


@torch.no_grad()
def clip_gradients(policy: Policy, grads: dict[str, torch.Tensor]) -> None:
    """:func:`clipped`, in place (the eager step's gradients)."""
    for name, g in clipped(policy, grads).items():
        if g is not grads[name]:
            grads[name].copy_(g)
