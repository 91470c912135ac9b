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

import csv
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.colors import LogNorm
from torch import nn

from ..errors import NalmError
from ..models import TORCH_CELLS, parse
from ..reporting import finite_or_none, markdown_table, number
from ..reporting.figures import plt
from ..runs import new_run_dir, write_config
from ..tasks.arithmetic import OPERATIONS, ArithmeticTask, RecurrentArithmeticTask, get_operation
from ..train.ensemble import fit_seeds, initial_weights, predict_seeds
from ..units import registry
from .common import Parts
from .published import as_number, published

SETTINGS = ("static", "recurrent")
EVALUATIONS = ("interpolation", "extrapolation")
OP_LABELS = {"add": "a+b", "sub": "a−b", "mul": "a×b", "div": "a/b", "squared": "a²", "root": "√a"}

STATIC_MODELS: dict[str, str] = {
    "ReLU6": "mlp:relu6",
    "None": "linear>linear",
    "NAC": "nac>nac",
    "NALU": "nalu>nalu",
    "NAC•": "nac>nac_mul",
    "G-NALU": "gnalu>gnalu",
    "iNALU": "inalu>inalu",
    "NAU": "nau>nau",
    "NMU": "nau>nmu",
    "NPU": "nau>npu",
    "RealNPU": "nau>real_npu",
    "NMRU": "nau>nmru",
    "NRU": "nau>nru",
}
"""The static rows: the paper's four (ReLU6 MLP, a linear model "None", NAC, NALU), then the
later units, each in the two-layer form its paper uses (multiplicative units behind a NAU)."""

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


def init_seed(op: str, seed: int) -> int:
    """The seed that initialises the model of ``seed`` on ``op``: distinct per operation, so all
    operations of one model train together (``1000 × operation index + seed``)."""
    return 1000 * list(OPERATIONS).index(get_operation(op).name) + seed


def random_baseline(
    build: Callable[[], nn.Module],
    tasks: dict[str, list[Any]],
    inits: int,
    device: torch.device | str = "cpu",
) -> dict[str, dict[str, list[float]]]:
    """Per operation and evaluation set: ``[mean MSE, finite count]`` of ``inits`` randomly
    initialised models (seeds 10⁶ + r), init ``r`` scored on the task of seed ``r mod n``.
    Non-finite MSEs (an untrained unit can overflow) are left out of the mean and counted."""
    weights = initial_weights(build, [10**6 + r for r in range(inits)])
    out: dict[str, dict[str, list[float]]] = {op: {} for op in tasks}
    for name in EVALUATIONS:
        first = next(iter(tasks.values()))[0]
        x = first.evaluation[name][0]
        pred = predict_seeds(build, weights, x, device=device).double()
        for op, op_tasks in tasks.items():
            y = torch.stack(
                [op_tasks[r % len(op_tasks)].evaluation[name][1] for r in range(inits)]
            ).double()
            mse = ((pred - y) ** 2).mean(dim=(1, 2))
            finite = mse[torch.isfinite(mse)]
            mean = float(finite.mean()) if len(finite) else math.nan
            out[op][name] = [mean, len(finite)]
    return out


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
    parts = Parts(out, settings.to_dict())
    ops = [get_operation(op).name for op in settings.operations]
    seeds = list(range(settings.seeds))
    runs: list[dict[str, Any]] = []
    baselines: dict[tuple[str, str], dict[str, Any]] = {}
    training = 0.0
    for setting in settings.settings:
        models = settings.models(setting)
        tasks = {op: _tasks(setting, op, seeds, settings) for op in ops}
        steps = settings.static_steps if setting == "static" else settings.recurrent_steps
        for n, (label, spec) in enumerate(models.items(), start=1):
            key = f"{setting}/{label}"
            done = parts.get(key)
            if done is None:
                build = _builder(setting, spec, settings)
                flat = [
                    (op, seed, task)
                    for op in ops
                    for seed, task in zip(seeds, tasks[op], strict=True)
                ]
                result = fit_seeds(
                    build,
                    [t for _, _, t in flat],
                    [init_seed(op, seed) for op, seed, _ in flat],
                    steps=steps,
                    lr=settings.lr,
                    batch_size=settings.batch_size,
                    policy="auto",
                    eval_every=steps,
                    shared_inputs=True,
                    device=device,
                    progress=progress,
                    description=f"{setting} {label} ({n}/{len(models)})",
                )
                rows = []
                for (op, seed, _), run in zip(flat, result.runs, strict=True):
                    last = run.history[-1]
                    rows.append(
                        {
                            "operation": op,
                            "seed": seed,
                            "init_seed": run.seed,
                            "interpolation_mse": finite_or_none(last["interpolation_mse"]),
                            "extrapolation_mse": finite_or_none(last["extrapolation_mse"]),
                            "diverged_at": run.diverged_at,
                        }
                    )
                random = random_baseline(build, tasks, settings.random_inits, device)
                done = {
                    "spec": spec,
                    "rows": rows,
                    "random": {
                        op: {k: [finite_or_none(v[0]), v[1]] for k, v in r.items()}
                        for op, r in random.items()
                    },
                    "seconds": result.seconds,
                }
                parts.put(key, done)
            baselines[setting, label] = done["random"]
            training += done["seconds"]
            for row in done["rows"]:
                runs.append({"setting": setting, "model": label, "spec": done["spec"], **row})
            log(_progress_line(setting, label, done, ops, settings))
    cells = summarize(runs, baselines, settings)
    result = Table1Result(
        settings, runs, cells, seconds=time.perf_counter() - started, training_seconds=training
    )
    result.paths = {
        "csv": _write_cells(cells, out / "table1.csv"),
        "seeds_csv": _write_runs(runs, baselines, out / "table1-seeds.csv"),
        "markdown": _write_markdown(result, out / "table1.md"),
        "png": plot_table1(result, out / "table1.png"),
    }
    return result


