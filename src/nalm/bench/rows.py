"""The results store's schema: :class:`ResultRow` (one row per suite/cell/seed/settings) and
the settings key that tells cells of other settings apart.

The key is canonical JSON of the cell's resolved training settings and of its policy's fields
(:func:`policy_fields`), never of the policy's prose (:meth:`~nalm.train.Policy.describe`), so a
reworded description does not orphan stored rows.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from ..errors import NalmError
from ..train.policies import Deadline, Policy, Stall, resolve
from ..train.precondition import Precondition
from ..train.schedule import Cosine, Decay, Geometric, Ramp


@dataclass
class ResultRow:
    """One seed of one cell as the store holds it; the fields are the table's columns.

    ``config``, ``history`` and ``scores`` are stored as JSON text. ``scores`` holds what a
    suite's own scorer adds (e.g. Table 1's random-model MSEs); ``None`` for the others.

    Examples:
        >>> row = ResultRow("madsen", "nau>nmu", "mul", "1,2:2,6", 0, "{}", True)
        >>> row.key(), COLUMNS["seed"], COLUMNS["diverged_at"]
        (('madsen', 'nau>nmu', 'mul', '1,2:2,6', 0, '{}'), 'INTEGER NOT NULL', 'INTEGER')
    """

    suite: str
    model: str
    operation: str
    range: str
    seed: int
    settings: str
    success: bool
    diverged_at: int | None = None
    stopped_at: int | None = None
    solved_at: int | None = None
    best_step: int | None = None
    interpolation_mse: float | None = None
    extrapolation_mse: float | None = None
    threshold: float | None = None
    sparsity_error: float | None = None
    steps: int | None = None
    seconds: float | None = None
    config: dict[str, Any] | None = None
    history: list[list[Any]] | None = None
    scores: dict[str, Any] | None = None

    def key(self) -> tuple[Any, ...]:
        """The row's primary key (:data:`KEY`)."""
        return tuple(getattr(self, name) for name in KEY)


KEY = ("suite", "model", "operation", "range", "seed", "settings")
"""The columns that identify a row: writing the same key twice keeps the first."""

_SQL = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT", dict: "TEXT", list: "TEXT"}


def _column_type(hint: Any) -> str:
    """``int`` → ``INTEGER NOT NULL``, ``int | None`` → ``INTEGER``, containers → ``TEXT``."""
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    sql = _SQL[typing.get_origin(base) or base]
    return sql if optional else f"{sql} NOT NULL"


COLUMNS: dict[str, str] = {
    name: _column_type(hint) for name, hint in typing.get_type_hints(ResultRow).items()
}
"""Column name → SQLite type, in :class:`ResultRow`'s field order."""

SETTINGS_FIELDS = ("steps", "batch_size", "eval_every", "lr", "eval_size", "early_stop")
"""The resolved training settings that enter the key beside the policy."""

OPTIONAL_FIELDS = ("per_seed_inputs", "input_size", "subset", "overlap", "stop_rule")
"""Settings keyed only when a cell has them (a task setting that differs from the suite's, the
per-seed inputs when on, the early-stop rule when early stop is on), so that the keys of cells
without them stay what they were. Rows with ``early_stop`` and no ``stop_rule`` were made with
the first rule, which read the extrapolation set (:data:`~nalm.bench.cells.OLD_STOP_RULE`)."""


