"""Files written whole or not at all, and the one short hash of a run's settings.

Every file nalm writes goes through :func:`write_bytes`, :func:`write_text` or
:func:`open_atomic`: into a temporary file beside it, flushed, then renamed over it. A reader never
sees half a file, a failed write leaves the old file whole, and a link in its place is replaced,
not followed. The run directories of :mod:`nalm.app.rundir` are built on them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def settings_hash(settings: Any, length: int = 12) -> str:
    """The one short, stable hash of JSON-ready ``settings`` (key order does not matter): the
    key of a run's finished parts (12 hex digits) and a checkpoint's fingerprint (16).

    Example:
        >>> settings_hash({"a": 1, "b": [2]}) == settings_hash({"b": [2], "a": 1})
        True
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def open_atomic(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it is flushed to disk and
    renamed over ``path`` (a link at ``path`` is replaced, its target untouched); on an error
    it is removed and ``path`` keeps what it held.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with open_atomic(path) as f:
        ...     _ = f.write("one")
        >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
        ('one', ['a.txt'])
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes whole files ('w' or 'wb'); got mode {mode!r}")
    path = Path(path)
    tmp = _temporary(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError) and e.filename in (None, str(tmp)):
            e.filename, e.filename2 = str(path), None  # the file asked for, not the temporary
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`open_atomic`); returns ``path``."""
    with open_atomic(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`open_atomic`); returns ``path``."""
    with open_atomic(path, "wb") as f:
        f.write(data)
    return Path(path)
