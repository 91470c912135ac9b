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
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..tasks.base import Task
from . import watch
from .batches import Batch, Batches
from .optimizers import StackedAdam, TorchOptimizer, clip_gradients
from .policies import Policy
from .precondition import InputPreconditioner, preconditioned
from .records import Cadence, RestartTracker, Track
from .seeds import Evaluation, PerSeed, SeedBook
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
        schedule: Cadence,
    ) -> None:
        self.stack, self.optimizer, self.batches = stack, optimizer, batches
        self.policy, self.schedule, self.label = policy, schedule, "training"
        self.size = S = stack.size
        device = next(iter(stack.params.values())).device
        self.evaluation = Evaluation(tasks, device)
        columns = ["step", "train_loss", *(f"{n}_mse" for n in self.evaluation.sets)]
        columns.append("sparsity_error")
        self.book = SeedBook(seeds, device, columns, schedule.keep_losses)
        clipping = policy.clip_value is not None or policy.clip_norm is not None
        self.preconditioner = None
        inputs = next(iter(self.evaluation.sets.values()))[0].shape[-1]
        name = preconditioned(policy, stack.probe, list(stack.leaves), inputs, S, batches.shared)
        if name is not None:
            self.preconditioner = InputPreconditioner(policy.precondition, name)
        self.use_grads = optimizer.needs_grads or clipping or self.preconditioner is not None
        self.restarts = RestartTracker(policy, S, schedule.steps)
        self.recovering: list[int] = []
        if policy.branch_per_try:  # every seed's first try trains each branch layer's first branch
            stack.choose_branches(0, list(range(S)))
        self.gate = policy.regularize_below is not None  # keep each seed's last loss
        self.unit_lambda = unit_factors(policy, stack.probe.model, device)  # λ's factor per unit
        self.snapshot: tuple[dict, tuple[dict, dict]] | None = None
        self.step, self.seconds, self.resumed_from = 0, 0.0, 0
        self.compiled: Callable[[int], None] | None = None  # nalm.train.compiled.choose
        self.choice = "eager step"  # which step trains, in a line

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
        schedule: Cadence,
        lr: float,
        device: torch.device,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
    ) -> Engine:
        """An engine for ``models`` (one per seed, built by the caller) with their batch
        ``streams`` (see :class:`~nalm.train.batches.Batches`). One seed, or any ``optimizer``
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
        book = self.book
        if self.step == 0 and not book.tracks[0].history:
            self.evaluate(0)
        if s.recover and book.n_active:
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
            if not book.n_active:
                break
            self.train_step(t)
            self.step = t
            evaluated = t % s.eval_every == 0 or t == s.steps
            if evaluated:
                self.evaluate(t)
                self.stop_early(t)
                if s.compact and self.optimizer.selects and 0 < book.n_active < self.size:
                    self.compact()
                if progress:
                    bar.set_postfix(book.progress_line(self.size))
            if t % s.checkpoint_every == 0 or t == s.steps:
                self.check_parameters(t)
            if checkpoint is not None and (
                t == s.steps
                or not book.n_active
                or (
                    t % s.checkpoint_every == 0
                    and time.perf_counter() - written >= s.checkpoint_seconds
                )
            ):
                self.seconds += time.perf_counter() - started
                started = written = time.perf_counter()
                checkpoint()
        bar.close()
        self.seconds += time.perf_counter() - started
        return self.finish()

    def train_step(self, t: int, batch: Batch | None = None) -> None:
        """One step for every active seed: batch, loss, backward, the policy's gradient rules,
        the optimiser, the units' projections, then the loss bookkeeping and the stall rule (or
        the compiled step, :mod:`~nalm.train.compiled`; ``batch``: one drawn already)."""
        if self.compiled is not None and batch is None:
            return self.compiled(t)
        x, y, shared = self.batches.next() if batch is None else batch
        out = self.stack.call("output", x, shared)
        mse = (out - y).pow(2).flatten(1).mean(1)
        loss = self.objective(t, mse)
        live = self.live(t, loss)
        if live is None:  # every active seed recovers (or diverged) at this step
            self.book.record(mse.detach(), torch.zeros_like(self.book.active), False, self.gate)
            self.restore()
            if self.restarts.rule is not None:
                self.check_stall(t, mse)
            return
        everyone = self.n_live == self.size
        self.stack.zero_grad()
        if self.book.ones.dtype != loss.dtype:
            self.book.ones = torch.ones_like(loss)
        (loss if everyone else torch.where(live, loss, 0.0)).backward(self.book.ones)
        self.rest(t)
        grads = self.stack.grads() if self.use_grads else {}
        if self.preconditioner is not None:
            self.preconditioner.update(t, x, grads)
        clip_gradients(self.policy, grads)
        decay = self.restarts.scheduled(self.policy.lr_decay, t, self.optimizer.lr, 1.0, "lr_decay")
        self.optimizer.step(grads, live, everyone, decay)
        self.stack.project()
        self.book.record(mse.detach(), live, everyone, self.gate)
        if self.recovering:
            self.restore()
        if self.restarts.rule is not None:  # a policy with a stall rule (iNALU's)
            self.check_stall(t, mse)

    def check_stall(self, t: int, mse: torch.Tensor) -> None:
        """The stall rule on this step's losses (a recovering seed's non-finite loss spoils its
        chunk's mean, so that chunk cannot count as a stall); restart the seeds that stalled."""
        for i in self.restarts.update(t, mse.detach(), self.book.active):
            self.restart(i, t)

    # --- the policy's decisions, per seed -------------------------------------------------

    def objective(self, t: int, mse: torch.Tensor) -> torch.Tensor:
        """MSE plus λ(t) × the units' regularisers; with ``regularize_below``, only for the
        seeds whose previous training MSE is below it."""
        rule = self.policy
        lam = self.restarts.scheduled(rule.regularizer, t, mse, 0.0, "regularizer")  # per seed
        if not len(self.unit_lambda) or (not torch.is_tensor(lam) and not lam):
            return mse  # no unit to regularise, or λ = 0
        terms = self.stack.call("regularization")  # (S, units)
        total = mse + lam * (terms @ self.unit_lambda.to(terms.dtype))
        if rule.regularize_below is None:
            return total
        return torch.where(self.book.last_loss < rule.regularize_below, total, mse)

    def live(self, t: int, loss: torch.Tensor) -> torch.Tensor | None:
        """The seeds that step now: active and with a finite loss. A seed whose loss is not
        finite recovers (when it may) or is frozen as diverged; ``None`` when none is live."""
        active = self.book.active
        if self.size == 1 and self.book.n_active and math.isfinite(loss.item()):
            self.n_live = 1
            return active
        finite = torch.isfinite(loss.detach())
        if self.book.n_active == self.size and bool(finite.all()):
            self.n_live = self.size
            return active
        for i in (active & ~finite).nonzero().flatten().tolist():
            self.diverge(i, t)
        live = self.book.active & finite
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
        track = self.book.tracks[i]
        tries = len(track.reinitialized_at)
        branch = tries + 1 if self.policy.branch_per_try else None  # the next try's branch
        self.stack.reinitialize(i, derived_seed("restart", track.seed, tries), branch)
        self.optimizer.reset(i)
        track.reinitialized_at.append(t)

    def diverge(self, i: int, t: int, by: str = "loss") -> None:
        """Seed ``i``'s loss (or parameters) went non-finite at step ``t``: restore its last
        finite snapshot with a lower learning rate while it has recoveries left, else freeze it
        as diverged."""
        book, track = self.book, self.book.tracks[i]
        if book.recoveries[i] < self.schedule.recover and self.snapshot is not None:
            book.recoveries[i] += 1
            self.recovering.append(i)  # restored once this step's graph is done (``restore``)
            book.last_loss[i] = math.nan
            track.recovered_at.append(t)
            return
        track.diverged_at, track.diverged_by = t, by
        book.stop(i)

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
        bad = (self.book.active & ~self.stack.finite()).nonzero().flatten().tolist()
        for i in bad:
            self.diverge(i, t, by="parameters")
        self.restore()
        if self.schedule.recover and self.book.n_active:
            self.take_snapshot()

    def take_snapshot(self) -> None:
        weights = {k: v.detach().clone() for k, v in self.stack.tensors().items()}
        self.snapshot = (weights, self.optimizer.state())

    def stop_early(self, t: int) -> None:
        rule = self.schedule.early_stop
        if rule is None or t == 0:
            return
        book = self.book
        for i in book.active.nonzero().flatten().tolist():
            if rule(book.rows[i], book.tracks[i].history):
                book.tracks[i].stopped_at = t
                book.stop(i)

    # --- what is recorded ----------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, t: int) -> None:
        """A history row for every active seed (and the first row of every seed)."""
        self.stack.train(False)
        book = self.book
        rows = {"train_loss": book.train_loss()}
        for name, (x, y, shared) in self.evaluation.sets.items():
            rows[f"{name}_mse"] = (self.stack.call("output", x, shared) - y).pow(2).flatten(1)
            rows[f"{name}_mse"] = rows[f"{name}_mse"].mean(1)
        rows["sparsity_error"] = self.stack.call("sparsity_error")
        self.stack.train(True)
        values = {k: v.tolist() for k, v in rows.items()}
        flags = book.active.tolist()
        for i, track in enumerate(book.tracks):
            if flags[i] or not track.history:
                row = {k: float(v[i]) if v[i] == v[i] else math.nan for k, v in values.items()}
                track.history.append({"step": t, **row})
                track.steps = t
                watch.evaluated(self.label, len(book.all_tracks), track.seed, track.history[-1])

    def weights(self, index: int) -> dict[str, torch.Tensor]:
        """The parameters and buffers of the seed at ``index`` of :attr:`all_tracks` (CPU)."""
        if index in self.book.dropped:
            return self.book.dropped[index]
        return self.stack.weights(self.book.rows.index(index))

    def finish(self) -> list[Track]:
        return self.book.finish(self.step)

    # --- the seeds' state: compaction and checkpoints --------------------------------------

    def parts(self) -> dict[str, PerSeed]:
        """The parts that hold a row per seed, by the prefix of their tensors in a checkpoint
        (the stack first: the optimiser takes up its new leaves)."""
        parts: dict[str, PerSeed] = {"stack.": self.stack, "opt.": self.optimizer}
        parts.update({"rng.": self.batches, "stall_": self.restarts, "": self.book})
        parts["evaluation."] = self.evaluation  # no state: built again from the tasks
        if self.preconditioner is not None:
            parts["precondition."] = self.preconditioner
        return parts

    @torch.no_grad()
    def compact(self, keep: Sequence[int] | None = None) -> None:
        """Keep only the rows ``keep`` (default: the active ones) of every per-seed part, so
        the seeds still training run as a smaller batched computation; a dropped seed's final
        weights stay in :attr:`book` (``dropped``)."""
        rows = self.book.active.nonzero().flatten().tolist() if keep is None else list(keep)
        if not rows or len(rows) == self.size:
            return
        for r in set(range(self.size)) - set(rows):
            self.book.dropped[self.book.rows[r]] = self.stack.weights(r)
        for part in self.parts().values():
            part.select(rows)
        index = torch.tensor(rows, device=self.book.active.device)
        if self.snapshot is not None:
            weights, (state, plain) = self.snapshot
            chosen = {k: v[index] for k, v in state.items()}
            self.snapshot = ({k: v[index] for k, v in weights.items()}, (chosen, plain))
        self.size = len(rows)

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The engine's whole state: every part's tensors under its prefix, and metadata."""
        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, Any] = {"step": self.step, "seconds": self.seconds}
        for prefix, part in self.parts().items():
            part_tensors, part_meta = part.state()
            tensors.update({prefix + k: v.detach() for k, v in part_tensors.items()})
            meta.update({_META[prefix]: part_meta} if prefix in _META else part_meta)
        order = [*_ORDER, *meta]  # the checkpoint files' order of keys, then any new one
        return tensors, {k: meta[k] for k in dict.fromkeys(order) if k in meta}

    @torch.no_grad()
    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (first compacted to the rows it had kept)."""
        rows = meta.get("rows")  # absent in checkpoints from before compaction: every row
        if rows is not None and len(rows) < self.size:
            self.compact(rows)
        for prefix, part in self.parts().items():
            mine = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            part.load_state(mine, meta.get(_META[prefix], {}) if prefix in _META else meta)
        self.step = self.resumed_from = int(meta["step"])
        self.seconds = float(meta["seconds"])


# the parts whose metadata a checkpoint keeps under a key of its own (the others' is at the top)
_META = {"opt.": "optimizer", "stall_": "stall"}
_ORDER = ("step", "seconds", "columns", "tracks", "recoveries", "n_active", "rows", "stall")
