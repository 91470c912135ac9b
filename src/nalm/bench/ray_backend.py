"""The Ray backend of ``nalm bench run``: each cell is one Ray task; rows come back here.

A cell (model × operation × range pair, its missing seeds trained together by
:func:`~nalm.train.fit_seeds`) is submitted as one task that needs one CPU.
:func:`map_on_ray` yields each cell's rows as its task finishes, so the driver — the process
running ``nalm bench run`` — writes them into its SQLite store in one transaction, exactly as
for the local backend, and ``nalm bench report`` and resuming are unchanged. Each task first
loads the units the driver brought in with ``--import``. A task that raises is retried
``retries`` times by Ray; if it still fails, the cell comes back as a
:class:`~nalm.bench.store.Failure` (recorded in the store's ``failures`` table) and the other
cells go on. Failed cells have no rows, so running the sweep again submits them again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NalmError
from ..units import imports
from .store import Failure

if TYPE_CHECKING:
    from .cells import Cell

Rows = list[dict[str, Any]]

INSTALL_HINT = "the ray backend needs Ray, which is not installed: pip install 'nalm[ray]'"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NalmError(INSTALL_HINT) from None
    return ray


def _train_remote(
    train: Callable[..., Rows], cell: Cell, device: str, imported: Sequence[str] = ()
) -> Rows:
    # One CPU per task: keep torch to one thread so tasks do not oversubscribe the cores.
    import torch

    imports.load(imported)  # the driver's --import units (once per worker process)
    torch.set_num_threads(1)
    return train(cell, device, progress=False)


def map_on_ray(
    cells: Sequence[Cell],
    train: Callable[..., Rows],
    address: str | None,
    retries: int,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    imported: Sequence[str] | None = None,
) -> Iterator[tuple[Cell, Rows | Failure]]:
    """Submit ``train(cell, device, progress=False)`` for every cell; yield ``(cell, rows)`` as
    each finishes, or ``(cell, Failure)`` for one that still raised after its retries.

    With ``address=None`` a new local Ray is started with this machine's cores and shut down at
    the end; otherwise the driver connects to the cluster at ``address`` (``"auto"``, or
    ``"HOST:PORT"`` of a running head) and leaves it running. If Ray is already initialised in
    this process, that Ray is used as it is. Cells still pending when the driver stops are
    cancelled. With a CUDA ``device`` each task also asks for one GPU.

    Each task first loads ``imported`` (default: what :func:`nalm.units.imports.load` brought
    into this process, i.e. the command's ``--import`` modules and files), so units defined
    outside nalm are registered on the workers too; a module must be importable there and a
    file readable at the same absolute path.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise NalmError(f"retries must be a whole number ≥ 0; got {retries!r}")
    ray = _import_ray()
    if not cells:
        return
    started_here = not ray.is_initialized()
    if started_here:
        # "local": a new Ray on this machine (its cores, as Ray counts them), even where
        # RAY_ADDRESS or a `ray start` on this node would otherwise be picked up.
        try:
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = address or "a local Ray"
            raise NalmError(f"could not start or reach {where}: {e}") from None
    pending: dict[Any, Cell] = {}
    try:
        gpus = 1 if str(device).startswith("cuda") else 0
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=retries, retry_exceptions=True)(
            _train_remote
        )
        if imported is None:
            imported = imports.loaded()
        _check_reachable(imported)
        pending = {task.remote(train, cell, device, list(imported)): cell for cell in cells}
        log(f"ray: {len(pending)} cells submitted ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
        failed = 0
        begun = time.perf_counter()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            cell = pending.pop(ref)
            try:
                rows = ray.get(ref)
            except Exception as e:  # the task's own error, after its retries
                failed += 1
                yield cell, Failure(retries + 1, _reason(e))
                continue
            yield cell, rows
        log(
            f"ray: {len(cells) - failed} cells stored, {failed} failed, "
            f"{time.perf_counter() - begun:.0f} s"
        )
    finally:
        for ref in pending:  # interrupted: do not leave cells running on the cluster
            with contextlib.suppress(Exception):  # a task that already ended
                ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def _reason(error: BaseException) -> str:
    """The task's own exception (Ray wraps it with a traceback): its type and message, whole;
    a crashed worker gives Ray's own message."""
    cause = getattr(error, "cause", None)
    inner = cause if isinstance(cause, BaseException) else error
    text = str(inner).strip()
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _check_reachable(imported: Sequence[str]) -> None:
    """Refuse an imported file that is gone: the workers load files from where they were."""
    gone = [name for name in imported if name.endswith(".py") and not Path(name).is_file()]
    if gone:
        raise NalmError(
            f"{gone[0]} was imported in this process but no longer exists, and Ray workers "
            "load imported files from where they were; restore it or start a new process"
        )
