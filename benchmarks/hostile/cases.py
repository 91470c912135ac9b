"""The cases of the hostile pass (``pass.py`` runs them): ``register(h)`` adds every case through
the helpers of ``pass.py`` (``h``)."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

SIGTERM, SIGINT = signal.SIGTERM, signal.SIGINT


def unit_source(
    name: str,
    forward: str = "x @ self.W.t()",
    extra: str = "",
    *,
    params: bool = True,
    init: str = "super().__init__(in_features, out_features)",
    signature: str = "",
    header: str = "",
) -> str:
    """A unit file registering ``name``; the pieces replaced make it hostile."""
    weight = (
        "        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, "
        "dtype=dtype))\n        self.reset_parameters()\n"
        if params
        else ""
    )
    reset = (
        "    def reset_parameters(self):\n        nn.init.uniform_(self.W, 0.4, 0.6)\n"
        if params
        else "    def reset_parameters(self):\n        pass\n"
    )
    return (
        "import torch\nfrom torch import nn\nfrom nalm.units import Unit, register\n"
        f"{header}\n\n"
        f'@register("{name}")\n'
        "class U(Unit):\n"
        f"    def __init__(self, in_features, out_features, *{signature}, device=None, "
        "dtype=None):\n"
        f"        {init}\n"
        f"{weight}"
        f"{reset}"
        "    def forward(self, x):\n"
        f"        return {forward}\n"
        f"{extra}"
    )


def spelled(value: str) -> tuple[str, ...]:
    """The ways a message may write a number given as ``value``."""
    found = [value]
    try:
        number = float(value)
    except ValueError:
        return tuple(found)
    found += [f"{number:g}", repr(number), f"{number:.2g}", f"{number:.1e}"]
    if number.is_integer() and abs(number) < 1e30:
        found.append(f"{int(number):,}")
    return tuple(dict.fromkeys(found))


def register(h: Any) -> None:
    cli, api, add = h.cli, h.api, h.add
    write, mkdir, link, fixture, replace, chain = (
        h.write, h.mkdir, h.link, h.fixture, h.replace, h.chain)  # fmt: skip
    truncate, sql, rows = h.truncate, h.sql, h.rows
    TRAIN, FIT, BENCH, REPORT, IDENTITY = h.TRAIN, h.FIT, h.BENCH, h.REPORT, h.IDENTITY
    data = write("data.csv", rows())

    def train(*extra: str, out: str | None = "r") -> list[str]:
        return [*TRAIN, *extra, "--out", out] if out is not None else [*TRAIN, *extra]

    def fit(*extra: str, data_file: str = "data.csv", out: str = "f") -> list[str]:
        return [FIT[0], data_file, *FIT[2:], *extra, "--out", out]

    def bench(*extra: str, db: str = "b.sqlite") -> list[str]:
        return [*BENCH, *extra, "--db", db]

    # ------------------------------------------------------------------------------ rundir
    c = "rundir"
    keep_victim = {"keep": ("outside/victim.txt",)}
    cli(
        "out_is_a_file",
        c,
        train(out="notes.txt"),
        setup=write("notes.txt"),
        names=("notes.txt",),
        keep=("work/notes.txt",),
    )
    cli("out_is_dev_null", c, train(out="/dev/null"), names=("/dev/null",))
    cli(
        "out_under_a_file",
        c,
        train(out="notes.txt/run"),
        setup=write("notes.txt"),
        codes=(1, 2),
        names=("notes.txt",),
        keep=("work/notes.txt",),
    )
    cli(
        "out_symlink_to_empty_dir_outside",
        c,
        train(out="link"),
        setup=chain(mkdir("target", "outside"), link("link", "../outside/target")),
        expect="either",
        allow=("outside/target",),
    )
    cli(
        "out_symlink_to_file_outside",
        c,
        train(out="link"),
        setup=chain(write("victim.txt", where="outside"), link("link", "../outside/victim.txt")),
        names=("link",),
        **keep_victim,
    )
    cli(
        "out_dangling_symlink",
        c,
        train(out="link"),
        setup=link("link", "../outside/not-there"),
        names=("link",),
    )
    cli(
        "out_symlink_loop",
        c,
        train(out="loop"),
        setup=link("loop", "loop"),
        codes=(1, 2),
        names=("loop",),
    )
    cli("out_dir_with_a_subdir", c, train(), setup=mkdir("r/sub"), names=("r",), keep=("work/r",))
    cli(
        "out_dir_with_hidden_files_only",
        c,
        train(),
        setup=write("r/.hidden", "secret\n"),
        expect="either",
        keep=("work/r/.hidden",),
    )
    cli(
        "out_dir_with_a_user_file",
        c,
        fit(out="r"),
        setup=chain(data, write("r/data.csv")),
        names=("r",),
        keep=("work/r",),
    )
    cli("out_empty_string", c, train(out=""), names=("--out", "''"))
    cli(
        "out_dot_with_user_files",
        c,
        train(out="."),
        setup=write("notes.txt"),
        keep=("work/notes.txt",),
    )
    cli("out_dot_in_an_empty_cwd", c, train(out="."), expect="either")
    cli("out_dotdot", c, train(out=".."), keep=("work", "outside"))
    cli("out_name_of_300_chars", c, train(out="r" * 300), codes=(1, 2), names=("r" * 40,))
    cli("out_path_of_6000_chars", c, train(out="/".join(["d" * 200] * 30)), codes=(1, 2))
    cli("out_newline_in_name", c, train(out="r\nx"), expect="either")
    cli(
        "fit_into_a_train_run",
        c,
        fit(out="r"),
        setup=chain(data, fixture("train-run", "r")),
        names=("train",),
        keep=("work/r",),
    )
    cli(
        "train_into_a_fit_run",
        c,
        train(),
        setup=fixture("fit-run", "r"),
        names=("fit",),
        keep=("work/r",),
    )
    cli(
        "report_into_a_train_run",
        c,
        [*REPORT, "--db", "d.sqlite", "--out", "r"],
        setup=chain(fixture("db.sqlite", "d.sqlite"), fixture("train-run", "r")),
        names=("train",),
        keep=("work/r",),
    )
    cli(
        "reproduce_into_a_train_run",
        c,
        [*IDENTITY, "--out", "r"],
        setup=fixture("train-run", "r"),
        names=("train",),
        keep=("work/r",),
    )
    cli(
        "demo_into_a_fit_run",
        c,
        ["demo", "--steps", "5", "--no-progress", "--out", "r"],
        setup=fixture("fit-run", "r"),
        names=("fit",),
        keep=("work/r",),
    )
    cli(
        "train_into_a_report_dir",
        c,
        train(),
        setup=fixture("report", "r"),
        names=("report",),
        keep=("work/r",),
    )
    cli(
        "changed_settings_are_refused",
        c,
        train("--lr", "0.1"),
        setup=fixture("train-run", "r"),
        names=("lr",),
        keep=("work/r",),
    )
    cli("same_settings_resume", c, train(), setup=fixture("train-run", "r"), expect="ok")
    cli(
        "mark_garbage_bytes_same_settings",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), replace("r/.nalm-run", b"\x00\xffgarbage\x80")),
        expect="either",
        names=(".nalm-run",),
    )
    cli(
        "mark_garbage_bytes_other_settings",
        c,
        train("--lr", "0.1"),
        setup=chain(fixture("train-run", "r"), replace("r/.nalm-run", b"\x00\xffgarbage\x80")),
        names=(".nalm-run", "lr 0.05 → 0.1"),
        keep=("work/r",),
    )
    cli(
        "mark_is_a_directory",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), replace("r/.nalm-run", kind="dir")),
        codes=(1, 2),
        names=(".nalm-run",),
        keep=("work/r",),
    )
    cli(
        "mark_empty_other_settings",
        c,
        train("--lr", "0.1"),
        setup=chain(fixture("train-run", "r"), replace("r/.nalm-run", b"")),
        names=(".nalm-run", "lr 0.05 → 0.1"),
        keep=("work/r",),
    )
    cli(
        "mark_json_of_wrong_types_other_settings",
        c,
        train("--lr", "0.1"),
        setup=chain(
            fixture("train-run", "r"),
            replace("r/.nalm-run", '{"kind": 5, "settings": [1, 2], "version": "x"}'),
        ),
        names=(".nalm-run", "lr 0.05 → 0.1"),
        keep=("work/r",),
    )
    cli(
        "mark_alone_of_another_kind",
        c,
        train(),
        setup=chain(
            mkdir("r"),
            lambda w, o: (w / "r" / ".nalm-run").write_bytes(
                (h.FIX / "fit-run" / ".nalm-run").read_bytes()
            ),
        ),
        expect="either",
        keep=("work/r/.nalm-run",),
    )
    cli(
        "config_garbage_other_settings",
        c,
        train("--lr", "0.1"),
        setup=chain(fixture("train-run", "r"), replace("r/config.json", "{not json")),
        keep=("work/r",),
        names=("lr", "config.json"),
    )
    cli(
        "config_garbage",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), replace("r/config.json", "{not json")),
        expect="either",
    )
    cli(
        "config_is_a_directory",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), replace("r/config.json", kind="dir")),
        codes=(1, 2),
        names=("config.json",),
        keep=("work/r",),
    )
    cli(
        "lock_with_garbage_content",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), write("r/.nalm-lock", b"\xff\x00pid=-1\n" * 50)),
        expect="ok",
    )
    cli(
        "lock_is_a_directory",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), mkdir("r/.nalm-lock")),
        codes=(1, 2),
        names=(".nalm-lock",),
        keep=("work/r",),
    )
    cli(
        "lock_is_a_symlink_outside",
        c,
        train(),
        setup=chain(
            fixture("train-run", "r"),
            write("victim.txt", where="outside"),
            link("r/.nalm-lock", "../../outside/victim.txt"),
        ),
        codes=(1, 2),
        names=(".nalm-lock",),
        **keep_victim,
    )
    cli(
        "symlink_inside_metrics",
        c,
        train(),
        setup=chain(
            fixture("train-run", "r"),
            write("victim.txt", where="outside"),
            replace("r/metrics.csv"),
            link("r/metrics.csv", "../../outside/victim.txt"),
        ),
        names=("metrics.csv",),
        **keep_victim,
    )
    cli(
        "symlink_inside_to_a_directory",
        c,
        train(),
        setup=chain(
            fixture("train-run", "r"), mkdir("dir", "outside"), link("r/plots", "../../outside/dir")
        ),
        names=("plots",),
        keep=("outside/dir",),
    )
    cli(
        "checkpoint_garbage",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), replace("r/checkpoint.safetensors", b"\x00" * 64)),
        expect="either",
    )
    cli(
        "checkpoint_truncated",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), truncate("r/checkpoint.safetensors")),
        expect="either",
    )
    cli(
        "out_trailing_slash_resumes",
        c,
        train(out="r/"),
        setup=fixture("train-run", "r"),
        expect="ok",
    )
    cli(
        "default_runs_is_a_file",
        c,
        [*TRAIN],
        setup=write("runs"),
        codes=(1, 2),
        names=("runs",),
        keep=("work/runs",),
    )
    cli(
        "report_out_is_dev_null",
        c,
        [*REPORT, "--db", "d.sqlite", "--out", "/dev/null"],
        setup=fixture("db.sqlite", "d.sqlite"),
        names=("/dev/null",),
    )
    cli("out_is_a_fifo", c, train(), setup=h.mkfifo("r"), codes=(1, 2), names=("r",))
    cli("out_is_proc", c, train(out="/proc"), codes=(1, 2), names=("/proc",))
    cli(
        "resume_keeps_a_user_note",
        c,
        train(),
        setup=chain(fixture("train-run", "r"), write("r/notes.txt")),
        expect="either",
        keep=("work/r/notes.txt",),
    )
    cli("fit_default_out_twice", c, [*FIT], setup=chain(data, mkdir("runs")), expect="ok")

    # ------------------------------------------------------------------------------ db
    c = "db"

    def other_sqlite(rel: str, where: str = "work", app_id: int = 0, nalm_tables: bool = False):
        def run(work: Path, outside: Path) -> None:
            import sqlite3

            path = (work if where == "work" else outside) / rel
            connection = sqlite3.connect(path)
            if nalm_tables:
                connection.execute("CREATE TABLE results (suite TEXT)")
                connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            else:
                connection.execute("CREATE TABLE users (name TEXT, password TEXT)")
                connection.execute("INSERT INTO users VALUES ('alice', 'hunter2')")
            if app_id:
                connection.execute(f"PRAGMA application_id = {app_id}")
            connection.commit()
            connection.close()

        return run

    d = "d.sqlite"
    cli(
        "db_is_a_directory",
        c,
        bench(db="dd"),
        setup=mkdir("dd"),
        codes=(1, 2),
        names=("dd",),
        keep=("work/dd",),
    )
    cli("db_is_dev_null", c, bench(db="/dev/null"), codes=(1, 2), names=("/dev/null",))
    cli("db_empty_file", c, bench(db=d), setup=write(d, b""), expect="ok")
    cli(
        "db_text_file",
        c,
        bench(db="notes.txt"),
        setup=write("notes.txt", "hello\n" * 20),
        codes=(1, 2),
        names=("notes.txt",),
        keep=("work/notes.txt",),
    )
    cli(
        "db_another_programs_sqlite",
        c,
        bench(db="app.db"),
        setup=other_sqlite("app.db"),
        names=("app.db",),
        keep=("work/app.db",),
    )
    cli(
        "db_sqlite_with_a_foreign_application_id",
        c,
        bench(db="app.db"),
        setup=other_sqlite("app.db", app_id=1234, nalm_tables=True),
        names=("app.db",),
        keep=("work/app.db",),
    )
    cli(
        "db_nested_missing_folders", c, bench(db="a/b/c.sqlite"), expect="either", allow=("work/a",)
    )
    cli(
        "db_under_a_file",
        c,
        bench(db="notes.txt/x.sqlite"),
        setup=write("notes.txt"),
        codes=(1, 2),
        names=("notes.txt",),
        keep=("work/notes.txt",),
    )
    cli(
        "db_newer_format_version",
        c,
        bench(db=d),
        setup=chain(
            fixture("db.sqlite", d),
            sql(d, "UPDATE meta SET value = '99' WHERE key = 'format_version'"),
        ),
        names=("99", "newer"),
        keep=(f"work/{d}",),
    )
    cli(
        "db_format_version_garbage",
        c,
        bench(db=d),
        setup=chain(
            fixture("db.sqlite", d),
            sql(d, "UPDATE meta SET value = 'abc' WHERE key = 'format_version'"),
        ),
        names=(d,),
        keep=(f"work/{d}",),
    )
    cli(
        "db_old_version_with_garbage_keys",
        c,
        bench(db=d),
        setup=chain(
            fixture("db.sqlite", d),
            sql(
                d,
                "UPDATE meta SET value = '1' WHERE key = 'format_version'",
                "UPDATE results SET settings = 'garbage{'",
            ),
        ),
        expect="either",
        codes=(1, 2),
    )
    cli(
        "db_meta_table_dropped",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), sql(d, "DROP TABLE meta")),
        codes=(1, 2),
        names=(d,),
        keep=(f"work/{d}",),
    )
    cli(
        "db_truncated",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), truncate(d, 1000)),
        codes=(1, 2),
        names=(d,),
        keep=(f"work/{d}",),
    )
    cli(
        "db_sqlite_header_then_garbage",
        c,
        bench(db=d),
        setup=write(d, b"SQLite format 3\x00" + bytes(range(256)) * 16),
        codes=(1, 2),
        names=(d,),
        keep=(f"work/{d}",),
    )
    cli(
        "db_locked_by_another_connection",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), h.hold_exclusive_lock(d)),
        codes=(1, 2),
        names=(d, "lock"),
        timeout=90,
    )
    cli(
        "db_symlink_to_another_programs_sqlite",
        c,
        bench(db="link.db"),
        setup=chain(other_sqlite("app.db", "outside"), link("link.db", "../outside/app.db")),
        names=("link.db",),
        keep=("outside/app.db",),
    )
    cli("db_empty_string", c, bench(db=""), names=("--db", "''"))
    cli(
        "db_is_a_run_directory",
        c,
        bench(db="r"),
        setup=fixture("train-run", "r"),
        codes=(1, 2),
        names=("r",),
        keep=("work/r",),
    )
    cli("db_newline_in_name", c, bench(db="b\n.sqlite"), expect="either")
    cli(
        "db_journal_is_a_directory",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), mkdir(f"{d}-journal")),
        codes=(1, 2),
        names=(d,),
    )
    cli(
        "db_wal_file_of_garbage",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), write(f"{d}-wal", b"\x01" * 4096)),
        expect="either",
        codes=(1, 2),
    )
    cli(
        "db_history_column_garbage_then_report",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=chain(
            fixture("db.sqlite", d),
            sql(d, "UPDATE results SET history = '{not json', config = '[[['"),
        ),
        expect="either",
    )
    cli(
        "db_numbers_are_text_then_report",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=chain(
            fixture("db.sqlite", d),
            sql(
                d,
                "UPDATE results SET extrapolation_mse = 'abc', success = 7, "
                "seconds = 'x', solved_at = -5",
            ),
        ),
        expect="either",
    )
    cli(
        "db_settings_garbage_then_report",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=chain(fixture("db.sqlite", d), sql(d, "UPDATE results SET settings = 'garbage{'")),
        expect="either",
    )
    cli(
        "db_settings_garbage_then_run",
        c,
        bench(db=d),
        setup=chain(fixture("db.sqlite", d), sql(d, "UPDATE results SET settings = 'garbage{'")),
        expect="either",
    )

    def seeds_not_doubled(work: Path, out: str, err: str) -> str | None:
        import csv as csv_module

        path = work / "rep" / "results.csv"
        if not path.exists():
            return "no rep/results.csv written"
        table = list(csv_module.DictReader(path.open()))
        seeds = [r.get("seeds") for r in table]
        return None if seeds and all(s == "1" for s in seeds) else f"seeds column {seeds}"

    cli(
        "report_same_db_twice",
        c,
        [*REPORT, "--db", d, d, "--out", "rep"],
        setup=fixture("db.sqlite", d),
        expect="either",
        check=seeds_not_doubled,
    )
    cli(
        "report_same_db_via_a_symlink",
        c,
        [*REPORT, "--db", d, "alias.sqlite", "--out", "rep"],
        setup=chain(fixture("db.sqlite", d), link("alias.sqlite", d)),
        expect="either",
        check=seeds_not_doubled,
    )
    cli(
        "report_one_db_missing",
        c,
        [*REPORT, "--db", d, "missing.sqlite", "--out", "rep"],
        setup=fixture("db.sqlite", d),
        names=("missing.sqlite",),
    )
    cli(
        "report_empty_file",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=write(d, b""),
        names=(d,),
    )
    cli(
        "report_text_file",
        c,
        [*REPORT, "--db", "notes.txt", "--out", "rep"],
        setup=write("notes.txt", "hello\n"),
        codes=(1, 2),
        names=("notes.txt",),
    )
    cli(
        "report_db_is_a_directory",
        c,
        [*REPORT, "--db", "dd", "--out", "rep"],
        setup=mkdir("dd"),
        codes=(1, 2),
        names=("dd",),
    )
    cli(
        "report_newer_format_version",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=chain(
            fixture("db.sqlite", d),
            sql(d, "UPDATE meta SET value = '99' WHERE key = 'format_version'"),
        ),
        names=("99", "newer"),
    )
    cli(
        "report_leaves_the_db_byte_identical",
        c,
        [*REPORT, "--db", d, "--out", "rep"],
        setup=fixture("db.sqlite", d),
        expect="ok",
    )
    cli(
        "report_another_programs_sqlite",
        c,
        [*REPORT, "--db", "app.db", "--out", "rep"],
        setup=other_sqlite("app.db"),
        names=("app.db",),
    )
    cli(
        "report_out_is_a_file",
        c,
        [*REPORT, "--db", d, "--out", "notes.txt"],
        setup=chain(fixture("db.sqlite", d), write("notes.txt")),
        names=("notes.txt",),
        keep=("work/notes.txt",),
    )
    cli(
        "run_db_is_a_report_dir",
        c,
        bench(db="rep"),
        setup=fixture("report", "rep"),
        codes=(1, 2),
        names=("rep",),
        keep=("work/rep",),
    )

    # ------------------------------------------------------------------------------ numbers
    c = "numbers"
    BIG = "99999999999999999999999"
    train_numbers = [
        ("lr", "nan"), ("lr", "inf"), ("lr", "-inf"), ("lr", "-0"), ("lr", "5e-324"),
        ("lr", "3.5e38"), ("lr", "1e39"), ("lr", "-1"), ("lr", "abc"), ("lr", "0x10"),
        ("clip-value", "-0"), ("clip-value", "nan"), ("clip-value", "inf"),
        ("clip-norm", "5e-324"), ("clip-norm", "-3"),
        ("steps", BIG), ("steps", "-1"), ("steps", "0"), ("steps", "20.0"),
        ("seed", "-1"), ("seed", "9223372036854775808"),
        ("batch-size", "0"), ("batch-size", "1000001"),
        ("eval-every", "0"), ("eval-every", "1000000000"),
        ("eval-size", "0"), ("checkpoint-every", "0"), ("checkpoint-every", "nan"),
        ("recover", "-1"), ("recover", "nan"),
        ("inputs", "0"), ("layers", "1001"), ("layers", "0"),
    ]  # fmt: skip
    for flag, value in train_numbers:
        cli(f"train_{flag}_{value[:12]}", c, train(f"--{flag}={value}"), names=spelled(value))
    cli("train_hidden_0_with_2_layers", c, train("--layers", "2", "--hidden", "0"), names=("0",))
    cli(
        "train_baseline_lr_nan",
        c,
        train("--baseline", "mlp", "--baseline-lr", "nan"),
        names=("nan",),
    )
    cli(
        "train_baseline_lr_1e39",
        c,
        train("--baseline", "mlp", "--baseline-lr", "1e39"),
        names=("1e+39", "1e39"),
    )
    cli("train_seed_minus_zero", c, train("--seed=-0"), expect="ok")
    cli("train_seed_2_63_minus_1", c, train("--seed", "9223372036854775807"), expect="ok")
    cli("train_steps_with_underscores", c, train("--steps", "2_0"), expect="either", names=("2_0",))
    cli(
        "train_steps_fullwidth_digits",
        c,
        train("--steps", "２０"),
        expect="either",
        names=("２０",),
    )
    cli(
        "train_lr_fullwidth_digits",
        c,
        train("--lr", "０.０５"),
        expect="either",
        names=("０.０５",),
    )
    fit_numbers = [
        ("tolerance", "nan"), ("tolerance", "inf"), ("tolerance", "-0.1"), ("seeds", "0"),
        ("seeds", "-1"), ("seeds", "1000001"), ("lr", "3.5e38"), ("lr", "0"), ("steps", "0"),
        ("steps", "100000001"), ("batch-size", "0"), ("hidden", "0"), ("seed", "-5"),
    ]  # fmt: skip
    for flag, value in fit_numbers:
        cli(f"fit_{flag}_{value}", c, fit(f"--{flag}={value}"), setup=data, names=spelled(value))
    cli("fit_tolerance_minus_zero", c, fit("--tolerance=-0"), setup=data, expect="ok")
    bench_numbers = [
        ("subset", "nan"), ("subset", "1.5"), ("subset", "-0"), ("overlap", "inf"),
        ("overlap", "-0.5"), ("overlap", "1.5"), ("lambda", "nan"), ("lambda", "-1"),
        ("checkpoint-seconds", "nan"), ("checkpoint-seconds", "-1"), ("first-seed", "-1"),
        ("seeds", "0"), ("eval-size", "0"), ("input-size", "0"), ("input-size", "-1"),
        ("steps", "0"), ("lr", "nan"), ("lr", "1e39"), ("clip-value", "-1"),
        ("clip-norm", "nan"), ("batch-size", "10000000"), ("eval-every", "0"),
    ]  # fmt: skip
    for flag, value in bench_numbers:
        cli(f"bench_{flag}_{value}", c, bench(f"--{flag}={value}"), names=spelled(value))
    cli(
        "bench_first_seed_overflows",
        c,
        bench("--first-seed", "9223372036854775807", "--seeds", "2"),
        names=("9223372036854775807", "seed"),
    )
    cli("bench_lambda_zero", c, bench("--lambda", "0"), expect="ok")
    cli(
        "bench_checkpoint_seconds_inf",
        c,
        bench("--checkpoint-seconds", "inf"),
        expect="either",
        names=("inf",),
    )
    cli("bench_retries_negative_local", c, bench("--retries", "-1"), expect="either", names=("-1",))

    # ------------------------------------------------------------------------------ options
    c = "options"
    nalu = ("--unit", "nalu")
    opts = [
        ("eps_nan", "eps=nan", ("eps",)), ("eps_inf", "eps=inf", ("eps",)),
        ("eps_negative", "eps=-1", ("eps",)), ("eps_1e400", "eps=1e400", ("eps",)),
        ("unknown_key", "foo=1", ("foo",)), ("empty_key", "=1", ("=1",)),
        ("empty_value", "eps=", ("eps",)), ("no_equals", "eps", ("eps",)),
        ("bool_garbage", "shared_weights=maybe", ("shared_weights", "maybe")),
        ("gate_garbage", "gate=banana", ("banana",)),
        ("init_garbage", "init=nonsense", ("nonsense",)),
        ("device_as_option", "device=cuda", ("device",)),
        ("dtype_as_option", "dtype=float64", ("dtype",)),
        ("in_features_as_option", "in_features=3", ("in_features",)),
        ("key_with_leading_space", " eps=1e-6", ("eps",)), ("unicode_key", "ε=1", ("ε",)),
        ("value_with_equals", "eps=1e-6=2", ("eps", "1e-6=2")),
        ("value_is_an_expression", "eps=10**-6", ("eps", "10**-6")),
    ]  # fmt: skip
    for name, value, names in opts:
        cli(f"option_{name}", c, train(*nalu, "--option", value), names=names)
    cli("option_eps_zero", c, train(*nalu, "--option", "eps=0"), expect="either", names=("eps",))
    cli(
        "option_bool_as_int",
        c,
        train(*nalu, "--option", "shared_weights=1"),
        expect="either",
        names=("shared_weights",),
    )
    cli("option_clamp_2", c, train("--option", "clamp=2"), expect="either", names=("clamp",))
    cli(
        "option_for_the_other_unit_of_a_stack",
        c,
        train("--unit", "nau>nmu", "--target", "x0*x1+x0", "--option", "gate=input"),
        names=("gate",),
    )
    cli(
        "units_check_eps_nan",
        c,
        ["units", "check", "nalu", "--option", "eps=nan"],
        codes=(1, 2),
        names=("eps", "nan"),
        stderr_lines=(0, 1),
    )
    cli(
        "units_check_in_features_0",
        c,
        ["units", "check", "nau", "--in-features", "0"],
        names=("in-features", "0"),
    )
    cli(
        "units_check_in_features_huge",
        c,
        ["units", "check", "nau", "--in-features", "2000000"],
        names=("2000000", "2,000,000"),
    )
    cli(
        "units_check_out_features_abc",
        c,
        ["units", "check", "nau", "--out-features", "abc"],
        names=("abc",),
    )
    cli("units_check_unknown_unit", c, ["units", "check", "bogus"], names=("bogus",))
    cli("units_check_empty_name", c, ["units", "check", ""], names=("''", "name"))
    cli("units_check_a_stack", c, ["units", "check", "nau>nmu"], names=("nau>nmu",))
    cli(
        "units_check_mlp_bad_activation",
        c,
        ["units", "check", "mlp", "--option", "activation=nonexistent"],
        codes=(1, 2),
        names=("nonexistent",),
        stderr_lines=(0, 1),
    )
    cli(
        "units_check_mlp_hidden_option",
        c,
        ["units", "check", "mlp", "--option", "hidden=5"],
        names=("hidden",),
    )
    for act, expect in (
        ("nonexistent", "refuse"),
        ("Linear", "refuse"),
        ("__class__", "refuse"),
        ("Softmax", "either"),
        ("Module", "refuse"),
    ):
        cli(
            f"baseline_activation_{act}",
            c,
            train("--baseline", "mlp", "--baseline-activation", act),
            expect=expect,
            names=(act,),
        )
    for value in ("", "64,,64", "-1", "0", "2000000", ",".join(["1"] * 1001)):
        cli(
            f"baseline_hidden_{value[:10] or 'empty'}",
            c,
            train("--baseline", "mlp", f"--baseline-hidden={value}"),
            names=(value[:10] or "''", "hidden"),
        )
    for value in ("nan,1,2", "5,2", "1,2,3,4", "", "a,b", "0,0", "-1,0,10", "1e400,1,2"):
        cli(f"ramp_{value or 'empty'}", c, train(f"--ramp={value}"), names=(value or "''", "ramp"))
    for value, expect in (
        ("lr=", "refuse"),
        ("foo=1", "refuse"),
        ("lr=nan", "refuse"),
        ("lr", "refuse"),
        ("steps=10,10", "either"),
        ("ramp=1:2", "either"),
        ("=1", "refuse"),
        ("policy=bogus", "refuse"),
    ):
        cli(
            f"grid_{value}",
            c,
            bench("--grid", value),
            expect=expect,
            names=(value.split("=")[-1] or value, value.split("=")[0] or "grid"),
        )
    cli("bench_policy_unknown", c, bench("--policy", "bogus"), names=("bogus",))
    cli(
        "bench_ray_address_garbage",
        c,
        bench("--backend", "ray", "--address", "not an address"),
        codes=(1, 2),
        names=("not an address",),
    )
    cli(
        "bench_ray_address_unreachable",
        c,
        bench("--backend", "ray", "--address", "10.255.255.1:6379"),
        codes=(1, 2),
        names=("10.255.255.1",),
    )

    # model specs
    for value, expect in (
        ("", "refuse"),
        ("nau>>nmu", "refuse"),
        ("nau>", "refuse"),
        ("mlp:bogus", "refuse"),
        ("NAU", "either"),
        ("os.system", "refuse"),
        (">".join(["nau"] * 1002), "refuse"),
        ("nau>nmu>", "refuse"),
        ("nau nmu", "refuse"),
        ("acc:nau", "either"),
    ):
        cli(
            f"spec_train_{value[:20] or 'empty'}",
            c,
            train("--unit", value),
            expect=expect,
            names=(value[:20] or "''", "unit", value.split(":")[-1][:20] or "''"),
        )
    fit_no_unit = [*FIT[:4], *FIT[6:], "--out", "f"]
    cli(
        "spec_fit_try_units_bogus",
        c,
        [*fit_no_unit, "--try-units", "nau,bogus"],
        setup=data,
        names=("bogus",),
    )
    cli(
        "spec_fit_try_units_only_commas",
        c,
        [*fit_no_unit, "--try-units", ",,"],
        setup=data,
        names=(",,",),
    )
    cli("spec_bench_models_bogus", c, bench("--models", "bogus"), names=("bogus",))
    cli("spec_bench_ops_pow", c, bench("--ops", "pow"), names=("pow",))
    no_ranges = [a for i, a in enumerate(BENCH) if a != "--ranges" and BENCH[i - 1] != "--ranges"]
    for name, value, names in (
        ("index_99", "99", ("99",)),
        ("reversed", "2,1:2,6", ("2,1",)),
        ("semicolon_only", ";", (";", "ranges")),
        ("missing_half", "1,2:", ("1,2:", "extrapolation range")),
        ("three_parts", "1,2:2,6:6,9", ("1,2:2,6:6,9", "2,6:6,9")),
    ):
        cli(
            f"spec_bench_ranges_{name}",
            c,
            [*no_ranges, "--ranges", value, "--db", "b.sqlite"],
            names=names,
        )

    # ------------------------------------------------------------------------------ targets
    c = "targets"

    def target(
        name: str,
        formula: str,
        train_range: str = "1,2",
        test_range: str = "2,6",
        expect: str = "refuse",
        names: tuple[str, ...] = (),
        **kw: Any,
    ) -> None:
        cli(
            f"target_{name}",
            c,
            train(
                f"--target={formula}", f"--train-range={train_range}", f"--test-range={test_range}"
            ),
            expect=expect,
            names=names,
            **kw,
        )

    target("division_by_range_with_0", "x0/x1", "-1,1", names=("x1",))
    target("division_by_shifted_range", "x0/(x1-1.5)", names=("x1 - 1.5", "x1-1.5", "1.5"))
    target("division_by_test_range_only", "x0/(x1-3)", names=("x1 - 3", "x1-3", "3"))
    target("reciprocal_on_union_without_0", "1/x0", "-2,-1|1,2", "-6,-2|2,6", expect="ok")
    target("unknown_name", "y + x0", names=("y",))
    target("unknown_function", "sin(x0)", names=("sin",))
    target("dunder_import", '__import__("os").system("touch pwned")', names=("__import__",))
    target("attribute_access", "x0.__class__", names=("__class__", "attribute"))
    target("times_sign", "x0 × x1", names=("×",))
    target("fullwidth_x", "ｘ0 + x1", names=("ｘ",))
    target("empty", "", names=("target", "''"))
    target("blank", "   ", names=("target", "'   '"))
    target("syntax_error", "x0 +", names=("x0 +",))
    target("huge_power", "x0 ** 1000", names=("large", "x0**1000", "x0 ** 1000", "1000"))
    target("sqrt_of_negative", "x0 ** 0.5", "-1,1", names=("undefined", "x0"))
    target("log_of_zero", "log(x0)", "0,1", names=("log", "undefined"))
    target("exp_overflow", "exp(x0)", "1,2", "100,200", names=("large", "exp"))
    target("variable_index_huge", "x99999999", names=("x99999999", "inputs"))
    target("constant_only", "2", expect="either", names=("2", "input", "variable"))
    target("ternary", "x0 if x1 else x0", names=("if",))
    target("lambda", "lambda: 1", names=("lambda",))
    target("list", "[x0]", names=("[",))
    target("huge_constant", "1e309 * x0", names=("1e309", "inf"))
    target("deep_parentheses", "(" * 200 + "x0" + ")" * 200, expect="either", names=("(",))
    target("deep_unary_minus", "-" * 20000 + "x0", names=("-", "1000 characters"))
    target("very_long_sum", "+".join(["x0"] * 20000), expect="either")
    target("zero_over_zero", "x0/x0", "-1,1", names=("x0",))
    target("sqrt_of_negative_shift", "sqrt(x0 - 3)", names=("sqrt", "undefined"))
    target("keyword_argument", "abs(x=x0)", names=("abs", "x="))
    target("comparison", "x0 < x1", names=("<",))
    target("bitwise", "x0 ^ x1", names=("^",))
    target("walrus", "(y := x0)", names=(":=", "y"))
    target("string_constant", "'x0'", names=("'x0'", "string", "x0"))
    for name, value in (
        ("reversed", "2,1"),
        ("equal", "1,1"),
        ("inf_end", "inf,1"),
        ("nan_end", "nan,1"),
        ("beyond_float32", "1,1e39"),
        ("trailing_bar", "1,2|"),
        ("double_bar", "1,2||3,4"),
        ("overlapping_union", "1,3|2,4"),
        ("single_number", "1"),
        ("three_numbers", "1,2,3"),
        ("fullwidth", "１,2"),
        ("underscores", "1_0,20"),
        ("hex", "0x1,2"),
        ("subnormal_interval", "1e-45,2e-45"),
        ("minus_zero_to_zero", "-0,0"),
        ("letters", "a,b"),
        ("empty", ""),
        ("float32_equal", "1,1.00000001"),
    ):
        cli(f"range_{name}", c, train(f"--train-range={value}"), names=(value or "''", "range"))
    cli("range_spaces", c, train("--train-range= 1 , 2 "), expect="either", names=(" 1 , 2 ",))
    cli("range_test_reversed", c, train("--test-range=6,2"), names=("6,2",))
    cli(
        "target_needs_more_inputs",
        c,
        train("--target=x0+x3", "--inputs", "2"),
        names=("x3", "inputs"),
    )
    cli("target_inputs_more_than_used", c, train("--target=x0+x1", "--inputs", "3"), expect="ok")

    # ------------------------------------------------------------------------------ csv
    c = "csv"
    body = rows().split("\n", 1)[1]

    def csv_case(
        name: str,
        text: str | bytes,
        *extra: str,
        expect: str = "refuse",
        names: tuple[str, ...] = (),
        codes=(2,),
        target: str = "y",
        **kw,
    ) -> None:
        content = text.encode() if isinstance(text, str) else text
        cli(
            f"csv_{name}",
            c,
            [
                "fit",
                "t.csv",
                "--target",
                target,
                "--unit",
                "nau",
                "--steps",
                "20",
                "--seeds",
                "1",
                "--no-progress",
                "--out",
                "f",
                *extra,
            ],
            setup=chain(kw.pop("setup", lambda w, o: None), write("t.csv", content)),
            expect=expect,
            names=names,
            codes=codes,
            keep=("work/t.csv",),
            **kw,
        )

    csv_case(
        "bom", "\ufeff" + rows("y,a,b", f=lambda a, b: a + b).replace("y,a,b", "y,a,b"), expect="ok"
    )
    csv_case("crlf", rows(nl="\r\n"), expect="ok")
    csv_case("semicolons", rows("a;b;y", sep=";"), names=(";", "a;b;y"))
    csv_case("duplicate_columns", rows("a,a,y"), names=("a",))
    csv_case("missing_target", rows(), target="z", names=("z",))
    csv_case("non_numeric_cell", rows().replace("\n1.175,", "\nabc,", 1), names=("abc",))
    csv_case("nan_cell", rows().replace("\n1.175,", "\nnan,", 1), names=("nan",))
    csv_case("inf_cell", rows().replace("\n1.175,", "\ninf,", 1), names=("inf",))
    csv_case("nan_target", rows().rsplit(",", 1)[0] + ",nan\n", names=("nan",))
    csv_case("one_row", "a,b,y\n1,2,3\n", expect="either", names=("row",))
    csv_case("header_only", "a,b,y\n", names=("row", "t.csv"))
    csv_case("empty_file", "", names=("t.csv",))
    csv_case(
        "quoted_numbers",
        "\n".join(
            ['"a","b","y"']
            + [",".join(f'"{v}"' for v in line.split(",")) for line in body.splitlines()]
        )
        + "\n",
        expect="either",
        names=('"',),
    )
    csv_case("empty_column_name", rows("a,,y"), names=("column", "''"))
    csv_case("exclude_everything", rows(), "--exclude", "a,b", names=("input", "exclude"))
    csv_case("exclude_the_target", rows(), "--exclude", "y", expect="either", names=("y",))
    csv_case("exclude_unknown_column", rows(), "--exclude", "zz", names=("zz",))
    csv_case(
        "test_with_other_columns",
        rows(),
        "--test",
        "u.csv",
        setup=write("u.csv", rows("a,c,y")),
        names=("b", "c"),
    )
    csv_case(
        "test_without_target",
        rows(),
        "--test",
        "u.csv",
        setup=write("u.csv", rows("a,b,z")),
        names=("y",),
    )
    csv_case("test_is_the_same_file", rows(), "--test", "t.csv", expect="ok")
    csv_case(
        "test_with_nan",
        rows(),
        "--test",
        "u.csv",
        setup=write("u.csv", rows().replace("\n1.175,", "\nnan,", 1)),
        names=("nan",),
    )
    csv_case("test_missing", rows(), "--test", "missing.csv", names=("missing.csv",))
    csv_case("binary_file", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, names=("t.csv",))
    csv_case("huge_values", rows(f=lambda a, b: (a + b) * 1e300), names=("1e+300", "large", "y"))
    csv_case("ragged_row", rows() + "1,2\n", names=("line", "row", "42"))
    csv_case("extra_cells", rows() + "1,2,3,4\n", names=("line", "row", "42"))
    csv_case(
        "tab_separated",
        rows(sep="\t").replace("a,b,y", "a\tb\ty"),
        names=("\\t", "a\tb", "tab", "y"),
    )
    csv_case("spaces_in_header", rows(" a , b , y "), expect="either", names=("y",))
    csv_case("accented_header", rows("aé,b,y"), expect="ok")
    cli(
        "csv_latin1_bytes",
        c,
        [*FIT[:1], "t.csv", *FIT[2:], "--out", "f"],
        setup=write("t.csv", rows("a\xe9,b,y").encode("latin-1")),
        expect="either",
        names=("t.csv", "UTF-8", "utf-8"),
    )
    csv_case("constant_target", rows(f=lambda a, b: 3.0), expect="either")
    csv_case(
        "2000_columns",
        ",".join(f"c{i}" for i in range(2000))
        + ",y\n"
        + "".join(",".join(["1"] * 2000) + f",{k}\n" for k in range(3)),
        expect="either",
    )
    csv_case("columns_named_like_functions", rows("sqrt,exp,y"), expect="either")
    csv_case("columns_not_identifiers", rows("1abc,a b,y"), expect="either")
    csv_case("blank_lines", rows().replace("\n", "\n\n", 5), expect="either")
    csv_case("comment_line", "# made by hand\n" + rows(), expect="either", names=("#", "header"))
    add(
        "csv_from_process_substitution",
        c,
        "sub",
        shell='"$NALM" fit <(cat data.csv) --target y --unit nau --steps 20 --seeds 1 '
        "--no-progress --out f",
        setup=data,
        expect="ok",
        allowed=("work/f",),
    )
    add(
        "csv_piped_into_dev_stdin",
        c,
        "sub",
        shell='cat data.csv | "$NALM" fit /dev/stdin --target y --unit nau --steps 20 '
        "--seeds 1 --no-progress --out f",
        setup=data,
        expect="ok",
        allowed=("work/f",),
    )
    add(
        "csv_test_from_process_substitution",
        c,
        "sub",
        shell='"$NALM" fit data.csv --test <(cat data.csv) --target y --unit nau --steps 20 '
        "--seeds 1 --no-progress --out f",
        setup=data,
        expect="ok",
        allowed=("work/f",),
    )
    csv_case("target_empty_string", rows(), target="", names=("target", "''"))
    cli(
        "csv_is_a_directory",
        c,
        [*FIT[:1], "dd", *FIT[2:], "--out", "f"],
        setup=mkdir("dd"),
        codes=(1, 2),
        names=("dd",),
    )
    cli("csv_is_dev_null", c, [*FIT[:1], "/dev/null", *FIT[2:], "--out", "f"], names=("/dev/null",))
    cli("csv_missing_file", c, [*FIT[:1], "nope.csv", *FIT[2:], "--out", "f"], names=("nope.csv",))
    cli(
        "csv_is_a_fifo",
        c,
        [*FIT[:1], "p.csv", *FIT[2:], "--out", "f"],
        setup=h.mkfifo("p.csv"),
        codes=(1, 2),
        names=("p.csv",),
    )

    # ------------------------------------------------------------------------------ import
    c = "import"

    def unit_file(rel: str, name: str, **kw: Any):
        return write(rel, unit_source(name, **kw))

    def with_unit(command: str, unit: str) -> list[str]:
        if command == "train":
            return train("--import", "u.py", "--unit", unit)
        if command == "fit":
            return fit("--import", "u.py", "--unit", unit)
        return bench("--import", "u.py", "--models", unit)

    cli("import_missing_file", c, train("--import", "nope.py"), names=("nope.py",))
    cli("import_missing_module", c, train("--import", "no_such_mod_zz"), names=("no_such_mod_zz",))
    cli("import_dotted_missing_module", c, train("--import", "a.b.c"), names=("a.b.c",))
    cli("import_empty_name", c, train("--import", ""), names=("''", "--import"))
    cli(
        "import_syntax_error",
        c,
        train("--import", "u.py"),
        setup=write("u.py", "def (:\n"),
        names=("u.py",),
    )
    cli(
        "import_raises_at_import",
        c,
        train("--import", "u.py"),
        setup=write("u.py", "raise RuntimeError('boom at import')\n"),
        names=("u.py",),
    )
    cli(
        "import_calls_sys_exit_0",
        c,
        train("--import", "u.py"),
        setup=write("u.py", "import sys\nsys.exit(0)\n"),
        codes=(1, 2),
        names=("u.py",),
    )
    cli(
        "import_calls_sys_exit_text",
        c,
        train("--import", "u.py"),
        setup=write("u.py", "import sys\nsys.exit('bye from the import')\n"),
        codes=(1, 2),
        names=("u.py",),
    )
    cli(
        "import_raises_keyboard_interrupt",
        c,
        train("--import", "u.py"),
        setup=write("u.py", "raise KeyboardInterrupt\n"),
        codes=(1, 2, 130),
        names=("u.py", "interrupt"),
    )
    cli(
        "import_registers_existing_name",
        c,
        train("--import", "u.py"),
        setup=unit_file("u.py", "nau"),
        names=("nau",),
    )
    cli(
        "import_registers_bad_name",
        c,
        train("--import", "u.py"),
        setup=unit_file("u.py", "Bad Name"),
        names=("Bad Name",),
    )
    cli(
        "import_registers_plain_module",
        c,
        train("--import", "u.py"),
        setup=write(
            "u.py",
            "from torch import nn\nfrom nalm.units import register\n"
            "@register('plainmod')\nclass P(nn.Module):\n    pass\n",
        ),
        names=("plainmod", "Unit"),
    )
    cli(
        "import_registers_a_function",
        c,
        train("--import", "u.py"),
        setup=write(
            "u.py",
            "from nalm.units import register\n"
            "def f(a, b):\n    return a\nregister('funcunit', f)\n",
        ),
        names=("funcunit",),
    )
    cli(
        "import_a_directory",
        c,
        train("--import", "dd.py"),
        setup=mkdir("dd.py"),
        codes=(1, 2),
        names=("dd.py",),
    )
    cli(
        "import_a_text_file",
        c,
        train("--import", "notes.txt"),
        setup=write("notes.txt"),
        names=("notes.txt",),
    )
    cli(
        "import_nothing_registered_then_unknown_unit",
        c,
        train("--import", "u.py", "--unit", "ghost"),
        setup=write("u.py", "x = 1\n"),
        names=("ghost",),
    )
    cli("import_stdlib_module", c, ["units", "--import", "os"], expect="ok")
    cli("import_nalm_itself", c, ["units", "--import", "nalm"], expect="ok")
    cli(
        "import_file_with_spaces_and_accents",
        c,
        train("--import", "my units é.py", "--unit", "spaced"),
        setup=unit_file("my units é.py", "spaced"),
        expect="ok",
    )
    cli(
        "import_same_file_twice",
        c,
        train("--import", "u.py", "--import", "./u.py", "--unit", "twice"),
        setup=unit_file("u.py", "twice"),
        expect="either",
    )
    cli(
        "import_two_files_same_name",
        c,
        train("--import", "u.py", "--import", "v.py", "--unit", "dup"),
        setup=chain(unit_file("u.py", "dup"), unit_file("v.py", "dup")),
        names=("dup",),
    )
    cli(
        "import_prints_at_import",
        c,
        train("--import", "u.py", "--unit", "noisy"),
        setup=unit_file("u.py", "noisy", header="import sys\nprint('hello', file=sys.stderr)"),
        expect="ok",
    )
    broken = {
        "wrong_shape": dict(forward="torch.cat([x @ self.W.t(), x @ self.W.t()], -1)"),
        "nan_output": dict(forward="x @ self.W.t() * float('nan')"),
        "no_parameters": dict(forward="x.sum(-1, keepdim=True)", params=False),
        "tuple_output": dict(forward="(x @ self.W.t(), None)"),
        "float64_output": dict(forward="(x @ self.W.t()).double()"),
        "detached_output": dict(forward="(x @ self.W.t()).detach()"),
        "after_step_changes_shape": dict(
            extra="    def after_step(self):\n        self.W.data = torch.zeros(3, 3)\n"
        ),
        "reset_raises": dict(
            extra="    def reset_parameters(self):\n        raise RuntimeError('no reset')\n"
        ),
        "needs_an_option": dict(signature=", scale"),
        "regularization_not_scalar": dict(
            extra="    def regularization(self):\n        return torch.ones(2, 3)\n"
        ),
    }
    for label, kw in broken.items():
        cli(
            f"unit_{label}_train",
            c,
            with_unit("train", "bu"),
            setup=unit_file("u.py", "bu", **kw),
            names=("bu",),
        )
    for label in ("wrong_shape", "nan_output", "no_parameters"):
        cli(
            f"unit_{label}_fit",
            c,
            with_unit("fit", "bu"),
            setup=chain(data, unit_file("u.py", "bu", **broken[label])),
            names=("bu",),
        )
        cli(
            f"unit_{label}_bench",
            c,
            with_unit("bench", "bu"),
            setup=unit_file("u.py", "bu", **broken[label]),
            names=("bu",),
        )
    cli(
        "unit_float_regularizer_train",
        c,
        with_unit("train", "fu"),
        setup=unit_file("u.py", "fu", extra="    def regularization(self):\n        return 0.5\n"),
        expect="either",
        names=("fu",),
    )
    cli(
        "unit_plain_pytorch_init_train",
        c,
        with_unit("train", "pu"),
        setup=unit_file(
            "u.py",
            "pu",
            init="super().__init__(); self.in_features = "
            "in_features; self.out_features = out_features",
        ),
        expect="ok",
    )
    cli(
        "unit_nan_output_units_check",
        c,
        ["units", "check", "bu", "--import", "u.py"],
        setup=unit_file("u.py", "bu", **broken["nan_output"]),
        codes=(1,),
        stderr_lines=(0, 1),
    )
    cli(
        "unit_listing_with_a_constructor_that_raises",
        c,
        ["units", "--import", "u.py"],
        setup=unit_file("u.py", "ru", init="raise RuntimeError('cannot build')"),
        expect="ok",
    )

    # ------------------------------------------------------------------------------ api
    def task(*args: Any, **kw: Any):
        import nalm

        kw.setdefault("eval_size", 16)
        return nalm.ExpressionTask(*(args or ("x0 + x1", "1,2", "2,6")), **kw)

    def fitting(model: Any = None, the_task: Any = None, **kw: Any):
        def run(work: Path):
            import nalm

            kw.setdefault("steps", 20)
            kw.setdefault("progress", False)
            return nalm.fit(nalm.NAU(2, 1) if model is None else model(), the_task or task(), **kw)

        return run

    def seeds(make: Any = None, tasks: Any = None, seed_list: Any = (0,), **kw: Any):
        def run(work: Path):
            import nalm
            import nalm.train

            kw.setdefault("steps", 20)
            kw.setdefault("progress", False)
            return nalm.train.fit_seeds(
                make if make is not None else (lambda: nalm.NAU(2, 1)),
                [task()] if tasks is None else tasks(),
                list(seed_list) if not isinstance(seed_list, range) else seed_list,
                **kw,
            )

        return run

    def call(expression: str):
        """A call written as a user would, evaluated with nalm, torch and nn in scope."""

        def run(work: Path):
            import torch
            from torch import nn

            import nalm
            import nalm.train

            scope = {
                "nalm": nalm,
                "torch": torch,
                "nn": nn,
                "work": work,
                "math": math,
                "task": task,
            }
            return eval(expression, scope)

        return run

    def calls(name: str, expression: str, names: tuple[str, ...] = (), **kw: Any) -> None:
        api(name, expression, call(expression), names=names, **kw)

    calls("nau_float_size", "nalm.NAU(2.5, 1)", ("2.5",))
    calls("nau_zero_inputs", "nalm.NAU(0, 1)", ("0", "in_features"))
    calls("nau_negative_outputs", "nalm.NAU(2, -3)", ("-3",))
    calls("nau_terabyte", "nalm.NAU(10**6, 10**6)", ("1000000", "10**12", "elements", "1,000,000"))
    calls("nau_string_size", "nalm.NAU('2', 1)", ("'2'", "in_features"))
    calls("nau_bool_size", "nalm.NAU(True, 1)", ("True", "in_features"), expect="either")
    calls("nau_bad_device", "nalm.NAU(2, 1, device='banana')", ("banana",))
    calls("nau_int_dtype", "nalm.NAU(2, 1, dtype=torch.int64)", ("int64",))
    calls(
        "nau_string_dtype", "nalm.NAU(2, 1, dtype='float32')", ("float32", "dtype"), expect="either"
    )
    calls("nau_clamp_string", "nalm.NAU(2, 1, clamp='yes')", ("clamp", "yes"), expect="either")
    calls("nmu_unknown_keyword", "nalm.NMU(2, 1, bogus=1)", ("bogus",))
    calls("nalu_eps_nan", "nalm.NALU(2, 1, eps=float('nan'))", ("eps", "nan"))
    calls("nalu_eps_negative", "nalm.NALU(2, 1, eps=-1.0)", ("eps", "-1"))
    calls("nalu_gate_garbage", "nalm.NALU(2, 1, gate='banana')", ("banana",))
    calls("nalu_init_garbage", "nalm.NALU(2, 1, init='banana')", ("banana",))
    calls("mlp_hidden_zero", "nalm.MLP(2, 1, hidden=(0,))", ("0", "hidden"))
    calls("mlp_activation_unknown", "nalm.MLP(2, 1, activation='nope')", ("nope",))
    calls("mlp_activation_linear", "nalm.MLP(2, 1, activation='Linear')", ("Linear",))
    calls(
        "mlp_terabyte",
        "nalm.MLP(2, 1, hidden=(10**6, 10**6))",
        ("1000000", "10**12", "elements", "1,000,000"),
    )
    calls("mlp_hidden_string", "nalm.MLP(2, 1, hidden='64')", ("hidden", "'64'"), expect="either")
    api(
        "fit_not_a_module",
        "nalm.fit('not a module', task)",
        fitting(lambda: "not a module"),
        names=("not a module", "model", "str"),
    )
    api(
        "fit_wrong_input_size",
        "nalm.fit(nn.Linear(3, 1), task_of_2_inputs)",
        fitting(lambda: __import__("torch").nn.Linear(3, 1)),
        names=("3", "2"),
    )
    api("fit_steps_zero", "nalm.fit(model, task, steps=0)", fitting(steps=0), names=("steps",))
    api(
        "fit_steps_float",
        "nalm.fit(model, task, steps=2.5)",
        fitting(steps=2.5),
        names=("steps", "2.5"),
    )
    api(
        "fit_steps_1e9",
        "nalm.fit(model, task, steps=10**9)",
        fitting(steps=10**9),
        names=("steps", "1000000000"),
    )
    api("fit_lr_nan", "nalm.fit(model, task, lr=nan)", fitting(lr=math.nan), names=("lr", "nan"))
    api("fit_lr_negative", "nalm.fit(model, task, lr=-1)", fitting(lr=-1.0), names=("lr", "-1"))
    api("fit_lr_1e39", "nalm.fit(model, task, lr=1e39)", fitting(lr=1e39), names=("lr", "1e+39"))
    api(
        "fit_lr_bool",
        "nalm.fit(model, task, lr=True)",
        fitting(lr=True),
        names=("lr", "True"),
        expect="either",
    )
    api(
        "fit_lr_mapping_unknown_name",
        "nalm.fit(model, task, lr={'zz': 0.1})",
        fitting(lr={"zz": 0.1}),
        names=("zz",),
    )
    api(
        "fit_lr_mapping_nan",
        "nalm.fit({'a': NAU}, task, lr={'a': nan})",
        call(
            "nalm.fit({'a': nalm.NAU(2, 1)}, task(), lr={'a': math.nan}, steps=20, progress=False)"
        ),
        names=("nan",),
    )
    api(
        "fit_same_module_twice",
        "nalm.fit({'a': m, 'b': m}, task)",
        call(
            "(lambda m: nalm.fit({'a': m, 'b': m}, task(), steps=20, progress=False))"
            "(nalm.NAU(2, 1))"
        ),
        names=("a", "b"),
    )
    api(
        "fit_batch_size_zero",
        "nalm.fit(model, task, batch_size=0)",
        fitting(batch_size=0),
        names=("batch_size",),
    )
    api(
        "fit_batch_size_none_on_a_drawn_task",
        "nalm.fit(model, task, batch_size=None)",
        fitting(batch_size=None),
        names=("batch_size",),
        expect="either",
    )
    api(
        "fit_policy_unknown",
        "nalm.fit(model, task, policy='bogus')",
        fitting(policy="bogus"),
        names=("bogus",),
    )
    api(
        "fit_device_cuda7",
        "nalm.fit(model, task, device='cuda:7')",
        fitting(device="cuda:7"),
        names=("cuda",),
    )
    api(
        "fit_device_garbage",
        "nalm.fit(model, task, device='banana')",
        fitting(device="banana"),
        names=("banana",),
    )
    api("fit_seed_negative", "nalm.fit(model, task, seed=-1)", fitting(seed=-1), names=("-1",))
    api(
        "fit_seed_2_64",
        "nalm.fit(model, task, seed=2**64)",
        fitting(seed=2**64),
        names=("seed", str(2**64)),
    )
    api(
        "fit_optimizer_unknown",
        "nalm.fit(model, task, optimizer='bogus')",
        fitting(optimizer="bogus"),
        names=("bogus",),
    )
    api(
        "fit_regularizer_nan",
        "nalm.fit(model, task, regularizer=nan)",
        fitting(regularizer=math.nan),
        names=("nan", "regularizer"),
    )
    api(
        "fit_regularizer_turns_negative",
        "nalm.fit(model, task, regularizer=lambda t: -1.0)",
        fitting(regularizer=lambda t: -1.0),
        names=("-1",),
    )
    api(
        "fit_eval_every_zero",
        "nalm.fit(model, task, eval_every=0)",
        fitting(eval_every=0),
        names=("eval_every",),
    )
    api(
        "fit_recover_negative",
        "nalm.fit(model, task, recover=-1)",
        fitting(recover=-1),
        names=("recover",),
    )
    api(
        "fit_checkpoint_is_a_directory",
        "nalm.fit(model, task, checkpoint=<a directory>)",
        call(
            "nalm.fit(nalm.NAU(2, 1), task(), steps=20, progress=False, checkpoint=work, "
            "checkpoint_every=10)"
        ),
        names=("checkpoint", "work"),
        allowed=("work",),
        keep=("work",),
    )
    api(
        "fit_model_without_parameters",
        "nalm.fit(<module without parameters>, task)",
        call(
            "nalm.fit(type('Sum', (nn.Module,), {'forward': lambda self, x: "
            "x.sum(-1, keepdim=True)})(), task(), steps=20, progress=False)"
        ),
        names=("parameters",),
    )
    api(
        "fit_task_is_a_string",
        "nalm.fit(model, 'x0 + x1')",
        call("nalm.fit(nalm.NAU(2, 1), 'x0 + x1', steps=20, progress=False)"),
        names=("task", "x0 + x1", "str"),
    )
    api(
        "fit_float64_model",
        "nalm.fit(NAU(2, 1, dtype=torch.float64), task)",
        fitting(lambda: __import__("nalm").NAU(2, 1, dtype=__import__("torch").float64)),
        names=("float64",),
    )
    api(
        "fit_model_returning_nan",
        "nalm.fit(<module that returns NaN>, task)",
        call(
            "nalm.fit(type('N', (nalm.NAU,), {'forward': lambda self, x: "
            "nalm.NAU.forward(self, x) * float('nan')})(2, 1), task(), steps=20, "
            "progress=False)"
        ),
        expect="either",
        names=("nan", "NaN", "finite"),
    )
    api(
        "fit_seeds_factory_returns_a_string",
        "fit_seeds(lambda: 'x', [task], [0])",
        seeds(make=lambda: "x"),
        names=("make_model", "'x'", "str"),
    )
    api("fit_seeds_no_seeds", "fit_seeds(make, [task], [])", seeds(seed_list=()), names=("seeds",))
    api("fit_seeds_no_tasks", "fit_seeds(make, [], [0])", seeds(tasks=lambda: []), names=("tasks",))
    api(
        "fit_seeds_more_tasks_than_seeds",
        "fit_seeds(make, [task, task], [0])",
        seeds(tasks=lambda: [task(), task()]),
        names=("tasks", "seeds"),
        expect="either",
    )
    api(
        "fit_seeds_a_module_not_a_factory",
        "fit_seeds(NAU(2, 1), [task], [0])",
        call("nalm.train.fit_seeds(nalm.NAU(2, 1), [task()], [0], steps=20, progress=False)"),
        names=("make_model",),
    )
    api(
        "fit_seeds_duplicate_seeds",
        "fit_seeds(make, [task], [0, 0])",
        seeds(seed_list=(0, 0)),
        names=("0", "seed"),
        expect="either",
    )
    api(
        "fit_seeds_negative_seed",
        "fit_seeds(make, [task], [-1])",
        seeds(seed_list=(-1,)),
        names=("-1",),
    )
    api(
        "fit_seeds_ten_million_seeds",
        "fit_seeds(make, [task], range(10**7))",
        seeds(seed_list=range(10**7)),
        names=("seeds", "10000000", "10,000,000"),
    )
    api(
        "fit_seeds_policy_unknown",
        "fit_seeds(make, [task], [0], policy='bogus')",
        seeds(policy="bogus"),
        names=("bogus",),
    )
    api(
        "fit_seeds_lr_inf",
        "fit_seeds(make, [task], [0], lr=inf)",
        seeds(lr=math.inf),
        names=("lr", "inf"),
    )
    api(
        "fit_seeds_checkpoint_seconds_nan",
        "fit_seeds(..., checkpoint_seconds=nan)",
        seeds(checkpoint_seconds=math.nan),
        names=("checkpoint_seconds", "nan"),
    )
    api(
        "fit_seeds_betas_above_1",
        "fit_seeds(..., betas=(2.0, 0.9))",
        seeds(betas=(2.0, 0.9)),
        names=("2.0", "beta"),
    )
    api(
        "fit_seeds_factory_raises",
        "fit_seeds(lambda: 1/0, [task], [0])",
        seeds(make=lambda: 1 / 0),
        names=("ZeroDivisionError", "division", "make_model"),
        expect="either",
        passes=("ZeroDivisionError",),
    )
    calls(
        "save_into_an_existing_directory",
        "nalm.save(nalm.NAU(2, 1), work)",
        ("work", "is a directory"),
        allowed=("work",),
        keep=("work",),
    )
    calls(
        "save_not_a_module",
        "nalm.save('not a module', work / 'm.safetensors')",
        ("not a module", "str", "model"),
    )
    calls(
        "save_under_dev_null",
        "nalm.save(nalm.NAU(2, 1), '/dev/null/m.safetensors')",
        ("/dev/null",),
    )
    calls(
        "save_info_not_json",
        "nalm.save(nalm.NAU(2, 1), work / 'm.safetensors', note=object())",
        ("note", "object"),
    )
    calls(
        "save_a_foreign_module",
        "nalm.save(nn.Linear(2, 1), work / 'm.safetensors')",
        ("Linear",),
        expect="either",
    )
    calls(
        "save_then_load_nan_weights",
        "(lambda m: (torch.nn.init.constant_(m.W, float('nan')), nalm.save(m, work / "
        "'m.safetensors'), nalm.load(work / 'm.safetensors')))(nalm.NAU(2, 1))",
        ("nan",),
        expect="either",
    )
    calls("load_missing", "nalm.load(work / 'missing.safetensors')", ("missing.safetensors",))
    calls("load_a_directory", "nalm.load(work)", ("work", "directory"))
    calls(
        "load_a_text_file",
        "(work / 'm.safetensors').write_text('hello') and nalm.load(work / 'm.safetensors')",
        ("m.safetensors",),
    )
    calls(
        "load_an_empty_file",
        "(work / 'm.safetensors').write_bytes(b'') == 0 and nalm.load(work / 'm.safetensors')",
        ("m.safetensors",),
    )
    api(
        "load_bad_device",
        "nalm.load(model.safetensors, device='banana')",
        call("nalm.load(work / 'm.safetensors', device='banana')"),
        setup=fixture("model.safetensors", "m.safetensors"),
        names=("banana",),
    )
    api(
        "load_plain_safetensors_without_metadata",
        "nalm.load(<safetensors without nalm metadata>)",
        call(
            "(__import__('safetensors.torch').torch.save_file({'W': torch.zeros(1, 2)}, "
            "str(work / 'm.safetensors')), nalm.load(work / 'm.safetensors'))"
        ),
        names=("m.safetensors",),
    )
    calls("load_an_int", "nalm.load(123)", ("123", "path"))
    calls("load_dev_zero_prefix", "nalm.load('/dev/zero')", ("/dev/zero",))
    calls("expression_syntax_error", "nalm.Expression('x0 +')", ("x0 +",))
    calls("expression_empty", "nalm.Expression('')", ("''", "empty", "expression"))
    calls("expression_not_a_string", "nalm.Expression(123)", ("123", "int"))
    calls("expression_duplicate_names", "nalm.Expression('x0', names=['x0', 'x0'])", ("x0",))
    calls("expression_unknown_name", "nalm.Expression('a + b', names=['a'])", ("b",))
    calls(
        "expression_names_is_a_string",
        "nalm.Expression('x0', names='x0')",
        ("names", "x0"),
        expect="either",
    )
    calls(
        "expression_name_not_an_identifier", "nalm.Expression('a', names=['a', '1bad'])", ("1bad",)
    )
    calls(
        "expression_name_is_a_function",
        "nalm.Expression('sqrt + 1', names=['sqrt'])",
        ("sqrt",),
        expect="either",
    )
    calls(
        "task_eval_size_zero",
        "nalm.ExpressionTask('x0', '1,2', '2,6', eval_size=0)",
        ("eval_size",),
    )
    calls(
        "task_n_inputs_zero",
        "nalm.ExpressionTask('x0', '1,2', '2,6', n_inputs=0)",
        ("n_inputs", "inputs"),
    )
    calls("task_reversed_range", "nalm.ExpressionTask('x0', '2,1', '2,6')", ("2,1",))
    calls(
        "task_tuple_range",
        "nalm.ExpressionTask('x0', ((1, 2),), '2,6', eval_size=16)",
        ("(1, 2)", "range"),
        expect="either",
    )
    calls(
        "task_int_dtype", "nalm.ExpressionTask('x0', '1,2', '2,6', dtype=torch.int32)", ("int32",)
    )
    calls(
        "task_too_few_inputs",
        "nalm.ExpressionTask('x0 + x1', '1,2', '2,6', n_inputs=1)",
        ("x1", "n_inputs"),
    )
    calls(
        "task_eval_seed_negative",
        "nalm.ExpressionTask('x0', '1,2', '2,6', eval_seed=-1)",
        ("eval_seed", "-1"),
    )
    calls("arithmetic_unknown_operation", "nalm.ArithmeticTask('pow')", ("pow",))
    calls("arithmetic_input_size_zero", "nalm.ArithmeticTask('add', input_size=0)", ("input_size",))
    calls("arithmetic_subset_2", "nalm.ArithmeticTask('add', subset=2.0)", ("subset",))
    calls(
        "arithmetic_div_by_range_with_zero",
        "nalm.ArithmeticTask('div', input_size=4, subset=0.5, train_range='-1,1', eval_size=16)",
        ("-1,1", "0"),
        expect="either",
    )
    calls("to_formula_of_a_string", "nalm.to_formula('x0 + x1')", ("str", "x0 + x1", "model"))
    calls(
        "to_formula_wrong_number_of_names",
        "nalm.to_formula(nalm.NAU(2, 1), names=['a'])",
        ("names", "2"),
    )
    calls(
        "to_formula_tolerance_nan",
        "nalm.to_formula(nalm.NAU(2, 1), tolerance=float('nan'))",
        ("tolerance", "nan"),
    )
    calls("to_formula_of_an_mlp", "nalm.to_formula(nalm.MLP(2, 1))", ("MLP",))
    calls(
        "to_formula_of_40000_weights",
        "nalm.to_formula(nalm.NAU(200, 200))",
        ("40000", "40,000", "20000", "20,000"),
    )
    calls(
        "to_formula_of_a_torch_linear",
        "nalm.to_formula(nn.Linear(2, 1))",
        ("Linear",),
        expect="either",
    )
    calls("verify_syntax_error", "nalm.verify(nalm.NAU(2, 1), 'x0 +', '1,2')", ("x0 +",))
    calls("verify_reversed_range", "nalm.verify(nalm.NAU(2, 1), 'x0 + x1', '2,1')", ("2,1",))
    calls(
        "verify_zero_samples",
        "nalm.verify(nalm.NAU(2, 1), 'x0 + x1', '1,2', samples=0)",
        ("samples",),
    )
    calls("range_object_reversed", "nalm.Range(((2.0, 1.0),))", ("2", "1"))
    calls("range_object_nan", "nalm.Range(((float('nan'), 1.0),))", ("nan",))
    calls("evaluate_wrong_sizes", "nalm.evaluate(nalm.NAU(3, 1), task())", ("3", "2"))
    calls("ramp_nan", "nalm.Ramp(float('nan'))", ("nan",))
    calls("ramp_end_before_start", "nalm.Ramp(1.0, 10, 5)", ("10", "5"))
    calls(
        "register_an_existing_name",
        "nalm.units.register('nau', type('X', (nalm.Unit,), {}))",
        ("nau",),
    )

    # ------------------------------------------------------------------------------ signals
    c = "signals"
    long_train = train(
        "--steps", "10000000", "--eval-every", "100000", "--checkpoint-every", "1000"
    )
    long_fit = [*FIT[:1], "data.csv", *FIT[2:], "--steps", "10000000", "--out", "f"]
    long_bench = bench("--steps", "10000000", "--eval-every", "200", "--checkpoint-seconds", "1")

    def db_intact(work: Path, out: str, err: str) -> str | None:
        import sqlite3

        path = work / "b.sqlite"
        if not path.exists():
            return None
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            (answer,) = connection.execute("PRAGMA integrity_check").fetchone()
            connection.close()
        except sqlite3.Error as e:
            return f"the database is not readable after the signal: {e}"
        return None if answer == "ok" else f"integrity_check: {answer}"

    for sig, label in ((SIGTERM, "sigterm"), (SIGINT, "sigint")):
        add(
            f"{label}_train",
            c,
            "signal",
            argv=long_train,
            signals=((3.0, sig),),
            trigger=("stdout", "training "),
        )
        add(
            f"{label}_fit",
            c,
            "signal",
            argv=long_fit,
            signals=((3.0, sig),),
            trigger=("stdout", "fitting "),
            setup=data,
        )
        add(
            f"{label}_bench_run",
            c,
            "signal",
            argv=long_bench,
            signals=((6.0, sig),),
            trigger=("file", "b.sqlite"),
            check=db_intact,
        )
    add(
        "sigterm_reproduce_identity",
        c,
        "signal",
        argv=[*IDENTITY[:3], "50", "--steps", "10000000", *IDENTITY[6:], "--out", "id"],
        signals=((3.0, SIGTERM),),
        trigger=("file", "id/.nalm-run"),
    )
    add(
        "sigint_demo",
        c,
        "signal",
        argv=["demo", "--steps", "10000000", "--no-progress", "--out", "dm"],
        signals=((3.0, SIGINT),),
        trigger=("file", "dm/.nalm-run"),
    )
    add(
        "sigint_twice_train",
        c,
        "signal",
        argv=long_train,
        signals=((3.0, SIGINT), (3.2, SIGINT)),
        trigger=("stdout", "training "),
    )
    add(
        "sigint_during_startup",
        c,
        "signal",
        argv=long_train,
        signals=((1.0, SIGINT),),
        stderr_lines=(0, 1),
    )
    add(
        "sigterm_during_startup",
        c,
        "signal",
        argv=long_train,
        signals=((1.0, SIGTERM),),
        stderr_lines=(0, 1),
    )

    # ------------------------------------------------------------------------------ repeated
    c = "repeated"

    def stdout_has(*needles: str):
        def check(work: Path, out: str, err: str) -> str | None:
            missing = [n for n in needles if n not in out]
            return f"stdout lacks {missing}" if missing else None

        return check

    cli("steps_twice", c, train("--steps", "30"), expect="ok", check=stdout_has("30 steps"))
    cli(
        "out_twice_only_the_last_is_written",
        c,
        [*TRAIN, "--out", "a", "--out", "b"],
        expect="ok",
        allowed=("work/b",),
    )
    cli("target_twice", c, train("--target", "x0*x1"), expect="ok", check=stdout_has("x0*x1"))
    cli(
        "exclude_twice_extends",
        c,
        fit("--exclude", "c", "--exclude", "d", data_file="t.csv"),
        setup=write(
            "t.csv",
            "a,b,c,d,y\n"
            + "".join(
                f"{1 + i / 40},{1 + i * 3 % 40 / 40},{i % 3},{i % 5},"
                f"{2 + i / 40 + i * 3 % 40 / 40}\n"
                for i in range(40)
            ),
        ),
        expect="ok",
        check=stdout_has("from a, b"),
    )
    cli(
        "try_units_twice_extends",
        c,
        [*FIT[:4], "--try-units", "nau", "--try-units", "nmu", *FIT[6:], "--out", "f"],
        setup=data,
        expect="ok",
        check=stdout_has("nau", "nmu"),
    )
    cli(
        "models_twice_extends",
        c,
        bench("--models", "nmu"),
        expect="ok",
        check=stdout_has("nau", "nmu"),
    )
    cli(
        "report_db_twice_combines",
        c,
        [*REPORT, "--db", "d.sqlite", "--db", "e.sqlite", "--out", "rep"],
        setup=chain(fixture("db.sqlite", "d.sqlite"), fixture("db2.sqlite", "e.sqlite")),
        expect="ok",
        check=lambda w, o, e: (
            None
            if (
                {"add", "sub"}
                <= {
                    line.split(",")[3]
                    for line in (w / "rep" / "results.csv").read_text().splitlines()[1:]
                }
            )
            else "the report lacks the rows of one database"
        ),
    )
    cli(
        "option_eps_then_nan",
        c,
        train("--unit", "nalu", "--option", "eps=1e-6", "--option", "eps=nan"),
        names=("nan", "eps"),
    )
    cli("baseline_none_then_mlp", c, train("--baseline", "mlp"), expect="ok")
    cli("no_progress_twice", c, train("--no-progress"), expect="ok")
    cli("seed_then_negative_seed", c, train("--seed", "1", "--seed", "-1"), names=("-1",))
    cli(
        "grid_same_key_twice",
        c,
        bench("--grid", "lr=1e-3", "--grid", "lr=1e-2"),
        expect="either",
        names=("lr",),
    )

    def one_row_per_seed(work: Path, out: str, err: str) -> str | None:
        import sqlite3

        connection = sqlite3.connect(work / "b.sqlite")
        (n,) = connection.execute("SELECT COUNT(*) FROM results").fetchone()
        connection.close()
        return None if n == 1 else f"{n} rows for 1 seed of 1 cell"

    cli("ops_twice_the_same", c, bench("--ops", "add"), expect="either", check=one_row_per_seed)
    cli("ranges_twice_the_same", c, bench("--ranges", "0"), expect="either", check=one_row_per_seed)
    cli("db_twice_the_same", c, bench("--db", "b.sqlite"), expect="ok")
    cli("flag_before_the_command", c, ["--steps", "5", "train"], names=("--steps", "'5'"))
    cli("command_twice", c, ["train", "train"], names=("train",))
    cli(
        "preset_with_unit",
        c,
        [
            "train",
            "--preset",
            "seed-nac-add",
            "--unit",
            "nmu",
            "--steps",
            "20",
            "--eval-size",
            "16",
            "--baseline",
            "none",
            "--no-progress",
            "--out",
            "r",
        ],
        expect="either",
        names=("--unit", "preset"),
    )
    cli("ambiguous_abbreviation", c, ["train", "--s", "20"], names=("--s",))
    cli("lr_equals_then_space", c, train("--lr=0.1", "--lr", "0.2"), expect="ok")
    cli(
        "try_units_and_unit",
        c,
        [*FIT[:4], "--try-units", "nau", *FIT[4:], "--out", "f"],
        setup=data,
        names=("--unit", "--try-units"),
    )
    cli(
        "exclude_the_same_column_twice",
        c,
        fit("--exclude", "b", "--exclude", "b"),
        setup=data,
        expect="either",
        names=("b",),
    )
    cli(
        "test_twice",
        c,
        fit("--test", "data.csv", "--test", "data.csv"),
        setup=data,
        expect="either",
    )
    cli("units_check_two_names", c, ["units", "check", "nau", "nmu"], names=("nmu",))
    cli(
        "import_twice_the_same_module",
        c,
        ["units", "--import", "os", "--import", "os"],
        expect="ok",
    )

    # ------------------------------------------------------------------------------ commands
    c = "commands"
    cli("no_arguments", c, [], names=("command", "required", "train"))
    cli("unknown_command", c, ["bogus"], names=("bogus",))
    add(
        "units_piped_into_head",
        c,
        "sub",
        shell='"$NALM" units | true',
        expect="either",
        codes=(1, 2, 120, 141),
    )
    add(
        "units_to_dev_full",
        c,
        "sub",
        shell='"$NALM" units > /dev/full',
        codes=(1, 2),
        names=("/dev/full", "No space", "write"),
    )
    add(
        "train_to_dev_full",
        c,
        "sub",
        shell='"$NALM" ' + " ".join(h.shlex.quote(a) for a in train()) + " > /dev/full",
        codes=(1, 2),
        names=("No space", "write"),
        allowed=("work/r",),
    )
    add(
        "units_with_an_ascii_stdout",
        c,
        "sub",
        shell='"$NALM" units',
        env=(("PYTHONIOENCODING", "ascii"),),
        expect="either",
        codes=(1, 2),
    )
    add(
        "units_with_the_c_locale",
        c,
        "sub",
        shell='"$NALM" units --markdown',
        env=(("LC_ALL", "C"), ("LANG", "C")),
        expect="ok",
    )
    add(
        "python_dash_m_nalm_bad_steps",
        c,
        "sub",
        shell='"$PY" -m nalm train --steps nan',
        names=("nan",),
    )
    cli("demo_steps_zero", c, ["demo", "--steps", "0", "--out", "dm"], names=("0", "steps"))
    cli("demo_steps_nan", c, ["demo", "--steps", "nan", "--out", "dm"], names=("nan",))
    cli("demo_steps_negative", c, ["demo", "--steps=-5", "--out", "dm"], names=("-5",))
    cli("demo_device_garbage", c, ["demo", "--device", "banana", "--out", "dm"], names=("banana",))
    cli(
        "demo_device_cuda_without_gpu",
        c,
        ["demo", "--device", "cuda", "--out", "dm"],
        names=("cuda",),
    )
    cli(
        "demo_device_cuda_99", c, ["demo", "--device", "cuda:99", "--out", "dm"], names=("cuda:99",)
    )
    cli("demo_device_empty", c, ["demo", "--device", "", "--out", "dm"], names=("device", "''"))
    cli("demo_seed_negative", c, ["demo", "--seed=-1", "--out", "dm"], names=("-1",))
    cli("demo_tiny", c, ["demo", "--steps", "5", "--no-progress", "--out", "dm"], expect="ok")
    cli("train_device_meta", c, train("--device", "meta"), names=("meta",))
    cli(
        "train_device_cpu_colon_1", c, train("--device", "cpu:1"), expect="either", names=("cpu:1",)
    )
    cli("identity_models_zero", c, [*IDENTITY, "--models", "0", "--out", "id"], names=("0",))
    cli("identity_hidden_zero", c, [*IDENTITY, "--hidden", "0", "--out", "id"], names=("0",))
    cli(
        "identity_reversed_range",
        c,
        [*IDENTITY, "--train-range", "5,-5", "--out", "id"],
        names=("5,-5",),
    )
    cli(
        "identity_no_activations",
        c,
        [*IDENTITY, "--activations", ",", "--out", "id"],
        names=(",", "activations"),
    )
    cli(
        "identity_unknown_activation",
        c,
        [*IDENTITY, "--activations", "bogus", "--out", "id"],
        names=("bogus",),
    )
    cli(
        "identity_unknown_unit", c, [*IDENTITY, "--units", "bogus", "--out", "id"], names=("bogus",)
    )
    cli("identity_lr_nan", c, [*IDENTITY, "--lr", "nan", "--out", "id"], names=("nan",))
    table1 = [
        "reproduce",
        "table1",
        "--seeds",
        "1",
        "--static-steps",
        "20",
        "--recurrent-steps",
        "20",
        "--random-inits",
        "2",
        "--no-progress",
        "--out",
        "t1",
    ]
    cli("table1_unknown_op", c, [*table1, "--ops", "pow"], names=("pow",))
    cli("table1_seeds_zero", c, [*table1, "--seeds", "0"], names=("0", "seeds"))
    cli("table1_random_inits_zero", c, [*table1, "--random-inits", "0"], names=("0",))
    cli("table1_train_length_zero", c, [*table1, "--train-length", "0"], names=("0",))
    cli(
        "table1_sequence_range_nan", c, [*table1, "--sequence-train-range", "nan,1"], names=("nan",)
    )
    cli("table1_unknown_static_model", c, [*table1, "--static-models", "bogus"], names=("bogus",))
    cli(
        "digits_mnist_dir_missing",
        c,
        ["reproduce", "digits", "--mnist-dir", "nope", "--out", "dg"],
        names=("nope",),
    )
    cli(
        "digits_mnist_dir_empty",
        c,
        ["reproduce", "digits", "--mnist-dir", "mn", "--out", "dg"],
        setup=mkdir("mn"),
        names=("mn",),
    )
    cli(
        "digits_mnist_dir_is_a_file",
        c,
        ["reproduce", "digits", "--mnist-dir", "notes.txt", "--out", "dg"],
        setup=write("notes.txt"),
        names=("notes.txt",),
    )
    cli(
        "digits_mnist_files_garbage",
        c,
        ["reproduce", "digits", "--mnist-dir", "mn", "--out", "dg", "--quick"],
        setup=chain(
            *(
                write(f"mn/{n}", b"\x00\x00\x08\x03garbage")
                for n in (
                    "train-images-idx3-ubyte",
                    "train-labels-idx1-ubyte",
                    "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte",
                )
            )
        ),
        codes=(1, 2),
        names=("mn", "idx", "ubyte"),
    )
    cli(
        "digits_unknown_kind",
        c,
        ["reproduce", "digits", "--kinds", "bogus", "--out", "dg"],
        names=("bogus",),
    )
    cli(
        "product_unknown_model",
        c,
        ["reproduce", "product", "--models", "bogus", "--out", "pr"],
        names=("bogus",),
    )
    cli(
        "product_seeds_zero",
        c,
        ["reproduce", "product", "--seeds", "0", "--out", "pr"],
        names=("0", "seeds"),
    )
    cli(
        "words_hidden_zero",
        c,
        ["reproduce", "words", "--hidden", "0", "--out", "wd"],
        names=("0", "hidden"),
    )
    cli(
        "programs_steps_negative",
        c,
        ["reproduce", "programs", "--steps=-1", "--out", "pg"],
        names=("-1",),
    )
    cli(
        "programs_lr_inf",
        c,
        ["reproduce", "programs", "--lr", "inf", "--out", "pg"],
        names=("inf",),
    )
