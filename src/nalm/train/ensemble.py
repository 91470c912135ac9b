"""Many seeds at once: S copies of one model, trained as one batched computation.

The parameters of the S models are stacked along a leading seed dimension and the model is
evaluated with :func:`torch.func.vmap` over that dimension, so a step costs one forward and one
backward for all seeds instead of S. Everything that makes a seed a seed stays per seed: its
initialisation (``torch.manual_seed(seed)`` before building it), its task (its own slices and
targets), its Adam moments and step count, its regulariser gate, clipping, restarts, early stop
and divergence flag. Updates are masked per seed, so a seed's trajectory does not depend on the
seeds beside it (up to float rounding in batched kernels).

Training inputs are either drawn per seed (each seed its own stream, the default) or, with
``shared_inputs=True``, one batch per step is shared by all seeds; the targets still differ
because each seed's task selects its own slices. The shared stream is seeded by ``data_seed``
only, so it too is the same whichever seeds run together.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from ..errors import NalmError
from ..limits import (
    check_elements,
    check_model,
    check_model_fits_task,
    check_model_runs,
    check_number,
    check_run,
    check_seed,
    check_size,
    check_task,
    check_task_values,
)
from ..tasks.arithmetic import ArithmeticTask, RecurrentArithmeticTask, stacked_targets
from ..tasks.base import Task
from ..units.base import Unit, regularization
from .loop import _resolve_policy
from .policies import Policy, gate_parameters


@dataclass
class SeedResult:
    """One seed's run inside :func:`fit_seeds`.

    Attributes:
        seed: the seed that initialised the model (and drew its data stream).
        history: one row per evaluation: ``step``, ``train_loss`` (mean training MSE since the
            previous evaluation), ``<set>_mse`` per evaluation set, and ``sparsity_error``
            (max over the units' weight matrices of ``min(|w|, |1 − |w||)``).
        steps: optimiser steps this seed took.
        diverged_at: the step whose loss was NaN or infinite, or ``None``.
        stopped_at: the step at which ``early_stop`` ended the seed, or ``None``.
        reinitialized_at: steps at which the policy's stall rule restarted it.
        weights: its final parameters and buffers, by the model's names for them.
    """

    seed: int
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    diverged_at: int | None = None
    stopped_at: int | None = None
    reinitialized_at: list[int] = field(default_factory=list)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


@dataclass
class EnsembleResult:
    """What :func:`fit_seeds` measured: one :class:`SeedResult` per seed, in the order given."""

    runs: list[SeedResult]
    policy: str = "none"
    seconds: float = 0.0

    def __getitem__(self, seed: int) -> SeedResult:
        for run in self.runs:
            if run.seed == seed:
                return run
        raise KeyError(seed)

    @property
    def diverged(self) -> int:
        return sum(run.diverged for run in self.runs)


class _Probe(nn.Module):
    """What the trainer asks of one seed's model, as one module for ``functional_call``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor | None = None, what: str = "output") -> torch.Tensor:
        if what == "output":
            return self.model(x)
        if what == "regularization":
            return regularization(self.model)
        # sparsity error over the weight matrices (effective weights named W...)
        terms = [
            torch.minimum(w.abs(), (1 - w.abs()).abs()).amax()
            for unit in self.model.modules()
            if isinstance(unit, Unit)
            for name, w in unit.effective_weights().items()
            if name.startswith("W")
        ]
        return torch.stack(terms).amax() if terms else torch.full((), math.nan)


def derived_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across runs and machines)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _build(make_model: Callable[[], nn.Module], seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_model()


def fit_seeds(
    make_model: Callable[[], nn.Module],
    tasks: Sequence[Task],
    seeds: Sequence[int],
    *,
    steps: int = 20_000,
    lr: float = 1e-3,
    batch_size: int = 128,
    betas: tuple[float, float] = (0.9, 0.999),
    regularizer: float | Callable[[int], float] | None = None,
    policy: str | Policy | None = "auto",
    eval_every: int = 1000,
    shared_inputs: bool = False,
    data_seed: int = 0,
    early_stop: Callable[[int, list[dict[str, float]]], bool] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    description: str = "seeds",
) -> EnsembleResult:
    """Train S seeds of one model, each on its own task, as one batched computation with Adam.

    Seed ``seeds[i]`` builds its model with ``torch.manual_seed(seeds[i]); make_model()`` and
    learns ``tasks[i]``. Each step: a batch (per seed, or shared), per-seed MSE plus
    ``λ_i(step) ×`` the units' regularisers, backward, the policy's per-seed clipping and
    alternating updates, a masked per-seed Adam step, then every unit's ``after_step``
    projection. Every ``eval_every`` steps (and at 0 and the last step) each seed is evaluated on
    its task's fixed sets. A seed whose loss is NaN or infinite is marked diverged at that step
    and frozen; ``early_stop(i, history)`` returning ``True`` at an evaluation freezes seed ``i``
    as stopped. Training ends when every seed is frozen or after ``steps``.

    Args:
        make_model: builds one seed's model from the registry's units (or any module whose
            forward works under :func:`torch.func.vmap`).
        tasks: one task per seed, all with the same input size and evaluation set names.
        seeds: one integer per seed.
        steps, lr, batch_size, betas: Adam's settings (the same for every seed).
        regularizer: λ, a constant or schedule, replacing the policy's.
        policy: ``"auto"`` (the output unit's recommended policy), a name, a
            :class:`~nalm.train.Policy`, or ``None``.
        eval_every: steps between evaluations.
        shared_inputs: share one input batch per step between seeds (the tasks must provide
            ``inputs`` and ``targets``); otherwise seed ``s`` draws from its own stream.
        data_seed: seeds the input streams (with each seed for per-seed streams).
        early_stop: called per active seed at each evaluation after step 0.
        device: where to train.
        progress: show a progress bar.
        description: the progress bar's label.

    Returns:
        An :class:`EnsembleResult` with one :class:`SeedResult` per seed.

    Examples:
        >>> from nalm.units import NAU
        >>> from nalm.tasks import ArithmeticTask
        >>> tasks = [ArithmeticTask("add", input_size=2, subset=0.5, overlap=0) for _ in range(3)]
        >>> result = fit_seeds(lambda: NAU(2, 1), tasks, seeds=[0, 1, 2], steps=2000, lr=0.05,
        ...                    progress=False)
        >>> [run.history[-1]["extrapolation_mse"] < 1e-6 for run in result.runs]
        [True, True, True]
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise NalmError(f"seeds must be a list of whole numbers; got {seeds!r}")
    seeds = [check_seed(s, "every seed") for s in seeds]
    device = _check(tasks, seeds, steps, lr, batch_size, eval_every, device, data_seed)
    if not callable(make_model) or isinstance(make_model, nn.Module):
        raise NalmError(
            "make_model must be a function that builds one seed's model (e.g. "
            f"lambda: NAU(2, 1)); got {type(make_model).__name__}"
        )
    started = time.perf_counter()
    first = _build(make_model, seeds[0])
    check_model(first, "the model make_model builds")
    check_model_fits_task(first, tasks[0], "the model make_model builds")
    check_model_runs(first, tasks[0], "the model make_model builds")
    parameters = sum(p.numel() for p in first.parameters())
    check_elements({"seeds": len(seeds), "parameters per model": parameters})
    models = [first, *(_build(make_model, s) for s in seeds[1:])]
    rule = _resolve_policy(policy, "model", models[0], regularizer)
    params, buffers = stack_module_state(models)
    params = {f"model.{k}": v.detach().to(device).requires_grad_() for k, v in params.items()}
    buffers = {f"model.{k}": v.to(device) for k, v in buffers.items()}
    probe = _Probe(copy.deepcopy(models[0])).to("meta")
    del models
    S = len(seeds)

    def call(
        p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor | None, what: str
    ) -> torch.Tensor:
        return functional_call(probe, {**p, **b}, (x,), {"what": what})

    def mapped(what: str, shared: bool) -> Callable:
        over = vmap(lambda p, b, x: call(p, b, x, what), in_dims=(0, 0, None if shared else 0))
        return lambda p, x: over(p, buffers, x)

    batched = {
        (what, shared): mapped(what, shared)
        for what in ("output", "regularization", "weights")
        for shared in (True, False)
    }
    gate_names, all_names = _gate_names(probe), frozenset(params)
    projected = _projected_units(probe)
    optimizer = _StackedAdam(params, lr, betas)
    sampler = _Sampler(tasks, seeds, batch_size, shared_inputs, data_seed, device)
    evaluation = _evaluation_sets(tasks, device)

    results = [SeedResult(seed=s) for s in seeds]
    active = torch.ones(S, dtype=torch.bool, device=device)
    n_active = S
    loss_sum = torch.zeros(S, device=device, dtype=torch.float64)
    loss_count = 0  # steps since the last evaluation (a frozen seed's rows are not written)
    last_loss = torch.full((S,), math.inf, device=device)
    stall = _StallTracker(rule, S) if rule.reinit is not None else None

    def evaluate(step: int) -> None:
        nonlocal loss_count
        probe.train(False)
        with torch.no_grad():
            mean_loss = (loss_sum / loss_count).tolist() if loss_count else [math.nan] * S
            rows: dict[str, list[float]] = {"train_loss": mean_loss}
            for name, (x, y, shared) in evaluation.items():
                out = batched["output", shared](params, x)
                rows[f"{name}_mse"] = ((out - y) ** 2).mean(dim=tuple(range(1, y.dim()))).tolist()
            rows["sparsity_error"] = batched["weights", True](params, None).tolist()
        probe.train(True)
        loss_sum.zero_()
        loss_count = 0
        flags = active.tolist()
        for i, result in enumerate(results):
            if not flags[i] and result.history:
                continue
            row = {"step": float(step)}
            row.update({k: float(v[i]) for k, v in rows.items()})
            result.history.append(row)

    evaluate(0)
    bar = tqdm(
        range(1, steps + 1), desc=description, disable=not progress, leave=False, mininterval=1.0
    )
    for step in bar:
        x, y = sampler.sample()
        out = batched["output", sampler.shared](params, x)
        mse = ((out - y) ** 2).mean(dim=tuple(range(1, y.dim())))
        lam = rule.regularizer(step) if rule.regularizer is not None else 0.0
        if lam:
            weight = torch.full((S,), float(lam), device=device)
            if rule.regularize_below is not None:
                weight = weight * (last_loss < rule.regularize_below)
            total = mse + weight * batched["regularization", True](params, None)
        else:
            total = mse
        finite = torch.isfinite(total)
        if not bool(finite.all()):  # frozen seeds may be NaN; only active ones are new
            for i in (active & ~finite).nonzero().flatten().tolist():
                results[i].diverged_at = step
            active &= finite
            n_active = int(active.sum())
            if not n_active:
                break
        # Frozen seeds (diverged, stopped) get no loss; their updates are masked out as well.
        objective = total.sum() if n_active == S else torch.where(active, total, 0.0).sum()
        grads = torch.autograd.grad(objective, list(params.values()))
        grads = dict(zip(params, grads, strict=True))
        frozen = _frozen_names(rule, step, gate_names, all_names)
        _clip(rule, grads, frozen)
        optimizer.step(grads, active, frozen, everyone=n_active == S)
        with torch.no_grad():
            _project(projected, params)
            detached = mse.detach()
            if rule.regularize_below is not None:
                last_loss = torch.where(active, detached, last_loss)
            loss_sum.add_(detached)
            loss_count += 1
        if stall is not None:
            for i in stall.update(step, detached, active):
                _restart(make_model, results[i], i, step, params, optimizer)
        if step % eval_every == 0 or step == steps:
            for result in results:
                if result.diverged_at is None and result.stopped_at is None:
                    result.steps = step
            evaluate(step)
            if early_stop is not None:
                for i in active.nonzero().flatten().tolist():
                    if early_stop(i, results[i].history):
                        results[i].stopped_at = step
                        active[i] = False
                n_active = int(active.sum())
            if progress:
                bar.set_postfix(active=n_active, median_loss=f"{detached.median().item():.2e}")
            if not n_active:
                break
    bar.close()
    for i, result in enumerate(results):
        if result.diverged_at is not None:
            result.steps = result.diverged_at - 1
        result.weights = {
            name.removeprefix("model."): p[i].detach().cpu().clone()
            for name, p in {**params, **buffers}.items()
        }
    return EnsembleResult(results, rule.name, time.perf_counter() - started)


def initial_weights(
    make_model: Callable[[], nn.Module], seeds: Sequence[int]
) -> list[dict[str, torch.Tensor]]:
    """Each seed's freshly initialised parameters and buffers, exactly as :func:`fit_seeds` would
    start them (``torch.manual_seed(seed); make_model()``): the "randomly initialised model"
    of a seed."""
    return [dict(_build(make_model, int(s)).state_dict()) for s in seeds]


@torch.no_grad()
def predict_seeds(
    make_model: Callable[[], nn.Module],
    weights: Sequence[Mapping[str, torch.Tensor]],
    x: torch.Tensor,
    *,
    per_model: bool = False,
    device: torch.device | str = "cpu",
    chunk: int = 4096,
) -> torch.Tensor:
    """Outputs of S models of one architecture, as one batched computation.

    Args:
        make_model: builds the architecture (its own parameters are replaced).
        weights: per model, every parameter and buffer by name, e.g. ``SeedResult.weights``
            or :func:`initial_weights`.
        x: inputs shared by every model ``(N, …)``, or with ``per_model=True`` one set per
            model ``(S, N, …)``.
        device: where to compute.
        chunk: rows of ``x`` per batched call (bounds the memory).

    Returns:
        ``(S, N, out_features)`` on the CPU.

    Examples:
        >>> from nalm.units import NAU
        >>> w = [{"W": torch.tensor([[1.0, 1.0]])}, {"W": torch.tensor([[1.0, -1.0]])}]
        >>> predict_seeds(lambda: NAU(2, 1), w, torch.tensor([[3.0, 2.0]]))[:, 0, 0]
        tensor([5., 1.])
    """
    if not weights:
        raise NalmError("predict_seeds needs the weights of at least one model")
    model = make_model().to(device)
    names = list(weights[0])
    if any(list(w) != names for w in weights):
        raise NalmError("every model's weights must name the same tensors")
    missing = [k for k in model.state_dict() if k not in names]
    if missing:
        raise NalmError(f"the weights lack {', '.join(missing)} of the model built by make_model")
    stacked = {k: torch.stack([w[k] for w in weights]).to(device) for k in names}
    if per_model and x.shape[0] != len(weights):
        raise NalmError(f"per_model inputs need {len(weights)} sets; got {x.shape[0]}")
    run = vmap(
        lambda p, xs: functional_call(model, p, (xs,)), in_dims=(0, 0 if per_model else None)
    )
    rows = x.shape[1] if per_model else x.shape[0]
    was_training = model.training
    model.train(False)
    try:
        outs = []
        for start in range(0, rows, chunk):
            part = x[:, start : start + chunk] if per_model else x[start : start + chunk]
            outs.append(run(stacked, part.to(device)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(outs, dim=1)


class _StackedAdam:
    """Adam over stacked parameters with per-seed step counts and a per-seed update mask.

    Follows ``torch.optim.Adam``'s arithmetic; a seed that is masked out (diverged, stopped)
    or a parameter that is frozen this step keeps its value and its moments.
    """

    def __init__(
        self, params: Mapping[str, torch.Tensor], lr: float, betas: tuple[float, float]
    ) -> None:
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, 1e-8
        # One step count per parameter and seed (torch.optim.Adam counts per parameter, so a
        # parameter resting under an alternating policy does not age), in float64.
        self.steps = {
            k: torch.zeros(v.shape[0], dtype=torch.float64, device=v.device)
            for k, v in params.items()
        }
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}

    @torch.no_grad()
    def step(
        self,
        grads: Mapping[str, torch.Tensor],
        active: torch.Tensor,
        frozen: frozenset[str],
        everyone: bool,
    ) -> None:
        """One Adam step; ``everyone`` says that no seed is masked (the fast, in-place path)."""
        for name, p in self.params.items():
            if name in frozen:
                continue
            steps = self.steps[name]
            steps.add_(active.to(steps.dtype))
            t = steps.clamp_min(1)
            step_size = (-self.lr / (1 - self.beta1**t)).to(p.dtype)
            correction2 = torch.sqrt(1 - self.beta2**t).to(p.dtype)
            g, m, v = grads[name], self.m[name], self.v[name]
            shape = (-1,) + (1,) * (p.dim() - 1)
            if everyone:
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                denom = (v.sqrt() / correction2.view(shape)).add_(self.eps)
                p.addcdiv_(m * step_size.view(shape), denom)
                continue
            m_new = m.lerp(g, 1 - self.beta1)
            v_new = (v * self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = (v_new.sqrt() / correction2.view(shape)).add_(self.eps)
            p_new = p.addcdiv(m_new * step_size.view(shape), denom)
            mask = active.view(shape)
            m.copy_(torch.where(mask, m_new, m))
            v.copy_(torch.where(mask, v_new, v))
            p.copy_(torch.where(mask, p_new, p))

    def reset(self, i: int) -> None:
        for k in self.params:
            self.steps[k][i] = 0
            self.m[k][i] = 0
            self.v[k][i] = 0


class _Sampler:
    """Training batches for every seed: ``x`` (B, in) shared or (S, B, in), ``y`` (S, B, out)."""

    def __init__(
        self,
        tasks: Sequence[Task],
        seeds: Sequence[int],
        batch_size: int,
        shared: bool,
        data_seed: int,
        device: torch.device,
    ) -> None:
        self.tasks, self.batch_size, self.shared, self.device = tasks, batch_size, shared, device
        kinds = (ArithmeticTask, RecurrentArithmeticTask)
        arithmetic = all(isinstance(t, kinds) for t in tasks)
        arithmetic = arithmetic and len({t.sequence for t in tasks}) == 1  # type: ignore[attr-defined]
        self.targets: Callable[[torch.Tensor], torch.Tensor] | None = None
        if arithmetic:
            self.targets = stacked_targets(tasks)  # type: ignore[arg-type]
        elif all(t is tasks[0] for t in tasks) and all(
            hasattr(tasks[0], k) for k in ("inputs", "targets")
        ):
            # One task for every seed (e.g. f(x) = x): its targets for all seeds at once.
            task, n = tasks[0], len(tasks)
            self.targets = (
                (lambda x: task.targets(x).expand(n, *x.shape[:-1], -1))  # type: ignore[attr-defined]
                if shared
                else task.targets  # type: ignore[attr-defined]
            )
        if shared:
            if not all(hasattr(t, "inputs") and hasattr(t, "targets") for t in tasks):
                raise NalmError(
                    "shared_inputs needs tasks that draw inputs and compute targets "
                    "(inputs() and targets()), e.g. ArithmeticTask"
                )
            drawn = {
                (
                    str(getattr(t, "train_range", "")),
                    getattr(t, "dtype", None),
                    t.in_features,
                    getattr(t, "train_length", None),
                )
                for t in tasks
            }
            if len(drawn) != 1:
                raise NalmError(
                    "shared_inputs needs every seed's task to draw training inputs from the same "
                    "range, dtype and shape"
                )
            self.generators = [torch.Generator().manual_seed(derived_seed("shared", data_seed))]
        else:
            self.generators = [
                torch.Generator().manual_seed(derived_seed("data", data_seed, s)) for s in seeds
            ]

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.shared:
            x = self.tasks[0].inputs(self.batch_size, self.generators[0])  # type: ignore[attr-defined]
            x = x.to(self.device)
            if self.targets is not None:
                return x, self.targets(x)
            return x, torch.stack([t.targets(x) for t in self.tasks])  # type: ignore[attr-defined]
        if self.targets is not None:
            pairs = zip(self.tasks, self.generators, strict=True)
            x = torch.stack([t.inputs(self.batch_size, g) for t, g in pairs])  # type: ignore[attr-defined]
            x = x.to(self.device)
            return x, self.targets(x)
        drawn = [
            t.sample(self.batch_size, g) for t, g in zip(self.tasks, self.generators, strict=True)
        ]
        x = torch.stack([p[0] for p in drawn]).to(self.device)
        return x, torch.stack([p[1] for p in drawn]).to(self.device)


def _evaluation_sets(
    tasks: Sequence[Task], device: torch.device
) -> dict[str, tuple[torch.Tensor, torch.Tensor, bool]]:
    """Per evaluation set: inputs (shared (N, in) when every task holds the same tensor, else
    (S, N, in)), stacked targets (S, N, out), and whether the inputs are shared."""
    sets = {}
    for name in tasks[0].evaluation:
        xs = [t.evaluation[name][0] for t in tasks]
        shared = all(x is xs[0] for x in xs)
        x = xs[0] if shared else torch.stack(xs)
        y = torch.stack([t.evaluation[name][1] for t in tasks])
        sets[name] = (x.to(device), y.to(device), shared)
    return sets


class _StallTracker:
    """Per-seed chunk means of the training loss for the policy's stall rule."""

    def __init__(self, rule: Policy, n: int) -> None:
        assert rule.reinit is not None
        self.rule = rule.reinit
        self.started = [0] * n
        self.means: list[list[float]] = [[] for _ in range(n)]
        self.sums = torch.zeros(n, dtype=torch.float64)

    def update(self, step: int, losses: torch.Tensor, active: torch.Tensor) -> list[int]:
        """Add this step's losses; return the seeds that stalled at this step."""
        self.sums += losses.detach().double().cpu()
        due = [i for i, s in enumerate(self.started) if (step - s) % self.rule.chunk == 0]
        if not due:
            return []
        sums, flags = self.sums.tolist(), active.tolist()
        stalled = []
        for i in due:
            self.means[i].append(sums[i] / self.rule.chunk)
            self.sums[i] = 0
            if flags[i] and self.rule.stalled_means(self.means[i]):
                stalled.append(i)
                self.started[i] = step
                self.means[i] = []
        return stalled


def _restart(
    make_model: Callable[[], nn.Module],
    result: SeedResult,
    i: int,
    step: int,
    params: dict[str, torch.Tensor],
    optimizer: _StackedAdam,
) -> None:
    """Reinitialise seed ``i`` (from a seed derived from its own seed and restart count)."""
    fresh = _build(make_model, derived_seed("restart", result.seed, len(result.reinitialized_at)))
    with torch.no_grad():
        for name, value in fresh.named_parameters():
            params[f"model.{name}"][i] = value.to(params[f"model.{name}"].device)
    optimizer.reset(i)
    result.reinitialized_at.append(step)


def _projected_units(probe: _Probe) -> list[tuple[Unit, str]]:
    """The units that have a projection (``after_step``), with their parameters' name prefix."""
    return [
        (unit, f"model.{name}." if name else "model.")
        for name, unit in probe.model.named_modules()
        if isinstance(unit, Unit) and type(unit).after_step is not Unit.after_step
    ]


def _project(units: list[tuple[Unit, str]], params: dict[str, torch.Tensor]) -> None:
    """Apply each unit's ``after_step`` to the stacked parameters (the projections are
    elementwise clamps, so they act on all seeds at once)."""
    with torch.no_grad():
        for unit, prefix in units:
            originals = dict(unit._parameters)
            try:
                for name in originals:
                    unit._parameters[name] = params[prefix + name]  # type: ignore[assignment]
                unit.after_step()
            finally:
                unit._parameters.update(originals)


def _gate_names(probe: _Probe) -> frozenset[str]:
    ids = {id(p) for p in gate_parameters(probe.model)}
    return frozenset(f"model.{n}" for n, p in probe.model.named_parameters() if id(p) in ids)


def _frozen_names(
    rule: Policy, step: int, gates: frozenset[str], names: frozenset[str]
) -> frozenset[str]:
    """Parameters that rest this step under an alternating policy (none otherwise)."""
    gates_only = rule.updates_gates_only(step) if gates else None
    if gates_only is None:
        return frozenset()
    return names - gates if gates_only else gates


def _clip(rule: Policy, grads: dict[str, torch.Tensor], frozen: frozenset[str]) -> None:
    """The policy's gradient clipping, per seed, on the parameters updated this step."""
    if rule.clip_value is None and rule.clip_norm is None:
        return
    live = [g for name, g in grads.items() if name not in frozen]
    if rule.clip_value is not None:
        for g in live:
            g.clamp_(-rule.clip_value, rule.clip_value)
    if rule.clip_norm is not None and live:
        squares = sum(g.pow(2).flatten(1).sum(1) for g in live)
        scale = (rule.clip_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
        for g in live:
            g.mul_(scale.view((-1,) + (1,) * (g.dim() - 1)))


def _check(
    tasks: Sequence[Task],
    seeds: Sequence[int],
    steps: int,
    lr: float,
    batch_size: int,
    eval_every: int,
    device: torch.device | str,
    data_seed: int,
) -> torch.device:
    """Every argument of :func:`fit_seeds` checked before a model is built or a batch drawn."""
    if not seeds:
        raise NalmError("fit_seeds needs at least one seed")
    check_size(len(seeds), "the number of seeds")
    if len(set(seeds)) != len(seeds):
        raise NalmError(f"seeds must be distinct; got {list(seeds)}")
    if isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence):
        raise NalmError(f"tasks must be a list with one task per seed; got {tasks!r}")
    if len(tasks) != len(seeds):
        raise NalmError(f"give one task per seed: {len(tasks)} tasks for {len(seeds)} seeds")
    for task in tasks:
        check_task(task, "every task")
    sizes = {(t.in_features, t.out_features) for t in tasks}
    names = {tuple(t.evaluation) for t in tasks}
    if len(sizes) != 1 or len(names) != 1:
        raise NalmError("the seeds' tasks must share input/output sizes and evaluation sets")
    parsed = check_run(steps, eval_every, device)
    check_size(batch_size, "batch_size")
    n_in = tasks[0].in_features
    check_elements({"seeds": len(seeds), "batch_size": batch_size, "the task's inputs": n_in})
    for name, (x, _) in tasks[0].evaluation.items():
        check_elements({"seeds": len(seeds), f"{name} rows": len(x), "the task's inputs": n_in})
    check_number(lr, "lr", positive=True)
    check_seed(data_seed, "data_seed")
    for task in {id(t): t for t in tasks}.values():
        check_task_values(task)
    return parsed
