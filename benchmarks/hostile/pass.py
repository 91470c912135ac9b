"""A hostile pass over nalm: bad inputs and situations against every command and the Python API.

Each case is a small record (name, category, how to run it, what counts as GOOD). It runs in a
fresh temporary directory of its own (the working directory of the command), beside an
``outside/`` folder that stands for the user's other files, so nothing leaks between cases and
a file changed outside the run directory is seen.

How a case runs:

- ``cli``: ``nalm.cli.main(argv)`` in a forked child of this process (nalm and torch are
  imported once here, nothing is computed here, so the fork is safe); stdout and stderr are
  captured at the file-descriptor level; an exception that escapes ``main`` is printed as the
  ``nalm`` program would print it (a traceback, exit status 1).
- ``sub``: the real ``nalm`` program (a shell line), for what needs a process of its own
  (pipes, ``/dev/full``, the environment).
- ``api``: a Python call in a forked child; what it returns or raises is recorded.
- ``signal``: the real ``nalm`` program, sent SIGTERM or SIGINT 3 s after it started its work.

Every child has 60 s; a case still running then is a hang.

GOOD: exit status 0 with a sensible result where the input is acceptable, or a refusal (exit
status 2, or 1 for an error of the machine; stderr exactly one line ``nalm: error: ...`` or
argparse's ``nalm ...: error: ...``; no traceback) that names the bad value. In Python: a
``NalmError`` (or a ``TypeError``/``ValueError``) with a one-line message naming the value.
BAD: anything else: a traceback, a hang, a multi-line error, exit status 0 for nonsense, a file
outside the run directory changed, a message that does not name the bad value.

Usage::

    .venv/bin/python benchmarks/hostile/pass.py                 # everything, writes results.md
    .venv/bin/python benchmarks/hostile/pass.py --list          # the cases, by category
    .venv/bin/python benchmarks/hostile/pass.py --only csv --only db
    .venv/bin/python benchmarks/hostile/pass.py --case lr_nan   # cases whose name contains this
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = ROOT / ".venv" / "bin"
NALM = BIN / "nalm"
PYTHON = BIN / "python"
TIMEOUT = 60.0
RESULTS = HERE / "results.md"

if os.environ.get("PYTHONHASHSEED") != "0":  # the same hashing as the subprocesses
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

# ----------------------------------------------------------------------------------------------
# the record of a case


@dataclasses.dataclass
class Case:
    name: str
    category: str
    kind: str  # "cli" | "sub" | "api" | "signal"
    argv: tuple[str, ...] = ()  # cli, signal: the nalm arguments
    shell: str = ""  # sub: a bash line ($NALM, $PY are the program and the interpreter)
    func: Callable[[Path], Any] | None = None  # api: func(work) returns or raises
    desc: str = ""  # api: the call, as a user would write it
    setup: Callable[[Path, Path], None] | None = None  # setup(work, outside), in the child
    expect: str = "refuse"  # "refuse" | "ok" | "either"
    codes: tuple[int, ...] = (2,)  # exit statuses a refusal may have
    names: tuple[str, ...] = ()  # a refusal's message must contain one of these
    allow: tuple[str, ...] = ()  # more paths (relative to the case's root) that may change
    allowed: tuple[str, ...] | None = None  # replaces the paths read from --out/--db
    keep: tuple[str, ...] = ()  # paths (relative to the root) that must stay byte-identical
    check: Callable[[Path, str, str], str | None] | None = None  # on success: a BAD reason
    stderr_lines: tuple[int, ...] = (1,)  # how many non-empty stderr lines a refusal may have
    signals: tuple[tuple[float, int], ...] = ()  # signal: (seconds after the trigger, signal)
    trigger: tuple[str, str] = ("", "")  # signal: ("stdout", text) or ("file", path) or ("", "")
    env: tuple[tuple[str, str], ...] = ()  # sub, signal: extra environment
    timeout: float = TIMEOUT  # seconds before the case counts as a hang
    passes: tuple[str, ...] = ()  # api: exceptions of the user's own code that may pass through

    @property
    def command(self) -> str:
        if self.kind in ("cli", "signal"):
            return "nalm " + shlex.join(self.argv)
        if self.kind == "sub":
            return self.shell
        return self.desc

    @property
    def good_when(self) -> str:
        if self.kind == "signal":
            return "non-zero status, one stderr line with a resume hint, no traceback"
        if self.expect == "ok":
            return "succeeds"
        named = f" naming {' or '.join(map(repr, self.names))}" if self.names else ""
        what = (
            f"refused (status {'/'.join(map(str, self.codes))}, one line{named})"
            if self.kind != "api"
            else f"NalmError/TypeError/ValueError in one line{named}"
        )
        return what if self.expect == "refuse" else f"succeeds or {what}"


CASES: list[Case] = []
FIX: Path = Path("/nonexistent")  # the fixtures folder, set before any case runs


def add(name: str, category: str, kind: str, **kw: Any) -> None:
    if any(c.name == name for c in CASES):
        raise SystemExit(f"two cases are named {name!r}")
    if "argv" in kw:
        kw["argv"] = tuple(kw["argv"])
    CASES.append(Case(name, category, kind, **kw))


def cli(name: str, category: str, argv: list[str], **kw: Any) -> None:
    add(name, category, "cli", argv=argv, **kw)


def api(name: str, desc: str, func: Callable[[Path], Any], **kw: Any) -> None:
    add(name, "api", "api", desc=desc, func=func, **kw)


# ----------------------------------------------------------------------------------------------
# setup helpers: each returns setup(work, outside)


def chain(*steps: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def run(work: Path, outside: Path) -> None:
        for step in steps:
            step(work, outside)

    return run


def write(rel: str, content: str | bytes = "keep me\n", where: str = "work") -> Callable:
    def run(work: Path, outside: Path) -> None:
        path = (work if where == "work" else outside) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return run


def mkdir(rel: str, where: str = "work") -> Callable:
    def run(work: Path, outside: Path) -> None:
        ((work if where == "work" else outside) / rel).mkdir(parents=True, exist_ok=True)

    return run


def link(rel: str, target: str) -> Callable:
    """work/rel → target (relative to work, e.g. '../outside/x', or absolute)."""

    def run(work: Path, outside: Path) -> None:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, work / rel)

    return run


def fixture(name: str, dest: str) -> Callable:
    def run(work: Path, outside: Path) -> None:
        source = FIX / name
        if source.is_dir():
            shutil.copytree(source, work / dest, symlinks=True)
            lock = work / dest / ".nalm-lock"
            if lock.exists() and not lock.is_symlink():
                lock.unlink()
        else:
            shutil.copyfile(source, work / dest)

    return run


def replace(rel: str, content: str | bytes | None = None, *, kind: str = "file") -> Callable:
    """Replace work/rel by a file with ``content``, a directory (kind='dir') or remove it."""

    def run(work: Path, outside: Path) -> None:
        path = work / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        if kind == "dir":
            path.mkdir()
        elif content is not None:
            path.write_bytes(content.encode() if isinstance(content, str) else content)

    return run


def truncate(rel: str, size: int | None = None) -> Callable:
    def run(work: Path, outside: Path) -> None:
        path = work / rel
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2 if size is None else size])

    return run


def sql(rel: str, *statements: str) -> Callable:
    def run(work: Path, outside: Path) -> None:
        connection = sqlite3.connect(work / rel)
        for statement in statements:
            connection.execute(statement)
        connection.commit()
        connection.close()

    return run


_HELD: list[Any] = []


def hold_exclusive_lock(rel: str) -> Callable:
    """Another connection (in the same process) holds an exclusive transaction on the db."""

    def run(work: Path, outside: Path) -> None:
        connection = sqlite3.connect(work / rel, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        _HELD.append(connection)

    return run


def mkfifo(rel: str) -> Callable:
    def run(work: Path, outside: Path) -> None:
        os.mkfifo(work / rel)

    return run


def csv(rel: str, text: str, encoding: str = "utf-8") -> Callable:
    return write(rel, text.encode(encoding))


def rows(header: str = "a,b,y", n: int = 40, sep: str = ",", nl: str = "\n", f=None) -> str:
    """A small CSV of y = a + b (or f(a, b)) on [1, 2]."""
    f = f or (lambda a, b: a + b)
    lines = [header]
    for i in range(n):
        a, b = 1 + (i * 7 % 40) / 40, 1 + (i * 11 % 40) / 40
        lines.append(sep.join(f"{v:.6g}" for v in (a, b, f(a, b))))
    return nl.join(lines) + nl


# ----------------------------------------------------------------------------------------------
# snapshots: what is in a case's folders before and after


def snapshot(root: Path) -> dict[str, list]:
    found: dict[str, list] = {}
    for top in ("work", "outside"):
        base = root / top
        if not base.exists():
            continue
        for directory, dirs, files in os.walk(base, followlinks=False):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for entry in [*dirs, *files]:
                path = Path(directory) / entry
                rel = str(path.relative_to(root))
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISLNK(info.st_mode):
                    found[rel] = ["link", os.readlink(path)]
                elif stat.S_ISDIR(info.st_mode):
                    found[rel] = ["dir"]
                elif stat.S_ISREG(info.st_mode):
                    digest = hashlib.sha256()
                    try:
                        with open(path, "rb") as f:
                            for block in iter(lambda: f.read(1 << 20), b""):
                                digest.update(block)
                    except OSError as e:
                        digest.update(str(e).encode())
                    found[rel] = ["file", info.st_size, digest.hexdigest()]
                else:
                    found[rel] = ["special", stat.S_IFMT(info.st_mode)]
    return found


def flag_values(argv: tuple[str, ...], flag: str) -> list[str]:
    """Every value given to ``flag`` (``--flag V``, ``--flag=V``, and nargs='+' values)."""
    values: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith(flag + "="):
            values.append(token[len(flag) + 1 :])
        elif token == flag:
            j = i + 1
            while j < len(argv) and not argv[j].startswith("--"):
                values.append(argv[j])
                j += 1
                if flag != "--db":
                    break
            i = j - 1
        i += 1
    return values


def allowed_paths(case: Case, root: Path) -> list[str]:
    if case.allowed is not None:
        return [*case.allowed, *case.allow]
    found = ["work"] if case.kind == "api" else ["work/runs"]
    argv = case.argv if case.kind in ("cli", "signal") else ()
    report = argv[:2] == ("bench", "report")
    for flag in ("--out", "--db"):
        if flag == "--db" and report:
            continue  # a report reads its databases only
        for value in flag_values(argv, flag):
            path = Path(value) if os.path.isabs(value) else root / "work" / value
            rel = os.path.relpath(os.path.normpath(path), root)
            if not rel.startswith(".."):
                found.append(rel)
    return [*found, *case.allow]


def changed_outside(case: Case, root: Path, before: dict, after: dict) -> list[str]:
    allowed = allowed_paths(case, root)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    return [
        p
        for p in changed
        if not any(a in (".", "") or p == a or p.startswith(a.rstrip("/")) for a in allowed)
    ]


def kept_broken(case: Case, root: Path, before: dict, after: dict) -> list[str]:
    keep = list(case.keep)
    if case.kind == "cli" and case.argv[:2] == ("bench", "report"):
        keep += [
            os.path.relpath(os.path.normpath(root / "work" / v), root)
            for v in flag_values(case.argv, "--db")
            if not os.path.isabs(v)
        ]
    broken = []
    for rel in keep:
        for p in set(before) | set(after):
            if (p == rel or p.startswith(rel + "/")) and before.get(p) != after.get(p):
                broken.append(p)
    return sorted(set(broken))


# ----------------------------------------------------------------------------------------------
# running a case


def _child(case: Case, root: Path) -> None:
    """In the forked child: set up, snapshot, run, record."""
    work, outside, meta = root / "work", root / "outside", root / "meta"
    os.chdir(work)
    result: dict[str, Any] = {}
    try:
        if case.setup:
            case.setup(work, outside)
    except BaseException:
        result = {"harness": "setup failed: " + traceback.format_exc(limit=3)}
        (meta / "result.json").write_text(json.dumps(result))
        return
    (meta / "before.json").write_text(json.dumps(snapshot(root)))
    if case.kind in ("sub", "signal"):
        (meta / "result.json").write_text(json.dumps({"setup": "done"}))
        return
    sys.stdout.flush()
    sys.stderr.flush()
    out = open(meta / "stdout", "wb")  # noqa: SIM115 - held until the child exits
    err = open(meta / "stderr", "wb")  # noqa: SIM115
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    if case.kind == "cli":
        from nalm.cli import main

        try:
            rc = main(list(case.argv))
        except SystemExit as e:
            if e.code is None:
                rc = 0
            elif isinstance(e.code, int):
                rc = e.code
            else:
                print(e.code, file=sys.stderr)
                rc = 1
        except BaseException:
            traceback.print_exc()
            rc = 1
        result = {"rc": rc if isinstance(rc, int) else repr(rc)}
    else:
        from nalm.errors import NalmError

        try:
            value = case.func(work)
            result = {"outcome": "return", "value": repr(value)[:300]}
        except BaseException as e:
            frames = traceback.extract_tb(e.__traceback__)
            result = {
                "outcome": "raise",
                "type": type(e).__name__,
                "nalm_error": isinstance(e, NalmError),
                "plain": isinstance(e, (TypeError, ValueError)),
                "message": str(e),
                "where": f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "",
                "traceback": traceback.format_exc(),
            }
    sys.stdout.flush()
    sys.stderr.flush()
    (meta / "result.json").write_text(json.dumps(result))


def _fork_and_wait(case: Case, root: Path, timeout: float) -> bool:
    """Run :func:`_child` in a forked child; True if it had to be killed."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            _child(case, root)
        finally:
            os._exit(0)
    deadline = time.monotonic() + timeout
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return True
        time.sleep(0.02)


