"""``fit_seeds``: S seeds of one model, each on its own task, as one batched computation.

The many-seed door onto the training engine (:class:`~nalm.train.engine.Engine`). The
parameters of the S models are stacked along a leading seed dimension and the model is evaluated
with :func:`torch.func.vmap` over that dimension, so a step costs one forward and one backward for
all seeds instead of S. Everything that makes a seed a seed stays per seed: its initialisation
(``torch.manual_seed(seed)`` before building it), its task (its own slices and targets), its Adam
moments, step counts and learning rate, its regulariser gate, clipping, restarts, early stop and
divergence flag. Updates are masked per seed, so a seed's trajectory does not depend on the seeds
beside it (up to float rounding in batched kernels).

Training inputs are either drawn per seed (each seed its own stream: with ``data_seed=0`` seed
``s`` draws from ``torch.Generator().manual_seed(s)``, the stream ``fit(..., seed=s)`` draws
from) or, with ``shared_inputs=True``, one batch per step is shared by all seeds; the targets
still differ because each seed's task selects its own slices. The shared stream is seeded by
``data_seed`` only, so it too is the same whichever seeds run together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..errors import NalmError
from ..limits import check_elements, check_seed, check_size
from ..tasks.base import Task
from .checkpoint import run_engines
from .checks import check_models, check_training
from .engine import Engine
from .policies import Policy, resolve
from .records import Cadence, Track
from .stack import derived_seed

__all__ = [
    "CohortResult",
    "EnsembleResult",
    "SeedResult",
    "derived_seed",
    "fit_seeds",
    "initial_weights",
    "predict_seeds",
]


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
        reinitialized_at: steps at which the policy's restart rule restarted it.
        recovered_at: steps at which a non-finite loss or parameter was undone (``recover``).
        weights: its final parameters and buffers, by the model's names for them.
    """

    seed: int
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    diverged_at: int | None = None
    stopped_at: int | None = None
    reinitialized_at: list[int] = field(default_factory=list)
    recovered_at: list[int] = field(default_factory=list)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


@dataclass
class CohortResult:
    """What :func:`fit_seeds` measured: one :class:`SeedResult` per seed, in the order given.

    ``seconds`` is the training time of the whole run (summed over resumed parts);
    ``resumed_from`` the step a checkpoint resumed it from (0: trained from the start)."""

    runs: list[SeedResult]
    policy: str = "none"
    seconds: float = 0.0
    resumed_from: int = 0

    def __getitem__(self, seed: int) -> SeedResult:
        for run in self.runs:
            if run.seed == seed:
                return run
        raise KeyError(seed)

    @property
    def diverged(self) -> int:
        return sum(run.diverged for run in self.runs)


EnsembleResult = CohortResult
"""The name :class:`CohortResult` had before the cohort was called a cohort."""


