"""Issue 33, group 6: flags and signals (docs/reliability.md, "Flags and signals").

Rules under test: a list-valued flag given twice keeps both uses (one mechanism,
:class:`nalm.cli.common.Extend`, on every such flag; a default is replaced, never appended to);
SIGTERM stops a command as Ctrl-C does (the same message and resume hint, exit status 130); a
Ray address where no Ray head answers is refused in one sentence within seconds, before the
database is created.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from nalm.bench import ray_backend
from nalm.cli import build_parser, common, main


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


# -- repeated list flags extend --------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,dest,expected",
    [
        (["fit", "d.csv", "--target", "y", "--exclude", "c", "--exclude", "b,a"], "exclude",
         ("c", "b", "a")),
        (["fit", "d.csv", "--target", "y", "--try-units", "nau", "--try-units", "nmu"],
         "try_units", ("nau", "nmu")),
        (["bench", "run", "madsen", "--models", "nau", "nmu,nac", "--models", "NMU"], "models",
         ("nau", "nmu", "nac", "NMU")),
        (["bench", "run", "madsen", "--ops", "add", "--ops", "sub", "mul"], "ops",
         ("add", "sub", "mul")),
        (["bench", "run", "madsen", "--ranges", "0", "--ranges", "1;2"], "ranges", ("0", "1;2")),
        (["bench", "run", "madsen", "--grid", "lr=1", "--grid", "steps=2"], "grid",
         ("lr=1", "steps=2")),
        (["bench", "report", "--db", "a", "b", "--db", "c"], "db", ("a", "b", "c")),
        (["train", "--option", "eps=1", "--option", "x=y"], "option", (("eps", 1), ("x", "y"))),
        (["reproduce", "table1", "--ops", "add", "--ops", "mul"], "operations", ("add", "mul")),
        (["reproduce", "table1", "--static-models", "NAC", "--static-models", "NMU"],
         "static_models", ("NAC", "NMU")),
        (["reproduce", "table1", "--recurrent-models", "lstm", "--recurrent-models", "nau"],
         "recurrent_models", ("lstm", "nau")),
        (["reproduce", "identity", "--activations", "relu", "--activations", "tanh,elu"],
         "activations", ("relu", "tanh", "elu")),
        (["reproduce", "identity", "--units", "nac", "--units", "nalu"], "units",
         ("nac", "nalu")),
        (["reproduce", "digits", "--models", "lstm", "--models", "gru"], "models",
         ("lstm", "gru")),
        (["reproduce", "digits", "--kinds", "count", "--kinds", "sum"], "kinds",
         ("count", "sum")),
        (["units", "--import", "a", "--import", "b"], "imports", ("a", "b")),
    ],
)  # fmt: skip
def test_a_repeated_list_flag_keeps_every_use(argv, dest, expected):
    assert getattr(_parse(*argv), dest) == expected


@pytest.mark.parametrize(
    "argv,dest,default",
    [
        (["bench", "report"], "db", ("results.sqlite",)),
        (["fit", "d.csv", "--target", "y"], "exclude", ()),
        (["train"], "option", ()),
        (["bench", "run", "madsen"], "models", None),
    ],
)
def test_a_default_is_replaced_never_appended_to(argv, dest, default):
    assert getattr(_parse(*argv), dest) == default
    given = getattr(_parse(*argv, "--" + dest.replace("_", "-"), "x=1"), dest)
    assert given in (("x=1",), (("x", 1),))  # the given value alone
    assert getattr(_parse(*argv), dest) == default  # and the default object is untouched


def test_every_list_valued_flag_uses_the_one_mechanism():
    """A flag that takes several values, or a list of names, or is repeatable extends."""
    for leaf in common.leaf_parsers(build_parser()):
        for action in leaf._actions:
            listy = (
                action.nargs in ("+", "*")
                or action.type is common.names
                or isinstance(action, argparse._AppendAction)
            )
            if listy and action.option_strings:
                assert isinstance(action, common.Extend), f"{leaf.prog} {action.option_strings}"


def test_repeated_exclude_leaves_out_every_column(tmp_path, capsys):
    rows = [f"{a},{b},{a * b},{a - b},{a + b}" for a in (1, 1.5, 2) for b in (1, 1.25, 2)]
    (tmp_path / "t.csv").write_text("\n".join(["a,b,c,d,y", *rows]) + "\n")
    argv = ["fit", str(tmp_path / "t.csv"), "--target", "y", "--exclude", "c", "--exclude", "d"]
    argv += ["--unit", "nau", "--steps", "20", "--seeds", "1", "--out", str(tmp_path / "run")]
    assert main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("fitting y from a, b: 9 rows")


def test_repeated_ops_and_ranges_train_every_cell(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    argv = ["bench", "run", "single-module", "--models", "nau", "--ops", "add", "--ops", "sub"]
    argv += ["--ranges", "0", "--ranges", "6", "--seeds", "1", "--steps", "4"]
    argv += ["--eval-every", "2", "--eval-size", "20", "--db", str(db), "--no-progress"]
    assert main(argv) == 0
    with sqlite3.connect(db) as connection:
        cells = set(connection.execute("SELECT operation, range FROM results").fetchall())
    assert {op for op, _ in cells} == {"add", "sub"} and len(cells) == 4


# -- SIGTERM is Ctrl-C ---------------------------------------------------------------------------
def test_sigterm_stops_train_as_ctrl_c_does(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--unit", "nau", "--target", "x0 + x1", "--steps", "10000000"]
    argv += ["--checkpoint-every", "100", "--baseline", "none", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nalm", *argv, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 120
        while not (out / "checkpoint.safetensors").exists():
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("nalm: interrupted; the last checkpoint")
    assert f"run the same command with --out {out} to resume" in lines[0]


def test_sigterm_in_process_raises_keyboard_interrupt(tmp_path, capsys):
    """main() installs the handler in the main thread: a SIGTERM sent during a command ends
    it as Ctrl-C does, with status 130 and the sweep's resume hint."""
    before = signal.getsignal(signal.SIGTERM)
    db = tmp_path / "r.sqlite"
    argv = ["bench", "run", "single-module", "--models", "nau", "--ops", "add", "--seeds", "1"]
    argv += ["--steps", "10000000", "--eval-size", "20", "--db", str(db), "--no-progress"]
    argv += ["--no-compile"]  # the eager step: no line of its own, no compiling to wait for
    stop = threading.Event()

    def terminate_once_training() -> None:  # the store exists once the cell trains
        while not stop.is_set() and not db.exists():
            time.sleep(0.05)
        if not stop.wait(0.5):
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_once_training)
    sender.start()
    try:
        assert main(argv) == 130
    finally:
        stop.set()
        sender.join()
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err.strip()
    from nalm.bench.sweep import stored_message

    # nothing stored; whether the cell's first checkpoint was written yet depends on the clock
    assert err == f"nalm: interrupted; {stored_message(db)}"
    assert err.startswith("nalm: interrupted; no cell had finished, so n")


