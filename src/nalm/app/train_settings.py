"""What ``nalm train`` trains: the flags of the command and their defaults (:class:`TrainFlags`,
the fields of :class:`nalm.app.training.TrainSettings`) and the seed code's demos
(:data:`SEED_PRESETS`, ``--preset``), kept apart from the training itself
(:mod:`nalm.app.training`, :mod:`nalm.app.presets`) so that the command's parser is built without
importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..tasks import DatasetTask


@dataclass(frozen=True)
class SeedPreset:
    """One of the seed code's demos: the unit, the optimiser settings and the data (``data``:
    the name of its data set in :mod:`nalm.tasks.seed_demos`)."""

    unit: str
    lr: float
    steps: int
    data: str
    summary: str

    def task(self, seed: int) -> DatasetTask:
        """The demo's data set, drawn with ``seed``."""
        from ..tasks import seed_demos

        return getattr(seed_demos, self.data)(seed=seed)


SEED_PRESETS: dict[str, SeedPreset] = {
    "seed-nac-add": SeedPreset(
        "nac", 0.05, 22_000, "nac_add", "NAC learns x0 + x1 (the seed's x1 + x2)"
    ),
    "seed-nac-mul": SeedPreset("nac_mul", 0.5, 36_000, "nac_mul", "complex NAC learns x0 · x1"),
    "seed-nalu": SeedPreset(
        "nalu",
        0.005,
        30_000,
        "nalu",
        "NALU learns x0/4 + x1/2 + x2² (the seed's x1/4 + x2/2 + x3²)",
    ),
}
"""The seed code's demos by ``--preset`` name."""


@dataclass(frozen=True)
class TrainFlags:
    """The fields of :class:`nalm.app.training.TrainSettings`: each is the ``nalm train`` flag of
    the same name and its default (here, apart from the training, so that the command's parser
    is built without importing torch).

    Attributes:
        unit: model spec (a unit name, ``FIRST>SECOND`` or a paper name); ``layers`` repeats a
            single unit.
        target: the formula over ``x0, x1, ...``.
        train_range, test_range: interpolation and extrapolation ranges (``"1,2"``,
            ``"-6,-2|2,6"``).
        inputs: number of inputs (``None``: what the target uses).
        layers, hidden: units stacked and the width between them.
        options: unit options as ``(key, value)`` pairs (the later of a repeated key wins).
        seed_init: build the units with their seed preset.
        steps, lr, batch_size, eval_every, eval_size: training of the unit model.
        baseline: ``"mlp"`` to train an MLP beside it, ``"none"`` not to.
        baseline_hidden, baseline_activation, baseline_lr: the MLP.
        policy: a policy name, or ``"auto"`` for the one the unit's paper used.
        ramp: ``"[LAMBDA,]START,END"`` replacing the policy's regulariser ramp.
        clip_value, clip_norm: gradient clipping replacing the policy's.
        checkpoint_every: steps between checkpoints (and recovery snapshots).
        recover: times a non-finite loss goes back to the last snapshot with a 10x lower rate.
        seed: random seed of the models, the batches and the evaluation sets.

    Example:
        >>> TrainFlags(unit="nau", target="x0 + x1").steps
        20000
    """

    unit: str = "nalu"
    target: str = "x0 * x1"
    train_range: str = "1,2"
    test_range: str = "2,6"
    inputs: int | None = None
    layers: int = 1
    hidden: int = 2
    options: tuple[tuple[str, Any], ...] = ()
    seed_init: bool = False
    steps: int = 20_000
    lr: float = 0.05
    batch_size: int = 128
    eval_every: int = 1000
    eval_size: int = 10_000
    baseline: str = "mlp"
    baseline_hidden: tuple[int, ...] = (64, 64)
    baseline_activation: str = "relu6"
    baseline_lr: float = 1e-3
    policy: str = "auto"
    ramp: str | None = None
    clip_value: float | None = None
    clip_norm: float | None = None
    checkpoint_every: int = 1000
    recover: int = 0
    seed: int = 0