def _environment(case: Case) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", PYTHONUNBUFFERED="1", NALM=str(NALM), PY=str(PYTHON))
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env.update(dict(case.env))
    return env


def _run_sub(case: Case, root: Path) -> dict[str, Any]:
    meta = root / "meta"
    with open(meta / "stdout", "wb") as out, open(meta / "stderr", "wb") as err:
        process = subprocess.Popen(
            ["bash", "-c", "set -o pipefail; " + case.shell],
            cwd=root / "work",
            env=_environment(case),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            rc = process.wait(timeout=case.timeout)
            return {"rc": rc}
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return {"timeout": True}


def _run_signal(case: Case, root: Path) -> dict[str, Any]:
    meta, work = root / "meta", root / "work"
    started = time.monotonic()
    with open(meta / "stdout", "wb") as out, open(meta / "stderr", "wb") as err:
        process = subprocess.Popen(
            [str(NALM), *case.argv],
            cwd=work,
            env=_environment(case),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            # a pass started in the background ('cmd &') inherits SIGINT ignored; a user's
            # terminal does not
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        where, what = case.trigger
        seen = not where
        while not seen and process.poll() is None and time.monotonic() - started < TIMEOUT:
            time.sleep(0.1)
            if where == "stdout":
                seen = what in (meta / "stdout").read_text(errors="replace")
            elif where == "file":
                seen = (work / what).exists()
        triggered = time.monotonic()
        note = "" if seen else "the trigger was not seen; signalled anyway"
        for delay, sig in case.signals:
            wait = triggered + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if process.poll() is None:
                os.kill(process.pid, sig)
        try:
            rc = process.wait(timeout=TIMEOUT)
            return {"rc": rc, "note": note, "ran_before_signal": round(triggered - started, 1)}
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return {"timeout": True, "note": note}


ERROR_LINE = re.compile(r"^nalm( [\w-]+)*: (error|interrupted)[:;] ")


@dataclasses.dataclass
class Outcome:
    case: Case
    verdict: str  # GOOD | BAD | HARNESS
    reason: str
    first: str  # the first stderr line (or the exception)
    seconds: float


def run_case(case: Case, base: Path, index: int) -> Outcome:
    root = base / f"{index:03d}-{case.name}"
    for sub in ("work", "outside", "meta"):
        (root / sub).mkdir(parents=True)
    start = time.monotonic()
    timed_out = _fork_and_wait(case, root, case.timeout if case.kind in ("cli", "api") else 120)
    meta = root / "meta"
    result = (
        json.loads((meta / "result.json").read_text()) if (meta / "result.json").exists() else {}
    )
    if "harness" in result:
        return Outcome(case, "HARNESS", result["harness"], "", time.monotonic() - start)
    if case.kind == "sub":
        result = _run_sub(case, root)
        timed_out = result.get("timeout", False)
    elif case.kind == "signal":
        result = _run_signal(case, root)
        timed_out = result.get("timeout", False)
    seconds = time.monotonic() - start
    before = (
        json.loads((meta / "before.json").read_text()) if (meta / "before.json").exists() else {}
    )
    after = snapshot(root)
    out = (meta / "stdout").read_text(errors="replace") if (meta / "stdout").exists() else ""
    err = (meta / "stderr").read_text(errors="replace") if (meta / "stderr").exists() else ""
    lines = [line for line in err.splitlines() if line.strip()]
    first = lines[0] if lines else ""

    def verdict(good: bool, reason: str, shown: str = first) -> Outcome:
        return Outcome(case, "GOOD" if good else "BAD", reason, shown[:300], seconds)

    if timed_out:
        return verdict(False, f"hang: still running after {case.timeout:.0f} s")
    if not result:
        return Outcome(case, "HARNESS", "the child left no result", first, seconds)
    changed = changed_outside(case, root, before, after)
    broken = kept_broken(case, root, before, after)

    if case.kind == "api":
        shown = (
            f"{result['type']}: {result['message']}"
            if result.get("outcome") == "raise"
            else f"returned {result.get('value')}"
        )
        if changed:
            return verdict(
                False, f"changed outside the run directory: {', '.join(changed[:4])}", shown
            )
        if broken:
            return verdict(False, f"changed a file it must not: {', '.join(broken[:4])}", shown)
        if result["outcome"] == "return":
            if case.expect == "refuse":
                return verdict(False, "accepted nonsense (returned normally)", shown)
            problem = case.check(root / "work", result.get("value", ""), "") if case.check else None
            return verdict(problem is None, problem or "ok", shown)
        message = result["message"].strip()
        if case.expect == "ok":
            return verdict(False, f"raised on acceptable input (at {result['where']})", shown)
        if result["type"] in case.passes:
            return verdict(True, f"the user's own {result['type']} passed through", shown)
        if not (result["nalm_error"] or result["plain"]):
            return verdict(False, f"{result['type']} escaped (raised at {result['where']})", shown)
        if not message or "\n" in message:
            return verdict(
                False,
                f"message of {len(message.splitlines())} lines",
                shown.splitlines()[0] if shown else "",
            )
        if case.names and not any(n.lower() in message.lower() for n in case.names):
            return verdict(
                False, f"the message does not name {' or '.join(map(repr, case.names))}", shown
            )
        kind = "NalmError" if result["nalm_error"] else f"plain {result['type']}"
        return verdict(True, f"refused ({kind})", shown)

    rc = result.get("rc")
    tail = f" (last line: {lines[-1][:200]})" if lines else ""
    if "Traceback (most recent call last)" in err:
        exc = next(
            (
                line
                for line in reversed(lines)
                if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", line)
            ),
            lines[-1] if lines else "",
        )
        return verdict(False, f"traceback, status {rc}: {exc[:200]}")
    if changed:
        return verdict(False, f"changed outside the run directory: {', '.join(changed[:4])}")
    if broken:
        return verdict(False, f"changed a file it must not: {', '.join(broken[:4])}")
    if case.kind == "signal":
        note = f" [{result.get('note')}]" if result.get("note") else ""
        if rc == 0:
            return verdict(
                False, "exit status 0 after the signal (did the work finish first?)" + note
            )
        status = f"status {rc}" if rc >= 0 else f"killed by signal {-rc} (status {128 - rc})"
        if not lines and 0 in case.stderr_lines:
            return verdict(True, f"{status}, no message" + note)
        if len(lines) != 1:
            return verdict(False, f"{len(lines)} stderr lines, {status}{tail}" + note)
        if not any(w in first for w in ("resume", "re-run", "--out", "nothing")):
            return verdict(False, f"status {rc}, no resume hint" + note)
        left = sorted(p for p in set(after) - set(before) if p.startswith("work/"))
        if "nothing" in first and left:
            return verdict(False, f"says nothing was kept, yet left {', '.join(left[:3])}" + note)
        problem = case.check(root / "work", out, err) if case.check else None
        if problem:
            return verdict(False, problem + note)
        return verdict(True, f"{status}, one line" + note)
    if rc == 0:
        if case.expect == "refuse":
            shown = first or (out.strip().splitlines() or [""])[0]
            return verdict(False, "exit status 0 for nonsense input", shown)
        problem = case.check(root / "work", out, err) if case.check else None
        return verdict(problem is None, problem or "ok", first)
    if case.expect == "ok":
        return verdict(False, f"refused acceptable input (status {rc})")
    if rc not in case.codes:
        return verdict(False, f"exit status {rc} (expected {'/'.join(map(str, case.codes))}){tail}")
    if len(lines) not in case.stderr_lines:
        return verdict(False, f"{len(lines)} stderr lines{tail}")
    if lines and not ERROR_LINE.match(first):
        return verdict(False, "the stderr line is not 'nalm: error: ...'")
    said = err if lines else out  # 'nalm units check' reports a failed check on stdout
    if case.names and not any(n.lower() in said.lower() for n in case.names):
        return verdict(False, f"the message does not name {' or '.join(map(repr, case.names))}")
    return verdict(True, f"refused (status {rc})")


# ----------------------------------------------------------------------------------------------
# fixtures: one run of each kind, made once, copied by the cases that need them

TRAIN = ["train", "--unit", "nau", "--target", "x0+x1", "--steps", "20", "--eval-every", "10",
         "--eval-size", "16", "--baseline", "none", "--no-progress"]  # fmt: skip
FIT = ["fit", "data.csv", "--target", "y", "--unit", "nau", "--steps", "20", "--seeds", "1",
       "--no-progress"]  # fmt: skip
BENCH = ["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--ranges", "0", "--seeds",
         "1", "--steps", "20", "--eval-every", "10", "--eval-size", "16", "--input-size", "4",
         "--subset", "0.5", "--no-progress"]  # fmt: skip
REPORT = ["bench", "report"]
IDENTITY = ["reproduce", "identity", "--models", "1", "--steps", "20", "--activations", "relu",
            "--units", "nac", "--no-progress"]  # fmt: skip


def build_fixtures(base: Path) -> None:
    global FIX
    FIX = base / "fixtures"
    FIX.mkdir()
    (FIX / "data.csv").write_text(rows())
    runs = [
        [*TRAIN, "--out", "train-run"],
        [*FIT, "--out", "fit-run"],
        [*BENCH, "--db", "db.sqlite"],
        [*BENCH[:6], "sub", *BENCH[7:], "--db", "db2.sqlite"],
        [*REPORT, "--db", "db.sqlite", "--out", "report"],
        [*IDENTITY, "--out", "identity-run"],
    ]
    for argv in runs:
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                os.chdir(FIX)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                from nalm.cli import main

                code = main(argv)
            finally:
                os._exit(code if isinstance(code, int) else 3)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"fixture failed: nalm {shlex.join(argv)}")
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            import nalm

            nalm.save(nalm.NAU(2, 1), FIX / "model.safetensors")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("fixture failed: nalm.save")


# the cases live in cases.py beside this file
sys.path.insert(0, str(HERE))
import cases  # noqa: E402

cases.register(sys.modules[__name__])


# ----------------------------------------------------------------------------------------------
# the report


def table(outcomes: list[Outcome], categories: list[str]) -> list[tuple[str, int, int, int, int]]:
    found = []
    for category in categories:
        mine = [o for o in outcomes if o.case.category == category]
        if mine:
            found.append(
                (
                    category,
                    len(mine),
                    sum(o.verdict == "GOOD" for o in mine),
                    sum(o.verdict == "BAD" for o in mine),
                    sum(o.verdict == "HARNESS" for o in mine),
                )
            )
    return found


def write_markdown(outcomes: list[Outcome], categories: list[str], seconds: float) -> None:
    rows_ = table(outcomes, categories)
    lines = [
        "# Hostile pass",
        "",
        f"`benchmarks/hostile/pass.py`, {len(outcomes)} cases in {seconds / 60:.1f} min "
        f"({time.strftime('%Y-%m-%d %H:%M')}). GOOD: a sensible result, or a refusal in one line "
        "naming the bad value; BAD: a traceback, a hang, a multi-line error, status 0 for "
        "nonsense, a file outside the run directory changed, or a message that does not name "
        "the value.",
        "",
        "| category | cases | GOOD | BAD | harness |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for category, n, good, bad, harness in rows_:
        lines.append(f"| {category} | {n} | {good} | {bad} | {harness} |")
    total = [sum(r[i] for r in rows_) for i in range(1, 5)]
    lines.append(f"| **all** | {total[0]} | {total[1]} | {total[2]} | {total[3]} |")
    lines += ["", "## BAD cases", ""]
    bad = [o for o in outcomes if o.verdict != "GOOD"]
    if not bad:
        lines.append("None.")
    for category in categories:
        mine = [o for o in bad if o.case.category == category]
        if not mine:
            continue
        lines += [f"### {category}", ""]
        for o in mine:
            lines.append(f"- **{o.case.name}** ({o.verdict}): `{_md(o.case.command)}`  ")
            lines.append(f"  expected: {o.case.good_when}; got: {_md(o.reason)}  ")
            if o.first:
                lines.append(f"  first stderr line: `{_md(o.first)}`")
        lines.append("")
    RESULTS.write_text("\n".join(lines) + "\n")


def _md(text: str) -> str:
    text = text.replace("`", "'").replace("\n", "\\n")
    return text if len(text) < 400 else text[:400] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="a category (repeatable)")
    parser.add_argument("--case", action="append", default=[], help="cases whose name holds this")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--no-write", action="store_true", help="do not write results.md")
    args = parser.parse_args()
    categories = list(dict.fromkeys(c.category for c in CASES))
    for only in args.only:
        if only not in categories:
            parser.error(f"no category {only!r}; categories: {', '.join(categories)}")
    chosen = [
        c
        for c in CASES
        if (not args.only or c.category in args.only)
        and (not args.case or any(s in c.name for s in args.case))
    ]
    if args.list:
        for category in categories:
            mine = [c for c in chosen if c.category == category]
            if mine:
                print(f"{category} ({len(mine)})")
                for c in mine:
                    print(f"  {c.name:<40} [{c.kind}] {c.command[:110]}")
                    print(f"  {'':<40} GOOD: {c.good_when}")
        print(f"{len(chosen)} cases")
        return 0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import sympy  # noqa: F401

    import nalm
    import nalm.cli  # noqa: F401

    base = Path(tempfile.mkdtemp(prefix="nalm-hostile-"))
    started = time.monotonic()
    print(f"hostile pass: {len(chosen)} cases in {base}", flush=True)
    build_fixtures(base)
    outcomes: list[Outcome] = []
    try:
        for i, case in enumerate(chosen):
            outcome = run_case(case, base / "cases", i)
            outcomes.append(outcome)
            mark = {"GOOD": ".", "BAD": "X", "HARNESS": "?"}[outcome.verdict]
            print(
                f"{mark} {i + 1:3d}/{len(chosen)} {case.category:<9} {case.name:<40} "
                f"{outcome.seconds:5.1f}s {outcome.reason[:80]}",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}")
    seconds = time.monotonic() - started
    shown = [c for c in categories if any(o.case.category == c for o in outcomes)]
    print(f"\n{'category':<10} {'cases':>5} {'GOOD':>5} {'BAD':>5} {'harness':>7}")
    for category, n, good, bad, harness in table(outcomes, shown):
        print(f"{category:<10} {n:5d} {good:5d} {bad:5d} {harness:7d}")
    bad = [o for o in outcomes if o.verdict != "GOOD"]
    print(f"\n{len(bad)} BAD (or harness) of {len(outcomes)}, {seconds / 60:.1f} min")
    for o in bad:
        print(f"\n[{o.case.category}] {o.case.name} ({o.verdict}): {o.case.command[:300]}")
        print(f"    expected: {o.case.good_when}")
        print(f"    got: {o.reason}")
        if o.first:
            print(f"    stderr: {o.first}")
    if not args.no_write and not args.case and not args.only:
        write_markdown(outcomes, shown, seconds)
        print(f"\nwrote {RESULTS}")
    elif not args.no_write:
        write_markdown(outcomes, shown, seconds)
        print(f"\nwrote {RESULTS} (a partial pass)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