# -- a bad Ray address -----------------------------------------------------------------------
BENCH = ["bench", "run", "single-module", "--models", "nau", "--ops", "add", "--seeds", "1"]


def _refused(capsys, tmp_path, address: str) -> str:
    db = tmp_path / "r.sqlite"
    began = time.monotonic()
    code = main([*BENCH, "--steps", "1", "--backend", "ray", "--address", address, "--db", str(db)])
    assert time.monotonic() - began < 30
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not db.exists()  # refused before the database is created
    return err


def test_a_ray_address_where_nothing_listens_is_refused_at_once(tmp_path, capsys):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = _refused(capsys, tmp_path, f"127.0.0.1:{port}")
    assert err == (
        f"nalm: error: no Ray cluster answers at 127.0.0.1:{port} (connection refused); start "
        "one there with 'ray start --head' or fix --address"
    )


def test_a_ray_address_that_is_not_a_ray_head_is_refused(tmp_path, capsys, monkeypatch):
    """Something listens but does not answer as Ray's head (an HTTP/2 server) does: refused
    after ray_backend.PROBE_SECONDS (10 s; 0.5 s here)."""
    monkeypatch.setattr(ray_backend, "PROBE_SECONDS", 0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        err = _refused(capsys, tmp_path, address)
    assert err == (
        f"nalm: error: what listens at {address} is not a Ray cluster's head (it did not answer "
        "as one within 0.5 s); give the HOST:PORT that 'ray start --head' printed"
    )


@pytest.mark.parametrize("address", ["foo", "host:", "10.0.0.1:99999", ":6379"])
def test_an_address_that_is_not_host_port_is_refused(tmp_path, capsys, address):
    err = _refused(capsys, tmp_path, address)
    assert err == (
        f"nalm: error: --address {address!r} is not HOST:PORT (a Ray head, e.g. "
        "10.0.0.5:6379) or auto"
    )
