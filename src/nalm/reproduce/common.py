"""What the reproductions share: a resumable record of finished parts."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NalmError
from ..reporting import numbers as _numbers
from ..runs import set_resume_hint

PARTS_FILE = "parts.jsonl"


def settings_id(settings: Mapping[str, Any]) -> str:
    """A short stable hash of a JSON-ready settings mapping."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Parts:
    """Finished parts of a long reproduction, one JSON line each, so an interrupted run resumes.

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
        set_resume_hint(
            lambda: (
                f"finished parts are kept in {self.path}; run the same command with "
                f"--out {out} to resume"
            )
        )
        if not self.path.exists():
            return
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
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            tmp.replace(self.path)

    def get(self, key: str) -> Any:
        """The data of a finished part, or ``None``."""
        return self.done.get(key)

    def put(self, key: str, data: Any) -> None:
        """Record a finished part (appended, flushed and synced at once)."""
        self.done[key] = data
        with self.path.open("a") as f:
            f.write(json.dumps({"settings": self.id, "key": key, "data": data}) + "\n")
            f.flush()
            os.fsync(f.fileno())


# Number formatting lives in nalm.reporting.numbers; the old names stay for old imports.
finite_or_none = _numbers.finite_or_none
number = _numbers.number
