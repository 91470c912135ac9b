"""Trask et al. (2018), Table 1: the static and recurrent simple function tasks.

``x`` has 100 entries; ``a`` and ``b`` are sums of two fixed, overlapping slices of it (Madsen &
Johansen's construction: a quarter of the input each, half of a slice shared, offset per seed);
the target is one of ``a+b, a−b, a×b, a/b, a², √a``. In the recurrent version the vectors arrive
one per step and ``a``, ``b`` accumulate over the sequence.

Score (the paper's): ``100 × MSE(trained model) / MSE(randomly initialised model of the same
architecture)``, the denominator averaged over many random initialisations; 0 is perfect, 100 is
as bad as an untrained model. The table shows the median over seeds of the final model's score; a
seed that diverged counts as an infinite score.

The paper gives no ranges or training settings; the defaults here are documented choices:
static: train on U[1, 2], extrapolate to U[2, 6] (Madsen & Johansen's standard); recurrent: train
on sequences of 10 vectors from U[0.1, 0.2], extrapolate to 20 vectors from U[0.2, 0.3] (longer
sequences and larger values); two layers with a hidden size of 2 for static models and recurrent
unit cells, 16 for LSTM/RNN cells; Adam lr 1e-3, batch 128.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..bench.cells import Settings as BenchSettings
from ..bench.cells import sweep_key
from ..bench.models import parse_spec
from ..bench.runner import run_sweep
from ..bench.store import Store
from ..bench.suites import TABLE1, Table1Suite
from ..bench.table1 import (
    EVALUATIONS,
    STATIC_MODELS,
    init_seed,
    random_baseline,
)
from ..errors import NalmError
from ..models import TORCH_CELLS, parse
from ..runs import new_run_dir, write_config
from ..tasks.arithmetic import OPERATIONS, ArithmeticTask, RecurrentArithmeticTask, get_operation
from ..train.ensemble import fit_seeds
from ..units import registry
from .common import Parts, finite_or_none, settings_id
from .table1_report import (
    OP_LABELS,
    claims,
    disagreements,
    plot_table1,
    progress_line,
    summarize,
    write_cells,
    write_markdown,
    write_runs,
)

SETTINGS = ("static", "recurrent")

RECURRENT_MODELS: dict[str, str] = {
    "LSTM": "lstm",
    "ReLU": "rnn",
    "NAC": "nac",
    "NALU": "nalu",
    "NAU": "nau",
    "NMU": "nau>nmu",
}
"""The recurrent rows: ``lstm``/``rnn`` cells with a linear head; a unit name means that unit as
the cell and the head; ``cell>head`` names both."""


def static_models() -> dict[str, str]:
    """:data:`STATIC_MODELS` plus ``unit>unit`` for any registry unit not in it yet, so the table
    grows as units land."""
    models = dict(STATIC_MODELS)
    used = {name for spec in models.values() for name in spec.replace("mlp:", "").split(">")}
    for name in registry.names():
        if name not in used and name not in ("mlp", "linear"):
            models[registry.get(name).__name__] = f"{name}>{name}"
    return models


@dataclass(frozen=True)
class Table1Settings:
    """Settings of ``nalm reproduce table1``; the defaults are the full run."""

    seeds: int = 10
    static_steps: int = 20_000
    recurrent_steps: int = 10_000
    lr: float = 1e-3
    batch_size: int = 128
    hidden: int = 2
    rnn_hidden: int = 16
    random_inits: int = 100
    operations: tuple[str, ...] = tuple(OPERATIONS)
    settings: tuple[str, ...] = SETTINGS
    static_models: tuple[str, ...] = ()
    recurrent_models: tuple[str, ...] = ()
    input_size: int = 100
    subset: float = 0.25
    overlap: float = 0.5
    train_range: str = "1,2"
    extrapolation_range: str = "2,6"
    eval_size: int = 10_000
    train_length: int = 10
    extrapolation_length: int = 20
    sequence_train_range: str = "0.1,0.2"
    sequence_extrapolation_range: str = "0.2,0.3"
    sequence_eval_size: int = 1000
    quick: bool = False

    @classmethod
    def quick_settings(cls, **overrides: Any) -> Table1Settings:
        """3 seeds, 6,000 static and 2,000 recurrent steps, smaller evaluation sets: about five
        minutes here."""
        quick = {
            "seeds": 3,
            "static_steps": 6000,
            "recurrent_steps": 2000,
            "random_inits": 30,
            "eval_size": 2000,
            "sequence_eval_size": 300,
            "quick": True,
        }
        return cls(**{**quick, **overrides})

    def models(self, setting: str) -> dict[str, str]:
        """Row label → model spec for ``static`` or ``recurrent``."""
        if setting == "static":
            chosen, lineup = self.static_models, static_models()
        else:
            chosen, lineup = self.recurrent_models, dict(RECURRENT_MODELS)
        if not chosen:
            return lineup
        return {label: lineup.get(label, label) for label in chosen}

    def check(self) -> None:
        for what in (
            "seeds",
            "static_steps",
            "recurrent_steps",
            "batch_size",
            "hidden",
            "rnn_hidden",
            "random_inits",
            "eval_size",
            "sequence_eval_size",
        ):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NalmError(f"{what} must be a positive integer; got {value!r}")
        if self.seeds > 1000:
            raise NalmError(f"at most 1000 seeds per model; got {self.seeds}")
        if not 0 < self.lr < math.inf:
            raise NalmError(f"lr must be a positive number; got {self.lr!r}")
        if not self.operations:
            raise NalmError("no operations to run")
        names = [get_operation(op).name for op in self.operations]
        for name in names:
            if names.count(name) > 1:
                raise NalmError(f"operation {name!r} is given twice in {list(self.operations)}")
        for setting in self.settings:
            if setting not in SETTINGS:
                raise NalmError(f"unknown setting {setting!r}; choose from {', '.join(SETTINGS)}")
            lineup = static_models() if setting == "static" else RECURRENT_MODELS
            for label, spec in self.models(setting).items():
                try:
                    _builder(setting, spec, self)()
                except NalmError as e:
                    labels = "" if label in lineup else f" (row labels: {', '.join(lineup)})"
                    raise NalmError(f"{setting} model {label!r}{labels}: {e}") from None
        # tasks validate ranges, slices and lengths
        _tasks("static", "add", [0], self)
        _tasks("recurrent", "add", [0], self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _builder(setting: str, spec: str, s: Table1Settings) -> Callable[[], nn.Module]:
    if setting == "static":
        parsed = parse(spec, layers=2)
        return lambda: parsed.build(s.input_size, 1, s.hidden)
    parsed = parse(spec, recurrent=True)
    hidden = s.rnn_hidden if parsed.cell in TORCH_CELLS else s.hidden
    return lambda: parsed.build(s.input_size, 1, hidden)


def _tasks(setting: str, op: str, seeds: Sequence[int], s: Table1Settings) -> list[Any]:
    common = {"input_size": s.input_size, "subset": s.subset, "overlap": s.overlap}
    if setting == "static":
        return [
            ArithmeticTask(
                op,
                seed=seed,
                train_range=s.train_range,
                extrapolation_range=s.extrapolation_range,
                eval_size=s.eval_size,
                **common,
            )
            for seed in seeds
        ]
    return [
        RecurrentArithmeticTask(
            op,
            seed=seed,
            train_length=s.train_length,
            extrapolation_length=s.extrapolation_length,
            train_range=s.sequence_train_range,
            extrapolation_range=s.sequence_extrapolation_range,
            eval_size=s.sequence_eval_size,
            **common,
        )
        for seed in seeds
    ]


@dataclass
class Table1Result:
    """Per-seed rows, the per-cell summary and the files written; ``seconds`` is this call's
    wall time, ``training_seconds`` the training time of all parts (including resumed ones)."""

    settings: Table1Settings
    runs: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    training_seconds: float = 0.0

    def cell(self, setting: str, evaluation: str, model: str, operation: str) -> dict[str, Any]:
        op = get_operation(operation).name
        for c in self.cells:
            if (c["setting"], c["evaluation"], c["model"], c["operation"]) == (
                setting,
                evaluation,
                model,
                op,
            ):
                return c
        raise KeyError((setting, evaluation, model, operation))


def run_table1(
    settings: Table1Settings | None = None,
    out: str | Path | None = None,
    *,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Table1Result:
    """Train every model on every operation (all operations and seeds of one model as one batched
    computation), score them against random initialisations, and write ``table1.md``,
    ``table1.csv``, ``table1-seeds.csv`` and ``table1.png`` into ``out`` (default
    ``runs/table1-<time>``). Finished models are recorded in ``out/parts.jsonl``: re-running with
    the same ``out`` and settings trains only the rest.
    """
    settings = settings or Table1Settings()
    settings.check()
    started = time.perf_counter()
    out = new_run_dir("table1", out)
    write_config(out, {"command": "reproduce table1", **settings.to_dict()})
    ops = [get_operation(op).name for op in settings.operations]
    runs: list[dict[str, Any]] = []
    baselines: dict[tuple[str, str], dict[str, Any]] = {}
    training = 0.0
    for setting in settings.settings:
        train = _train_static if setting == "static" else _train_recurrent
        for label, done in train(settings, out, ops, device, progress):
            baselines[setting, label] = done["random"]
            training += done["seconds"]
            for row in done["rows"]:
                runs.append({"setting": setting, "model": label, "spec": done["spec"], **row})
            log(progress_line(setting, label, done, ops, settings))
    cells = summarize(runs, baselines, settings)
    result = Table1Result(
        settings, runs, cells, seconds=time.perf_counter() - started, training_seconds=training
    )
    result.paths = {
        "csv": write_cells(cells, out / "table1.csv"),
        "seeds_csv": write_runs(runs, baselines, out / "table1-seeds.csv"),
        "markdown": write_markdown(result, out / "table1.md"),
        "png": plot_table1(result, out / "table1.png"),
    }
    return result


_NOT_STATIC = (
    "recurrent_steps", "rnn_hidden", "settings", "static_models", "recurrent_models",
    "operations", "train_length", "extrapolation_length", "sequence_train_range",
    "sequence_extrapolation_range", "sequence_eval_size", "quick",
)  # fmt: skip
"""Settings that neither train nor score a static model (they choose cells, or are the
recurrent half's): the static results database is named by a hash of the others."""


def static_suite(s: Table1Settings) -> Table1Suite:
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


def static_database(out: Path, s: Table1Settings) -> Path:
    """Where the static half's rows are stored: ``out/static-<settings hash>.sqlite``, a
    results database like any sweep's (``nalm bench report --db`` reads it)."""
    chosen = {k: v for k, v in s.to_dict().items() if k not in _NOT_STATIC}
    return Path(out) / f"static-{settings_id(chosen)}.sqlite"


def _train_static(
    s: Table1Settings, out: Path, ops: Sequence[str], device: torch.device | str, progress: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each static model's seeds trained and stored by the ``table1`` suite (finished seeds
    are read back), as ``(label, part)`` like the recurrent half's parts."""
    suite, db = static_suite(s), static_database(out, s)
    bench = BenchSettings(
        steps=s.static_steps, batch_size=s.batch_size, eval_every=s.static_steps, lr=s.lr,
        eval_size=s.eval_size,
    )  # fmt: skip
    for label, text in s.models("static").items():
        spec = parse_spec(text, suite.layers)
        run_sweep(suite, [text], ops, suite.ranges, range(s.seeds), db, bench, device=str(device),
                  progress=progress, log=lambda _: None)  # fmt: skip
        key = sweep_key(suite, spec, bench)
        with Store(db, create=False) as store:
            rows = [r for r in store.rows() if r["model"] == str(spec) and r["settings"] == key]
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


def _train_recurrent(
    s: Table1Settings, out: Path, ops: Sequence[str], device: torch.device | str, progress: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each recurrent model's seeds, all operations as one batched computation, recorded in
    ``out/parts.jsonl`` so a re-run trains only the rest."""
    parts = Parts(out, s.to_dict())
    seeds = list(range(s.seeds))
    tasks = {op: _tasks("recurrent", op, seeds, s) for op in ops}
    models = s.models("recurrent")
    for n, (label, spec) in enumerate(models.items(), start=1):
        done = parts.get(f"recurrent/{label}")
        if done is None:
            build = _builder("recurrent", spec, s)
            flat = [(op, seed, t) for op in ops for seed, t in zip(seeds, tasks[op], strict=True)]
            result = fit_seeds(
                build, [t for _, _, t in flat], [init_seed(op, seed) for op, seed, _ in flat],
                steps=s.recurrent_steps, lr=s.lr, batch_size=s.batch_size, policy="auto",
                eval_every=s.recurrent_steps, shared_inputs=True, device=device,
                progress=progress, description=f"recurrent {label} ({n}/{len(models)})",
            )  # fmt: skip
            rows = [
                {
                    "operation": op,
                    "seed": seed,
                    "init_seed": run.seed,
                    "diverged_at": run.diverged_at,
                }
                | {f"{e}_mse": finite_or_none(run.history[-1][f"{e}_mse"]) for e in EVALUATIONS}
                for (op, seed, _), run in zip(flat, result.runs, strict=True)
            ]
            random = random_baseline(build, tasks, s.random_inits, device)
            done = {
                "spec": spec,
                "rows": rows,
                "random": {
                    op: {k: [finite_or_none(v[0]), v[1]] for k, v in r.items()}
                    for op, r in random.items()
                },
                "seconds": result.seconds,
            }
            parts.put(f"recurrent/{label}", done)
        yield label, done


__all__ = [
    "OP_LABELS",
    "RECURRENT_MODELS",
    "STATIC_MODELS",
    "Table1Result",
    "Table1Settings",
    "claims",
    "disagreements",
    "random_baseline",
    "run_table1",
    "static_models",
]