def settings_key(settings: dict[str, Any]) -> str:
    """The canonical JSON of a cell's training settings (part of each row's key)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


_UNSET_UNKEYED = (
    "lr",
    "batch_size",
    "precondition",
    "lr_decay",
    "unit_lambda",
    "branch_per_try",
    "steps",
)
"""Policy fields added after results were stored: keyed only when set, so that the keys of
every policy without them stay what they were."""


def policy_fields(policy: Policy) -> dict[str, Any]:
    """A policy as plain JSON-ready data: its fields, a schedule as its type and fields.

    Examples:
        >>> policy_fields(resolve("madsen-nau"))["regularizer"]
        {'type': 'Ramp', 'lambda_hat': 0.01, 'start': 5000, 'end': 50000}
    """
    return {
        f.name: _plain(getattr(policy, f.name))
        for f in dataclasses.fields(policy)
        if not (f.name in _UNSET_UNKEYED and getattr(policy, f.name) is None)
    }


_SCHEDULES = {
    cls.__name__: cls for cls in (Ramp, Geometric, Stall, Deadline, Decay, Cosine, Precondition)
}


def policy_from_fields(fields: dict[str, Any]) -> Policy:
    """The policy that :func:`policy_fields` wrote (as stored in a row's config), rebuilt.

    Examples:
        >>> policy = resolve("inalu")
        >>> policy_from_fields(policy_fields(policy)) == policy
        True
    """

    def rebuild(value: Any) -> Any:
        if isinstance(value, dict):
            kind = value.get("type")
            if kind not in _SCHEDULES:
                raise NalmError(f"stored policy field {value!r} names no known schedule")
            return _SCHEDULES[kind](**{k: v for k, v in value.items() if k != "type"})
        return tuple(value) if isinstance(value, list) else value

    known = {f.name for f in dataclasses.fields(Policy)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise NalmError(f"stored policy has fields this nalm does not know: {', '.join(unknown)}")
    return Policy(**{name: rebuild(value) for name, value in fields.items()})


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {"type": type(value).__name__} | {
            f.name: _plain(getattr(value, f.name)) for f in fields
        }
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise NalmError(
        f"the policy holds {value!r}, which has no canonical form to key results on; give a "
        "schedule that is a dataclass (e.g. nalm.train.schedule.Ramp)"
    )


def cell_key(resolved: dict[str, Any], policy: Policy) -> str:
    """The settings key of a cell: its resolved settings (:data:`SETTINGS_FIELDS`) and its
    policy's fields.

    Examples:
        >>> resolved = dict.fromkeys(SETTINGS_FIELDS, 1)
        >>> cell_key(resolved, resolve("none"))[:60]
        '{"batch_size":1,"early_stop":1,"eval_every":1,"eval_size":1,'
    """
    chosen = {name: resolved[name] for name in SETTINGS_FIELDS}
    chosen |= {name: resolved[name] for name in OPTIONAL_FIELDS if name in resolved}
    return settings_key(chosen | {"policy": policy_fields(policy)})


def migrate_key(old: str) -> str:
    """A key of format 1 (the policy by name and description, with the sweep's λ̂/ramp
    overrides) as the key of the same settings today.

    The policy is rebuilt from its name and the overrides; if the rebuilt policy's description
    is not the stored one (the named policy has changed since), the key keeps the name and the
    description instead of fields, so those rows stay readable but no sweep resumes on them.
    """
    try:
        settings = json.loads(old)
        fields = {name: settings[name] for name in SETTINGS_FIELDS}
        name, described = settings["policy"], settings["regularizer"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return old  # not a key this nalm wrote: left as it is
    ramp = settings.get("ramp")
    try:
        policy = resolve(
            name, lambda_hat=settings.get("lambda_hat"), ramp=tuple(ramp) if ramp else None
        )
    except (NalmError, TypeError, ValueError):
        policy = None
    if policy is not None and policy.describe() == described:
        return cell_key(fields, policy)
    return settings_key(fields | {"policy": {"name": name, "described": described}})


def check_row(row: dict[str, Any], where: str) -> None:
    """Decode a stored row's JSON columns in place and check each value against its column's
    type (:data:`COLUMNS`), so a row changed outside nalm is one sentence naming ``where``,
    not a traceback in a report.

    Examples:
        >>> row = dict.fromkeys(COLUMNS) | {"suite": "madsen", "model": "nau", "operation": "add",
        ...     "range": "1,2:2,6", "seed": 0, "settings": "{}", "success": 1, "seconds": "x"}
        >>> check_row(row, "r.sqlite: seed 0")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: r.sqlite: seed 0 has seconds = 'x', not what nalm writes there ...
    """
    for name, kind in COLUMNS.items():
        value = row[name]
        if name in ("config", "history", "scores"):
            try:
                row[name] = value = json.loads(value) if value else None
            except (TypeError, ValueError):
                raise NalmError(f"{where} has a {name} that is not JSON: {value!r:.60}") from None
            wanted: tuple[type, ...] = (list,) if name == "history" else (dict,)
        elif kind.startswith("INTEGER"):
            wanted = (int,)
        elif kind.startswith("REAL"):
            wanted = (int, float)
        else:
            wanted = (str,)
        if value is None and "NOT NULL" not in kind:
            continue
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise NalmError(
                f"{where} has {name} = {value!r:.60}, not what nalm writes there "
                f"({' or '.join(t.__name__ for t in wanted)}); the database was changed "
                "outside nalm"
            )
