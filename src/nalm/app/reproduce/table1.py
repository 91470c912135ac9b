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

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ...bench.table1 import (
    EVALUATIONS,
    STATIC_MODELS,
    init_seed,
    random_baseline,
)
from ...errors import NalmError
from ...models import TORCH_CELLS, parse
from ...reporting import finite_or_none
from ...tasks.arithmetic import ArithmeticTask, RecurrentArithmeticTask, get_operation
from ...train.cohort import fit_seeds
from ..experiment import Experiment, Run
from .table1_fields import RECURRENT_MODELS, SETTINGS, Table1Fields, static_models
from .table1_report import (
    OP_LABELS,
    Table1Result,
    claims,
    disagreements,
    progress_line,
    summarize,
)
from .table1_static import train_static


@dataclass(frozen=True)
class Table1Settings(Table1Fields, Experiment):
    """Settings of ``nalm reproduce table1``; the defaults are the full run, ``quick()`` gives 3
    seeds, 6,000 static and 2,000 recurrent steps and smaller evaluation sets (about five minutes
    here)."""

    name: ClassVar[str] = "table1"
    command: ClassVar[str] = "reproduce table1"
    QUICK: ClassVar[Mapping[str, Any]] = {
        "seeds": 3,
        "static_steps": 6000,
        "recurrent_steps": 2000,
        "random_inits": 30,
        "eval_size": 2000,
        "sequence_eval_size": 300,
    }
    STORED_AS: ClassVar[Mapping[str, str]] = {"quick_run": "quick"}

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

    def execute(self, run: Run) -> Table1Result:
        ops = [get_operation(op).name for op in self.operations]
        result = Table1Result(self, [], [], out=run.out)
        baselines: dict[tuple[str, str], dict[str, Any]] = {}
        for setting in self.settings:
            if setting == "static":
                parts = train_static(self, run.out, ops, run.device, run.progress)
            else:
                parts = _train_recurrent(self, run, ops)
            for label, done in parts:
                baselines[setting, label] = done["random"]
                result.training_seconds += done["seconds"]
                for row in done["rows"]:
                    result.runs.append(
                        {"setting": setting, "model": label, "spec": done["spec"], **row}
                    )
                run.log(progress_line(setting, label, done, ops, self))
        result.baselines = baselines
        result.cells = summarize(result.runs, baselines, self)
        return result


def _builder(setting: str, spec: str, s: Table1Settings) -> Callable[[], nn.Module]:
    if setting == "static":
        parsed = parse(spec, layers=2)
        return lambda: parsed.build(s.input_size, 1, s.hidden)
    parsed = parse(spec, recurrent=True)
    hidden = s.rnn_hidden if parsed.cell in TORCH_CELLS else s.hidden
    return lambda: parsed.build(s.input_size, 1, hidden)


def _tasks(setting: str, op: str, seeds: Sequence[int], s: Table1Settings) -> list[Any]:
    task: type[ArithmeticTask] | type[RecurrentArithmeticTask] = ArithmeticTask
    ranges = {"train_range": s.train_range, "extrapolation_range": s.extrapolation_range}
    sizes: dict[str, Any] = {"eval_size": s.eval_size}
    if setting != "static":
        task = RecurrentArithmeticTask
        ranges = {
            "train_range": s.sequence_train_range,
            "extrapolation_range": s.sequence_extrapolation_range,
        }
        sizes = {
            "eval_size": s.sequence_eval_size,
            "train_length": s.train_length,
            "extrapolation_length": s.extrapolation_length,
        }
    common = {"input_size": s.input_size, "subset": s.subset, "overlap": s.overlap}
    return [task(op, seed=seed, **ranges, **sizes, **common) for seed in seeds]


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
    result = settings.run(out, device=device, progress=progress, log=log)
    assert isinstance(result, Table1Result)
    return result


def _train_recurrent(
    s: Table1Settings, run: Run, ops: Sequence[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each recurrent model's seeds, all operations as one batched computation, recorded in
    ``out/parts.jsonl`` so a re-run trains only the rest."""
    parts, device, progress = run.parts, run.device, run.progress
    seeds = list(range(s.seeds))
    tasks = {op: _tasks("recurrent", op, seeds, s) for op in ops}
    models = s.models("recurrent")
    for n, (label, spec) in enumerate(models.items(), start=1):
        done = parts.get(f"recurrent/{label}")
        if done is None:
            build = _builder("recurrent", spec, s)
            flat = [(op, seed, t) for op in ops for seed, t in zip(seeds, tasks[op], strict=True)]
            result = fit_seeds(
                build,
                [t for _, _, t in flat],
                [init_seed(op, seed) for op, seed, _ in flat],
                steps=s.recurrent_steps,
                lr=s.lr,
                batch_size=s.batch_size,
                policy="auto",
                eval_every=s.recurrent_steps,
                shared_inputs=True,
                device=device,
                progress=progress,
                description=f"recurrent {label} ({n}/{len(models)})",
            )
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
