"""The results store: one SQLite row per suite/model/operation/range/seed/settings.

A cell's rows are written in one transaction once its seeds finish; a row's key makes writing it
twice impossible, and :meth:`Store.finished` lets an interrupted sweep skip what is done.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app.runs import created as runs_created
from ..errors import NalmError
from .rows import COLUMNS, KEY, ResultRow, check_row, migrate_key, settings_key

__all__ = ["COLUMNS", "KEY", "Failure", "ResultRow", "Store", "range_key", "settings_key"]

FORMAT_VERSION = 2
"""2: rows keyed on the policy's fields (1: on its description), and the ``scores`` column."""
APPLICATION_ID = 0x6E616C6D
"""SQLite's ``application_id`` of a nalm results database ("nalm" in ASCII): the format mark."""


@dataclass(frozen=True)
class Failure:
    """What a backend gives for a cell whose training raised: the tries it took and the error
    (type and message)."""

    attempts: int
    error: str


class Store:
    """An SQLite results database (created on first use; ``create=False`` only reads).

    A file that is not SQLite, or an SQLite database without nalm's format mark (its
    ``application_id``), is refused before anything is written to it. Databases written before
    the mark existed are recognised by their tables and marked when next written.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.sqlite")
        >>> with Store(path) as store:
        ...     row = ResultRow("madsen", "nau>nmu", "mul", "1,2:2,6", 0, "{}", True)
        ...     store.write([row]), store.write([row])  # rows really added: 1, then 0
        ...     store.finished("madsen", "nau>nmu", "mul", "1,2:2,6", "{}")
        (1, 0)
        {0: False}
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        if not str(path).strip():
            raise NalmError("the results database's path is empty; give --db FILE")
        self.path = Path(path)
        state = _check_file(self.path, create)
        if state == "missing":
            missing = [p for p in self.path.parents if not p.exists()]
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise NalmError(f"cannot create {self.path}: {e.strerror}") from None
            for folder in reversed(missing):
                runs_created(folder)
        if create:
            _check_folder(self.path)
        try:
            if create:
                self.connection = sqlite3.connect(self.path, timeout=60)
            else:  # a report only reads: never create or change the file
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self.connection = sqlite3.connect(uri, uri=True, timeout=60)
            kind = self._kind()
            if kind == "foreign" or (kind == "empty" and state == "sqlite"):
                raise NalmError(
                    f"{self.path} is an SQLite database of another program (it has no nalm "
                    "format mark); nalm neither reads nor writes it: give another --db"
                )
            if create and kind != "nalm":
                if state == "missing":
                    runs_created(self.path, unused=is_unused_store)
                self._create()
            self._check_version(create)
            if create:
                self._check_writable()
        except sqlite3.DatabaseError as e:
            self._close()
            if isinstance(e, sqlite3.OperationalError) and _is_write_error(e):
                raise NalmError(
                    f"cannot write the results database {self.path} ({e}); make it writable or "
                    "give another --db"
                ) from None
            raise NalmError(
                f"{self.path} is not a results database this nalm can read ({e})"
            ) from None
        except NalmError:
            self._close()
            raise

    def _close(self) -> None:
        connection = getattr(self, "connection", None)  # None when connecting itself failed
        if connection is not None:
            connection.close()

    def _check_writable(self) -> None:
        """Refuse a database nalm could read but not write (read-only, immutable, on a
        read-only file system) before any training, by a write that is rolled back."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.execute("UPDATE meta SET value = value WHERE key = 'format_version'")
        finally:
            if self.connection.in_transaction:
                self.connection.rollback()

    def _kind(self) -> str:
        """``"nalm"`` (marked, or a nalm database from before the mark), ``"empty"`` (no
        tables), or ``"foreign"``; reads only."""
        (application_id,) = self.connection.execute("PRAGMA application_id").fetchone()
        tables = {
            name
            for (name,) in self.connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if application_id == APPLICATION_ID:
            return "nalm"
        if application_id == 0 and not tables:
            return "empty"
        if application_id == 0 and {"results", "meta"} <= tables <= {"results", "meta", "failures"}:
            columns = {row[1] for row in self.connection.execute("PRAGMA table_info(results)")}
            marked = self.connection.execute(
                "SELECT 1 FROM meta WHERE key = 'format_version'"
            ).fetchone()
            if columns >= set(KEY) and marked:
                return "legacy"
        return "foreign"

    def _create(self) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        with self.connection:
            self.connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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

    def _check_version(self, create: bool) -> None:
        row = self.connection.execute(
            "SELECT value FROM meta WHERE key = 'format_version'"
        ).fetchone()
        version = row[0] if row else None
        if not str(version).isdigit():
            raise NalmError(f"{self.path} has no readable nalm format version")
        if int(version) > FORMAT_VERSION:
            raise NalmError(
                f"{self.path} was written by a newer nalm (format {version}; this one reads "
                f"{FORMAT_VERSION}); upgrade nalm"
            )
        self.version = int(version)
        if create and self.version < FORMAT_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        """Format 1 → 2, in one transaction: add the ``scores`` column and recompute every
        settings key from what the row stores (:func:`~nalm.bench.rows.migrate_key`)."""
        self.connection.execute("BEGIN IMMEDIATE")  # another process may be migrating it too
        try:
            (version,) = self.connection.execute(
                "SELECT value FROM meta WHERE key = 'format_version'"
            ).fetchone()
            if int(version) < FORMAT_VERSION:
                if "scores" not in self._columns():
                    self.connection.execute("ALTER TABLE results ADD COLUMN scores TEXT")
                for table in ("results", "failures"):
                    keys = self.connection.execute(f"SELECT DISTINCT settings FROM {table}")
                    for (old,) in keys.fetchall():
                        self.connection.execute(  # two old keys may name one setting: keep one
                            f"UPDATE OR REPLACE {table} SET settings = ? WHERE settings = ?",
                            (migrate_key(old), old),
                        )
                self.connection.execute(
                    "UPDATE meta SET value = ? WHERE key = 'format_version'",
                    (str(FORMAT_VERSION),),
                )
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        self.version = FORMAT_VERSION

    def _columns(self) -> list[str]:
        return [row[1] for row in self.connection.execute("PRAGMA table_info(results)")]

    def _key(self, settings: str) -> str:
        """A stored key as this format writes it (a read-only store of format 1 is not
        migrated on disk; its keys are recomputed as they are read)."""
        return settings if self.version >= FORMAT_VERSION else migrate_key(settings)

    def finished(
        self, suite: str, model: str, operation: str, range_: str, settings: str
    ) -> dict[int, bool]:
        """Seeds of a cell that already have a row → whether that seed diverged."""
        rows = self.connection.execute(
            "SELECT seed, diverged_at IS NOT NULL FROM results WHERE suite=? AND model=? AND "
            "operation=? AND range=? AND settings=?",
            (suite, model, operation, range_, settings),
        )
        return {seed: bool(diverged) for seed, diverged in rows}

    def write(self, rows: Sequence[ResultRow | dict[str, Any]]) -> int:
        """Insert rows in one transaction; rows whose key exists are left as they are.

        Returns:
            How many rows this call really added (another process may have written some of
            the same keys first).
        """
        names = list(COLUMNS)
        values = [
            tuple(
                _encode(getattr(row, n) if isinstance(row, ResultRow) else row.get(n))
                for n in names
            )
            for row in rows
        ]
        with self.connection:
            cursor = self.connection.executemany(
                f"INSERT OR IGNORE INTO results ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))})",
                values,
            )
        return max(cursor.rowcount, 0)

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
            dict(zip((*names, "error", "at"), row, strict=True))
            | {"seeds": json.loads(row[5]), "settings": self._key(row[4])}
            for row in cursor
        ]

    def rows(self, model: str | None = None) -> list[dict[str, Any]]:
        """Every row (or every row of ``model``) as a dict of :data:`COLUMNS`, with ``config``,
        ``history`` and ``scores`` decoded (``None`` in a column an older format lacks)."""
        present = [name for name in COLUMNS if name in set(self._columns())]
        where, given = ("WHERE model = ? ", (model,)) if model is not None else ("", ())
        cursor = self.connection.execute(
            f"SELECT {', '.join(present)} FROM results {where}ORDER BY {', '.join(KEY)}", given
        )
        out = []
        for values in cursor:
            row = dict.fromkeys(COLUMNS) | dict(zip(present, values, strict=True))
            check_row(
                row,
                f"{self.path}: the row of {row.get('model')!r} "
                f"{row.get('operation')!r} seed {row.get('seed')!r}",
            )
            row["settings"] = self._key(row["settings"])
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


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_file(path: Path, create: bool) -> str:
    """``"missing"``, ``"blank"`` (0 bytes) or ``"sqlite"``; refuses what is not an SQLite
    file before any connection could write to it."""
    if not path.exists():
        if not create:
            raise NalmError(f"no results database at {path}; run 'nalm bench run' first")
        return "missing"
    if path.is_dir():
        raise NalmError(f"{path} is a directory, not a results database")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise NalmError(f"cannot read {path}: {e.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise NalmError(
            f"{path} is not a nalm results database (not an SQLite file); nalm leaves it as it is"
        )
    if not header and not create:
        raise NalmError(f"{path} is an empty file, not a results database; run 'nalm bench run'")
    return "sqlite" if header else "blank"


def _check_folder(path: Path) -> None:
    """Refuse a database in a folder nalm cannot write (SQLite writes its journal there)."""
    folder = path.parent if path.parent.exists() else next(p for p in path.parents if p.exists())
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise NalmError(
            f"cannot write the results database {path}: its folder {str(folder)!r} is not "
            f"writable ({e.strerror}); give a --db in a writable folder"
        ) from None


def _is_write_error(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return any(
        words in text
        for words in ("readonly", "read-only", "unable to open", "disk i/o", "disk is full")
    )


def is_unused_store(path: str | Path) -> bool:
    """Whether ``path`` is a nalm results database with no rows and no failures (one that a
    refused command created and may remove again)."""
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        try:
            (application_id,) = connection.execute("PRAGMA application_id").fetchone()
            if application_id != APPLICATION_ID:
                return False
            rows = connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            failures = connection.execute("SELECT COUNT(*) FROM failures").fetchone()[0]
            return rows == 0 and failures == 0
        finally:
            connection.close()
    except sqlite3.Error:
        return False


def _encode(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return int(value)
    return value


def range_key(pair: Iterable[str]) -> str:
    """``("1,2", "2,6")`` → ``"1,2:2,6"``."""
    return ":".join(pair)