def _build(make_model: Callable[[], nn.Module], seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        if torch.cuda.is_available():  # a model may be built on the GPU: seed every generator
            torch.manual_seed(seed)
        else:  # the same seeding of the CPU generator, without torch.manual_seed's queuing of
            torch.random.default_generator.manual_seed(seed)  # lazy CUDA seeding (1 ms each)
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
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    recover: int = 0,
    recover_factor: float = 0.1,
    checkpoint_seconds: float = 0.0,
    compact: bool = True,
    compile: bool | None = False,
) -> CohortResult:
    """Train S seeds of one model, each on its own task, as one batched computation with Adam.

    Seed ``seeds[i]`` builds its model with ``torch.manual_seed(seeds[i]); make_model()`` and
    learns ``tasks[i]``. Each step: a batch (per seed, or shared), per-seed MSE plus
    ``λ_i(step) ×`` the units' regularisers, backward, the policy's per-seed clipping and
    alternating updates, a masked per-seed Adam step, then every unit's ``after_step``
    projection. Every ``eval_every`` steps (and at 0 and the last step) each seed is evaluated on
    its task's fixed sets. A seed whose loss is NaN or infinite is marked diverged at that step
    and frozen (as is one whose parameters are no longer finite at a checkpoint step);
    ``early_stop(i, history)`` returning ``True`` at an evaluation freezes seed ``i`` as stopped.
    Training ends when every seed is frozen or after ``steps``. The policy's stall rule restarts
    a seed from weights drawn by a seed derived from its own seed and restart count.

    With one seed this is exactly ``torch.manual_seed(s); fit(make_model(), tasks[0], seed=s,
    optimizer=Adam)``: the same batches, weights and history (both are doors onto
    :class:`~nalm.train.engine.Engine`).

    Args:
        make_model: builds one seed's model from the registry's units (or any module whose
            forward works under :func:`torch.func.vmap`).
        tasks: one task per seed, all with the same input size and evaluation set names.
        seeds: one integer per seed.
        steps: training steps.
        lr: Adam's learning rate (the same for every seed).
        batch_size: rows per step.
        betas: Adam's betas.
        regularizer: λ, a constant or schedule, replacing the policy's.
        policy: ``"auto"`` (the output unit's recommended policy), a name, a
            :class:`~nalm.train.Policy`, or ``None``.
        eval_every: steps between evaluations.
        shared_inputs: share one input batch per step between seeds (the tasks must provide
            ``inputs`` and ``targets``); otherwise seed ``s`` draws from its own stream.
        data_seed: seeds the input streams: the shared one, or per seed streams derived from
            ``(data_seed, s)`` (with 0, seed ``s``'s own stream is ``manual_seed(s)``).
        early_stop: called per active seed at each evaluation after step 0.
        device: where to train.
        progress: show a progress bar.
        description: the progress bar's label.
        checkpoint: file to write the whole state to every ``checkpoint_every`` steps (default
            ``eval_every``) and to resume from if it exists (as for :func:`~nalm.train.fit`).
        checkpoint_seconds: write that file at most this often (and at the end); a long run's
            file holds every seed's history, so writing it each evaluation would cost time.
        compact: seeds that stopped early or diverged leave the batched computation at the next
            evaluation, so the others run faster (their numbers change by float rounding only).
        recover: a seed that goes non-finite is restored to its last finite snapshot with a
            lower learning rate, up to ``recover`` times.
        recover_factor: what each recovery multiplies that seed's learning rate by.
        compile: train with the compiled step (:mod:`~nalm.train.compiled`) where it serves
            the engine and the run is long enough: ``True`` from 2,000 steps, ``None`` (as
            ``nalm bench run`` does by default) from 50,000; ``False``: the eager step. A
            resumed run goes on on its checkpoint's step. The choice is printed once, to
            stderr, where it is the compiled step or asked for.

    Returns:
        A :class:`CohortResult` with one :class:`SeedResult` per seed.

    Examples:
        >>> from nalm.units import NAU
        >>> from nalm.tasks import ArithmeticTask
        >>> tasks = [ArithmeticTask("add", input_size=2, subset=0.5, overlap=0) for _ in range(3)]
        >>> result = fit_seeds(lambda: NAU(2, 1), tasks, seeds=[0, 1, 2], steps=2000, lr=0.05,
        ...                    progress=False)
        >>> [run.history[-1]["extrapolation_mse"] < 1e-6 for run in result.runs]
        [True, True, True]
    """
    seeds = _check_cohort(make_model, tasks, seeds)
    device, seeds = check_training(
        tasks, seeds, steps, eval_every, device, batch_size, {"": lr}, True
    )
    check_seed(data_seed, "data_seed")
    timing = (steps, eval_every, checkpoint_every, recover, recover_factor, False)
    schedule = Cadence.of(*timing, early_stop, checkpoint_seconds, compact)
    models = _models(make_model, seeds, tasks[0])
    first = models[0]
    rule = resolve(policy, first, regularizer=regularizer)
    own = [s if data_seed == 0 else derived_seed("data", data_seed, s) for s in seeds]
    streams = derived_seed("shared", data_seed) if shared_inputs else own
    stepping = {"batch_size": batch_size, "schedule": schedule, "lr": lr, "betas": betas}
    engine = Engine.of(models, tasks, seeds, streams, policy=rule, device=device, **stepping)
    settings = {
        "model": repr(first),
        "seeds": seeds,
        "lr": lr,
        "batch_size": batch_size,
        "betas": list(betas),
        "policy": rule.describe(),
        "streams": streams,
        "tasks": [t.config() for t in tasks],
    }
    labels = {"seeds": description}
    run_engines({"seeds": engine}, labels, settings, schedule, checkpoint, progress, compile)
    runs = [_seed_result(t, engine.weights(i)) for i, t in enumerate(engine.book.all_tracks)]
    return CohortResult(runs, rule.name, engine.seconds, engine.resumed_from)


def _models(make_model: Callable[[], nn.Module], seeds: list[int], task: Task) -> list[nn.Module]:
    """One model per seed, each built under its seed; the first checked against the task and
    the cohort's size against nalm's limits before the others are built."""
    first = _build(make_model, seeds[0])
    check_models({"the model make_model builds": first}, task)
    size = sum(p.numel() for p in first.parameters())
    check_elements({"seeds": len(seeds), "parameters per model": size})
    return [first, *(_build(make_model, s) for s in seeds[1:])]


def _seed_result(t: Track, weights: dict[str, torch.Tensor]) -> SeedResult:
    """A seed's :class:`SeedResult` from its track and final weights."""
    ends = (t.steps, t.diverged_at, t.stopped_at, t.reinitialized_at, t.recovered_at)
    return SeedResult(t.seed, t.history, *ends, weights)


def _check_cohort(make_model: object, tasks: Sequence[Task], seeds: Iterable[int]) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise NalmError(f"seeds must be a list of whole numbers; got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise NalmError("fit_seeds needs at least one seed")
    check_size(len(seeds), "the number of seeds")
    if len(set(seeds)) != len(seeds):
        raise NalmError(f"seeds must be distinct; got {list(seeds)}")
    if isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence):
        raise NalmError(f"tasks must be a list with one task per seed; got {tasks!r}")
    if len(tasks) != len(seeds):
        raise NalmError(f"give one task per seed: {len(tasks)} tasks for {len(seeds)} seeds")
    if not callable(make_model) or isinstance(make_model, nn.Module):
        raise NalmError(
            "make_model must be a function that builds one seed's model (e.g. "
            f"lambda: NAU(2, 1)); got {type(make_model).__name__}"
        )
    return seeds


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