def _score(mse: float | None, random: float | None, diverged: bool = False) -> float:
    """100 × MSE / random MSE; a diverged seed or a non-finite MSE scores infinity (NaN when
    the random MSE itself is undefined)."""
    if random is None or not math.isfinite(random) or random <= 0:
        return math.nan
    if diverged or mse is None or not math.isfinite(mse):
        return math.inf
    return 100.0 * mse / random


def _run_score(run: dict[str, Any], evaluation: str, random: float | None) -> float:
    return _score(run[f"{evaluation}_mse"], random, run["diverged_at"] is not None)


def summarize(
    runs: Sequence[dict[str, Any]],
    baselines: dict[tuple[str, str], dict[str, Any]],
    settings: Table1Settings,
) -> list[dict[str, Any]]:
    """One row per setting × evaluation × model × operation: median score over seeds (diverged
    and non-finite seeds count as infinite), quartiles, counts, and the published value."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["setting"], run["model"], run["operation"]), []).append(run)
    cells = []
    for (setting, model, op), rows in groups.items():
        for evaluation in EVALUATIONS:
            random, finite = baselines[setting, model][op][evaluation]
            scores = [_run_score(r, evaluation, random) for r in rows]
            ordered = sorted(scores, key=lambda v: (math.isnan(v), v))
            quoted = published(setting, evaluation, model, op)
            mses = [r[f"{evaluation}_mse"] for r in rows]
            cells.append(
                {
                    "setting": setting,
                    "evaluation": evaluation,
                    "model": model,
                    "spec": rows[0]["spec"],
                    "operation": op,
                    "score_median": _median(ordered),
                    "score_q1": _quantile(ordered, 0.25),
                    "score_q3": _quantile(ordered, 0.75),
                    "seeds": len(rows),
                    "diverged": sum(r["diverged_at"] is not None for r in rows),
                    "mse_median": _median(sorted(math.inf if m is None else m for m in mses)),
                    "random_mse": math.nan if random is None else random,
                    "random_finite": finite,
                    "random_inits": settings.random_inits,
                    "published": quoted,
                }
            )
    return cells


def _median(ordered: Sequence[float]) -> float:
    if not ordered:
        return math.nan
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    low, high = ordered[n // 2 - 1], ordered[n // 2]
    return high if math.isinf(high) else (low + high) / 2


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile (defined when some values are infinite)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _progress_line(
    setting: str, label: str, done: dict[str, Any], ops: Sequence[str], s: Table1Settings
) -> str:
    parts = []
    for op in ops:
        random = done["random"][op]["extrapolation"][0]
        scores = sorted(
            (_run_score(r, "extrapolation", random) for r in done["rows"] if r["operation"] == op),
            key=lambda v: (math.isnan(v), v),
        )
        parts.append(f"{OP_LABELS[op]} {number(_median(scores))}")
    diverged = sum(r["diverged_at"] is not None for r in done["rows"])
    tail = f", {diverged} diverged" if diverged else ""
    return f"{setting:<9} {label:<8} extrapolation score: " + ", ".join(parts) + tail


def _write_cells(cells: Sequence[dict[str, Any]], path: Path) -> Path:
    columns = list(cells[0]) if cells else []
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for c in cells:
            writer.writerow({k: "" if v is None else v for k, v in c.items()})
    return path


def _write_runs(
    runs: Sequence[dict[str, Any]], baselines: dict[tuple[str, str], Any], path: Path
) -> Path:
    columns = [
        "setting",
        "model",
        "spec",
        "operation",
        "seed",
        "init_seed",
        "interpolation_mse",
        "extrapolation_mse",
        "interpolation_score",
        "extrapolation_score",
        "diverged_at",
    ]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in runs:
            random = baselines[r["setting"], r["model"]][r["operation"]]
            row = {k: r.get(k) for k in columns}
            for evaluation in EVALUATIONS:
                mse = r[f"{evaluation}_mse"]
                row[f"{evaluation}_mse"] = "inf" if mse is None else mse
                row[f"{evaluation}_score"] = _run_score(r, evaluation, random[evaluation][0])
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def _cell_text(cell: dict[str, Any]) -> str:
    text = number(cell["score_median"])
    if cell["diverged"]:
        text += f" ({cell['diverged']}✝)"
    if cell["published"] is not None:
        text += f" [{cell['published']}]"
    return text


SOLVED, FAILED = 1.0, 10.0
"""Qualitative classes for comparing with the paper: a score below 1 is "≈ 0" (solved), 10 or
above is "far from 0" (not solved)."""


def disagreements(cells: Sequence[dict[str, Any]]) -> list[str]:
    """Cells where ours and the quoted paper value fall on opposite sides: one below
    :data:`SOLVED`, the other at or above :data:`FAILED`."""
    lines = []
    for c in cells:
        if c["published"] is None or math.isnan(c["score_median"]):
            continue
        paper, ours = as_number(c["published"]), c["score_median"]
        if paper < SOLVED <= FAILED <= ours:
            verdict = "≈ 0 in the paper, not here"
        elif ours < SOLVED <= FAILED <= paper:
            verdict = "≈ 0 here, not in the paper"
        else:
            continue
        lines.append(
            f"- {c['setting']} {c['evaluation']}, {c['model']} on {OP_LABELS[c['operation']]}: "
            f"ours {number(ours)}, paper {c['published']} ({verdict})."
        )
    return lines


def claims(result: Table1Result) -> list[str]:
    """The paper's qualitative claims about the static table, checked against our numbers."""
    checks = [
        ("NAC", ("add", "sub"), "NAC ≈ 0 on a+b and a−b in extrapolation"),
        ("NALU", ("mul", "squared", "root"), "NALU ≈ 0 on a×b, a² and √a in extrapolation"),
    ]
    lines = []
    for model, ops, claim in checks:
        try:
            cells = [result.cell("static", "extrapolation", model, op) for op in ops]
        except KeyError:
            continue
        values = ", ".join(
            f"{OP_LABELS[c['operation']]} {number(c['score_median'])}" for c in cells
        )
        holds = all(c["score_median"] < SOLVED for c in cells)
        lines.append(f"- {claim}: {'holds' if holds else 'does not hold'} here ({values}).")
    mlp = [c for c in result.cells if c["setting"] == "static" and c["model"] == "ReLU6"]
    if mlp:
        far = [c for c in mlp if c["evaluation"] == "extrapolation"]
        above = sum(c["score_median"] >= FAILED for c in far)
        lines.append(
            f"- The ReLU6 MLP is far from 0 (score ≥ {FAILED:g}) in extrapolation on "
            f"{above} of {len(far)} operations here."
        )
    return lines


