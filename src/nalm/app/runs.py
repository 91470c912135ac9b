"""Run directories: ``config.json``, ``metrics.csv``, weights as safetensors (never pickle)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NalmError
from ..files import open_atomic, write_text
from .rundir import LOCK, MARK, check_own_files, claim

if TYPE_CHECKING:  # the command's start imports this module without torch
    from torch import nn

    from ..train import FitResult

__all__ = [
    "LOCK",
    "MARK",
    "check_run_dir",
    "created",
    "is_run_dir",
    "new_run_dir",
    "refusal_cleanup",
    "resume_hint",
    "run_directory",
    "save_weights",
    "set_resume_hint",
    "write_config",
    "write_error",
    "write_metrics",
]

_NALM_SUFFIXES = {".json", ".csv", ".md", ".png", ".safetensors", ".jsonl", ".tmp"}
_created: list[Path] = []  # what this process created, removed again if the command is refused
_unused: dict[Path, Callable[[Path], bool]] = {}  # per created file: whether it holds nothing
_resume_hint: list[Callable[[], str]] = []


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory nalm wrote: it has the :data:`MARK`, or (runs from before
    the mark) a ``config.json`` of a nalm command, a nalm checkpoint, a reproduction's
    ``parts.jsonl`` or a benchmark report."""
    path = Path(path)
    if (path / MARK).is_file():
        return True
    # From before the mark: only files nalm writes, and one of them says it is nalm's.
    if not all(p.is_file() and p.suffix in _NALM_SUFFIXES for p in path.iterdir()):
        return False
    try:
        config = json.loads((path / "config.json").read_text())
        if isinstance(config, dict) and str(config.get("command", "")).split(" ")[0] in (
            "train",
            "fit",
            "demo",
            "reproduce",
        ):
            return True
    except (OSError, ValueError):
        pass
    try:
        with (path / "parts.jsonl").open() as f:
            record = json.loads(f.readline())
        if isinstance(record, dict) and {"settings", "key", "data"} <= set(record):
            return True
    except (OSError, ValueError):
        pass
    try:
        with (path / "results.md").open() as f:
            if f.readline().startswith("# nalm benchmark report"):
                return True
    except (OSError, ValueError):
        pass
    checkpoint = path / "checkpoint.safetensors"
    if checkpoint.is_file():
        from ..persist import read_metadata
        from ..train.checkpoint import FORMAT as CHECKPOINT_FORMAT

        try:
            return read_metadata(checkpoint).get("format") == CHECKPOINT_FORMAT
        except NalmError:
            return False
    return False


def check_run_dir(out: str | Path, what: str = "--out") -> Path:
    """Refuse ``out`` unless it is new, an empty directory or a nalm run directory."""
    if not str(out).strip():
        raise NalmError(f"{what} is empty; give a directory for the run")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NalmError(f"{what} {str(path)!r} is a file; give a directory for the run")
    check_own_files(path, what)
    if path.is_dir() and any(path.iterdir()) and not is_run_dir(path):
        raise NalmError(
            f"{what} {str(path)!r} is a directory with other files in it and not a nalm run; "
            "nalm writes only into a new, empty or nalm run directory"
        )
    return path


