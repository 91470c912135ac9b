"""Run directories: ``config.json``, ``metrics.csv``, weights as safetensors (never pickle)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from .errors import NalmError
from .persist import save
from .train import FitResult


def new_run_dir(kind: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """Create the run directory: ``out`` if given, else ``root/<kind>-<YYYYmmdd-HHMMSS>``."""
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{kind}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path(root) / f"{kind}-{stamp}-{n}"
    else:
        path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NalmError(f"cannot create the run directory {str(path)!r}: {e.strerror}") from None
    return path


def write_config(run_dir: Path, config: Mapping[str, Any]) -> Path:
    path = run_dir / "config.json"
    path.write_text(json.dumps(config, indent=2, default=str) + "\n")
    return path


def write_metrics(run_dir: Path, results: Mapping[str, FitResult]) -> Path:
    """One row per model and evaluation: ``model, step, train_loss, <set>_mse…, diverged_at``."""
    columns: list[str] = []
    for result in results.values():
        for row in result.history:
            columns += [k for k in row if k not in columns]
    path = run_dir / "metrics.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", *columns, "diverged_at"])
        for name, result in results.items():
            diverged = "" if result.diverged_at is None else result.diverged_at
            for row in result.history:
                writer.writerow([name, *(row.get(c, "") for c in columns), diverged])
    return path


def save_weights(path: Path, model: nn.Module, description: Mapping[str, Any]) -> Path:
    """Write ``model`` with :func:`nalm.persist.save` (``nalm.load`` reads it back), with
    ``description`` stored as its JSON ``info``."""
    return save(model, path, **description)
