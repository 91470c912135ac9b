"""What the engine holds per seed, behind one protocol, and the seeds' bookkeeping.

Every part of an :class:`~nalm.train.engine.Engine` that holds a row per seed — the stacked
weights (:class:`~nalm.train.stack.Stack`), the optimiser, the batches, the restart rule's
sums, the preconditioner and :class:`SeedBook` — offers the three methods of :class:`PerSeed`:
``select(rows)`` keeps only those rows (compaction), ``state()`` gives the part's tensors and
JSON-ready metadata (a checkpoint), and ``load_state(tensors, meta)`` takes them back. The
engine calls them in turn (``Engine.compact``, ``Engine.state_dict``,
``Engine.load_state_dict``), so a new per-seed tensor is added in the one part that holds it.

Example:
    >>> import torch
    >>> book = SeedBook([7, 8, 9], torch.device("cpu"), ["step", "train_loss"])
    >>> book.active[1] = False
    >>> book.select([0, 2])
    >>> [t.seed for t in book.tracks], book.rows, book.active.tolist()
    ([7, 9], [0, 2], [True, True])
    >>> tensors, meta = book.state()
    >>> sorted(tensors)[:3], meta["rows"]
    (['active', 'history.0', 'history.1'], [0, 2])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from .records import Track

if TYPE_CHECKING:
    from ..tasks.base import Task

Tensors = dict[str, torch.Tensor]


class PerSeed(Protocol):
    """A part of the engine with a row per seed."""

    def select(self, rows: list[int]) -> None:
        """Keep only the seeds at ``rows`` (in that order)."""

    def state(self) -> tuple[Tensors, dict[str, Any]]:
        """The part's tensors and JSON-ready metadata, for a checkpoint."""

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Continue from what :meth:`state` gave."""


class SeedBook:
    """The seeds' bookkeeping: each seed's :class:`~nalm.train.records.Track`, which seeds still
    train, the training losses since the last evaluation, recoveries used, and the final weights
    of the seeds that left the batched computation.

    ``tracks`` are the rows the engine computes; ``all_tracks`` every seed it began with
    (``rows[r]`` is row ``r``'s place there, ``dropped`` the final weights of the others).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        device: torch.device,
        columns: Sequence[str],
        keep_losses: bool = False,
    ) -> None:
        S = len(seeds)
        self.columns, self.keep_losses = list(columns), keep_losses
        self.tracks = self.all_tracks = [Track(int(s)) for s in seeds]
        self.rows = list(range(S))
        self.dropped: dict[int, Tensors] = {}
        self.active, self.n_active = torch.ones(S, dtype=torch.bool, device=device), S
        self.last_loss = torch.full((S,), math.inf, device=device)  # the regulariser's gate
        self.loss_sum = torch.zeros(S, dtype=torch.float64, device=device)
        self.loss_count = torch.zeros(S, dtype=torch.int64, device=device)
        self.counted = 0  # steps every seed took, kept apart from loss_count (cheaper)
        self.ones = torch.ones(S, device=device)  # d(sum of the seeds' losses)/d(each loss)
        self.recoveries = [0] * S
        self.pending: list[torch.Tensor] = []  # per-step losses not yet in the tracks

    def stop(self, i: int) -> None:
        """Row ``i`` no longer trains (stopped early or diverged)."""
        self.active[i] = False
        self.n_active -= 1

    @torch.no_grad()
    def record(self, mse: torch.Tensor, live: torch.Tensor, everyone: bool, gate: bool) -> None:
        """This step's training losses (``gate``: keep each active seed's last one)."""
        if everyone:
            self.loss_sum.add_(mse)
            self.counted += 1
        else:
            mse = torch.where(live, mse, math.nan)
            self.loss_sum.add_(torch.where(live, mse.double(), 0.0))
            self.loss_count.add_(live.long())
        if gate:
            self.last_loss = torch.where(self.active, mse, self.last_loss)
        if self.keep_losses:
            self.pending.append(mse)
            if len(self.pending) >= 1024:  # bounded: a long run does not hold a tensor per step
                self.flush()

    def progress_line(self, size: int) -> dict[str, str]:
        """The progress bar's figures: the median of the last training losses."""
        losses = [tr.history[-1]["train_loss"] for tr in self.tracks if tr.history]
        finite = sorted(v for v in losses if math.isfinite(v))
        median = finite[len(finite) // 2] if finite else math.nan
        if size == 1:
            return {"loss": f"{median:.2e}"}
        return {"active": str(self.n_active), "median_loss": f"{median:.2e}"}

    def train_loss(self) -> torch.Tensor:
        """Each row's mean training MSE since the last call (NaN where it took no step)."""
        count = self.loss_count.double() + self.counted
        mean = torch.where(count > 0, self.loss_sum / count, math.nan)
        self.loss_sum.zero_()
        self.loss_count.zero_()
        self.counted = 0
        return mean

    def flush(self) -> None:
        """Move the per-step losses kept since the last flush into the tracks."""
        if not self.pending:
            return
        columns = torch.stack(self.pending, 1).double().cpu().tolist()
        for track, values in zip(self.tracks, columns, strict=True):
            track.train_loss.extend(values)
        self.pending = []

    def finish(self, step: int) -> list[Track]:
        """Every seed's track, its ``steps`` set from how it ended."""
        self.flush()
        for track in self.all_tracks:
            if track.diverged_at is not None:  # a non-finite loss stopped the step it came in
                track.steps = track.diverged_at - (track.diverged_by != "parameters")
            elif track.stopped_at is not None:
                track.steps = track.stopped_at
            else:
                track.steps = step
            if self.keep_losses:
                del track.train_loss[track.steps :]
        return self.all_tracks

    # --- the PerSeed protocol ------------------------------------------------------------------

    def select(self, rows: list[int]) -> None:
        self.flush()
        index = torch.tensor(rows, device=self.active.device)
        self.tracks = [self.tracks[i] for i in rows]
        self.rows = [self.rows[i] for i in rows]
        self.recoveries = [self.recoveries[i] for i in rows]
        for name in ("active", "last_loss", "loss_sum", "loss_count", "ones"):
            setattr(self, name, getattr(self, name)[index])
        self.n_active = int(self.active.sum())

    def state(self) -> tuple[Tensors, dict[str, Any]]:
        self.flush()
        tensors = {
            "active": self.active.to(torch.uint8),
            "last_loss": self.last_loss,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count + self.counted,
        }
        for index, weights in self.dropped.items():
            tensors.update({f"dropped.{index}.{k}": v for k, v in weights.items()})
        tracks = []
        for i, track in enumerate(self.all_tracks):
            table = [[row[c] for c in self.columns] for row in track.history]
            shape = (len(table), len(self.columns))
            tensors[f"history.{i}"] = torch.tensor(table, dtype=torch.float64).reshape(shape)
            if self.keep_losses:
                tensors[f"losses.{i}"] = torch.tensor(track.train_loss, dtype=torch.float64)
            tracks.append({k: getattr(track, k) for k in _TRACKED})
        meta = {
            "columns": self.columns,
            "tracks": tracks,
            "recoveries": self.recoveries,
            "n_active": self.n_active,
            "rows": self.rows,
        }
        return tensors, meta

    @torch.no_grad()
    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        for index, weights in self.dropped.items():
            for k in weights:
                weights[k] = tensors[f"dropped.{index}.{k}"]
        self.active.copy_(tensors["active"].bool())
        self.last_loss.copy_(tensors["last_loss"])
        self.loss_sum.copy_(tensors["loss_sum"])
        self.loss_count.copy_(tensors["loss_count"])
        self.counted = 0
        columns = meta["columns"]
        for i, (track, saved) in enumerate(zip(self.all_tracks, meta["tracks"], strict=True)):
            track.__dict__.update(saved)
            track.history = [
                {c: (int(v) if c == "step" else v) for c, v in zip(columns, row, strict=True)}
                for row in tensors[f"history.{i}"].tolist()
            ]
            if self.keep_losses:
                track.train_loss = tensors[f"losses.{i}"].tolist()
        self.recoveries = list(meta["recoveries"])
        self.n_active = int(meta["n_active"])


class Evaluation:
    """The evaluation sets of S seeds' tasks: per set, the inputs (shared ``(N, …)`` when every
    task holds the same tensor, else ``(S, N, …)``), the stacked targets ``(S, N, out)`` and
    whether the inputs are shared. Its rows are per seed; it keeps no state of its own (the
    tasks give it again)."""

    def __init__(self, tasks: Sequence[Task], device: torch.device) -> None:
        self.sets: dict[str, tuple[torch.Tensor, torch.Tensor, bool]] = {}
        for name in tasks[0].evaluation:
            xs = [t.evaluation[name][0] for t in tasks]
            shared = all(x is xs[0] for x in xs)
            x = xs[0] if shared else torch.stack(xs)
            y = torch.stack([t.evaluation[name][1] for t in tasks])
            self.sets[name] = (x.to(device), y.to(device), shared)

    def select(self, rows: list[int]) -> None:
        index = torch.tensor(rows, device=next(iter(self.sets.values()))[1].device)
        self.sets = {
            name: (x if shared else x[index], y[index], shared)
            for name, (x, y, shared) in self.sets.items()
        }

    def state(self) -> tuple[Tensors, dict[str, Any]]:
        return {}, {}

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        pass


# a track's values kept as metadata (its history and losses are tensors), in the files' order
_TRACKED = ("seed", "diverged_at", "diverged_by", "stopped_at", "reinitialized_at")
_TRACKED += ("recovered_at", "steps")
