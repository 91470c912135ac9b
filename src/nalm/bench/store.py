"""The results store: one SQLite row per suite/model/operation/range/seed/settings.

A cell's rows are written in one transaction once its seeds finish; a row's key makes writing it
twice impossible, and :meth:`Store.finished_seeds` lets an interrupted sweep skip what is done.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import NalmError

FORMAT_VERSION = 1

COLUMNS: dict[str, str] = {
    "suite": "TEXT NOT NULL",
    "model": "TEXT NOT NULL",
    "operation": "TEXT NOT NULL",
    "range": "TEXT NOT NULL",
    "seed": "INTEGER NOT NULL",
    "settings": "TEXT NOT NULL",
    "success": "INTEGER NOT NULL",
    "diverged_at": "INTEGER",
    "stopped_at": "INTEGER",
    "solved_at": "INTEGER",
    "best_step": "INTEGER",
    "interpolation_mse": "REAL",
    "extrapolation_mse": "REAL",
    "threshold": "REAL",
    "sparsity_error": "REAL",
    "steps": "INTEGER",
    "seconds": "REAL",
    "config": "TEXT",
    "history": "TEXT",
}
KEY = ("suite", "model", "operation", "range", "seed", "settings")


class Store:
    """An SQLite results database (created on first use).

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.sqlite")
        >>> with Store(path) as store:
        ...     row = dict.fromkeys(COLUMNS) | {"suite": "madsen", "model": "nau>nmu",
        ...         "operation": "mul", "range": "1,2:2,6", "seed": 0, "settings": "{}",
        ...         "success": 1}
        ...     store.write([row]); store.write([row])
        ...     store.finished_seeds("madsen", "nau>nmu", "mul", "1,2:2,6", "{}")
        {0}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = sqlite3.connect(self.path, timeout=60)
            self._create()
        except sqlite3.DatabaseError as e:
            raise NalmError(
                f"{self.path} is not a results database this nalm can read ({e})"
            ) from None

    def _create(self) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        with self.connection:
            self.connection.execute(
                f"CREATE TABLE IF NOT EXISTS results ({columns}, PRIMARY KEY ({', '.join(KEY)}))"
            )
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS failures (suite TEXT, model TEXT, operation TEXT, "
                "range TEXT, settings TEXT, seeds TEXT, attempts INTEGER, error TEXT, "
                "at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            self.connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),)
            )
        (version,) = self.connection.execute(
            "SELECT value FROM meta WHERE key = 'format_version'"
        ).fetchone()
        if int(version) > FORMAT_VERSION:
            raise NalmError(
                f"{self.path} was written by a newer nalm (format {version}; this one reads "
                f"{FORMAT_VERSION}); upgrade nalm"
            )

    def finished_seeds(
        self, suite: str, model: str, operation: str, range_: str, settings: str
    ) -> set[int]:
        """Seeds of a cell that already have a row."""
        rows = self.connection.execute(
            "SELECT seed FROM results WHERE suite=? AND model=? AND operation=? AND range=? "
            "AND settings=?",
            (suite, model, operation, range_, settings),
        )
        return {seed for (seed,) in rows}

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows in one transaction; rows whose key exists are left as they are."""
        names = list(COLUMNS)
        values = [tuple(_encode(row.get(n)) for n in names) for row in rows]
        with self.connection:
            self.connection.executemany(
                f"INSERT OR IGNORE INTO results ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))})",
                values,
            )

    def record_failure(
        self,
        cell: tuple[str, str, str, str, str],
        seeds: Sequence[int],
        attempts: int,
        error: str,
    ) -> None:
        """Note that a cell ``(suite, model, operation, range, settings)`` failed after
        ``attempts`` tries; it has no rows, so the next run of the sweep submits it again."""
        with self.connection:
            self.connection.execute(
                "INSERT INTO failures (suite, model, operation, range, settings, seeds, "
                "attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*cell, json.dumps(list(seeds)), attempts, error),
            )

    def failures(self) -> list[dict[str, Any]]:
        """Every recorded failure, oldest first."""
        cursor = self.connection.execute(
            "SELECT suite, model, operation, range, settings, seeds, attempts, error, at "
            "FROM failures ORDER BY rowid"
        )
        names = ("suite", "model", "operation", "range", "settings", "seeds", "attempts")
        return [
            dict(zip((*names, "error", "at"), row, strict=True)) | {"seeds": json.loads(row[5])}
            for row in cursor
        ]

    def rows(self) -> list[dict[str, Any]]:
        """Every row, with ``config`` and ``history`` decoded."""
        cursor = self.connection.execute(
            f"SELECT {', '.join(COLUMNS)} FROM results ORDER BY {', '.join(KEY)}"
        )
        out = []
        for values in cursor:
            row = dict(zip(COLUMNS, values, strict=True))
            for name in ("config", "history"):
                row[name] = json.loads(row[name]) if row[name] else None
            out.append(row)
        return out

    def count(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encode(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return int(value)
    return value


def settings_key(settings: dict[str, Any]) -> str:
    """The canonical JSON of a cell's training settings (part of each row's key)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def range_key(pair: Iterable[str]) -> str:
    """``("1,2", "2,6")`` → ``"1,2:2,6"``."""
    return ":".join(pair)
