"""Bringing units in from outside nalm: ``--import MODULE_OR_FILE`` as a function.

:func:`load` imports each name it is given, once: a name ending in ``.py`` is a file, loaded
under a stable module name (``nalm_import_<stem>_<hash of its absolute path>``, the same in every
process, so the Ray backend's workers load it under the same name); any other name is a module
on ``sys.path``. Whatever the imported code registers (``@nalm.units.register("name")``) is then
a unit like the built-in ones. :func:`loaded` lists what has been loaded in this process, files
by absolute path, which is what the Ray backend hands its workers.

Code runs only because a user named it on the command line or in Python; nothing read from a
saved model or a results database is ever imported.

Example:
    >>> import os, tempfile
    >>> from nalm.units import registry
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "my_units.py")
    ...     with open(path, "w") as f:
    ...         _ = f.write(
    ...             "from nalm.units import NAU, register\\n"
    ...             "@register('doc_file_unit')\\n"
    ...             "class FileUnit(NAU):\\n"
    ...             "    pass\\n"
    ...         )
    ...     _ = load([path])
    ...     registry.get("doc_file_unit").__name__
    'FileUnit'
    >>> registry._unregister("doc_file_unit"); forget(path)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import NalmError

_LOADED: list[str] = []  # what load() brought in, in order: module names and absolute paths


def load(names: Iterable[str]) -> list[str]:
    """Import each module name or ``.py`` file of ``names`` (each once per process).

    Returns what was loaded as :func:`loaded` records it (files by absolute path).

    Raises:
        NalmError: in one sentence, for a file or module that does not exist, a ``.py`` path
            that is a directory, or code that raised while loading (naming its exception).

    Example:
        >>> load(["nalm.units.nau"])
        ['nalm.units.nau']
        >>> load(["nowhere"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: cannot import 'nowhere': there is no such module on the Python ...
    """
    if isinstance(names, str):
        names = [names]
    done = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise NalmError(f"--import needs a module name or a .py file; got {name!r}")
        key = _load_file(Path(name)) if name.endswith(".py") else _load_module(name.strip())
        if key not in _LOADED:
            _LOADED.append(key)
        done.append(key)
    return done


def forget(name: str) -> None:
    """Drop ``name`` (a module, or a file by any path to it) from :func:`loaded`, e.g. a file
    that is deleted, so the Ray backend no longer hands it to its workers."""
    for key in (name, str(Path(name).resolve())):
        if key in _LOADED:
            _LOADED.remove(key)


def loaded() -> tuple[str, ...]:
    """The modules and files (absolute paths) :func:`load` has imported in this process."""
    return tuple(_LOADED)


def module_name(path: str | Path) -> str:
    """The stable module name a ``.py`` file is loaded under.

    Example:
        >>> module_name("/tmp/my-units.py")[:21]
        'nalm_import_my_units_'
    """
    resolved = Path(path).expanduser().resolve()
    stem = re.sub(r"\W", "_", resolved.stem)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return f"nalm_import_{stem}_{digest}"


def _load_file(path: Path) -> str:
    resolved = path.expanduser().resolve()
    if resolved.is_dir():
        raise NalmError(f"cannot import {str(path)!r}: it is a directory, not a Python file")
    if not resolved.is_file():
        raise NalmError(f"cannot import {str(path)!r}: there is no such file")
    name = module_name(resolved)
    if name in sys.modules:  # loaded before (a Ray worker runs many cells)
        return str(resolved)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise NalmError(f"cannot import {str(path)!r}: Python cannot load it as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as import does (dataclasses, pickling)
    _run(path, lambda: spec.loader.exec_module(module), name)  # type: ignore[union-attr]
    return str(resolved)


def _load_module(name: str) -> str:
    if name in sys.modules:
        return name

    try:
        _run(name, lambda: importlib.import_module(name), None)
    except _MissingError:
        raise NalmError(
            f"cannot import {name!r}: there is no such module on the Python path "
            "(give a module name or a .py file)"
        ) from None
    return name


class _MissingError(Exception):
    """The module named on the command line itself was not found."""


def _run(what: str | Path, body: Callable[[], object], module: str | None) -> None:
    """Run ``body()``; code that raises becomes one sentence naming the exception."""
    try:
        body()
    except ModuleNotFoundError as e:
        missing, wanted = e.name or "", str(what)
        if module is None and (wanted == missing or wanted.startswith(missing + ".")):
            raise _MissingError from None  # the name itself (or a package above it) is missing
        _fail(what, e, module)
    except (Exception, SystemExit) as e:  # the imported code's own error, whatever it is
        _fail(what, e, module)


def _fail(what: str | Path, error: BaseException, module: str | None) -> None:
    if module is not None:
        sys.modules.pop(module, None)  # a failed file is not half-loaded next time
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    raise NalmError(f"importing {str(what)!r} raised {detail}") from None
