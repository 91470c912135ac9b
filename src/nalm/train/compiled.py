"""The engine's training step as one compiled function (:func:`torch.compile`).

The eager step (:meth:`~nalm.train.engine.Engine.train_step`) is Python around small tensor
operations: at S = 100 seeds most of its millisecond is dispatch. Here the arithmetic of a step,
forward, loss with the regulariser, gradient (:func:`torch.func.grad`), the policy's clipping and
the masked per-seed Adam update, is one function of tensors that :func:`torch.compile` turns into
one graph::

    (params, m, v, steps, lr, x, y, λ, lr factor, last loss, active)
        → (params', m', v', steps', mse, loss, live)

where ``live = active & isfinite(loss)`` and every seed that is not live keeps its parameters,
moments and step count, as in the eager step. The batch is drawn before it and the rest after it,
in Python as before: the units' projections (``after_step``), the bookkeeping of the losses, a
non-finite seed's recovery or divergence, and the restart rules. The state stays where it was
(the stack's parameters, :class:`~nalm.train.optimizers.StackedAdam`'s moments, step counts and
learning rates), so checkpoints, compaction and restarts read and write it unchanged.

It serves a model that takes the stacked call (only stackable units, see
:attr:`~nalm.units.Unit.stackable`), trained by :class:`StackedAdam` (several seeds) or by
``torch.optim.Adam`` (one seed, ``fit``: its module's own parameters and Adam's own state, read
with a leading seed dimension of 1 and written back in place), without alternating updates;
:func:`unsupported` says why any other engine stays eager. Each seed's
weights and history match the eager engine's to float rounding (``tests/train/test_compiled.py``:
rtol 1e-5 after a few hundred steps), not bit for bit: the compiler may fuse and reorder.
"""

from __future__ import annotations

import itertools
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.func import functional_call, grad

from .optimizers import StackedAdam, TorchOptimizer, clipped
from .policies import Policy, units_of
from .stack import _stackable

if TYPE_CHECKING:
    from .engine import Engine

Tensors = dict[str, torch.Tensor]


def unsupported(engine: Engine) -> str | None:
    """Why ``engine`` cannot take the compiled step (one sentence), or ``None`` when it can."""
    stack, optimizer = engine.stack, engine.optimizer
    if stack.buffers or not _stackable(stack.probe.model):
        return "the model does not take the stacked call (a unit that is not stackable)"
    if isinstance(optimizer, TorchOptimizer):
        adam = optimizer.optimizer
        if type(adam) is not torch.optim.Adam or len(adam.param_groups) != 1:
            return "one seed trains with a torch optimiser other than Adam"
        group = adam.param_groups[0]
        if group["amsgrad"] or group["weight_decay"] or group["maximize"]:
            return "Adam with amsgrad, weight decay or maximize"
    elif not isinstance(optimizer, StackedAdam):
        return "the optimiser is not nalm's stacked Adam"
    if engine.policy.alternate is not None and stack.gates:
        return f"policy {engine.policy.name!r} alternates the updates of gates and weights"
    return None


