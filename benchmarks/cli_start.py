"""How long the ``nalm`` command takes to start: the wall-clock time of ``nalm --help``,
``nalm train --help`` and ``nalm units`` (each run REPEATS times, interleaved; the median), beside
``python -c 'import torch'`` alone, and which heavy libraries each command loads (from
``python -X importtime``).

    .venv/bin/python benchmarks/cli_start.py [--repeats 7] [--before SRC]

``--before SRC`` also times the same commands with another checkout's ``src`` first on the
path (e.g. a worktree of an earlier commit), interleaved with this one, so both columns come
from one run under the same load. Run it on an idle machine: with another job on the two cores
every figure grows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

NALM = [sys.executable, "-m", "nalm.cli"]
CASES = {
    "nalm --help": [*NALM, "--help"],
    "nalm train --help": [*NALM, "train", "--help"],
    "nalm units": [*NALM, "units"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}
HEAVY = ("torch", "sympy", "matplotlib", "ray")


def _env(src: str | None) -> dict[str, str]:
    """The environment that puts ``src`` (a checkout's ``src``) first on the path."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    return env


def _seconds(argv: list[str], src: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=_env(src))
    return time.perf_counter() - started


def _heavy(argv: list[str], src: str | None = None) -> str:
    """The heavy libraries ``argv`` imports, from ``-X importtime`` (top-level modules only)."""
    done = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(src),
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return ", ".join(m for m in HEAVY if m in names) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", help="another checkout's src directory, timed alongside")
    args = parser.parse_args()
    sources = {
        "this": None,
        **({"before": str(Path(args.before).resolve())} if args.before else {}),
    }
    times = {(name, who): [] for name in CASES for who in sources}
    for _ in range(args.repeats):
        for name, argv in CASES.items():
            for who, src in sources.items():
                times[name, who].append(_seconds(argv, src))
    print(f"median of {args.repeats} runs each, interleaved\n")
    head = " | ".join(f"{who}: median, fastest | {who}: heavy libraries" for who in sources)
    print(f"| command | {head} |")
    print("| --- |" + " --- | --- |" * len(sources))
    for name, argv in CASES.items():
        cells = []
        for who, src in sources.items():
            found = times[name, who]
            cells.append(f"{statistics.median(found):.2f} s, {min(found):.2f} s")
            cells.append(_heavy(argv, src))
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
