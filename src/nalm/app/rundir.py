"""Run directories that never mix two runs: a kind, a lock and atomic files.

Every command that writes a run directory goes through :func:`claim`, which checks everything
before the first byte is written:

- the directory is new, empty or a nalm run **of the same kind** (``nalm train`` never writes
  into a ``nalm fit`` run);
- nothing in it is a symbolic link (nalm never writes through a link);
- no other process is writing into it: a lock file, :data:`LOCK`, held with ``flock`` and
  naming its holder's pid (a lock left by a dead process is free again: the kernel drops it);
- the settings stored in its mark, :data:`MARK`, are the new run's (a resume); otherwise the run
  is refused, naming each differing setting (old → new), unless the workflow keeps finished parts
  per settings, in which case the other run's outputs (not its finished parts) are removed first,
  so no file of another run is left beside the new run's config.

Every file is written whole or not at all (:mod:`nalm.files`).

Examples:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with claim(out, "train", {"seed": 0}) as path:
    ...     _ = write_text(path / "config.json", "{}\\n")
    >>> sorted(p.name for p in out.iterdir())
    ['.nalm-run', 'config.json']
    >>> with claim(out, "train", {"seed": 1}):
    ...     pass
    Traceback (most recent call last):
    nalm.errors.NalmError: ... holds a train run with other settings (seed 0 → 1); ...
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import NalmError
from ..files import write_text

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, everything else holds
    fcntl = None  # type: ignore[assignment]

MARK = ".nalm-run"
"""The file that marks a directory as a nalm run: its kind (the command) and its settings."""
LOCK = ".nalm-lock"
"""The lock file of a run directory while a process writes into it."""
KEPT = frozenset({MARK, LOCK})
"""Files that belong to the directory, not to one run."""

_held: dict[Path, int] = {}  # run directory → the descriptor of its held lock


def read_mark(path: Path) -> dict[str, Any]:
    """The mark's JSON (``{}`` for a directory without one or an unreadable one)."""
    try:
        mark = json.loads((path / MARK).read_text())
    except (OSError, ValueError):
        return {}
    return mark if isinstance(mark, dict) else {}


def stored_command(path: Path) -> str | None:
    """The command that wrote the run at ``path``: the mark's ``command``; for runs marked
    before the mark held it, the ``command`` of its ``config.json`` (or a benchmark report's
    old kind)."""
    mark = read_mark(path)
    if isinstance(mark.get("command"), str):
        return mark["command"]
    if mark.get("kind") == "bench-report":
        return "bench report"
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    command = config.get("command") if isinstance(config, dict) else None
    return command if isinstance(command, str) and command else None


def stored_settings(path: Path) -> dict[str, Any] | None:
    """The settings a run was made with: the mark's; for runs from before, the ``config.json``
    (read as far as its keys are the settings' names); ``None`` when neither says."""
    mark = read_mark(path)
    if isinstance(mark.get("settings"), dict):
        return mark["settings"]
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def differences(
    old: Mapping[str, Any], new: Mapping[str, Any], *, partial: bool = False
) -> list[str]:
    """``key old → new`` for each setting that differs. With ``partial`` (settings read from
    an old ``config.json``), keys that only one side has are not counted.

    Example:
        >>> differences({"seed": 0, "lr": 0.05}, {"seed": 1, "lr": 0.05, "steps": 9})
        ['seed 0 → 1', 'steps (none) → 9']
    """
    found = []
    for key in dict.fromkeys([*old, *new]):
        if partial and (
            key not in old
            or key not in new
            or isinstance(old[key], dict) != isinstance(new[key], dict)
        ):
            continue  # an old config.json: only what it stores under the settings' own names
        a, b = _plain(old.get(key)), _plain(new.get(key))
        if a != b:
            found.append(f"{key} {_shown(old, key)} → {_shown(new, key)}")
    return found


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _shown(settings: Mapping[str, Any], key: str) -> str:
    if key not in settings:
        return "(none)"
    value = _plain(settings[key])
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(none)"
    return "(none)" if value is None else str(value)


