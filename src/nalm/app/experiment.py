"""The experiment frame: what every workflow of nalm shares.

A workflow (``nalm demo``, the seed presets, ``nalm reproduce identity``/``table1``/the sequence
experiments, ``nalm fit``, ``nalm train``) is a frozen dataclass of its settings deriving from
:class:`Experiment`. The frame gives each one, once:

- ``settings.quick()``: the ``--quick`` version of the settings (the class's
  :attr:`~Experiment.QUICK` values, with ``quick_run`` set so reports say so);
- ``settings.check()``: one-sentence refusals of bad settings, before anything is written;
- ``settings.to_dict()`` and :func:`settings_id`: the JSON of the settings, and its one hash;
- ``settings.run(out, device=, progress=, log=)``: the run directory (new, or the given one to
  resume), its ``config.json``, the resumable :class:`Parts` store, the clock, and the
  :class:`Result`, which knows its run directory and the paths of the report it wrote.

A workflow implements :meth:`Experiment.execute` (train, fill the result) and its result class
implements :meth:`Result.write_report`.

Examples:
    >>> import tempfile
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Squared(Result):
    ...     values: list
    >>> @dataclass(frozen=True)
    ... class Squares(Experiment):
    ...     name = "squares"
    ...     QUICK = {"n": 2}
    ...     n: int = 5
    ...     quick_run: bool = False
    ...     def execute(self, run):
    ...         for i in range(self.n):
    ...             if run.parts.get(str(i)) is None:
    ...                 run.parts.put(str(i), i * i)
    ...         return Squared(self, [run.parts.get(str(i)) for i in range(self.n)], out=run.out)
    >>> result = Squares().quick().run(tempfile.mkdtemp(), log=lambda _: None)
    >>> result.values, sorted(p.name for p in result.out.iterdir())
    ([0, 1], ['.nalm-run', 'config.json', 'parts.jsonl'])
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..errors import NalmError
from ..files import settings_hash, write_text
from . import runs

if TYPE_CHECKING:
    import torch

PARTS_FILE = "parts.jsonl"

Log = Callable[[str], None]
"""Where a workflow writes its lines: ``print`` by default, ``lambda _: None`` for silence."""

E = TypeVar("E", bound="Experiment")


def settings_id(settings: Mapping[str, Any]) -> str:
    """The one short, stable hash of a JSON-ready settings mapping (key order does not matter).

    Examples:
        >>> settings_id({"a": 1, "b": [2]}) == settings_id({"b": [2], "a": 1})
        True
        >>> len(settings_id({"a": 1}))
        12
    """
    return settings_hash(settings, 12)


class Parts:
    """Finished parts of a long run, one JSON line each, so an interrupted run resumes.

    Each line is ``{"settings": ID, "key": KEY, "data": …}``, written, flushed and synced as soon
    as a part (one model's seeds) is done. Re-running with the same ``--out`` and the same
    settings reads the finished parts back and trains only the rest. Lines written with other
    settings are kept in the file but not used, so nothing finished is ever thrown away. A last
    line cut short by a kill (not valid JSON, or missing its newline) is dropped and its part
    trains again.

    Examples:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> Parts(out, {"steps": 10}).put("relu", {"mae": 1.5})
        >>> Parts(out, {"steps": 10}).get("relu"), Parts(out, {"steps": 20}).get("relu")
        ({'mae': 1.5}, None)
    """

    def __init__(self, out: Path, settings: Mapping[str, Any]) -> None:
        self.path = Path(out) / PARTS_FILE
        self.id = settings_id(settings)
        self.done: dict[str, Any] = {}
        self._out = out
        if self.path.exists():
            self._read()
        if self.done:
            self._hint()

    def _hint(self) -> None:
        """Tell an interrupted command's user what is kept (only once something is)."""
        runs.set_resume_hint(
            lambda: (
                f"finished parts are kept in {self.path}; run the same command with "
                f"--out {self._out} to resume"
            )
        )

    def _read(self) -> None:
        text = self.path.read_text()
        lines = text.splitlines()
        cut = bool(lines) and not text.endswith("\n")
        if cut:
            lines = lines[:-1]  # the kill came before the newline: redo that part
        kept = []
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                key, data, made_with = record["key"], record["data"], record["settings"]
            except (json.JSONDecodeError, KeyError, TypeError):
                if number == len(lines):
                    cut = True  # a line cut short by an interrupt
                    continue
                raise NalmError(
                    f"{self.path}: line {number} is not a record this command wrote; "
                    "remove the file or choose another --out"
                ) from None
            kept.append(line)
            if made_with == self.id:
                self.done[key] = data
        if cut:
            write_text(self.path, "".join(line + "\n" for line in kept))

    def get(self, key: str) -> Any:
        """The data of a finished part, or ``None``."""
        return self.done.get(key)

    def put(self, key: str, data: Any) -> None:
        """Record a finished part (appended, flushed and synced at once)."""
        self.done[key] = data
        self._hint()
        with self.path.open("a") as f:
            f.write(json.dumps({"settings": self.id, "key": key, "data": data}) + "\n")
            f.flush()
            os.fsync(f.fileno())


@dataclass
class Run:
    """What a workflow's :meth:`Experiment.execute` is handed: where it writes, its finished
    parts, the device, whether to show progress bars and where to write its lines."""

    out: Path
    parts: Parts
    device: torch.device | str = "cpu"
    progress: bool = True
    log: Log = print


@dataclass
class Result:
    """What a workflow measured and where it wrote it.

    ``out`` is the run directory, ``paths`` the report's files by kind (``"markdown"``,
    ``"csv"``, ``"png"``…), ``seconds`` the wall-clock time of the run. Subclasses add their
    measurements and implement :meth:`write_report`.
    """

    settings: Experiment
    out: Path | None = field(default=None, kw_only=True)
    paths: dict[str, Path] = field(default_factory=dict, kw_only=True)
    seconds: float = field(default=0.0, kw_only=True)

    def write_report(self) -> dict[str, Path]:
        """Write the report's files into :attr:`out` and return them by kind."""
        return {}


class Experiment:
    """The frame of a workflow's settings; subclasses are frozen dataclasses.

    Class attributes a workflow sets: :attr:`name` (its run directories are
    ``runs/<name>-<time>``), :attr:`command` (what ``config.json`` records), :attr:`QUICK`
    (the field values of ``--quick``) and, for settings stored before the frame under other
    names, :attr:`STORED_AS`. A subclass with a ``--quick`` has a ``quick_run: bool = False``
    field.
    """

    name: ClassVar[str] = "run"
    command: ClassVar[str] = ""
    QUICK: ClassVar[Mapping[str, Any]] = {}
    STORED_AS: ClassVar[Mapping[str, str]] = {}
    """Field name → key in ``config.json`` and the settings hash, where the two differ (so runs
    stored before a field was renamed still resume)."""

    def quick(self: E, **overrides: Any) -> E:
        """These settings at the ``--quick`` size: :attr:`QUICK`, then ``overrides``."""
        values = {**self._quick_values(), "quick_run": True, **overrides}
        return dataclasses.replace(self, **values)  # type: ignore[type-var]

    def _quick_values(self) -> Mapping[str, Any]:
        """The ``--quick`` field values; override where they depend on the settings."""
        return self.QUICK

    def check(self) -> None:
        """Refuse bad settings in one sentence (:class:`~nalm.errors.NalmError`)."""

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (tuples as lists), under their stored names."""
        values = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            values[self.STORED_AS.get(f.name, f.name)] = _plain(value)
        return values

    def settings_id(self) -> str:
        """The hash that keys this run's finished parts (:func:`settings_id`)."""
        return settings_id(self.to_dict())

    def config(self, device: torch.device | str) -> dict[str, Any]:
        """What ``config.json`` holds: the command, the settings and the device."""
        return {"command": self.command, **self.to_dict(), "device": str(device)}

    def run(
        self,
        out: str | Path | None = None,
        *,
        device: torch.device | str = "cpu",
        progress: bool = True,
        log: Log = print,
    ) -> Result:
        """Check the settings, set up the run directory (``out``, default
        ``runs/<name>-<time>``; an existing run directory of the same settings resumes), run the
        workflow, write its report and return the :class:`Result`."""
        self.check()
        started = time.perf_counter()
        settings = self.to_dict()
        with runs.run_directory(
            self.name, out, command=self.command, settings=settings
        ) as directory:
            runs.write_config(directory, self.config(device))
            run = Run(directory, Parts(directory, settings), device, progress, log)
            result = self.execute(run)
            result.seconds = time.perf_counter() - started
            result.paths = result.write_report()
        return result

    def execute(self, run: Run) -> Result:
        """Train and measure; the frame has set up ``run`` and writes the report after."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
