"""S copies of one model as stacked tensors, and the optimisers that step them.

The engine never holds S modules. It holds one *template* module and, per parameter and buffer,
one tensor with a leading seed dimension ``S``. A forward pass puts the seed's slices into the
template with :func:`torch.func.functional_call`; for ``S > 1`` that call is mapped over the seed
dimension with :func:`torch.func.vmap`, for ``S = 1`` it is a plain call on views of the single
slice (no vmap overhead, and the arithmetic of an ordinary training loop).
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..units.base import Unit, regularization
from .policies import gate_parameters, reinitialize


def derived_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across runs and machines)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class _Probe(nn.Module):
    """What the engine asks of one seed's model, as one module for ``functional_call``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor | None = None, what: str = "output") -> torch.Tensor:
        if what == "output":
            return self.model(x)
        if what == "regularization":
            return torch.as_tensor(regularization(self.model))
        # sparsity error over the weight matrices (effective weights named W...)
        terms = [
            torch.minimum(w.abs(), (1 - w.abs()).abs()).amax()
            for unit in self.model.modules()
            if isinstance(unit, Unit)
            for name, w in unit.effective_weights().items()
            if name.startswith("W")
        ]
        return torch.stack(terms).amax() if terms else torch.full((), math.nan)


class Stack:
    """S seeds of one architecture as stacked tensors (a leading seed dimension).

    Build it with :meth:`of`. With S > 1 the stacked parameters are the leaves that autograd
    and the optimiser see, and a forward pass maps ``functional_call`` over the seeds. With
    S = 1 the module's own parameters are the leaves (trained in place, called directly) and
    :attr:`params` holds views of them with a leading dimension of 1, so the rest of the engine
    reads the same shapes either way.

    Attributes:
        params, buffers: stacked tensors by name (``"model.<module's name>"``).
        leaves: what autograd differentiates and a ``torch.optim`` optimiser steps.
        gates: names of the gate parameters (for alternating updates).
    """

    def __init__(
        self,
        template: nn.Module,
        states: list[Mapping[str, torch.Tensor]] | None,
        device: torch.device,
    ) -> None:
        self.probe = _Probe(template)
        self.direct = states is None
        named = dict(template.named_parameters())
        if states is None:  # one seed: the module's own tensors, trained in place
            self.size = 1
            self.leaves = {f"model.{k}": p for k, p in named.items()}
            self.params = {k: p.detach().unsqueeze(0) for k, p in self.leaves.items()}
            self.buffers = {f"model.{k}": b.unsqueeze(0) for k, b in template.named_buffers()}
        else:
            self.size = len(states)
            stacked = {k: torch.stack([s[k] for s in states]).to(device) for k in states[0]}
            self.params = {
                f"model.{k}": v.requires_grad_() for k, v in stacked.items() if k in named
            }
            self.buffers = {f"model.{k}": v for k, v in stacked.items() if k not in named}
            self.leaves = self.params
        self.fresh = copy.deepcopy(template).cpu()  # restarts reinitialise this copy
        self.gates = self._gate_names()
        self.projected = [
            (unit, f"model.{name}." if name else "model.")
            for name, unit in self.probe.model.named_modules()
            if isinstance(unit, Unit) and type(unit).after_step is not Unit.after_step
        ]
        self._mapped: dict[tuple[str, bool], Callable] = {}

    @classmethod
    def of(cls, models: list[nn.Module], device: torch.device) -> Stack:
        """A stack of ``models`` (one architecture). A single model becomes the template itself
        (moved to ``device``); several are copied into stacked tensors."""
        if len(models) == 1:
            return cls(models[0].to(device), None, device)
        states = [dict(m.state_dict()) for m in models]
        return cls(copy.deepcopy(models[0]).to(device), states, device)

    def zero_grad(self) -> None:
        for p in self.leaves.values():
            p.grad = None

    def grads(self) -> dict[str, torch.Tensor]:
        """The gradients of the parameters that have one, stacked (views of the leaves')."""
        if self.direct:
            return {k: p.grad.unsqueeze(0) for k, p in self.leaves.items() if p.grad is not None}
        return {k: p.grad for k, p in self.leaves.items() if p.grad is not None}

    def drop_grads(self, names: Callable[[str], bool]) -> None:
        """Forget the gradients of the parameters ``names`` selects (they rest this step)."""
        for k, p in self.leaves.items():
            if names(k):
                p.grad = None

    def _gate_names(self) -> frozenset[str]:
        ids = {id(p) for p in gate_parameters(self.probe.model)}
        named = self.probe.model.named_parameters()
        return frozenset(f"model.{n}" for n, p in named if id(p) in ids)

    def call(self, what: str, x: torch.Tensor | None = None, shared: bool = True) -> torch.Tensor:
        """``what`` (``"output"``, ``"regularization"``, ``"weights"``) for every seed: a leading
        ``S`` (for one seed's ``"output"`` the model's own ``(B, out)``, which broadcasts against
        ``(1, B, out)`` targets). ``x`` is shared ``(B, …)`` or per seed ``(S, B, …)``."""
        if self.direct:
            inputs = x if shared or x is None else x[0]
            if what == "output":
                return self.probe.model(inputs)
            return self.probe.forward(inputs, what=what).unsqueeze(0)
        key = (what, shared)
        if key not in self._mapped:
            probe, buffers = self.probe, self.buffers

            def one(p: dict, b: dict, xs: torch.Tensor | None) -> torch.Tensor:
                return functional_call(probe, {**p, **b}, (xs,), {"what": what})

            mapped = vmap(one, in_dims=(0, 0, None if shared else 0))
            self._mapped[key] = lambda p, xs: mapped(p, buffers, xs)
        return self._mapped[key](self.params, x)

    def train(self, mode: bool) -> None:
        self.probe.train(mode)

    @torch.no_grad()
    def project(self) -> None:
        """Every unit's ``after_step`` on the stacked parameters (elementwise clamps, so they act
        on all seeds at once)."""
        if self.direct:
            for unit, _ in self.projected:
                unit.after_step()
            return
        for unit, prefix in self.projected:
            originals = dict(unit._parameters)
            try:
                for name in originals:
                    unit._parameters[name] = self.params[prefix + name]  # type: ignore[assignment]
                unit.after_step()
            finally:
                unit._parameters.update(originals)

    def finite(self) -> torch.Tensor:
        """``(S,)``: whether every parameter of each seed is finite."""
        flags = [torch.isfinite(p.detach()).flatten(1).all(1) for p in self.params.values()]
        return torch.stack(flags).all(0)

    @torch.no_grad()
    def reinitialize(self, i: int, seed: int) -> None:
        """Seed ``i`` restarts from weights drawn by ``seed``: ``reset_parameters`` of every
        module of a fresh copy of the architecture, under ``torch.manual_seed(seed)``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            reinitialize(self.fresh.modules())
        for name, value in self.fresh.named_parameters():
            self.params[f"model.{name}"][i] = value

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        """Seed ``i``'s parameters and buffers by the model's names, on the CPU."""
        tensors = {**self.params, **self.buffers}
        return {k.removeprefix("model."): v[i].detach().cpu().clone() for k, v in tensors.items()}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**self.params, **self.buffers}

    @torch.no_grad()
    def load(self, tensors: Mapping[str, torch.Tensor], rows: list[int] | None = None) -> None:
        """Copy stacked tensors (all seeds, or only ``rows``) into the stack."""
        for k, v in self.tensors().items():
            if rows is None:
                v.copy_(tensors[k])
            else:
                v[rows] = tensors[k][rows].to(v.device)


class TorchOptimizer:
    """A ``torch.optim`` optimiser over the stacked leaves of a one-seed stack: ``fit``'s
    optimisers (Adam, AdamW, SGD, RMSprop or a factory), with exactly their arithmetic."""

    needs_grads = False  # it reads the leaves' ``.grad`` itself

    def __init__(self, make: Callable[..., torch.optim.Optimizer], stack: Stack, lr: float):
        self.make, self.leaves = make, list(stack.leaves.values())
        self.lr = torch.tensor([float(lr)], dtype=torch.float64)
        self.optimizer = make(self.leaves, lr=lr)

    def step(self, grads: Mapping[str, torch.Tensor], live: torch.Tensor, everyone: bool) -> None:
        if everyone:  # one seed: a step is taken by all or by none
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

    def __init__(self, stack: Stack, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        self.params = stack.params
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

    def _leave_uniform(self, name: str | None = None) -> None:
        """Move to per-seed counts (for ``name``, or every parameter) and per-seed rates."""
        for k in self.params if name is None else [name]:
            if self.count[k] is not None:
                self.steps[k].fill_(self.count[k])
                self.count[k] = None
        if name is None:
            self.rate = None

    @torch.no_grad()
    def step(self, grads: Mapping[str, torch.Tensor], live: torch.Tensor, everyone: bool) -> None:
        """One step for the ``live`` seeds (parameters without a gradient rest); ``everyone``
        says that all seeds are live (the in-place path)."""
        for name, g in grads.items():
            p = self.params[name]
            m, v, count = self.m[name], self.v[name], self.count[name]
            if everyone and count is not None and self.rate is not None:
                count = self.count[name] = count + 1
                step_size = -self.rate / (1 - self.beta1**count)
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
            step_size = (-self.lr / (1 - self.beta1**t)).to(p.dtype).view(shape)
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
        if rows is None:  # a resumed run takes up the mode it was in
            for k, steps in self.steps.items():
                self.count[k] = int(steps[0]) if bool((steps == steps[0]).all()) else None
            self.rate = float(self.lr[0]) if bool((self.lr == self.lr[0]).all()) else None