def _lock(path: Path, flag: str) -> int | None:
    """Take the directory's lock (``None`` where the platform has no ``flock``)."""
    if fcntl is None:
        return None
    lock = path / LOCK
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as e:
            raise NalmError(
                f"cannot write into the run directory {str(path)!r} ({flag}): {e.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise NalmError(
                f"{flag} {str(path)!r} is being written by another nalm process ({holder}); "
                "wait for it to finish or choose another directory"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except OSError:
            same = False
        if same:  # not a lock file its last holder removed while we opened it
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode() + b"\n")
    return fd


def _holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(holder['pid'])} on {holder.get('host', 'this machine')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def _unlock(path: Path, fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        (path / LOCK).unlink()
    os.close(fd)


def check_own_files(path: Path, flag: str = "--out") -> None:
    """Refuse a run directory whose mark or lock was made something other than a file."""
    for name in (MARK, LOCK):
        if (path / name).exists() and not (path / name).is_file():
            raise NalmError(
                f"{flag} {str(path)!r} has a {name} that is not a file (nalm keeps its "
                f"{'mark' if name == MARK else 'lock'} there); remove it or choose another "
                "directory"
            )


@contextlib.contextmanager
def claim(
    path: str | Path,
    command: str,
    settings: Mapping[str, Any],
    *,
    flag: str = "--out",
    parts: str | None = None,
    name: str | None = None,
    on_create: Callable[[list[Path]], None] | None = None,
) -> Iterator[Path]:
    """Check ``path`` as the run directory of ``command`` with ``settings``, lock it, mark it,
    and hold the lock until the block ends (see the module's rules).

    Args:
        path: the run directory (created with its parents if missing).
        command: the kind of run (``"train"``, ``"fit"``, ``"reproduce identity"``, …).
        settings: JSON-ready settings; equal ones resume, others are refused.
        flag: how the user named the directory, for messages.
        parts: the file of a workflow that keeps finished parts per settings: then other
            settings are not refused; the other run's outputs (all but this file) are removed.
        name: the mark's ``kind`` (kept for readers from before ``command``).
        on_create: called with the directories this call created (deepest last).
    """
    path = Path(path)  # a file here was refused by nalm.app.runs.check_run_dir
    if path.is_symlink():
        raise NalmError(f"{flag} {str(path)!r} is a symbolic link; give the directory itself")
    existing = path.is_dir() and any(path.iterdir())
    if existing:
        check_own_files(path, flag)
        links = sorted(p.name for p in path.iterdir() if p.is_symlink())
        if links:
            raise NalmError(
                f"{flag} {str(path)!r} holds a symbolic link ({', '.join(links)}); nalm never "
                "writes through links in a run directory: remove it or choose another directory"
            )
        old = stored_command(path)
        if old is not None and old != command:
            raise NalmError(
                f"{flag} {str(path)!r} holds a '{old}' run; 'nalm {command}' writes only into a "
                "new directory, an empty one or one of its own runs"
            )
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NalmError(f"cannot create the run directory {str(path)!r}: {e.strerror}") from None
    if on_create is not None:
        on_create(list(reversed(missing)))
    fd = _lock(path, flag)
    try:
        if existing:
            _check_settings(path, command, settings, flag, parts)
        mark = {"kind": name or command, "command": command, "settings": _plain(dict(settings))}
        if read_mark(path) != mark:
            try:
                write_text(path / MARK, json.dumps(mark) + "\n")
            except OSError as e:
                raise NalmError(
                    f"cannot write into the run directory {str(path)!r}: {e.strerror}"
                ) from None
        yield path
    finally:
        _unlock(path, fd)


def _check_settings(
    path: Path, command: str, settings: Mapping[str, Any], flag: str, parts: str | None
) -> None:
    has_settings = isinstance(read_mark(path).get("settings"), dict)
    old = stored_settings(path)
    if old is None:
        return
    changed = differences(old, settings, partial=not has_settings)
    if not changed:
        return
    if parts is None:
        shown = "; ".join(changed[:6]) + ("; …" if len(changed) > 6 else "")
        raise NalmError(
            f"{flag} {str(path)!r} holds a {command} run with other settings ({shown}); run with "
            "its settings to resume it, or choose another directory"
        )
    for entry in path.iterdir():  # finished parts stay; the other run's report goes
        if entry.name not in KEPT and entry.name != parts and entry.is_file():
            entry.unlink()
