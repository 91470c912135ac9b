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

Given ``checkpoints`` (the runner gives each cell's file beside the database, as the local
backend uses), a task writes its cell's training state there as it trains; a task retried after
its worker or node died resumes from it, and the driver logs that line. The driver removes the
file once the cell's rows are stored. A worker that cannot see the file's directory (another
machine without a shared file system) trains that cell without a checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import threading
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
PROBE_SECONDS = 10.0
"""How long the driver waits for a TCP connection to ``--address`` before giving up."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NalmError(INSTALL_HINT) from None
    return ray


def _train_remote(
    train: Callable[..., Rows],
    cell: Cell,
    device: str,
    imported: Sequence[str] = (),
    checkpoint: str | None = None,
) -> tuple[Rows, list[str]]:
    """A cell's rows, and the lines its training logged (a resume from its checkpoint)."""
    # One CPU per task: keep torch to one thread so tasks do not oversubscribe the cores.
    import torch

    imports.load(imported)  # the driver's --import units (once per worker process)
    torch.set_num_threads(1)
    if checkpoint is None or not Path(checkpoint).parent.is_dir():  # not visible from here
        return train(cell, device, progress=False), []
    lines: list[str] = []
    return train(cell, device, progress=False, checkpoint=Path(checkpoint), log=lines.append), lines


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what is written to file descriptor 2 (Ray's Python and C++ log lines while it
    connects: 'Connecting to existing Ray cluster…', 'Failed to get cluster ID…' once a second)
    to a temporary file for the duration of the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _start(ray: Any, address: str | None) -> None:
    """Connect to the cluster at ``address`` (checked first), or start a local Ray."""
    check_address(address)
    # "local": a new Ray on this machine (its cores, as Ray counts them), even where
    # RAY_ADDRESS or a `ray start` on this node would otherwise be picked up.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with _quiet_stderr():  # Ray's own log lines: the command answers in one sentence
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = address or "a local Ray"
        raise NalmError(f"could not start or reach {where}: {e}") from None
    finally:  # ray.init makes SIGTERM exit silently; keep the command's own handling
        if on_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)


def map_on_ray(
    cells: Sequence[Cell],
    train: Callable[..., Rows],
    address: str | None,
    retries: int,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    imported: Sequence[str] | None = None,
    checkpoints: Callable[[Cell], Path] | None = None,
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

    ``checkpoints(cell)``: the file a cell's task checkpoints to (see the module's docstring;
    ``train`` is then also given ``checkpoint=`` and ``log=``, as
    :func:`~nalm.bench.cells.train_cell` takes them); it is removed once the caller has taken
    the cell's rows and asks for the next cell.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise NalmError(f"retries must be a whole number ≥ 0; got {retries!r}")
    ray = _import_ray()
    if not cells:
        return
    started_here = not ray.is_initialized()
    if started_here:
        _start(ray, address)
    pending: dict[Any, Cell] = {}
    try:
        gpus = 1 if str(device).startswith("cuda") else 0
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=retries, retry_exceptions=True)(
            _train_remote
        )
        if imported is None:
            imported = imports.loaded()
        _check_reachable(imported)
        files: dict[Any, Path | None] = {}  # a task's checkpoint (its ref stays through retries)
        for cell in cells:
            file = Path(checkpoints(cell)).absolute() if checkpoints else None
            ref = task.remote(train, cell, device, list(imported), file and str(file))
            pending[ref], files[ref] = cell, file
        log(f"ray: {len(pending)} cells submitted ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
        failed = 0
        begun = time.perf_counter()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            cell = pending.pop(ref)
            try:
                rows, lines = ray.get(ref)
            except Exception as e:  # the task's own error, after its retries
                failed += 1
                yield cell, Failure(retries + 1, _reason(e))  # its checkpoint stays: a re-run
                continue  # resumes it
            for line in lines:
                log(line)
            yield cell, rows
            if files[ref] is not None:  # the rows are stored: the cell is done
                _remove_checkpoint(files[ref])
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


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""A client's HTTP/2 preface and an empty SETTINGS frame: a gRPC server answers with its own."""


def check_address(address: str | None) -> None:
    """Refuse, in one sentence and within :data:`PROBE_SECONDS`, a ``HOST:PORT`` (or
    ``ray://HOST:PORT``) where nothing listens or where what listens does not answer as Ray's
    head does (an HTTP/2 server, gRPC): ``ray.init`` would wait for minutes."""
    if address is None or address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise NalmError(
            f"--address {address!r} is not HOST:PORT (a Ray head, e.g. 10.0.0.5:6379) or auto"
        )
    deadline, answer = time.monotonic() + PROBE_SECONDS, None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS) as s:
            if os.environ.get("RAY_USE_TLS", "0") not in ("0", ""):
                return  # the answer would be TLS's
            answer = b""
            s.settimeout(max(deadline - time.monotonic(), 0.1))
            s.sendall(_HTTP2_PREFACE)
            answer = s.recv(9)
    except OSError as e:
        if answer is None:  # no connection
            why = f"no answer in {PROBE_SECONDS:g} s" if isinstance(e, TimeoutError) else e.strerror
            raise NalmError(
                f"no Ray cluster answers at {address} ({(why or str(e)).lower()}); start one "
                "there with 'ray start --head' or fix --address"
            ) from None
    if answer[3:4] != b"\x04":  # no HTTP/2 SETTINGS frame back
        raise NalmError(
            f"what listens at {address} is not a Ray cluster's head (it did not answer as one "
            f"within {PROBE_SECONDS:g} s); give the HOST:PORT that 'ray start --head' printed"
        )


def _remove_checkpoint(path: Path) -> None:
    """A stored cell's checkpoint, and temporary files a killed worker left beside it."""
    path.unlink(missing_ok=True)
    for pattern in (f"{path.name}.*.tmp", f".{path.name}.*.tmp"):
        for left in path.parent.glob(pattern):
            left.unlink(missing_ok=True)


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
