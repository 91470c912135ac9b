"""S copies of one model as stacked tensors (the optimisers that step them are in
:mod:`~nalm.train.optimizers`).

The engine never holds S modules. It holds one *template* module and, per parameter and buffer,
one tensor with a leading seed dimension ``S``. For ``S > 1`` a forward pass either calls the
template once with the stacked tensors swapped in (a model made only of stackable units, see
:attr:`~nalm.units.Unit.stackable`), or puts each seed's slices into it with
:func:`torch.func.functional_call` mapped over the seeds with :func:`torch.func.vmap`. For
``S = 1`` it is a plain call on the module itself (no vmap overhead, and the arithmetic of an
ordinary training loop).
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..errors import NalmError
from ..units.base import Unit
from ..units.branches import Branches
from .policies import Policy, units_of


def unit_factors(
    policy: Policy, model: nn.Module, device: torch.device | None = None
) -> torch.Tensor:
    """The factor on λ of each unit of ``model`` (the policy's ``unit_lambda``, or 1 for every
    unit); a policy naming another number of units than the model has is refused."""
    n = len(units_of(model))
    if policy.unit_lambda is not None and len(policy.unit_lambda) != n:
        raise NalmError(
            f"policy {policy.name!r} weights the regularisers of {len(policy.unit_lambda)} "
            f"units (unit_lambda); the model has {n}"
        )
    return torch.tensor(policy.unit_lambda or (1.0,) * n, device=device)


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
        if what == "regularization":  # one term per unit
            return torch.stack([m.regularization().reshape(()) for m in units_of(self.model)])
        # "sparsity_error": max over the weight matrices' entries (effective weights named W…)
        # of min(|w|, |1 − |w||), how far they are from {−1, 0, 1}
        terms = [
            torch.minimum(w.abs(), (1 - w.abs()).abs()).amax()
            for unit in self.model.modules()
            if isinstance(unit, Unit)
            for name, w in unit.effective_weights().items()
            if name.startswith("W")
        ]
        return torch.stack(terms).amax() if terms else torch.full((), math.nan)


def _stackable(model: nn.Module) -> bool:
    """Whether ``model`` can take the stacked call: ``nn.Sequential`` (and a branch layer's
    ``nn.ModuleList``) and units whose class itself declares ``stackable``, with no hooks (on a
    module or global) and no ``forward`` replaced on an instance, since a hook would see
    ``(S, B, …)`` tensors."""
    hooks = nn.modules.module
    if hooks._global_forward_hooks or hooks._global_forward_pre_hooks:
        return False
    return all(
        (type(m) in (nn.Sequential, nn.ModuleList) or type(m).__dict__.get("stackable", False))
        and not m._forward_hooks
        and not m._forward_pre_hooks
        and "forward" not in m.__dict__
        for m in model.modules()
    )


class Stack:
    """S seeds of one architecture as stacked tensors (a leading seed dimension).

    Build it with :meth:`of`. With S > 1 the stacked parameters are the leaves that autograd
    and the optimiser see, and a forward pass is the stacked call (:attr:`stacked`) or maps
    ``functional_call`` over the seeds. With
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
        # A model made only of stackable units (Unit.stackable) in nn.Sequential runs on the
        # stacked tensors directly: its parameters are swapped for them around each call.
        self.slots = [
            (module, name, f"model.{path}.{name}" if path else f"model.{name}")
            for path, module in self.probe.model.named_modules()
            for name in module._parameters
        ]
        self.stacked = not self.direct and not self.buffers and _stackable(self.probe.model)

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
        """``what`` (``"output"``, ``"regularization"`` (one term per unit),
        ``"sparsity_error"``) for every seed: a leading ``S`` (for one seed's ``"output"`` the
        model's own ``(B, out)``, which broadcasts against ``(1, B, out)`` targets). ``x`` is
        shared ``(B, …)`` or per seed ``(S, B, …)``."""
        if self.direct:
            inputs = x if shared or x is None else x[0]
            if what == "output":
                return self.probe.model(inputs)
            return self.probe.forward(inputs, what=what).unsqueeze(0)
        if (
            self.stacked
            and what != "sparsity_error"
            and (x is None or x.dim() == (2 if shared else 3))
        ):
            return self._call_stacked(what, x)
        key = (what, shared)
        if key not in self._mapped:
            probe, buffers = self.probe, self.buffers

            def one(p: dict, b: dict, xs: torch.Tensor | None) -> torch.Tensor:
                return functional_call(probe, {**p, **b}, (xs,), {"what": what})

            mapped = vmap(one, in_dims=(0, 0, None if shared else 0))
            self._mapped[key] = lambda p, xs: mapped(p, buffers, xs)
        return self._mapped[key](self.params, x)

    def _call_stacked(self, what: str, x: torch.Tensor | None) -> torch.Tensor:
        """``output`` or ``regularization`` of every seed, the model holding the stacked tensors
        (see :attr:`stacked`)."""
        model = self.probe.model
        originals = [(module, name, module._parameters[name]) for module, name, _ in self.slots]
        try:
            for module, name, key in self.slots:
                module._parameters[name] = self.params[key]  # type: ignore[assignment]
            if what == "output":
                return model(x)
            return torch.stack([m.regularization() for m in units_of(model)], -1)
        finally:
            for module, name, value in originals:
                module._parameters[name] = value

    @torch.no_grad()
    def select(self, rows: list[int]) -> None:
        """Keep only the seeds ``rows`` (new leaves; see ``Engine.compact``)."""
        self.params = {k: v[rows].detach().requires_grad_() for k, v in self.params.items()}
        self.buffers = {k: v[rows] for k, v in self.buffers.items()}
        self.leaves = self.params
        self.size = len(rows)
        self._mapped = {}

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
    def reinitialize(self, i: int, seed: int, branch: int | None = None) -> None:
        """Seed ``i`` restarts from weights drawn by ``seed``: ``reset_parameters`` of every
        module of a fresh copy of the architecture, under ``torch.manual_seed(seed)``; with
        ``branch``, its branch layers then train that branch (:meth:`choose_branches`)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            reinitialize(self.fresh.modules())
        for name, value in self.fresh.named_parameters():
            self.params[f"model.{name}"][i] = value
        if branch is not None:
            self.choose_branches(branch, [i])

    @torch.no_grad()
    def choose_branches(self, branch: int, rows: Sequence[int]) -> None:
        """Every branch layer of the seeds at ``rows`` keeps branch ``branch`` (modulo its
        count) alone, its selection decided (a policy's ``branch_per_try``)."""
        for path, module in self.fresh.named_modules():
            if isinstance(module, Branches):
                logits = self.params[".".join(p for p in ("model", path, "S") if p)]
                logits[list(rows)] = module.decided_logits(branch).to(logits)

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        """Seed ``i``'s parameters and buffers by the model's names, on the CPU."""
        tensors = {**self.params, **self.buffers}
        return {k.removeprefix("model."): v[i].detach().cpu().clone() for k, v in tensors.items()}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**self.params, **self.buffers}

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return self.tensors(), {}

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        self.load(tensors)

    @torch.no_grad()
    def load(self, tensors: Mapping[str, torch.Tensor], rows: list[int] | None = None) -> None:
        """Copy stacked tensors (all seeds, or only ``rows``) into the stack."""
        for k, v in self.tensors().items():
            if rows is None:
                v.copy_(tensors[k])
            else:
                v[rows] = tensors[k][rows].to(v.device)


def gate_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every unit's :meth:`~nalm.units.Unit.gate_parameters` inside ``model``."""
    return [p for unit in units_of(model) for p in unit.gate_parameters()]


def reinitialize(modules: Iterable[nn.Module]) -> None:
    """Call ``reset_parameters`` on every module that has one (units and torch layers)."""
    for m in modules:
        reset = getattr(m, "reset_parameters", None)
        if callable(reset):
            reset()
