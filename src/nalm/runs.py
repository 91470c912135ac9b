"""Run directories: ``config.json``, ``metrics.csv``, weights as safetensors (never pickle)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from .errors import NalmError
from .persist import read_metadata, save
from .train import FitResult
from .train.checkpoint import FORMAT as CHECKPOINT_FORMAT

MARK = ".nalm-run"
"""The file that marks a directory as a nalm run (so ``--out`` never writes into anyone else's)."""

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
        try:
            return read_metadata(checkpoint).get("format") == CHECKPOINT_FORMAT
        except NalmError:
            return False
    return False


def check_run_dir(out: str | Path, what: str = "--out") -> Path:
    """Refuse ``out`` unless it is new, an empty directory or a nalm run directory."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NalmError(f"{what} {str(path)!r} is a file; give a directory for the run")
    if path.is_dir() and any(path.iterdir()) and not is_run_dir(path):
        raise NalmError(
            f"{what} {str(path)!r} is a directory with other files in it and not a nalm run; "
            "nalm writes only into a new, empty or nalm run directory"
        )
    return path


def new_run_dir(kind: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """Create the run directory: ``out`` if given, else ``root/<kind>-<YYYYmmdd-HHMMSS>``.

    ``out`` may be new, empty, or a nalm run directory (to resume or rebuild a report); a
    directory holding anything else is refused, so nothing of the user's is overwritten. The
    directory is marked with :data:`MARK`.
    """
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{kind}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path(root) / f"{kind}-{stamp}-{n}"
    else:
        path = check_run_dir(out)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not (path / MARK).exists():
            (path / MARK).write_text(json.dumps({"kind": kind}) + "\n")
    except OSError as e:
        raise NalmError(f"cannot create the run directory {str(path)!r}: {e.strerror}") from None
    _created.extend(reversed(missing))  # deepest last, so it is removed first
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
            if MARK in names and names <= {MARK, "config.json"}:
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
    path = run_dir / "config.json"
    path.write_text(json.dumps(config, indent=2, default=str) + "\n")
    return path


def write_metrics(run_dir: Path, results: Mapping[str, FitResult]) -> Path:
    """One row per model and evaluation: ``model, step, train_loss, <set>_mse…, diverged_at``."""
    columns: list[str] = []
    for result in results.values():
        for row in result.history:
            columns += [k for k in row if k not in columns]
    path = run_dir / "metrics.csv"
    with path.open("w", newline="") as f:
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
    return save(model, path, **description)
