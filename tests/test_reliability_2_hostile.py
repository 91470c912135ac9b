"""Issue 33: what the fresh hostile pass (benchmarks/hostile/) found, one test per root cause."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nalm.app.rundir import LOCK, MARK
from nalm.bench.sweep import stored_message
from nalm.cli import main

TRAIN = ["train", "--unit", "nau", "--target", "x0 + x1", "--steps", "20", "--eval-every", "10"]
TRAIN += ["--eval-size", "16", "--baseline", "none", "--no-progress"]
BENCH = ["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--ranges", "0"]
BENCH += ["--seeds", "1", "--steps", "20", "--eval-every", "10", "--eval-size", "16"]
BENCH += ["--input-size", "4", "--subset", "0.5", "--no-progress"]


def refused(capsys, *argv) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_empty_out_and_db_are_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "--out is empty; give a directory for the run" in refused(capsys, *TRAIN, "--out", "")
    assert "the results database's path is empty" in refused(capsys, *BENCH, "--db", "")
    assert list(tmp_path.iterdir()) == []


def test_ranges_that_name_nothing_are_refused(capsys, tmp_path):
    err = refused(capsys, *BENCH[:7], "--ranges", ";", *BENCH[9:], "--db", str(tmp_path / "b"))
    assert "--ranges ';' names no range pair" in err


@pytest.mark.parametrize("name", [MARK, LOCK])
def test_a_mark_or_lock_that_is_not_a_file_is_named(capsys, tmp_path, name):
    out = tmp_path / "r"
    assert main([*TRAIN, "--out", str(out)]) == 0
    (out / name).unlink(missing_ok=True)
    (out / name).mkdir()
    err = refused(capsys, *TRAIN, "--out", str(out))
    assert f"has a {name} that is not a file" in err


def test_a_database_changed_by_hand_is_one_sentence_in_a_report(capsys, tmp_path):
    db = tmp_path / "b.sqlite"
    assert main([*BENCH, "--db", str(db)]) == 0
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE results SET seconds = 'x'")
    err = refused(capsys, "bench", "report", "--db", str(db), "--out", str(tmp_path / "r"))
    assert "has seconds = 'x', not what nalm writes there (int or float)" in err
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE results SET seconds = 1.0, history = '[1, 2'")
    err = refused(capsys, "bench", "report", "--db", str(db), "--out", str(tmp_path / "r"))
    assert "has a history that is not JSON: '[1, 2'" in err


def test_an_interrupt_names_the_cell_checkpoint_it_kept(tmp_path):
    db = tmp_path / "b.sqlite"
    assert stored_message(db) == "no cell had finished, so nothing was stored"
    kept = tmp_path / "b.sqlite.cell-0123456789abcdef.safetensors"
    kept.write_bytes(b"x")
    assert stored_message(db) == (
        f"no cell had finished, so no row was stored; the cell in progress kept its checkpoint "
        f"({kept}), so the same command resumes inside it"
    )


def test_the_contract_catches_a_projection_that_changes_a_shape(capsys, tmp_path):
    unit = tmp_path / "bad_shape.py"
    unit.write_text(
        "import torch\nfrom nalm.units import NAU, register\n\n"
        "@register('shape_changer')\nclass ShapeChanger(NAU):\n"
        "    def after_step(self):\n        self.W.data = torch.zeros(3, 3)\n"
    )
    from nalm.units import registry

    try:
        err = refused(capsys, *TRAIN[:2], "shape_changer", *TRAIN[3:], "--import", str(unit))
    finally:
        registry._unregister("shape_changer")  # later tests list the registry's names
    assert "after_step() changed the shape of parameter 'W' from (2, 3) to (3, 3)" in err


def test_a_table_on_a_pipe_is_read_once(tmp_path):
    data = "a,b,y\n1,2,2\n2,3,6\n3,1,3\n4,2,8\n1.5,2,3\n"
    argv = [sys.executable, "-m", "nalm", "fit", "/dev/stdin", "--target", "y", "--unit", "nmu"]
    argv += ["--steps", "300", "--seeds", "1", "--no-progress", "--out", str(tmp_path / "r")]
    done = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "best: nmu    y = a*b" in done.stdout


def test_a_terminal_without_unicode_gets_escapes_not_a_traceback():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run(
        [sys.executable, "-m", "nalm", "units"], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "\\u2212" in done.stdout or "\\u00d7" in done.stdout


def test_the_ray_backend_keeps_ray_s_log_lines_off_the_terminal(capfd):
    from nalm.bench.ray_backend import _quiet_stderr

    with _quiet_stderr():
        os.write(2, b"[gcs_client.cc:210] Failed to get cluster ID\n")
    print("after", file=sys.stderr)
    assert capfd.readouterr().err == "after\n"


def test_hostile_pass_lists_its_cases():
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "benchmarks/hostile/pass.py"), "--list"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if line.strip()]) >= 220


def test_input_names_given_as_one_string_are_refused():
    import nalm
    from nalm.errors import NalmError

    with pytest.raises(NalmError, match="names must be a list of input names, not the string 'x0'"):
        nalm.Expression("x0", names="x0")
