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
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn
from tqdm.auto import tqdm

from ..tasks.base import Batches, Task
from . import watch
from .compaction import compact
from .optimizers import StackedAdam, TorchOptimizer
from .policies import Policy, clip_gradients
from .precondition import InputPreconditioner, check_shared, first_weight
from .records import Schedule, StallTracker, Track
from .stack import Stack, derived_seed, unit_factors


class Engine:
    """Trains S seeds of one model on their tasks (one per seed).

    Args:
        stack: the seeds' stacked weights (:class:`~nalm.train.stack.Stack`).
        optimizer: steps the stack (:class:`~nalm.train.optimizers.StackedAdam`, or for one seed
            or another optimiser a :class:`~nalm.train.optimizers.TorchOptimizer`).
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
        self.policy, self.schedule, self.label = policy, schedule, "training"
        self.size = S = stack.size
        device = next(iter(stack.params.values())).device
        self.evaluation = _evaluation_sets(tasks, device)
        self.tracks = self.all_tracks = [Track(int(s)) for s in seeds]
        self.rows = list(range(S))  # each row's place in all_tracks (see compaction)
        self.dropped: dict[int, dict[str, torch.Tensor]] = {}  # compacted seeds' final weights
        self.active, self.n_active = torch.ones(S, dtype=torch.bool, device=device), S
        self.last_loss = torch.full((S,), math.inf, device=device)
        self.loss_sum = torch.zeros(S, dtype=torch.float64, device=device)
        self.loss_count, self.counted = torch.zeros(S, dtype=torch.int64, device=device), 0
        self.ones = torch.ones(S, device=device)  # d(sum of the seeds' losses)/d(each loss)
        clipping = policy.clip_value is not None or policy.clip_norm is not None
        self.preconditioner = None
        if policy.precondition is not None:
            check_shared(policy.name, S, batches.shared)
            inputs = self.evaluation[next(iter(self.evaluation))][0].shape[-1]
            name = first_weight(stack.probe, list(stack.leaves), inputs)
            self.preconditioner = InputPreconditioner(policy.precondition, name)
        self.use_grads = optimizer.needs_grads or clipping or self.preconditioner is not None
        self.pending: list[torch.Tensor] = []  # per-step losses not yet in the tracks
        self.stall = StallTracker(policy, S, schedule.steps)
        self.recoveries, self.recovering = [0] * S, []
        if policy.branch_per_try:  # every seed's first try trains each branch layer's first branch
            stack.choose_branches(0, list(range(S)))
        self.unit_lambda = unit_factors(policy, stack.probe.model, device)  # λ's factor per unit
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
        started, self.label = time.perf_counter(), description
        written = -math.inf  # when the checkpoint was last written
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
                if s.compact and self.optimizer.selects and 0 < self.n_active < self.size:
                    compact(self)
                if progress:
                    bar.set_postfix(self.progress_line())
            if t % s.checkpoint_every == 0 or t == s.steps:
                self.check_parameters(t)
            if checkpoint is not None and (
                t == s.steps
                or not self.n_active
                or (
                    t % s.checkpoint_every == 0
                    and time.perf_counter() - written >= s.checkpoint_seconds
                )
            ):
                self.seconds += time.perf_counter() - started
                started = written = time.perf_counter()
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
            if self.stall.rule is not None:
                self.check_stall(t, mse)
            return
        everyone = self.n_live == self.size
        self.stack.zero_grad()
        if self.ones.dtype != loss.dtype:
            self.ones = torch.ones_like(loss)
        (loss if everyone else torch.where(live, loss, 0.0)).backward(self.ones)
        self.rest(t)
        grads = self.stack.grads() if self.use_grads else {}
        if self.preconditioner is not None:
            self.preconditioner.update(t, x, grads)
        clip_gradients(self.policy, grads)
        decay = self.stall.scheduled(self.policy.lr_decay, t, self.optimizer.lr, 1.0, "lr_decay")
        self.optimizer.step(grads, live, everyone, decay)
        self.stack.project()
        self.record(mse.detach(), live, everyone)
        if self.recovering:
            self.restore()
        if self.stall.rule is not None:  # a policy with a stall rule (iNALU's)
            self.check_stall(t, mse)

    def check_stall(self, t: int, mse: torch.Tensor) -> None:
        """The stall rule on this step's losses (a recovering seed's non-finite loss spoils its
        chunk's mean, so that chunk cannot count as a stall); restart the seeds that stalled."""
        for i in self.stall.update(t, mse.detach(), self.active):
            self.restart(i, t)

    # --- the policy's decisions, per seed -------------------------------------------------

    def objective(self, t: int, mse: torch.Tensor) -> torch.Tensor:
        """MSE plus λ(t) × the units' regularisers; with ``regularize_below``, only for the
        seeds whose previous training MSE is below it."""
        rule = self.policy
        lam = self.stall.scheduled(rule.regularizer, t, mse, 0.0, "regularizer")  # per seed
        if not len(self.unit_lambda) or (not torch.is_tensor(lam) and not lam):
            return mse  # no unit to regularise, or λ = 0
        terms = self.stack.call("regularization")  # (S, units)
        total = mse + lam * (terms @ self.unit_lambda.to(terms.dtype))
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
        track, tries = self.tracks[i], len(self.tracks[i].reinitialized_at)
        branch = tries + 1 if self.policy.branch_per_try else None  # the next try's branch
        self.stack.reinitialize(i, derived_seed("restart", track.seed, tries), branch)
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
            if rule(self.rows[i], self.tracks[i].history):
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
        rows["sparsity_error"] = self.stack.call("sparsity_error")
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
                watch.evaluated(self.label, len(self.all_tracks), track.seed, track.history[-1])

    def weights(self, index: int) -> dict[str, torch.Tensor]:
        """The parameters and buffers of the seed at ``index`` of :attr:`all_tracks` (CPU)."""
        if index in self.dropped:
            return self.dropped[index]
        return self.stack.weights(self.rows.index(index))

    def progress_line(self) -> dict[str, str]:
        losses = [tr.history[-1]["train_loss"] for tr in self.tracks if tr.history]
        finite = sorted(v for v in losses if math.isfinite(v))
        median = finite[len(finite) // 2] if finite else math.nan
        if self.size == 1:
            return {"loss": f"{median:.2e}"}
        return {"active": str(self.n_active), "median_loss": f"{median:.2e}"}

    def finish(self) -> list[Track]:
        self.flush()
        for track in self.all_tracks:
            if track.diverged_at is not None:  # a non-finite loss stopped the step it came in
                track.steps = track.diverged_at - (track.diverged_by != "parameters")
            elif track.stopped_at is not None:
                track.steps = track.stopped_at
            else:
                track.steps = self.step
            if self.schedule.keep_losses:
                del track.train_loss[track.steps :]
        return self.all_tracks


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
