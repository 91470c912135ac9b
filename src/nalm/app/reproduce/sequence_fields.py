"""The fields of a sequence experiment's settings, apart from the workflow
(:mod:`.sequences`), so that its models and its report name their type without importing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SequenceFields:
    """The fields of :class:`~nalm.app.reproduce.sequences.SequenceSettings`: one sequence
    experiment's models, seeds and training."""

    experiment: str
    models: tuple[str, ...]
    seeds: int = 3
    steps: int = 5000
    lr: float = 1e-3
    batch_size: int = 32
    hidden: int = 32
    lengths: tuple[int, ...] = (1, 10, 100, 1000)
    test_sequences: int = 100
    kinds: tuple[str, ...] = ("count", "sum")
    mnist_dir: str | None = None
    quick_run: bool = False
