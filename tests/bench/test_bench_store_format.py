"""The store's schema (ResultRow), its settings key (the policy's fields, not its prose), the
migration of format-1 databases, and the sweep summary."""

import json
import sqlite3

import pytest

from nalm.bench.rows import COLUMNS, ResultRow, migrate_key
from nalm.bench.runner import Settings, cell_policy, plan_cell, run_sweep
from nalm.bench.store import APPLICATION_ID, FORMAT_VERSION, Store
from nalm.bench.suites import SINGLE_MODULE
from nalm.models import parse
from nalm.train.policies import Policy

SETTINGS = Settings(steps=60, eval_every=30, eval_size=50)
PAIR = ("1,2", "2,6")
# The key nalm wrote for `bench run single-module --models nau --ops add --steps 60
# --eval-every 30 --eval-size 50` in format 1 (the policy by name and by its description).
OLD_KEY = (
    '{"batch_size":128,"early_stop":false,"eval_every":30,"eval_size":50,"lambda_hat":null,'
    '"lr":0.001,"policy":"madsen-nau","ramp":null,"regularizer":"regulariser \\u03bb = ramp 0 '
    '\\u2192 0.01 over steps 5,000\\u201350,000","steps":60}'
)
OLD_COLUMNS = (
    "suite TEXT NOT NULL, model TEXT NOT NULL, operation TEXT NOT NULL, range TEXT NOT NULL, "
    "seed INTEGER NOT NULL, settings TEXT NOT NULL, success INTEGER NOT NULL, diverged_at "
    "INTEGER, stopped_at INTEGER, solved_at INTEGER, best_step INTEGER, interpolation_mse REAL, "
    "extrapolation_mse REAL, threshold REAL, sparsity_error REAL, steps INTEGER, seconds REAL, "
    "config TEXT, history TEXT"
)


def _old_database(path, seeds=(0, 1), key=OLD_KEY):
    """A results database as format 1 wrote it: no scores column, the old key."""
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    c.execute(
        f"CREATE TABLE results ({OLD_COLUMNS}, PRIMARY KEY (suite, model, operation, range, "
        "seed, settings))"
    )
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    c.execute(
        "CREATE TABLE failures (suite TEXT, model TEXT, operation TEXT, range TEXT, settings "
        "TEXT, seeds TEXT, attempts INTEGER, error TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP)"
    )
    c.execute("INSERT INTO meta VALUES ('format_version', '1')")
    for seed in seeds:
        c.execute(
            "INSERT INTO results (suite, model, operation, range, seed, settings, success, "
            "diverged_at, extrapolation_mse, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("single-module", "nau", "add", "1,2:2,6", seed, key, 1, 7 if seed else None,
             0.25, "[[0,1.0,1.0,1.0,0.5]]"),
        )  # fmt: skip
    c.execute(
        "INSERT INTO failures (suite, model, operation, range, settings, seeds, attempts, error) "
        "VALUES ('single-module', 'nmu', 'add', '1,2:2,6', ?, '[0]', 3, 'boom')",
        (key,),
    )
    c.commit()
    c.close()


def _new_key(settings=SETTINGS):
    spec = parse("nau", layers=1)
    with Store(":memory:") as store:
        policy = cell_policy(spec, spec.build(2, 1, 2), settings)
        cell, _ = plan_cell(SINGLE_MODULE, spec, "add", PAIR, [0], store, settings, policy)
    return cell.key


def test_the_row_dataclass_is_the_table():
    assert list(COLUMNS)[:6] == ["suite", "model", "operation", "range", "seed", "settings"]
    assert COLUMNS["success"] == "INTEGER NOT NULL" and COLUMNS["history"] == "TEXT"
    assert COLUMNS["interpolation_mse"] == "REAL" and list(COLUMNS)[-1] == "scores"
    with Store(":memory:") as store:
        sql = store.connection.execute("SELECT sql FROM sqlite_master WHERE name='results'")
        assert "scores TEXT" in sql.fetchone()[0]
        row = ResultRow("s", "m", "add", "1,2:2,6", 3, "{}", False, history=[[0, None]])
        assert store.write([row]) == 1
        (back,) = store.rows()
    assert back["seed"] == 3 and back["success"] == 0 and back["history"] == [[0, None]]