def _stamped(kind: str, root: str | Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{kind}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{kind}-{stamp}-{n}"
    return path


@contextmanager
def run_directory(
    kind: str,
    out: str | Path | None = None,
    *,
    command: str | None = None,
    settings: Mapping[str, Any] | None = None,
    root: str | Path = "runs",
    flag: str = "--out",
) -> Iterator[Path]:
    """The run directory of one run, locked while the block runs: ``out`` if given, else
    ``root/<kind>-<YYYYmmdd-HHMMSS>``.

    ``out`` may be new, empty, or a nalm run of the same ``command`` (the kind of run) made with
    the same ``settings`` (to resume it or rebuild its report). Everything is checked before the
    first byte is written (:func:`nalm.app.rundir.claim`): a directory holding anything else, a
    run of another kind, a symbolic link inside, another process writing into it, or other
    settings (named, old → new) are refused in one sentence. A run directory whose results are
    kept per settings (a reproduction's ``parts.jsonl``) takes other settings: the other run's
    report files are removed first, its finished parts kept.
    """
    path = _stamped(kind, root) if out is None else check_run_dir(out, flag)
    parts = "parts.jsonl" if (path / "parts.jsonl").is_file() else None
    with claim(
        path,
        command or kind,
        settings or {},
        flag=flag,
        parts=parts,
        name=kind,
        on_create=_created.extend,
    ) as directory:
        yield directory


def new_run_dir(kind: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """Create and mark the run directory (:func:`run_directory` without holding its lock
    afterwards, for callers from before it): ``out`` if given, else
    ``root/<kind>-<YYYYmmdd-HHMMSS>``."""
    with run_directory(kind, out, root=root) as path:
        return path


def created(path: str | Path, unused: Callable[[Path], bool] | None = None) -> None:
    """Note that this command created ``path``, so a refusal removes it again: a directory once
    it holds nothing of value, a file when ``unused(path)`` says it holds nothing (e.g. a results
    database without rows)."""
    path = Path(path)
    _created.append(path)
    if unused is not None:
        _unused[path] = unused


def set_resume_hint(hint: Callable[[], str]) -> None:
    """What to tell the user after Ctrl-C: what is saved and how to resume."""
    _resume_hint[:] = [hint]


def write_error(error: BaseException) -> str:
    """One sentence for an error of the machine met while a command wrote its results (a full
    disk, a removed run directory, a read-only database).

    Examples:
        >>> import errno
        >>> write_error(OSError(errno.ENOSPC, "No space left on device", "runs/r/metrics.csv"))
        "could not write 'runs/r/metrics.csv': No space left on device"
        >>> import sqlite3
        >>> write_error(sqlite3.OperationalError("database or disk is full"))
        'could not write the results database: database or disk is full'
    """
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        if error.filename is None:
            return f"could not write a result: {reason}"
        return f"could not write {str(error.filename)!r}: {reason}"
    return f"could not write the results database: {error}"


def resume_hint() -> str:
    """The hint set by the running command, or that nothing was saved."""
    return _resume_hint[0]() if _resume_hint else "nothing was saved"


@contextmanager
def refusal_cleanup() -> Iterator[None]:
    """Run a command; if it is refused (:class:`NalmError`) or interrupted, remove the
    directories and databases it created that still hold nothing of value (a run directory with
    only its mark and ``config.json``, a database without rows), so a refused command leaves
    nothing behind."""
    start = len(_created)
    _resume_hint.clear()
    try:
        yield
    except (NalmError, KeyboardInterrupt):
        for path in reversed(_created[start:]):
            _remove_if_unused(path)
        raise
    finally:
        for path in _created[start:]:
            _unused.pop(path, None)
        del _created[start:]


def _remove_if_unused(path: Path) -> None:
    unused = _unused.pop(path, None)
    try:
        if path.is_dir():
            names = {p.name for p in path.iterdir()}
            if MARK in names and names <= {MARK, LOCK, "config.json"}:
                for name in names:
                    (path / name).unlink()
            if not any(path.iterdir()):
                path.rmdir()
        elif path.is_file() and unused is not None and unused(path):
            for extra in ("-journal", "-wal", "-shm"):
                Path(str(path) + extra).unlink(missing_ok=True)
            path.unlink()
    except OSError:
        pass  # leaving an empty directory behind is better than failing the refusal


def write_config(run_dir: Path, config: Mapping[str, Any]) -> Path:
    """``config.json``, written atomically."""
    return write_text(run_dir / "config.json", json.dumps(config, indent=2, default=str) + "\n")


def write_metrics(run_dir: Path, results: Mapping[str, FitResult]) -> Path:
    """One row per model and evaluation: ``model, step, train_loss, <set>_mse…, diverged_at``."""
    columns: list[str] = []
    for result in results.values():
        for row in result.history:
            columns += [k for k in row if k not in columns]
    path = run_dir / "metrics.csv"
    with open_atomic(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", *columns, "diverged_at"])
        for name, result in results.items():
            diverged = "" if result.diverged_at is None else result.diverged_at
            for row in result.history:
                writer.writerow([name, *(row.get(c, "") for c in columns), diverged])
    return path


def save_weights(path: Path, model: nn.Module, description: Mapping[str, Any]) -> Path:
    """Write ``model`` with :func:`nalm.persist.save` (``nalm.load`` reads it back), with
    ``description`` stored as its JSON ``info``."""
    from ..persist import save

    return save(model, path, **description)
