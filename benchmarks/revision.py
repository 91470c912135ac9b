"""Running a benchmark script against nalm as it was at another git revision.

:func:`export_src` writes that revision's ``src/`` into a directory; :func:`run_json` runs a
script in a fresh process that imports nalm from a given ``src/`` and reads the JSON it prints.
Used by ``throughput.py --against REV`` and ``same_results.py REV``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def export_src(revision: str, into: Path) -> Path:
    """``src/`` of git ``revision`` exported into ``into``; returns the exported ``src``."""
    archive = ["git", "-C", str(ROOT), "archive", revision, "src"]
    tree = subprocess.run(archive, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tree, check=True)
    return Path(into) / "src"


def run_json(src: Path, script: Path, arguments: list[str]) -> Any:
    """Run ``script arguments`` with nalm imported from ``src``; the JSON it prints."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, str(script), *arguments],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)
