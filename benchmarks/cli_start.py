"""How long the ``nalm`` command takes to start: the wall-clock time of ``nalm --help``,
``nalm train --help`` and ``nalm units`` (each run REPEATS times, interleaved; the median), beside
``python -c 'import torch'`` alone, and which heavy libraries each command loads (from
``python -X importtime``).

    .venv/bin/python benchmarks/cli_start.py [--repeats 7]

Run it on an idle machine: with another job on the two cores every figure grows.
"""

from __future__ import annotations

import argparse
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


def _seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _heavy(argv: list[str]) -> str:
    """The heavy libraries ``argv`` imports, from ``-X importtime`` (top-level modules only)."""
    done = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return ", ".join(m for m in HEAVY if m in names) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(repeats):
        for name, argv in CASES.items():
            times[name].append(_seconds(argv))
    print(f"median of {repeats} runs each, interleaved ({Path(sys.executable).name})\n")
    print("| command | wall-clock (median) | fastest | heavy libraries loaded |")
    print("| --- | --- | --- | --- |")
    for name, argv in CASES.items():
        found = times[name]
        print(
            f"| `{name}` | {statistics.median(found):.2f} s | {min(found):.2f} s | {_heavy(argv)} |"
        )


if __name__ == "__main__":
    main()
