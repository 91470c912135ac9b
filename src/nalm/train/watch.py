"""Watching a run live: every evaluation row the engine writes, handed to the watchers in force.

A watcher is installed for the duration of a ``with`` block and sees each history row as it is
evaluated (``step``, ``train_loss``, ``<set>_mse``, ``sparsity_error``), labelled with the run's
progress-bar label (a model's name in ``nalm train``, a family in ``nalm fit``, a cell in
``nalm bench run``) and its seed. :class:`TensorBoard` writes them as TensorBoard scalars: one run
(folder) per label, one chart per metric, and in a run of several seeds one line per seed.

Example:
    >>> from nalm import NAU, ExpressionTask, fit
    >>> rows = []
    >>> class Collect:
    ...     def evaluated(self, label, seeds, seed, row):
    ...         rows.append((label, row["step"]))
    ...     def close(self):
    ...         pass
    >>> with watching(Collect()):
    ...     _ = fit(NAU(2, 1), ExpressionTask("x0 + x1", "1,2", "2,6"), steps=200, eval_every=100,
    ...             progress=False)
    >>> rows
    [('training', 0), ('training', 100), ('training', 200)]

``nalm train``, ``nalm fit`` and ``nalm bench run`` take ``--tensorboard DIR``; in Python::

    with tensorboard("runs/tb"):
        fit(model, task, steps=10_000)

and then ``tensorboard --logdir runs/tb``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from ..errors import NalmError

__all__ = ["TensorBoard", "Watcher", "evaluated", "tensorboard", "watching"]


class Watcher(Protocol):
    """What :func:`watching` installs."""

    def evaluated(self, label: str, seeds: int, seed: int, row: dict[str, float]) -> None:
        """One history row of seed ``seed`` of a run of ``seeds`` seeds labelled ``label``."""

    def close(self) -> None:
        """The ``with`` block ended: flush and release what the watcher holds."""


_WATCHERS: list[Watcher] = []


@contextmanager
def watching(watcher: Watcher) -> Iterator[Watcher]:
    """Hand every evaluation row to ``watcher`` inside the block, then close it."""
    _WATCHERS.append(watcher)
    try:
        yield watcher
    finally:
        _WATCHERS.remove(watcher)
        watcher.close()


def evaluated(label: str, seeds: int, seed: int, row: dict[str, float]) -> None:
    """Called by the engine for each row it appends to a history."""
    for watcher in _WATCHERS:
        watcher.evaluated(label, seeds, seed, row)


class TensorBoard:
    """Writes evaluation rows as TensorBoard scalars under ``logdir`` (needs the ``tensorboard``
    package: ``pip install 'nalm[tensorboard]'``).

    Each label is a run, a folder of ``logdir`` (``nalm train``'s ``training nalu`` and
    ``training mlp`` are drawn in the same charts); each metric (``train_loss``,
    ``interpolation_mse``, ``extrapolation_mse``, ``sparsity_error``) is a chart, and in a run
    of several seeds each seed is a line of its own (``extrapolation_mse/seed-3``). Non-finite
    values (a diverged seed) are skipped.

    Args:
        logdir: the folder ``tensorboard --logdir`` reads.
    """

    def __init__(self, logdir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # torch's writer needs the tensorboard package
            raise NalmError(
                "--tensorboard needs the tensorboard package: pip install 'nalm[tensorboard]'"
            ) from e
        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise NalmError(f"--tensorboard {str(logdir)!r} is a file; give a folder")
        self._make = SummaryWriter
        self._writers: dict[str, Any] = {}

    def _writer(self, label: str) -> Any:
        if label not in self._writers:
            run = re.sub(r"[^\w.,=+-]+", "_", label).strip("_") or "run"
            self._writers[label] = self._make(log_dir=str(self.logdir / run))
        return self._writers[label]

    def evaluated(self, label: str, seeds: int, seed: int, row: dict[str, float]) -> None:
        writer = self._writer(label)
        step = int(row["step"])
        for name, value in row.items():
            if name == "step" or value != value or abs(value) == float("inf"):
                continue
            writer.add_scalar(name if seeds == 1 else f"{name}/seed-{seed}", value, step)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def tensorboard(logdir: str | Path | None) -> AbstractContextManager[Any]:
    """``with tensorboard(DIR):`` writes every evaluation inside the block to ``DIR``; with
    ``None``, does nothing (the commands' default)."""
    return nullcontext() if logdir is None else watching(TensorBoard(logdir))