def test_the_key_holds_the_policys_fields_not_its_description(monkeypatch):
    key = json.loads(_new_key())
    assert key["policy"]["regularizer"] == {
        "type": "Ramp",
        "lambda_hat": 0.01,
        "start": 5000,
        "end": 50000,
    }
    assert key["steps"] == 60 and key["lr"] == 0.001 and "regularizer" not in key
    monkeypatch.setattr(Policy, "describe", lambda self: "reworded")
    assert json.loads(_new_key()) == key
    # exact values: λ̂ 0.0100001 is another setting, though it describes the same
    other = json.loads(
        _new_key(Settings(steps=60, eval_every=30, eval_size=50, lambda_hat=0.0100001))
    )
    assert other["policy"]["regularizer"]["lambda_hat"] == 0.0100001


def test_an_old_key_becomes_the_key_of_the_same_settings():
    assert migrate_key(OLD_KEY) == _new_key()
    moved = OLD_KEY.replace('"lambda_hat":null', '"lambda_hat":2.0').replace(
        '"ramp":null', '"ramp":[5,8]'
    )
    moved = moved.replace("0.01 over steps 5,000\\u201350,000", "2 over steps 5\\u20138")
    assert migrate_key(moved) == _new_key(
        Settings(steps=60, eval_every=30, eval_size=50, lambda_hat=2.0, ramp=(5, 8))
    )
    # a policy that has changed since the row was written: readable, never resumed on
    changed = OLD_KEY.replace("0.01 over", "0.02 over")
    assert json.loads(migrate_key(changed))["policy"] == {
        "name": "madsen-nau",
        "described": "regulariser λ = ramp 0 → 0.02 over steps 5,000–50,000",
    }
    assert migrate_key("not json") == "not json"


def test_an_old_database_is_migrated_and_resumed_without_retraining(tmp_path):
    db = tmp_path / "old.sqlite"
    _old_database(db)
    with Store(db, create=False) as store:  # a report reads it as it is, migrating in memory
        assert {r["settings"] for r in store.rows()} == {_new_key()}
        assert store.failures()[0]["settings"] == _new_key()
        assert store.rows()[0]["scores"] is None
    with sqlite3.connect(db) as c:  # ...and leaves the file alone
        assert c.execute("SELECT value FROM meta").fetchone() == ("1",)
    lines = []
    summary = run_sweep(
        SINGLE_MODULE, ["nau"], ["add"], [PAIR], range(3), db, SETTINGS, progress=False,
        log=lines.append,
    )  # fmt: skip
    assert summary.written == 1  # seed 2 only: seeds 0 and 1 were stored by format 1
    assert (summary.seeds, summary.diverged) == (3, 1)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta").fetchone() == (str(FORMAT_VERSION),)
        keys = {k for (k,) in c.execute("SELECT DISTINCT settings FROM results")}
        assert keys == {_new_key()}
        assert c.execute("SELECT settings FROM failures").fetchone() == (_new_key(),)
        seeds = [s for (s,) in c.execute("SELECT seed FROM results ORDER BY seed")]
    assert seeds == [0, 1, 2]
    again = run_sweep(
        SINGLE_MODULE, ["nau"], ["add"], [PAIR], range(3), db, SETTINGS, progress=False,
        log=lines.append,
    )  # fmt: skip
    assert again.written == 0 and again.lines == ["nau add 1,2:2,6: all 3 seeds done, skipped"]
    assert (again.seeds, again.diverged) == (3, 1)


def test_two_old_keys_of_one_setting_keep_one_row_per_seed(tmp_path):
    db = tmp_path / "old.sqlite"
    _old_database(db)
    same = OLD_KEY.replace('"lambda_hat":null', '"lambda_hat":0.01')  # the policy's own λ̂
    with sqlite3.connect(db) as c:
        c.execute(
            "INSERT INTO results (suite, model, operation, range, seed, settings, success) "
            "VALUES ('single-module', 'nau', 'add', '1,2:2,6', 0, ?, 1)",
            (same,),
        )
    with Store(db) as store:
        assert sorted(r["seed"] for r in store.rows()) == [0, 1]


def test_a_newer_format_is_refused(tmp_path):
    db = tmp_path / "new.sqlite"
    _old_database(db)
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = '99'")
    with pytest.raises(ValueError, match="written by a newer nalm"):
        Store(db)
