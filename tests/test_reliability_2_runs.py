"""Issue 33, groups 1 and 2: run directories never lose or mix results, and write errors are
answered in one sentence that says what was kept.

Rules under test (docs/reliability.md, "Run directories"): everything is checked before the
first byte is written; a refused resume names each differing setting and changes no file; a run
of another kind is refused; no file of another run is left beside a new run's config; one
process at a time writes a run directory (a lock naming its holder's pid; a dead holder's lock
is free); every file is written by temporary file and rename, so links are never followed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from nalm.app import rundir
from nalm.app.experiment import Experiment, Result, Run
from nalm.app.rundir import LOCK, MARK, claim
from nalm.cli import main
from nalm.errors import NalmError
from nalm.files import open_atomic, write_text

TRAIN = [
    "train",
    "--unit",
    "nau",
    "--target",
    "x0 + x1",
    "--steps",
    "40",
    "--eval-every",
    "20",
    "--checkpoint-every",
    "20",
    "--eval-size",
    "16",
    "--baseline",
    "none",
    "--no-progress",
]


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def status(capsys, *argv) -> tuple[int, str]:
    """Run the CLI in this process: its exit status and its stderr (one line, no traceback)."""
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return code, err


def refused(capsys, *argv) -> str:
    code, err = status(capsys, *argv)
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def train_run(tmp_path, capsys) -> Path:
    out = tmp_path / "r1"
    assert status(capsys, *TRAIN, "--out", str(out))[0] == 0
    return out


# -- 1. run directories ------------------------------------------------------------------------
def test_a_refused_resume_names_each_differing_setting_and_changes_nothing(train_run, capsys):
    before = snapshot(train_run)
    err = refused(capsys, *TRAIN, "--out", str(train_run), "--seed", "1", "--lr", "0.1")
    assert "holds a train run with other settings (lr 0.05 → 0.1; seed 0 → 1)" in err
    err = refused(capsys, *TRAIN[:5], "--steps", "60", *TRAIN[7:], "--out", str(train_run))
    assert "(steps 40 → 60)" in err
    assert snapshot(train_run) == before  # config.json, weights and checkpoint byte for byte


def test_the_same_settings_resume_into_their_own_run(train_run, capsys):
    assert status(capsys, *TRAIN, "--out", str(train_run))[0] == 0
    config = json.loads((train_run / "config.json").read_text())
    assert (config["seed"], config["steps"]) == (0, 40)
    assert sorted(p.name for p in train_run.iterdir() if p.name.startswith(".")) == [MARK]


def test_a_run_of_another_kind_is_refused(train_run, tmp_path, capsys):
    before = snapshot(train_run)
    err = refused(capsys, "reproduce", "identity", "--quick", "--out", str(train_run))
    assert "holds a 'train' run; 'nalm reproduce identity' writes only into" in err
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + "".join(f"{a},{b},{a * b}\n" for a in (1, 2, 3) for b in (2, 3)))
    err = refused(capsys, "fit", str(data), "--target", "y", "--out", str(train_run))
    assert "holds a 'train' run; 'nalm fit' writes only into" in err
    db = _bench_db(tmp_path, capsys)
    err = refused(capsys, "bench", "report", "--db", str(db), "--out", str(train_run))
    assert "holds a 'train' run; 'nalm bench report' writes only into" in err
    assert snapshot(train_run) == before


def test_a_fit_run_refuses_train_and_another_fit(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + "".join(f"{a},{b},{a + b}\n" for a in (1, 2, 3) for b in (2, 3)))
    out = tmp_path / "fit"
    fit = ["fit", str(data), "--target", "y", "--steps", "30", "--seeds", "1", "--no-progress"]
    assert status(capsys, *fit, "--unit", "nmru", "--out", str(out))[0] == 0
    before = snapshot(out)
    assert "nmru.safetensors" in before
    err = refused(capsys, *TRAIN, "--out", str(out))
    assert "holds a 'fit' run; 'nalm train' writes only into" in err
    err = refused(capsys, *fit, "--unit", "nau", "--out", str(out))
    assert "holds a fit run with other settings (units nmru → nau)" in err
    assert snapshot(out) == before  # never a new config beside the other run's nmru.safetensors


@dataclass(frozen=True)
class Squares(Experiment):
    """A workflow that keeps finished parts per settings, as the reproductions do."""

    name: ClassVar[str] = "squares"
    command: ClassVar[str] = "squares"
    n: int = 3

    def execute(self, run: Run) -> Result:
        for i in range(self.n):
            if run.parts.get(str(i)) is None:
                run.parts.put(str(i), i * i)
        write_text(run.out / f"report-{self.n}.md", f"{self.n} parts\n")
        return Result(self, out=run.out)


def test_other_settings_of_a_parts_workflow_keep_the_parts_and_drop_the_other_report(tmp_path):
    Squares(n=3).run(tmp_path, log=lambda _: None)
    parts = (tmp_path / "parts.jsonl").read_text()
    Squares(n=2).run(tmp_path, log=lambda _: None)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [MARK, "config.json", "parts.jsonl", "report-2.md"]  # no report-3.md
    assert (tmp_path / "parts.jsonl").read_text().startswith(parts)  # nothing finished lost
    assert json.loads((tmp_path / "config.json").read_text())["n"] == 2


def test_a_second_process_is_refused_naming_the_holder(train_run, capsys):
    before = snapshot(train_run)
    mark = rundir.read_mark(train_run)
    with claim(train_run, "train", mark["settings"], name=mark["kind"]):
        err = refused(capsys, *TRAIN, "--out", str(train_run))
    assert f"is being written by another nalm process (pid {os.getpid()} on " in err
    assert snapshot(train_run) == before
    assert not (train_run / LOCK).exists()  # released with the block


def test_two_train_processes_into_one_directory(tmp_path):
    out = tmp_path / "r"
    argv = [sys.executable, "-m", "nalm", *TRAIN[:5], "--steps", "3000", *TRAIN[7:]]
    argv += ["--out", str(out)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / LOCK).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert first.wait(timeout=300) == 0
    assert second.returncode == 2
    assert f"another nalm process (pid {first.pid} on " in second.stderr
    assert json.loads((out / "config.json").read_text())["steps"] == 3000


def test_a_lock_left_by_a_dead_process_is_taken_over(train_run, capsys):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    (train_run / LOCK).write_text(json.dumps({"pid": int(dead.stdout), "host": "x"}) + "\n")
    assert status(capsys, *TRAIN, "--out", str(train_run))[0] == 0
    assert not (train_run / LOCK).exists()


def test_a_link_inside_a_run_directory_is_refused_and_its_target_untouched(
    train_run, tmp_path, capsys
):
    target = tmp_path / "precious.csv"
    target.write_text("mine\n")
    (train_run / "metrics.csv").unlink()
    (train_run / "metrics.csv").symlink_to(target)
    err = refused(capsys, *TRAIN, "--out", str(train_run))
    assert "holds a symbolic link (metrics.csv); nalm never writes through links" in err
    assert target.read_text() == "mine\n"


def test_every_file_is_replaced_whole_never_written_through_a_link(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("theirs")
    link = tmp_path / "config.json"
    link.symlink_to(target)
    write_text(link, "ours")
    assert target.read_text() == "theirs" and not link.is_symlink()
    assert link.read_text() == "ours"
    with pytest.raises(RuntimeError), open_atomic(link) as f:  # a failed write keeps the file
        f.write("half")
        raise RuntimeError("disk gone")
    assert link.read_text() == "ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "target.txt"]


def test_run_files_are_written_by_temporary_file_and_rename(tmp_path, capsys, monkeypatch):
    replaced = []
    real = os.replace

    def recorded(a, b):
        replaced.append(Path(b).name)
        return real(a, b)

    monkeypatch.setattr(rundir.os, "replace", recorded)
    out = tmp_path / "r"
    assert status(capsys, *TRAIN[:-2], "mlp", "--no-progress", "--out", str(out))[0] == 0
    written = {p.name for p in out.iterdir()}
    assert written == {MARK, *replaced}  # every file, the plot and the mark included
    assert {"config.json", "metrics.csv", "model.safetensors", "baseline.safetensors"} <= written
    assert {"checkpoint.safetensors", "prediction.png"} <= written


def test_a_mark_from_before_the_settings_still_resumes_and_refuses_by_its_config(train_run, capsys):
    (train_run / MARK).write_text(json.dumps({"kind": "train-nau"}) + "\n")  # nalm <= 23648fc
    err = refused(capsys, *TRAIN, "--out", str(train_run), "--seed", "3")
    assert "(seed 0 → 3)" in err
    assert status(capsys, *TRAIN, "--out", str(train_run))[0] == 0


# -- 2. write errors -----------------------------------------------------------------------------
def _bench_db(tmp_path: Path, capsys) -> Path:
    db = tmp_path / "b.sqlite"
    argv = ["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--seeds", "1"]
    argv += ["--steps", "20", "--eval-every", "10", "--eval-size", "8", "--no-progress"]
    assert status(capsys, *argv, "--db", str(db))[0] == 0
    return db


def _read_only(path: Path) -> None:
    """Make ``path`` unwritable even for root (immutable), or skip where that is impossible."""
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    try:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    except OSError:  # no chattr on this machine
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("running as root where chattr +i is not possible")


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_an_unwritable_database_is_refused_before_training(tmp_path, capsys, what):
    db = _bench_db(tmp_path, capsys) if what == "file" else tmp_path / "ro" / "new.sqlite"
    db.parent.mkdir(exist_ok=True)
    locked = db if what == "file" else db.parent
    before = db.read_bytes() if what == "file" else None
    _read_only(locked)
    try:
        argv = ["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--seeds", "2"]
        argv += ["--steps", "50000", "--no-progress", "--db", str(db)]  # refused at once
        started = time.monotonic()
        err = refused(capsys, *argv)
        assert time.monotonic() - started < 30
    finally:
        _writable(locked)
    assert f"cannot write the results database {db}" in err
    if what == "file":
        assert db.read_bytes() == before
    else:
        assert "is not writable" in err and not db.exists()


def test_an_unwritable_run_directory_is_refused(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    _read_only(folder)
    try:
        err = refused(capsys, *TRAIN, "--out", str(folder / "run"))
    finally:
        _writable(folder)
    assert "cannot create the run directory" in err and not (folder / "run").exists()


def test_a_full_disk_at_a_checkpoint_says_what_was_kept_and_the_run_resumes(
    tmp_path, capsys, monkeypatch
):
    from nalm.train import checkpoint

    out = tmp_path / "r"
    real, calls = checkpoint.write_bytes, []

    def full_after_one(path, data):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(checkpoint, "write_bytes", full_after_one)
    code, err = status(capsys, *TRAIN, "--out", str(out))
    assert code == 1 and len(err.splitlines()) == 1
    assert "could not write a result: No space left on device; the last checkpoint" in err
    assert f"run the same command with --out {out} to resume" in err
    kept = checkpoint.read(out / "checkpoint.safetensors")[1]["step"]
    assert kept == 20
    monkeypatch.setattr(checkpoint, "write_bytes", real)
    assert status(capsys, *TRAIN, "--out", str(out))[0] == 0  # resumes from step 20
    assert checkpoint.read(out / "checkpoint.safetensors")[1]["step"] == 40


def test_a_run_directory_removed_mid_run_is_one_sentence(tmp_path, capsys, monkeypatch):
    from nalm.train import checkpoint

    out = tmp_path / "r"
    real = checkpoint.write_bytes

    def removed_first(path, data):
        shutil.rmtree(out)
        return real(path, data)

    monkeypatch.setattr(checkpoint, "write_bytes", removed_first)
    code, err = status(capsys, *TRAIN, "--out", str(out))
    assert code == 1 and len(err.splitlines()) == 1
    assert f"could not write '{out / 'checkpoint.safetensors'}': No such file or directory" in err
    assert f"the run directory {out} is gone, so nothing was kept" in err


def test_a_full_disk_at_a_row_write_says_what_is_stored(tmp_path, capsys, monkeypatch):
    from nalm.bench.store import Store

    db = _bench_db(tmp_path, capsys)

    def full(self, rows):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "write", full)
    argv = ["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--seeds", "2"]
    argv += ["--steps", "20", "--eval-every", "10", "--eval-size", "8", "--no-progress"]
    code, err = status(capsys, *argv, "--db", str(db))
    assert code == 1 and len(err.splitlines()) == 1
    assert "could not write the results database: database or disk is full" in err
    assert f"1 rows are stored in {db}; run the same command again to resume" in err


def test_a_store_that_cannot_connect_is_one_sentence(tmp_path, monkeypatch):
    from nalm.bench import store

    def cannot(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(store.sqlite3, "connect", cannot)  # was AttributeError: no 'connection'
    with pytest.raises(NalmError, match=r"cannot write the results database .*unable to open"):
        store.Store(tmp_path / "r.sqlite")