def _write_markdown(result: Table1Result, path: Path) -> Path:
    s = result.settings
    lines = ["# Trask et al. 2018, Table 1: simple function learning", ""]
    if s.quick:
        lines += [
            "**Quick run** (`--quick`): a smaller version of the full reproduction (settings "
            "below); its numbers are rougher.",
            "",
        ]
    described = {
        "static": f"- Static: x ∈ U[{s.train_range}]^{s.input_size} for training and "
        f"interpolation, U[{s.extrapolation_range}] for extrapolation; slices of {s.subset:g} of "
        f"the input overlapping by {s.overlap:g}; {s.static_steps:,} steps; two layers, hidden "
        f"size {s.hidden}.",
        "recurrent": f"- Recurrent: sequences of {s.train_length} vectors from "
        f"U[{s.sequence_train_range}] for training and interpolation, {s.extrapolation_length} "
        f"vectors from U[{s.sequence_extrapolation_range}] for extrapolation; "
        f"{s.recurrent_steps:,} steps; unit cells of hidden size {s.hidden}, LSTM/RNN cells of "
        f"{s.rnn_hidden} with a linear head.",
    }
    lines += [
        "Score: 100 × MSE / MSE of a randomly initialised model of the same architecture "
        f"(mean over {s.random_inits} initialisations); 0 is perfect, 100 is as bad as random. "
        f"Median over {s.seeds} seeds of the final model; ✝ counts diverged seeds (scored as "
        "infinite). **[In brackets: the paper's value as quoted by reproductions — unconfirmed, "
        "not read from the paper.]**",
        "",
        *(described[setting] for setting in s.settings),
        f"- Adam lr {s.lr:g}, batch {s.batch_size}, each model's recommended policy; "
        f"training time {result.training_seconds:.0f} s (summed over the models, whichever "
        "run trained them).",
        "",
    ]
    for setting in s.settings:
        models = list(s.models(setting))
        for evaluation in EVALUATIONS:
            lines += [f"## {setting.capitalize()}, {evaluation}", ""]
            rows = []
            for op in (get_operation(o).name for o in s.operations):
                row = [OP_LABELS[op]]
                for model in models:
                    try:
                        row.append(_cell_text(result.cell(setting, evaluation, model, op)))
                    except KeyError:
                        row.append("-")
                rows.append(row)
            lines += [markdown_table(["", *models], rows), ""]
    partial = sorted(
        {
            (c["setting"], c["model"], c["operation"], c["evaluation"], c["random_finite"])
            for c in result.cells
            if c["random_finite"] < c["random_inits"]
        }
    )
    if partial:
        lines += [
            "Random initialisations whose MSE overflowed are left out of the denominator "
            "(which raises the score): "
            + "; ".join(
                f"{setting} {model} on {OP_LABELS[op]} ({evaluation}): {n} of "
                f"{s.random_inits} finite"
                for setting, model, op, evaluation, n in partial
            )
            + ".",
            "",
        ]
    lines += ["## The paper's claims, checked", "", *claims(result), ""]
    found = disagreements(result.cells)
    lines += ["## Where ours and the paper disagree", ""]
    lines += found or ["- Nowhere by the rule below."]
    lines += [
        "",
        f"Rule: a cell disagrees when one side is below {SOLVED:g} (≈ 0) and the other is at "
        f"or above {FAILED:g}. Nothing was tuned to match the paper.",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def plot_table1(result: Table1Result, path: Path) -> Path:
    """A heat map per setting and evaluation: models × operations, log colour scale of the
    median score (green ≈ 0, red ≥ 100), the value written in each cell."""
    s = result.settings
    panels = [(setting, ev) for setting in s.settings for ev in EVALUATIONS]
    ops = [get_operation(o).name for o in s.operations]
    widths = [len(s.models(setting)) for setting, _ in panels]
    fig, axes = plt.subplots(
        len(s.settings),
        2,
        figsize=(2 + 0.9 * max(len(ops), 4) * 2, 0.45 * max(widths) * len(s.settings) + 2),
        squeeze=False,
    )
    norm = LogNorm(vmin=0.01, vmax=1000)
    image = None
    for ax, (setting, evaluation) in zip(axes.flat, panels, strict=True):
        models = list(s.models(setting))
        grid = np.full((len(models), len(ops)), np.nan)
        for i, model in enumerate(models):
            for j, op in enumerate(ops):
                try:
                    value = result.cell(setting, evaluation, model, op)["score_median"]
                except KeyError:
                    continue
                grid[i, j] = value
        shown = np.clip(np.nan_to_num(grid, nan=np.nan, posinf=1000.0), 0.01, 1000)
        image = ax.imshow(shown, cmap="RdYlGn_r", norm=norm, aspect="auto")
        for i in range(len(models)):
            for j in range(len(ops)):
                v = grid[i, j]
                text = "-" if np.isnan(v) else ("inf" if np.isinf(v) else number(float(v)))
                ax.text(j, i, text, ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(ops)), [OP_LABELS[o] for o in ops])
        ax.set_yticks(range(len(models)), models)
        ax.set_title(f"{setting}, {evaluation}", fontsize=10)
    quick = " (quick run)" if s.quick else ""
    fig.suptitle(f"Trask et al. Table 1: score = 100 × MSE / random MSE, median{quick}")
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="score (log)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = [
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
