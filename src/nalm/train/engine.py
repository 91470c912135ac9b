"""The training engine: S ≥ 1 seeds of one model, stepped together as stacked state.

:func:`~nalm.train.fit` (one model, S = 1) and :func:`~nalm.train.fit_seeds` (S seeds) are two
doors onto :class:`Engine`. It owns, once each: the per-seed regulariser weight and its gate,
clipping by value and by each seed's own norm, alternating gate/weight updates, the stall rule
and restarts, divergence (a non-finite loss or parameter freezes the seed and marks it), early
stop, recovery from the last finite snapshot with a lower learning rate, evaluation, the history
and checkpoints of its whole state. A :class:`~nalm.train.Policy` stays a declarative dataclass;
the engine turns it into per-seed decisions each step. docs/architecture.md walks through it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
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
from ..tasks.base import Batches, GeneratedTask, Task
from ..units.base import Unit
from . import checkpoint as ckpt
from .policies import Policy, clip_gradients
from .stack import Stack, StackedAdam, TorchOptimizer, derived_seed

EarlyStop = Callable[[int, list[dict[str, float]]], bool]


@dataclass
class Track:
    """One seed's record: what the doors turn into a ``FitResult`` or a ``SeedResult``.

    Attributes:
        seed: the seed's number.
        history: one row per evaluation: ``step``, ``train_loss`` (mean training MSE of the steps
            since the previous evaluation), ``<set>_mse`` per evaluation set and
            ``sparsity_error`` (max over the units' weight matrices of ``min(|w|, |1 − |w||)``;
            NaN for a model without units).
        train_loss: the training MSE of every step (kept when asked for; NaN at a recovery).
        steps: optimiser steps the seed took (a seed whose loss went non-finite at step t took
            t − 1; one whose parameters were found non-finite after step t took t).
        diverged_at, stopped_at: the step at which it diverged or was stopped early.
        diverged_by: what went non-finite: ``"loss"`` or ``"parameters"``.
        reinitialized_at, recovered_at: steps of its restarts and recoveries.
    """

    seed: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    steps: int = 0
    diverged_at: int | None = None
    diverged_by: str | None = None
    stopped_at: int | None = None
    reinitialized_at: list[int] = field(default_factory=list)
    recovered_at: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Schedule:
    """When the engine does what: ``steps`` in all, an evaluation every ``eval_every``, a
    parameter check, recovery snapshot and checkpoint every ``checkpoint_every``; ``recover``
    recoveries per seed, each multiplying its learning rate by ``recover_factor``."""

    steps: int
    eval_every: int
    checkpoint_every: int
    recover: int = 0
    recover_factor: float = 0.1
    keep_losses: bool = False
    early_stop: EarlyStop | None = None

    @classmethod
    def of(
        cls,
        steps: int,
        eval_every: int,
        checkpoint_every: int | None = None,
        recover: int = 0,
        recover_factor: float = 0.1,
        keep_losses: bool = False,
        early_stop: EarlyStop | None = None,
    ) -> Schedule:
        """A schedule from the doors' arguments, checked (``checkpoint_every`` defaults to
        ``eval_every``)."""
        every = eval_every if checkpoint_every is None else checkpoint_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise NalmError(f"checkpoint_every must be a positive integer; got {every!r}")
        if isinstance(recover, bool) or not isinstance(recover, int) or recover < 0:
            raise NalmError(f"recover must be a whole number of recoveries ≥ 0; got {recover!r}")
        factor = recover_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise NalmError(f"recover_factor must be a number in (0, 1); got {factor!r}")
        if early_stop is not None and not callable(early_stop):
            raise NalmError(
                f"early_stop must be a function (index, history) → bool; got {early_stop!r}"
            )
        return cls(steps, eval_every, every, recover, float(factor), keep_losses, early_stop)


class Engine:
    """Trains S seeds of one model on their tasks (one per seed).

    Args:
        stack: the seeds' stacked weights (:class:`~nalm.train.stack.Stack`).
        optimizer: steps the stack (:class:`~nalm.train.stack.StackedAdam`, or for one seed a
            :class:`~nalm.train.stack.TorchOptimizer`).
        batches: the seeds' training batches.
        tasks, seeds: one task and one seed number per row of the stack.
        policy: the training policy.
        schedule: steps, evaluation, checkpoints, recovery, early stop.
    """

    def __init__(
        self,
        stack: Stack,
        optimizer: StackedAdam | TorchOptimizer,
        batches: Batches,
        tasks: Sequence[Task],
        seeds: Sequence[int],
        policy: Policy,
        schedule: Schedule,
    ) -> None:
        self.stack, self.optimizer, self.batches = stack, optimizer, batches
        self.policy, self.schedule = policy, schedule
        self.size = S = stack.size
        device = next(iter(stack.params.values())).device
        self.evaluation = _evaluation_sets(tasks, device)
        self.tracks = [Track(int(s)) for s in seeds]
        self.active = torch.ones(S, dtype=torch.bool, device=device)
        self.n_active = S
        self.last_loss = torch.full((S,), math.inf, device=device)
        self.loss_sum = torch.zeros(S, dtype=torch.float64, device=device)
        self.loss_count = torch.zeros(S, dtype=torch.int64, device=device)
        self.counted = 0
        self.ones = torch.ones(S, device=device)  # d(sum of the seeds' losses)/d(each loss)
        clipping = policy.clip_value is not None or policy.clip_norm is not None
        self.use_grads = optimizer.needs_grads or clipping
        self.pending: list[torch.Tensor] = []  # per-step losses not yet in the tracks
        self.stall = _Stall(policy, S)
        self.recoveries = [0] * S
        self.recovering: list[int] = []
        self.regularized = any(isinstance(m, Unit) for m in stack.probe.modules())
        self.snapshot: tuple[dict, tuple[dict, dict]] | None = None
        self.step, self.seconds, self.resumed_from = 0, 0.0, 0

    @classmethod
    def of(
        cls,
        models: list[nn.Module],
        tasks: Sequence[Task],
        seeds: Sequence[int],
        streams: Sequence[int] | int,
        *,
        batch_size: int | None,
        policy: Policy,
        schedule: Schedule,
        lr: float,
        device: torch.device,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
    ) -> Engine:
        """An engine for ``models`` (one per seed, built by the caller) with their batch
        ``streams`` (see :class:`~nalm.tasks.base.Batches`). One seed, or any ``optimizer``
        factory, steps with ``torch.optim``; several seeds with :class:`StackedAdam`."""
        stack = Stack.of(models, device)
        if optimizer is not None or len(models) == 1:
            make = optimizer or partial(torch.optim.Adam, betas=betas)
            stepper: StackedAdam | TorchOptimizer = TorchOptimizer(make, stack, lr)
        else:
            stepper = StackedAdam(stack, lr, betas)
        batches = Batches(tasks, streams, batch_size, device)
        return cls(stack, stepper, batches, tasks, seeds, policy, schedule)

    # --- the loop -------------------------------------------------------------------------

    def run(
        self,
        checkpoint: Callable[[], None] | None = None,
        progress: bool = False,
        description: str = "training",
    ) -> list[Track]:
        """Train from the current step to the last (or until no seed is active); call
        ``checkpoint()`` every ``checkpoint_every`` steps and at the end."""
        started = time.perf_counter()
        s = self.schedule
        self.stack.train(True)
        if self.step == 0 and not self.tracks[0].history:
            self.evaluate(0)
        if s.recover and self.n_active:
            self.take_snapshot()
        bar = tqdm(
            range(self.step + 1, s.steps + 1),
            desc=description,
            disable=not progress,
            leave=False,
            mininterval=1.0,
            initial=self.step,
            total=s.steps,
        )
        for t in bar:
            if not self.n_active:
                break
            self.train_step(t)
            self.step = t
            evaluated = t % s.eval_every == 0 or t == s.steps
            if evaluated:
                self.evaluate(t)
                self.stop_early(t)
                if progress:
                    bar.set_postfix(self.progress_line())
            if t % s.checkpoint_every == 0 or t == s.steps:
                self.check_parameters(t)
            if checkpoint is not None and (
                t % s.checkpoint_every == 0 or t == s.steps or not self.n_active
            ):
                self.seconds += time.perf_counter() - started
                started = time.perf_counter()
                self.flush()
                checkpoint()
        bar.close()
        self.seconds += time.perf_counter() - started
        return self.finish()

    def train_step(self, t: int) -> None:
        """One step for every active seed: batch, loss, backward, the policy's gradient rules,
        the optimiser, the units' projections, then the loss bookkeeping and the stall rule."""
        x, y, shared = self.batches.next()
        out = self.stack.call("output", x, shared)
        mse = (out - y).pow(2).flatten(1).mean(1)
        loss = self.objective(t, mse)
        live = self.live(t, loss)
        if live is None:  # every active seed recovers (or diverged) at this step
            self.record(mse.detach(), torch.zeros_like(self.active), everyone=False)
            self.restore()
            self.check_stall(t, mse)
            return
        everyone = self.n_live == self.size
        self.stack.zero_grad()
        if self.ones.dtype != loss.dtype:
            self.ones = torch.ones_like(loss)
        (loss if everyone else torch.where(live, loss, 0.0)).backward(self.ones)
        self.rest(t)
        grads = self.stack.grads() if self.use_grads else {}
        clip_gradients(self.policy, grads)
        self.optimizer.step(grads, live, everyone)
        self.stack.project()
        self.record(mse.detach(), live, everyone)
        if self.recovering:
            self.restore()
        self.check_stall(t, mse)

    def check_stall(self, t: int, mse: torch.Tensor) -> None:
        """The stall rule on this step's losses (a recovering seed's non-finite loss spoils its
        chunk's mean, so that chunk cannot count as a stall); restart the seeds that stalled."""
        if self.stall.rule is not None:
            for i in self.stall.update(t, mse.detach(), self.active):
                self.restart(i, t)

    # --- the policy's decisions, per seed -------------------------------------------------

    def objective(self, t: int, mse: torch.Tensor) -> torch.Tensor:
        """MSE plus λ(t) × the units' regularisers; with ``regularize_below``, only for the
        seeds whose previous training MSE is below it."""
        rule = self.policy
        lam = float(rule.regularizer(t)) if rule.regularizer is not None else 0.0
        if not lam or not self.regularized:
            return mse
        total = mse + lam * self.stack.call("regularization")
        if rule.regularize_below is None:
            return total
        return torch.where(self.last_loss < rule.regularize_below, total, mse)

    def live(self, t: int, loss: torch.Tensor) -> torch.Tensor | None:
        """The seeds that step now: active and with a finite loss. A seed whose loss is not
        finite recovers (when it may) or is frozen as diverged; ``None`` when none is live."""
        if self.size == 1 and self.n_active and math.isfinite(loss.item()):
            self.n_live = 1
            return self.active
        finite = torch.isfinite(loss.detach())
        if self.n_active == self.size and bool(finite.all()):
            self.n_live = self.size
            return self.active
        for i in (self.active & ~finite).nonzero().flatten().tolist():
            self.diverge(i, t)
        live = self.active & finite
        self.n_live = int(live.sum())
        return live if self.n_live else None

    def rest(self, t: int) -> None:
        """Alternating updates: drop the resting group's gradients (the optimisers skip a
        parameter without a gradient, so it keeps its value and its moments)."""
        gates_only = self.policy.updates_gates_only(t) if self.stack.gates else None
        if gates_only is not None:
            self.stack.drop_grads(lambda name: (name in self.stack.gates) != gates_only)

    def restart(self, i: int, t: int) -> None:
        """The stall rule fired for seed ``i``: new weights drawn from a seed derived from its
        own seed and restart count, fresh optimiser state."""
        track = self.tracks[i]
        self.stack.reinitialize(i, derived_seed("restart", track.seed, len(track.reinitialized_at)))
        self.optimizer.reset(i)
        track.reinitialized_at.append(t)

    def diverge(self, i: int, t: int, by: str = "loss") -> None:
        """Seed ``i``'s loss (or parameters) went non-finite at step ``t``: restore its last
        finite snapshot with a lower learning rate while it has recoveries left, else freeze it
        as diverged."""
        track = self.tracks[i]
        if self.recoveries[i] < self.schedule.recover and self.snapshot is not None:
            self.recoveries[i] += 1
            self.recovering.append(i)  # restored once this step's graph is done (``restore``)
            self.last_loss[i] = math.nan
            track.recovered_at.append(t)
            return
        track.diverged_at, track.diverged_by = t, by
        self.active[i] = False
        self.n_active -= 1

    def restore(self) -> None:
        """Restore the recovering seeds from the snapshot, each with a lower learning rate."""
        if not self.recovering:
            return
        weights, (opt_tensors, opt_plain) = self.snapshot  # type: ignore[misc]
        self.stack.load(weights, rows=self.recovering)
        self.optimizer.load(opt_tensors, opt_plain, rows=self.recovering)
        for i in self.recovering:
            self.optimizer.scale_lr(i, self.schedule.recover_factor)
        self.recovering = []

    @torch.no_grad()
    def check_parameters(self, t: int) -> None:
        """A seed whose parameters are no longer finite diverges; then, with recovery on, the
        finite state becomes the snapshot to recover to."""
        bad = (self.active & ~self.stack.finite()).nonzero().flatten().tolist()
        for i in bad:
            self.diverge(i, t, by="parameters")
        self.restore()
        if self.schedule.recover and self.n_active:
            self.take_snapshot()

    def take_snapshot(self) -> None:
        weights = {k: v.detach().clone() for k, v in self.stack.tensors().items()}
        self.snapshot = (weights, self.optimizer.state())

    def stop_early(self, t: int) -> None:
        rule = self.schedule.early_stop
        if rule is None or t == 0:
            return
        for i in self.active.nonzero().flatten().tolist():
            if rule(i, self.tracks[i].history):
                self.tracks[i].stopped_at = t
                self.active[i] = False
                self.n_active -= 1

    # --- what is recorded ----------------------------------------------------------------

    @torch.no_grad()
    def record(self, mse: torch.Tensor, live: torch.Tensor, everyone: bool) -> None:
        if everyone:
            self.loss_sum.add_(mse)
            self.counted += 1  # steps every seed took (kept apart from the tensor: cheaper)
        else:
            mse = torch.where(live, mse, math.nan)
            self.loss_sum.add_(torch.where(live, mse.double(), 0.0))
            self.loss_count.add_(live.long())
        if self.policy.regularize_below is not None:
            self.last_loss = torch.where(self.active, mse, self.last_loss)
        if self.schedule.keep_losses:
            self.pending.append(mse)
            if len(self.pending) >= 1024:  # bounded: a long run does not hold a tensor per step
                self.flush()

    def flush(self) -> None:
        """Move the per-step losses kept since the last flush into the tracks."""
        if not self.pending:
            return
        columns = torch.stack(self.pending, 1).double().cpu().tolist()
        for track, values in zip(self.tracks, columns, strict=True):
            track.train_loss.extend(values)
        self.pending = []

    @torch.no_grad()
    def evaluate(self, t: int) -> None:
        """A history row for every active seed (and the first row of every seed)."""
        self.stack.train(False)
        count = self.loss_count.double() + self.counted
        rows = {"train_loss": torch.where(count > 0, self.loss_sum / count, math.nan)}
        for name, (x, y, shared) in self.evaluation.items():
            rows[f"{name}_mse"] = (self.stack.call("output", x, shared) - y).pow(2).flatten(1)
            rows[f"{name}_mse"] = rows[f"{name}_mse"].mean(1)
        rows["sparsity_error"] = self.stack.call("weights")
        self.stack.train(True)
        self.loss_sum.zero_()
        self.loss_count.zero_()
        self.counted = 0
        values = {k: v.tolist() for k, v in rows.items()}
        flags = self.active.tolist()
        for i, track in enumerate(self.tracks):
            if flags[i] or not track.history:
                row = {k: float(v[i]) if v[i] == v[i] else math.nan for k, v in values.items()}
                track.history.append({"step": t, **row})
                track.steps = t

    def progress_line(self) -> dict[str, str]:
        losses = [tr.history[-1]["train_loss"] for tr in self.tracks if tr.history]
        finite = sorted(v for v in losses if math.isfinite(v))
        median = finite[len(finite) // 2] if finite else math.nan
        if self.size == 1:
            return {"loss": f"{median:.2e}"}
        return {"active": str(self.n_active), "median_loss": f"{median:.2e}"}

    def finish(self) -> list[Track]:
        self.flush()
        for track in self.tracks:
            if track.diverged_at is not None:  # a non-finite loss stopped the step it came in
                track.steps = track.diverged_at - (track.diverged_by != "parameters")
            elif track.stopped_at is not None:
                track.steps = track.stopped_at
            else:
                track.steps = self.step
            if self.schedule.keep_losses:
                del track.train_loss[track.steps :]
        return self.tracks

    # --- checkpoints ---------------------------------------------------------------------

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The whole state as tensors and JSON-ready metadata (see :mod:`.checkpoint`)."""
        self.flush()
        tensors = {f"stack.{k}": v.detach() for k, v in self.stack.tensors().items()}
        opt_tensors, opt_plain = self.optimizer.state()
        tensors.update({f"opt.{k}": v for k, v in opt_tensors.items()})
        tensors.update({f"rng.{i}": s for i, s in enumerate(self.batches.state())})
        tensors["active"] = self.active.to(torch.uint8)
        tensors["last_loss"] = self.last_loss
        tensors["loss_sum"] = self.loss_sum
        tensors["loss_count"] = self.loss_count + self.counted
        tensors["stall_sums"] = self.stall.sums
        columns = ["step", "train_loss", *(f"{n}_mse" for n in self.evaluation), "sparsity_error"]
        tracks = []
        for i, track in enumerate(self.tracks):
            table = [[row[c] for c in columns] for row in track.history]
            tensors[f"history.{i}"] = torch.tensor(table, dtype=torch.float64).reshape(
                len(table), len(columns)
            )
            if self.schedule.keep_losses:
                tensors[f"losses.{i}"] = torch.tensor(track.train_loss, dtype=torch.float64)
            tracks.append(
                {
                    "seed": track.seed,
                    "diverged_at": track.diverged_at,
                    "diverged_by": track.diverged_by,
                    "stopped_at": track.stopped_at,
                    "reinitialized_at": track.reinitialized_at,
                    "recovered_at": track.recovered_at,
                    "steps": track.steps,
                }
            )
        meta = {
            "step": self.step,
            "seconds": self.seconds,
            "columns": columns,
            "tracks": tracks,
            "recoveries": self.recoveries,
            "n_active": self.n_active,
            "stall": self.stall.meta(),
            "optimizer": opt_plain,
        }
        return tensors, meta

    @torch.no_grad()
    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Continue from a :meth:`state`."""
        self.stack.load(
            {k[len("stack.") :]: v for k, v in tensors.items() if k.startswith("stack.")}
        )
        opt = {k[len("opt.") :]: v for k, v in tensors.items() if k.startswith("opt.")}
        self.optimizer.load(opt, meta["optimizer"])
        self.batches.load_state([tensors[f"rng.{i}"] for i in range(len(self.batches.generators))])
        self.active.copy_(tensors["active"].bool())
        self.last_loss.copy_(tensors["last_loss"])
        self.loss_sum.copy_(tensors["loss_sum"])
        self.loss_count.copy_(tensors["loss_count"])
        self.counted = 0
        self.stall.load(tensors["stall_sums"], meta["stall"])
        columns = meta["columns"]
        for i, (track, saved) in enumerate(zip(self.tracks, meta["tracks"], strict=True)):
            track.__dict__.update(saved)
            track.history = [
                {c: (int(v) if c == "step" else v) for c, v in zip(columns, row, strict=True)}
                for row in tensors[f"history.{i}"].tolist()
            ]
            if self.schedule.keep_losses:
                track.train_loss = tensors[f"losses.{i}"].tolist()
        self.recoveries = list(meta["recoveries"])
        self.n_active = int(meta["n_active"])
        self.step = self.resumed_from = int(meta["step"])
        self.seconds = float(meta["seconds"])


class _Stall:
    """Per-seed chunk means of the training loss for the policy's stall rule (iNALU's)."""

    def __init__(self, policy: Policy, n: int) -> None:
        self.rule = policy.reinit
        self.started = [0] * n
        self.means: list[list[float]] = [[] for _ in range(n)]
        self.sums = torch.zeros(n, dtype=torch.float64)

    def update(self, t: int, losses: torch.Tensor, active: torch.Tensor) -> list[int]:
        """Add this step's losses; return the seeds that stalled at step ``t``."""
        if self.rule is None:
            return []
        self.sums += losses.double().cpu()
        due = [i for i, s in enumerate(self.started) if (t - s) % self.rule.chunk == 0]
        if not due:
            return []
        sums, flags = self.sums.tolist(), active.tolist()
        stalled = []
        for i in due:
            self.means[i] = [*self.means[i], sums[i] / self.rule.chunk][-2 * self.rule.half :]
            self.sums[i] = 0
            if flags[i] and self.rule.stalled_means(self.means[i]):
                stalled.append(i)
                self.started[i] = t
                self.means[i] = []
        return stalled

    def meta(self) -> dict[str, Any]:
        return {"started": self.started, "means": self.means}

    def load(self, sums: torch.Tensor, meta: dict[str, Any]) -> None:
        self.sums.copy_(sums)
        self.started, self.means = list(meta["started"]), [list(m) for m in meta["means"]]


def _evaluation_sets(
    tasks: Sequence[Task], device: torch.device
) -> dict[str, tuple[torch.Tensor, torch.Tensor, bool]]:
    """Per evaluation set: inputs (shared ``(N, …)`` when every task holds the same tensor, else
    ``(S, N, …)``), stacked targets ``(S, N, out)``, and whether the inputs are shared."""
    sets = {}
    for name in tasks[0].evaluation:
        xs = [t.evaluation[name][0] for t in tasks]
        shared = all(x is xs[0] for x in xs)
        x = xs[0] if shared else torch.stack(xs)
        y = torch.stack([t.evaluation[name][1] for t in tasks])
        sets[name] = (x.to(device), y.to(device), shared)
    return sets


def run_engines(
    engines: Mapping[str, Engine],
    labels: Mapping[str, str],
    settings: dict[str, Any],
    schedule: Schedule,
    checkpoint: str | Path | None,
    progress: bool,
) -> None:
    """Run ``engines`` one after the other. With ``checkpoint``, their states are written to one
    file every ``checkpoint_every`` steps, and a file written by the same settings is resumed."""
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise NalmError(f"checkpoint {str(checkpoint)!r} is a directory; give a file path")
    fingerprint = ckpt.fingerprint(
        {**settings, "schedule": asdict(replace(schedule, early_stop=None))}
    )
    save = None
    if checkpoint is not None:
        ckpt.restore_engines(Path(checkpoint), engines, fingerprint)
        save = lambda: ckpt.save_engines(Path(checkpoint), engines, fingerprint)  # noqa: E731
    for name, engine in engines.items():
        engine.run(save, progress, labels[name])


def check_training(
    tasks: Sequence[Task],
    seeds: Sequence[int],
    steps: int,
    eval_every: int,
    device: torch.device | str,
    batch_size: int | None,
    rates: Mapping[str, float],
    cohort: bool,
) -> tuple[torch.device, list[int]]:
    """Every argument of a training run checked before a model is moved, built or a batch drawn
    (``cohort``: the arguments of :func:`~nalm.train.fit_seeds`); returns the device and the
    seeds as torch takes them."""
    seeds = [check_seed(s, "every seed" if cohort else "seed") for s in seeds]
    for task in tasks:
        check_task(task, "every task" if cohort else "task")
    sizes = {(t.in_features, t.out_features) for t in tasks}
    if len(sizes) != 1 or len({tuple(t.evaluation) for t in tasks}) != 1:
        raise NalmError("the seeds' tasks must share input/output sizes and evaluation sets")
    parsed = check_run(steps, eval_every, device)
    n_in, many = tasks[0].in_features, {"seeds": len(seeds)} if cohort else {}
    fresh = [t for t in tasks if isinstance(t, GeneratedTask)]
    if batch_size is None and fresh:
        raise NalmError(
            f"batch_size=None trains on a fixed dataset's whole set, but {type(fresh[0]).__name__} "
            "draws fresh batches: give a batch size"
        )
    if batch_size is not None:
        check_size(batch_size, "batch_size")
        check_elements({**many, "batch_size": batch_size, "the task's inputs": n_in})
    for name, (x, _) in tasks[0].evaluation.items():
        shared = all(t.evaluation[name][0] is x for t in tasks)  # one (N, in) tensor for all
        width = (
            {"the task's outputs": tasks[0].out_features} if shared else {"the task's inputs": n_in}
        )
        check_elements({**many, f"{name} rows": len(x), **width})
    for name, lr in rates.items():
        check_number(lr, "lr" if len(rates) == 1 else f"lr of {name!r}", positive=True)
    for task in {id(t): t for t in tasks}.values():
        check_task_values(task)
    return parsed, seeds


def check_models(models: Mapping[str, nn.Module], task: Task) -> None:
    """Each model is a module with trainable parameters that takes the task's inputs and gives
    its outputs (a dry run on two evaluation rows)."""
    for name, m in models.items():
        check_model(m, name)
        check_model_fits_task(m, task, name)
        check_model_runs(m, task, name)
