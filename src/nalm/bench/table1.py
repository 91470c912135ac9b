"""Trask et al. (2018), Table 1's static half as a bench suite, with the paper's score.

``x`` has 100 entries; ``a`` and ``b`` are sums of two overlapping slices of it (Madsen &
Johansen's construction); the target is one of ``a+b, a−b, a×b, a/b, a², √a``. Each row is
scored as the paper does: ``100 × MSE(trained model) / MSE(randomly initialised model of the
same architecture)``, the final model's MSE on each evaluation set over the mean MSE of
``random_inits`` random initialisations (seeds 10⁶ + r, init r scored on the task of seed
r mod ``baseline_tasks``). The scorer stores the final MSEs and the random model's in each
row's ``scores``; :func:`row_score` turns them into the paper's number. The suite itself is
:data:`nalm.bench.suites.TABLE1`:

    nalm bench run table1 --models NMU NALU --seeds 10 --db table1.sqlite
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..tasks.arithmetic import EVALUATIONS, OPERATIONS, get_operation
from ..train.cohort import SeedResult, initial_weights, predict_seeds

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


def init_seed(op: str, seed: int) -> int:
    """The seed that initialises the model of ``seed`` on ``op``: distinct per operation, so all
    operations of one model could train together (``1000 × operation index + seed``).

    Examples:
        >>> init_seed("add", 3), init_seed("mul", 3)
        (3, 2003)
    """
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


def score(mse: float | None, random: float | None, diverged: bool = False) -> float:
    """100 × MSE / random MSE; a diverged seed or a non-finite MSE scores infinity (NaN when
    the random MSE itself is undefined).

    Examples:
        >>> score(0.5, 10.0), score(None, 10.0), score(0.5, 10.0, diverged=True)
        (5.0, inf, inf)
    """
    if random is None or not math.isfinite(random) or random <= 0:
        return math.nan
    if diverged or mse is None or not math.isfinite(mse):
        return math.inf
    return 100.0 * mse / random


def row_score(row: Mapping[str, Any], evaluation: str) -> float:
    """The paper's score of a stored row (:class:`~nalm.bench.rows.ResultRow` as a dict) on
    ``evaluation``; NaN for a row without Table 1's scores."""
    scores = row.get("scores") or {}
    if f"random_{evaluation}_mse" not in scores:
        return math.nan
    return score(
        scores[f"final_{evaluation}_mse"],
        scores[f"random_{evaluation}_mse"],
        row.get("diverged_at") is not None,
    )


def table1_scores(
    tasks: Sequence[Any],
    build: Callable[[], nn.Module],
    runs: Sequence[SeedResult],
    random_inits: int,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """Each run's ``scores``: its init seed, its final MSEs, and the random models' mean MSE
    (and finite count) on ``tasks`` (one operation's, seeds 0 … n − 1)."""
    random = random_baseline(build, {"op": list(tasks)}, random_inits, device)["op"]
    common: dict[str, Any] = {"random_inits": random_inits}
    for evaluation in EVALUATIONS:
        mean, finite = random[evaluation]
        common[f"random_{evaluation}_mse"] = _finite(mean)
        common[f"random_{evaluation}_finite"] = finite
    return [
        {"init_seed": run.seed, **common}
        | {f"final_{e}_mse": _finite(run.history[-1][f"{e}_mse"]) for e in EVALUATIONS}
        for run in runs
    ]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def median(values: Sequence[float]) -> float:
    """The median, infinite values included (the upper middle one when it is infinite); NaN
    values last, and NaN for none.

    Examples:
        >>> median([1.0, math.inf]), median([3.0, 1.0, 2.0]), median([])
        (inf, 2.0, nan)
    """
    ordered = sorted(values, key=lambda v: (math.isnan(v), v))
    if not ordered:
        return math.nan
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    low, high = ordered[n // 2 - 1], ordered[n // 2]
    return high if math.isinf(high) else (low + high) / 2


def scores_section(rows: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown section of a bench report for rows with Table 1's scores: per cell, the
    median score over seeds on each evaluation set ("" when no row has them)."""
    cells: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("scores") and "random_extrapolation_mse" in row["scores"]:
            key = (row["suite"], row["model"], row["operation"], row["range"], row["settings"])
            cells.setdefault(key, []).append(row)
    if not cells:
        return ""
    lines = [
        "",
        "## Table 1 scores",
        "",
        "100 × the final model's MSE / the mean MSE of randomly initialised models of the same "
        "architecture (Trask et al. 2018); 0 is perfect, 100 as bad as random. Median over "
        "seeds; a diverged seed scores infinity.",
        "",
        "| suite | model | op | range | seeds | interpolation | extrapolation |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (suite, model, op, range_, _), members in sorted(cells.items()):
        medians = [median([row_score(r, e) for r in members]) for e in EVALUATIONS]
        symbol = get_operation(op).symbol
        shown = " | ".join(f"{m:.3g}" for m in medians)
        lines.append(f"| {suite} | {model} | {symbol} | {range_} | {len(members)} | {shown} |")
    return "\n".join(lines) + "\n"