class _Outputs(nn.Module):
    """The model's output and its units' regularisers, for one ``functional_call``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        terms = [unit.regularization() for unit in units_of(self.model)]
        return self.model(x), torch.stack(terms, -1)


def _adam(
    state: tuple[Tensors, Tensors, Tensors, Tensors, torch.Tensor],
    grads: Tensors,
    live: torch.Tensor,
    factor: torch.Tensor,
    betas: tuple[float, float],
    eps: float,
) -> tuple[Tensors, Tensors, Tensors, Tensors]:
    """:class:`StackedAdam`'s masked step (torch's Adam for one seed) as a function: new
    parameters, moments and step counts; a seed that is not ``live`` keeps its own."""
    params, m, v, steps, lr = state
    beta1, beta2 = betas
    new: tuple[Tensors, Tensors, Tensors, Tensors] = ({}, {}, {}, {})
    for name, g in grads.items():
        p = params[name]
        shape = (-1,) + (1,) * (p.dim() - 1)
        count = steps[name] + live.to(steps[name].dtype)
        t = count.clamp_min(1)
        size = (-lr * factor / (1 - beta1**t)).to(p.dtype).view(shape)
        correction2 = torch.sqrt(1 - beta2**t).to(p.dtype).view(shape)
        m_new = m[name].lerp(g, 1 - beta1)
        v_new = v[name] * beta2 + (1 - beta2) * g * g
        p_new = p + m_new * size / (v_new.sqrt() / correction2 + eps)
        mask = live.view(shape)
        new[0][name] = torch.where(mask, p_new, p)
        new[1][name] = torch.where(mask, m_new, m[name])
        new[2][name] = torch.where(mask, v_new, v[name])
        new[3][name] = count
    return new


def make_step(
    model: nn.Module,
    policy: Policy,
    unit_lambda: torch.Tensor,
    betas: tuple[float, float],
    preconditioned: str | None = None,
    eps: float = 1e-8,
) -> Callable[..., tuple[Any, ...]]:
    """The step's arithmetic as a function of tensors (uncompiled; :class:`CompiledStep`
    compiles it). ``regularize=False`` leaves the regularisers out (λ = 0 for every seed);
    ``inverse`` (or ``None``) multiplies the gradient of the weight ``preconditioned``, as the
    policy's input preconditioner does (:mod:`~nalm.train.precondition`: the moment and its
    inverse stay outside the graph)."""
    outputs = _Outputs(model)
    below = policy.regularize_below

    def losses(
        params: Tensors,
        batch: tuple[torch.Tensor, torch.Tensor],
        lam: torch.Tensor,
        seeds: tuple[torch.Tensor, torch.Tensor],
        regularize: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        (x, y), (last_loss, active) = batch, seeds
        out, terms = functional_call(outputs, params, (x,))
        mse = (out - y).pow(2).flatten(1).mean(1)
        loss = mse
        if regularize:
            loss = mse + lam * (terms @ unit_lambda.to(terms.dtype))
            if below is not None:
                loss = torch.where(last_loss < below, loss, mse)
        live = active & torch.isfinite(loss)
        return torch.where(live, loss, 0.0).sum(), (mse, loss, live)

    def step(
        state: tuple[Tensors, Tensors, Tensors, Tensors, torch.Tensor],
        batch: tuple[torch.Tensor, torch.Tensor],
        schedules: tuple[torch.Tensor, torch.Tensor],
        seeds: tuple[torch.Tensor, torch.Tensor],
        regularize: bool,
        inverse: torch.Tensor | None,
    ) -> tuple[Any, ...]:
        """``state``: parameters, first and second moments, step counts (by name) and learning
        rates ``(S,)``; ``batch``: ``(x, y)``; ``schedules``: λ and the learning rate's factor,
        ``(S,)`` each; ``seeds``: the last losses (for ``regularize_below``) and the active
        flags."""
        params, m, v, steps, lr = state
        lam, factor = schedules
        gradient = grad(losses, has_aux=True)
        grads, (mse, loss, live) = gradient(params, batch, lam, seeds, regularize)
        if inverse is not None and preconditioned is not None:
            grads[preconditioned] = grads[preconditioned] @ inverse
        grads = clipped(policy, grads)
        new = _adam((params, m, v, steps, lr), grads, live, factor, betas, eps)
        return (*new, mse, loss, live)

    return step


RECOMPILE_LIMIT = 64
"""torch's limit of graphs per function, raised to this: an engine's step compiles one graph per
variant (the regulariser on or off, before or after the preconditioner's start) and per seed
count until the seed dimension turns dynamic."""


def _own_code(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with a code object of its own: torch caches compiled graphs and counts them
    against its limit per code object, and each engine's step is a graph of its own model and
    policy, so two engines in one process must not share the count."""
    torch._dynamo.config.recompile_limit = max(
        torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT
    )
    code = function.__code__.replace(co_name=f"step_{next(_ENGINES)}")
    return types.FunctionType(
        code, function.__globals__, code.co_name, function.__defaults__, function.__closure__
    )


_ENGINES = itertools.count()


class _Stacked:
    """The state of :class:`StackedAdam` and the stack, as the graph reads and writes it."""

    def __init__(self, engine: Engine) -> None:
        self.engine, optimizer = engine, engine.optimizer
        assert isinstance(optimizer, StackedAdam)
        optimizer.uniform = False  # the step counts and rates as per-seed tensors from here on,
        optimizer._leave_uniform()  # a resumed state included
        self.betas, self.eps = (optimizer.beta1, optimizer.beta2), optimizer.eps

    def lr(self) -> torch.Tensor:
        return self.engine.optimizer.lr

    def read(self) -> tuple[Tensors, Tensors, Tensors, Tensors, torch.Tensor]:
        o = self.engine.optimizer
        assert isinstance(o, StackedAdam)
        return dict(self.engine.stack.params), o.m, o.v, o.steps, o.lr

    def write(self, params: Tensors, m: Tensors, v: Tensors, steps: Tensors) -> None:
        """The new state where the eager step keeps it: the stack's parameters as leaves, the
        optimiser's moments and counts."""
        stack, o = self.engine.stack, self.engine.optimizer
        assert isinstance(o, StackedAdam)
        for name, value in params.items():
            stack.params[name] = value.requires_grad_()
            o.m[name], o.v[name], o.steps[name] = m[name], v[name], steps[name]


class _TorchAdam:
    """One seed's own module and its ``torch.optim.Adam`` state, read with a leading seed
    dimension of 1 and written back in place (checkpoints, restarts and recovery keep using
    the optimiser's own state)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        group = self._adam().param_groups[0]
        self.betas, self.eps = tuple(group["betas"]), group["eps"]

    def _adam(self) -> torch.optim.Optimizer:
        optimizer = self.engine.optimizer
        assert isinstance(optimizer, TorchOptimizer)
        return optimizer.optimizer  # a restart makes a new one: read it each step

    def lr(self) -> torch.Tensor:
        return self.engine.optimizer.lr

    def _states(self) -> dict[str, tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        adam, out = self._adam(), {}
        for name, p in self.engine.stack.leaves.items():
            state = adam.state[p]
            if not state:  # as torch.optim.Adam's first step makes it
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            out[name] = (p, state)
        return out

    def read(self) -> tuple[Tensors, Tensors, Tensors, Tensors, torch.Tensor]:
        states = self._states()
        params = {k: p.detach().unsqueeze(0) for k, (p, _) in states.items()}
        m = {k: s["exp_avg"].unsqueeze(0) for k, (_, s) in states.items()}
        v = {k: s["exp_avg_sq"].unsqueeze(0) for k, (_, s) in states.items()}
        device = next(iter(params.values())).device  # torch keeps Adam's step on the CPU
        steps = {k: s["step"].reshape(1).to(device, torch.float64) for k, (_, s) in states.items()}
        return params, m, v, steps, self.lr().to(device)

    @torch.no_grad()
    def write(self, params: Tensors, m: Tensors, v: Tensors, steps: Tensors) -> None:
        for name, (p, state) in self._states().items():
            p.copy_(params[name][0])
            state["exp_avg"].copy_(m[name][0])
            state["exp_avg_sq"].copy_(v[name][0])
            state["step"].copy_(steps[name][0])


class CompiledStep:
    """The compiled step of one engine (see the module's docstring); call it as the engine's
    ``train_step(t)``. The graph is compiled on its first call (once with the regulariser and
    once without, when λ is 0 for every seed at some step); a compaction's new seed count
    compiles it again, once, with the seed dimension dynamic."""

    def __init__(self, engine: Engine) -> None:
        reason = unsupported(engine)
        if reason is not None:
            raise ValueError(f"the compiled step does not serve this engine: {reason}")
        self.engine = engine
        self.state = _TorchAdam(engine) if engine.stack.direct else _Stacked(engine)
        pre = engine.preconditioner
        model, policy, factors = engine.stack.probe.model, engine.policy, engine.unit_lambda
        name = None if pre is None else pre.name
        betas, eps = self.state.betas, self.state.eps
        self.function = torch.compile(
            _own_code(make_step(model, policy, factors, betas, name, eps))
        )
        self.regularizes = len(engine.unit_lambda) > 0
        self.ran: set[tuple[int, bool, bool]] = set()  # (seeds, λ, inverse) run: compiled

    def __call__(self, t: int) -> None:
        e = self.engine
        book, lr = e.book, self.state.lr()
        batch = e.batches.next()
        lam = e.restarts.scheduled(e.policy.regularizer, t, lr, 0.0, "regularizer")
        factor = e.restarts.scheduled(e.policy.lr_decay, t, lr, 1.0, "lr_decay")
        regularize = self.regularizes and (isinstance(lam, torch.Tensor) or lam != 0)
        state = self.state.read()
        schedules = (self._per_seed(lam, None), self._per_seed(factor, lr.dtype))
        like = next(iter(e.stack.params.values()))
        seeds = (book.last_loss.to(like.dtype), book.active)
        pre = e.preconditioner
        kept = None if pre is None else (pre.moment, pre.inverse)  # fold replaces them
        variant = (e.size, bool(regularize), pre is not None and t >= pre.rule.start)
        compiling = variant not in self.ran  # a step that may compile anew: it may fail
        inverse = None if pre is None else pre.fold(t, batch[0])
        try:
            with torch.no_grad():
                out = self.function(state, batch[:2], schedules, seeds, regularize, inverse)
        except Exception as error:  # a graph that fails to build or run
            if not compiling:
                raise
            e.compiled = None  # the eager step from here on, this step's batch included
            if pre is not None and kept is not None:
                pre.moment, pre.inverse = kept  # the eager step folds this batch itself
            e.choice = f"eager step: compiling failed ({type(error).__name__}: {_short(error)})"
            print(f"{e.label}: {e.choice}", file=sys.stderr)
            e.train_step(t, batch)
            return
        self.ran.add(variant)
        self.state.write(*out[:4])
        self._after(t, *out[4:], kept)

    def _after(
        self,
        t: int,
        mse: torch.Tensor,
        loss: torch.Tensor,
        live: torch.Tensor,
        kept: tuple[torch.Tensor | None, torch.Tensor | None] | None,
    ) -> None:
        """The step's bookkeeping, as the eager step does it: a step where no seed is live
        changes nothing (the preconditioner's moment as it was, no projection)."""
        e = self.engine
        book, pre = e.book, e.preconditioner
        everyone = book.n_active == e.size and bool(live.all())
        e.n_live = e.size if everyone else int(live.sum())
        if e.n_live:
            e.stack.project()
        elif pre is not None and kept is not None:
            pre.moment, pre.inverse = kept
        if not everyone:
            for i in (book.active & ~torch.isfinite(loss)).nonzero().flatten().tolist():
                e.diverge(i, t)
        book.record(mse, live, everyone, e.gate)
        e.restore()
        if e.restarts.rule is not None:
            e.check_stall(t, mse)

    def _per_seed(self, value: float | torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
        """A schedule's value as a tensor ``(S,)`` (a float would be a constant of the graph
        and compile it anew at each new value); ``dtype`` by default the parameters'."""
        like = next(iter(self.engine.stack.params.values()))
        dtype = dtype or like.dtype
        if isinstance(value, torch.Tensor):
            return value.to(device=like.device, dtype=dtype)
        return torch.full((self.engine.size,), value, dtype=dtype, device=like.device)


def _short(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return text if len(text) <= 160 else text[:159] + "…"


MIN_STEPS = 2_000
"""Asked for (``compile=True``), the compiled step still leaves a run with fewer steps left to
the eager one: compiling its graphs (about 10 s each on this project's 2-core machine the first
time, 2–3 s from torch's cache in a later process) would cost more than its steps save."""

AUTO_STEPS = 50_000
"""By default (``compile=None``, ``nalm bench run`` without ``--no-compile``) a run takes the
compiled step from this many steps left: where it saves about 0.15–0.2 ms a step (``fit`` and
S = 100, ``benchmarks/README.md``), its first graphs pay back within 50,000–70,000 steps."""


def choose(engine: Engine, wanted: bool | None, resumed: bool | None = None) -> bool:
    """Give ``engine`` the compiled step where it can serve it and: ``wanted`` is ``True`` and
    :data:`MIN_STEPS` are left, or ``None`` (by default) and :data:`AUTO_STEPS` are left;
    ``False`` keeps it eager. A run resumed from a checkpoint goes on on the step it trained
    on (``resumed``: whether that was the compiled one; ``None``: not resumed), unless
    ``wanted`` is ``False``. ``engine.choice`` says which step trains; returns whether the
    caller should print it (the compiled step, or an eager one where it was asked for)."""
    left = engine.schedule.steps - engine.step
    floor = MIN_STEPS if wanted else AUTO_STEPS
    reason = "compilation turned off" if wanted is False else unsupported(engine)
    if reason is None and resumed is False:
        reason = "the run it resumes trained on the eager step (its checkpoint records no other)"
    elif reason is None and resumed is None and left < floor:
        reason = f"{left:,} steps are too few to pay back compiling (under {floor:,})"
    engine.choice = "compiled step (torch.compile)" if reason is None else f"eager step: {reason}"
    engine.compiled = None if reason is not None else CompiledStep(engine)
    return bool(wanted) or engine.compiled is not None
