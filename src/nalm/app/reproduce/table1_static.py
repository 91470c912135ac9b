"""Table 1's static half: the ``table1`` bench suite with a reproduction's settings, its rows
stored in a results database inside the run directory and read back as the reproduction's
parts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ...bench.cells import Settings as BenchSettings
from ...bench.runner import plan_sweep, run_sweep
from ...bench.store import Store
from ...bench.suites import TABLE1, Table1Suite
from ...bench.table1 import EVALUATIONS
from ..experiment import settings_id

if TYPE_CHECKING:
    from .table1_fields import Table1Fields


_NOT_STATIC = (
    "recurrent_steps",
    "rnn_hidden",
    "settings",
    "static_models",
    "recurrent_models",
    "operations",
    "train_length",
    "extrapolation_length",
    "sequence_train_range",
    "sequence_extrapolation_range",
    "sequence_eval_size",
    "quick",
)
"""Settings that neither train nor score a static model (they choose cells, or are the
recurrent half's): the static results database is named by a hash of the others."""


def static_suite(s: Table1Fields) -> Table1Suite:
    """The ``table1`` bench suite with these settings (its seeds scored against the tasks of
    seeds ``0 … seeds − 1``, as the recurrent half is)."""
    return dataclasses.replace(
        TABLE1,
        input_size=s.input_size,
        subset=s.subset,
        overlap=s.overlap,
        ranges=((s.train_range, s.extrapolation_range),),
        steps=s.static_steps,
        seeds=s.seeds,
        batch_size=s.batch_size,
        lr=s.lr,
        eval_every=s.static_steps,
        hidden=s.hidden,
        random_inits=s.random_inits,
        baseline_tasks=s.seeds,
    )


def static_database(out: Path, s: Table1Fields) -> Path:
    """Where the static half's rows are stored: ``out/static-<settings hash>.sqlite``, a
    results database like any sweep's (``nalm bench report --db`` reads it)."""
    chosen = {k: v for k, v in s.to_dict().items() if k not in _NOT_STATIC}
    return Path(out) / f"static-{settings_id(chosen)}.sqlite"


def train_static(
    s: Table1Fields, out: Path, ops: Sequence[str], device: torch.device | str, progress: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each static model's seeds trained and stored by the ``table1`` suite (finished seeds
    are read back), as ``(label, part)`` like the recurrent half's parts."""
    suite, db = static_suite(s), static_database(out, s)
    bench = BenchSettings(
        steps=s.static_steps,
        batch_size=s.batch_size,
        eval_every=s.static_steps,
        lr=s.lr,
        eval_size=s.eval_size,
    )
    for label, text in s.models("static").items():
        plan = plan_sweep(suite, [text], ops, suite.ranges, range(s.seeds), db, bench, str(device))
        run_sweep(plan, device=str(device), progress=progress, log=lambda _: None)
        (spec,) = plan.policies
        key = plan.key(spec)
        with Store(db, create=False) as store:
            rows = [r for r in store.rows(model=str(spec)) if r["settings"] == key]
        yield label, _static_part(text, rows, ops, s.seeds)


def _static_part(
    spec: str, rows: Sequence[dict[str, Any]], ops: Sequence[str], seeds: int
) -> dict[str, Any]:
    chosen = [r for r in rows if r["operation"] in ops and r["seed"] < seeds]
    random: dict[str, dict[str, list[Any]]] = {}
    for r in chosen:
        sc = r["scores"]
        random[r["operation"]] = {
            e: [sc[f"random_{e}_mse"], sc[f"random_{e}_finite"]] for e in EVALUATIONS
        }
    return {
        "spec": spec,
        "rows": [
            {"operation": r["operation"], "seed": r["seed"], "init_seed": r["scores"]["init_seed"]}
            | {f"{e}_mse": r["scores"][f"final_{e}_mse"] for e in EVALUATIONS}
            | {"diverged_at": r["diverged_at"]}
            for r in sorted(chosen, key=lambda r: (list(ops).index(r["operation"]), r["seed"]))
        ],
        "random": random,
        "seconds": sum(r["seconds"] or 0.0 for r in chosen),
    }
