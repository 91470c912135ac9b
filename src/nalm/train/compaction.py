"""Seeds that stop training leave the batched computation.

A seed that has been early-stopped or has diverged is frozen: computing it every step and
masking its update would cost as much as training it. :func:`compact` removes such rows from
everything the engine holds per row (the stacked weights, the optimiser's state, the batches'
streams and targets, the evaluation targets, the bookkeeping) so the remaining seeds run as a
smaller batched computation. Their arithmetic does not change beyond float rounding (a batched
product over fewer rows may add in another order). Every seed's :class:`~nalm.train.records.Track`
stays in ``engine.all_tracks``; ``engine.rows`` maps each row to its place there, and a dropped
seed's final weights are kept in ``engine.dropped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .engine import Engine


@torch.no_grad()
def compact(engine: Engine, keep: Sequence[int] | None = None) -> None:
    """Keep only the rows ``keep`` of ``engine`` (default: its active rows)."""
    if keep is None:
        keep = engine.active.nonzero().flatten().tolist()
    keep = list(keep)
    if not keep or len(keep) == engine.size:
        return
    engine.flush()
    kept = set(keep)
    for r in range(engine.size):  # a dropped seed's final weights stay with the engine
        if r not in kept:
            engine.dropped[engine.rows[r]] = engine.stack.weights(r)
    rows = torch.tensor(keep, device=engine.active.device)
    engine.stack.select(rows)
    engine.optimizer.select(rows, engine.stack.params)
    engine.batches.select(keep)
    engine.evaluation = {
        name: (x if shared else x[rows], y[rows], shared)
        for name, (x, y, shared) in engine.evaluation.items()
    }
    engine.tracks = [engine.tracks[i] for i in keep]
    engine.rows = [engine.rows[i] for i in keep]
    engine.recoveries = [engine.recoveries[i] for i in keep]
    for name in ("active", "last_loss", "loss_sum", "loss_count", "ones"):
        setattr(engine, name, getattr(engine, name)[rows])
    engine.stall.select(keep)
    if engine.snapshot is not None:
        weights, (state, plain) = engine.snapshot
        chosen = {k: v[rows] for k, v in weights.items()}
        engine.snapshot = (chosen, ({k: v[rows] for k, v in state.items()}, plain))
    engine.size = len(keep)
    engine.n_active = int(engine.active.sum())
