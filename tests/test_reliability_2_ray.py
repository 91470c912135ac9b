"""Faults in a real Ray cluster (issue 33, group 8): a two-node cluster on this machine (a head
and a worker node, one CPU each, started with ``ray start``), a sweep sent to it with
``nalm bench run --backend ray --address``, and the worker node killed while it trains a cell.
The sweep must finish with every row stored once, and the killed cell must resume from the
checkpoint it wrote before the kill (see docs/reliability.md, "Faults in a Ray cluster")."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from safetensors import SafetensorError, safe_open

pytest.importorskip("ray")
pytestmark = pytest.mark.ray_cluster

RAY = Path(sys.executable).with_name("ray")
# A cluster of this test alone: no token files (Ray's token auth needs ~/.ray/auth_token on
# every node), no usage reports, no RAY_ADDRESS from outside.
ENV = {
    **{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONHASHSEED": "0",
}
CELLS, SEEDS, STEPS = 4, 2, 8000  # nau and nmu on add and sub; 2-8 s a cell here
SWEEP = [
    *("single-module", "--models", "nau,nmu", "--ops", "add,sub", "--ranges", "6"),
    *("--seeds", str(SEEDS), "--steps", str(STEPS), "--eval-every", "200", "--eval-size", "100"),
    *("--checkpoint-seconds", "0", "--retries", "2", "--no-progress", "--backend", "ray"),
]
LIMIT = 80.0  # seconds for the whole test; each wait below takes what is left of it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.end - time.monotonic(), 0.0)

    def wait(self, ready, what: str, poll: float = 0.05) -> None:
        while not ready():
            if not self.left():
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(poll)


def _start_node(log: Path, *args: str) -> subprocess.Popen:
    """``ray start ... --block`` in a session of its own: every process of the node (its
    raylet, agents, and the workers the raylet starts, each in a process group of its own)
    is in that session."""
    small = ("--num-cpus=1", "--num-gpus=0", "--object-store-memory=100000000")
    port = f"--dashboard-agent-listen-port={_free_port()}"
    with log.open("w") as out:  # the node writes to its own copy of the file
        return subprocess.Popen(
            [str(RAY), "start", *args, port, *small, "--disable-usage-stats", "--block"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
            start_new_session=True,
        )


def _session(session: int) -> list[int]:
    """The processes of a session (Linux: the sixth field of /proc/PID/stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rpartition(")")[2].split()[3]) == session:
                found.append(int(stat.parent.name))
    return found


def _kill(node: subprocess.Popen) -> None:
    """SIGKILL every process of a node at once, as when its machine dies; reap ``ray start``."""
    for pid in _session(node.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.wait(timeout=10)


def _started(node: subprocess.Popen, log: Path) -> bool:
    text = log.read_text(errors="replace")
    assert node.poll() is None, f"ray start exited with status {node.returncode}:\n{text}"
    return "Ray runtime started" in text


def _checkpoints(db: Path) -> list[Path]:
    """The cells' checkpoints beside ``db`` and any temporary file of one."""
    return sorted(p for p in db.parent.iterdir() if f"{db.name}.cell-" in p.name)


def _first_halves(db: Path) -> int:
    """How many cells have a checkpoint from the first half of their training: cells still
    training, one on each node (each has one CPU)."""
    steps = []
    for path in db.parent.glob(f"{db.name}.cell-*.safetensors"):
        gone = (OSError, SafetensorError, KeyError)  # removed meanwhile: its cell is done
        with contextlib.suppress(*gone), safe_open(str(path), framework="pt") as f:
            steps.append(json.loads(f.metadata()["meta"])["step"])
    return sum(0 < step <= STEPS // 2 for step in steps)


@pytest.mark.skipif(not RAY.exists(), reason="the ray command is not beside this Python")
def test_a_sweep_survives_a_killed_worker_node_and_resumes_its_cell():
    deadline = _Deadline(LIMIT)
    began = time.monotonic()
    # short: Ray's unix sockets live under it (at most 107 characters a path)
    tmp = Path(tempfile.mkdtemp(prefix="nray-", dir="/tmp"))
    db = tmp / "sweep.sqlite"
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[subprocess.Popen] = []
    sweep = None
    try:
        head_log, worker_log = tmp / "head.log", tmp / "worker.log"
        nodes.append(
            _start_node(
                head_log,
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--temp-dir={tmp / 'ray'}",
            )
        )
        deadline.wait(lambda: _started(nodes[0], head_log), "the head node")
        worker = _start_node(worker_log, f"--address={address}")
        nodes.append(worker)
        deadline.wait(lambda: _started(worker, worker_log), "the worker node")
        cluster_up = time.monotonic()

        command = [sys.executable, "-m", "nalm", "bench", "run", *SWEEP, "--address", address]
        sweep = subprocess.Popen(
            [*command, "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=ENV,
        )
        # One cell trains on each node; once both are a little way in, kill the worker node.
        deadline.wait(lambda: _first_halves(db) >= 2 or sweep.poll() is not None, "two cells")
        assert sweep.poll() is None, "the sweep ended before the worker node was killed"
        killed_at = time.monotonic()
        _kill(worker)

        out, _ = sweep.communicate(timeout=deadline.left())
        finished_at = time.monotonic()
        assert sweep.returncode == 0, out
        assert f"ray: {CELLS} cells submitted (2 CPUs)" in out, out
        # the cell the dead node was training went on from its checkpoint, on the head
        resumed = re.findall(rf"resumed from its checkpoint at step ([\d,]+) of {STEPS:,}", out)
        assert len(resumed) == 1, out
        step = int(resumed[0].replace(",", ""))
        assert 0 < step < STEPS and step % 200 == 0, out  # a checkpoint written at an evaluation
        assert f"{CELLS} cells stored, 0 failed" in out, out
        assert f"{CELLS * SEEDS} rows written" in out, out

        with sqlite3.connect(db) as connection:
            keys = connection.execute(
                "SELECT suite, model, operation, range, seed, settings FROM results"
            ).fetchall()
            failures = connection.execute("SELECT COUNT(*) FROM failures").fetchone()[0]
        assert len(keys) == CELLS * SEEDS  # nothing lost...
        assert len(set(keys)) == len(keys)  # ...nothing twice
        assert {(m, op) for _, m, op, *_ in keys} == {
            (m, op) for m in ("nau", "nmu") for op in ("add", "sub")
        }
        assert failures == 0
        assert _checkpoints(db) == []  # each removed once its cell's rows were stored
        print(
            f"cluster up in {cluster_up - began:.1f} s; worker killed "
            f"{killed_at - cluster_up:.1f} s into the sweep; sweep done "
            f"{finished_at - killed_at:.1f} s later; resumed at step {step}; "
            f"total {time.monotonic() - began:.1f} s"
        )
    finally:
        if sweep is not None and sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        for node in reversed(nodes):
            _kill(node)
        # the worker node kept its session under Ray's default directory
        for session in (tmp / "ray").glob("session_2*"):
            shutil.rmtree(Path(tempfile.gettempdir()) / "ray" / session.name, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
