"""The candidates of ``nalm fit``: each model spec trained on a user's table (several seeds at
once, the best seed representing the spec), its formula read back and measured, and the rule
that picks the best candidate (see :mod:`nalm.fitting`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch
from torch import nn

from ..errors import NalmError
from ..limits import check_number
from ..models import ModelSpec, parse
from ..symbolic import Extraction, extract_formula, formula_function, relative_errors
from ..tasks.base import DatasetTask
from ..train import Ramp, fit_seeds
from ..train.cohort import SeedResult
from ..train.policies import recommended_policy
from .scaling import Scaling, fold_power_of_ten

DEFAULT_UNITS = ("nau", "nmu", "nmru", "real_npu", "nau>nmu")
EXACT = 1e-9
"""A formula is exact on a set when its MSE is at most this times the target's mean square."""
CLOSE = 1e-2
"""A candidate fits the data when its MSE there is at most this times the target's variance (it
explains 99 % of it); when none does, no candidate is called best."""


@dataclass
class Candidate:
    """One model spec fitted to the table.

    Attributes:
        spec: the model spec, e.g. ``"nau>nmu"``.
        model: the best seed's model, with its trained weights (in the scaled units:
            :meth:`predict` answers in the data's).
        run: the best seed's training record (``history``, ``diverged_at``).
        diverged: how many of the seeds diverged.
        extraction: the formula read from ``model`` (``None`` for an MLP).
        model_mse: the model's MSE per evaluation set (``interpolation``, ``extrapolation``).
        formula_mse: the formula's MSE per evaluation set.
        formula_error: the formula's largest relative error per evaluation set.
        note: why there is no formula, where there is none.
        scaling: the powers of ten ``model`` was trained in (see :mod:`.scaling`); the formula
            is in the data's units.
    """

    spec: str
    model: nn.Module
    run: SeedResult
    diverged: int = 0
    extraction: Extraction | None = None
    model_mse: dict[str, float] = field(default_factory=dict)
    formula_mse: dict[str, float] = field(default_factory=dict)
    formula_error: dict[str, float] = field(default_factory=dict)
    note: str = ""
    scaling: Scaling = field(default_factory=Scaling)

    @property
    def formula(self) -> sympy.Expr | None:
        return None if self.extraction is None else self.extraction.formula

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for inputs ``x`` in the data's units, ``(N, in) → (N, 1)``."""
        return self.scaling.predict(self.model, x)

    def mse(self) -> float:
        """The formula's MSE on the training rows (the model's where there is no formula)."""
        return self.formula_mse.get("interpolation", self.model_mse.get("interpolation", np.inf))

    def score(self, scale: float) -> tuple[bool, float]:
        """Sort key: ``(not exact, error or length)``; lower is better. A candidate whose
        every seed diverged scores ``inf``: it did not fit, whatever its last weights give."""
        mse = self.mse()
        if self.run.diverged or not np.isfinite(mse):
            return (True, np.inf)
        if self.formula is not None and mse <= EXACT * scale:
            return (False, float(sympy.count_ops(self.formula)))
        return (True, mse)


def parse_specs(specs: Sequence[str]) -> list[ModelSpec]:
    """Model specs: ``unit`` (one unit), ``first>second`` (a stack), ``mlp:ACTIVATION``."""
    parsed = []
    for text in specs:
        if not isinstance(text, str) or not text.strip():
            raise NalmError(f"a unit to try must be a non-empty name; got {text!r}")
        parsed.append(parse(text, layers=2 if ">" in text else 1))
    names = [str(s) for s in parsed]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise NalmError(f"the unit {duplicated[0]!r} is listed twice")
    return parsed


def default_lr(spec: ModelSpec) -> float:
    """0.05 for arithmetic units (as ``nalm train``), 1e-3 for an MLP."""
    return 1e-3 if spec.activation else 0.05


def scaled_regularizer(model: nn.Module, steps: int) -> Ramp | None:
    """The model's recommended sparsity ramp, squeezed to end at 3/4 of ``steps``.

    The papers' ramps are set for runs of millions of steps (NMU: 1e6 → 2e6); a fit of a few
    thousand steps would never switch them on. Other schedules are left as they are (``None``).
    """
    ramp = recommended_policy(model).regularizer
    if not isinstance(ramp, Ramp) or ramp.end <= 0.75 * steps:
        return None
    factor = 0.75 * steps / ramp.end
    end = max(1, int(ramp.end * factor))
    return Ramp(ramp.lambda_hat, min(int(ramp.start * factor), end - 1), end)


def fit_candidates(
    task: DatasetTask,
    names: Sequence[str],
    specs: Sequence[str],
    *,
    steps: int = 10_000,
    seeds: int = 3,
    first_seed: int = 0,
    lr: float | None = None,
    hidden: int = 2,
    batch_size: int = 128,
    tolerance: float = 0.05,
    device: str = "cpu",
    progress: bool = True,
    rows: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[Candidate]:
    """Train every spec on ``task`` (``seeds`` seeds each) and read each best seed's formula.

    The specs train on the rows divided by powers of ten that keep the law's form
    (:class:`~.scaling.Scaling`); each formula is read there and put back in the data's units.

    Args:
        task: rows to learn; evaluation sets ``interpolation`` and optionally ``extrapolation``.
        names: the input columns' names (the formula's symbols).
        specs: model specs to try.
        steps, lr, batch_size: training settings (``lr=None``: :func:`default_lr` per spec).
        seeds: seeds per spec, ``first_seed …``; the lowest final training MSE represents it.
        hidden: width between the two units of a ``first>second`` spec.
        tolerance: snapping tolerance of the formula.
        rows: the evaluation sets as float64 ``(x, y)`` arrays, for measuring the formula on
            the exact values (default: the task's, which are float32).

    Returns:
        One :class:`Candidate` per spec, in the order given.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise NalmError(f"seeds must be a positive integer, got {seeds!r}")
    check_number(tolerance, "tolerance", nonnegative=True)
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise NalmError(f"hidden must be a positive integer, got {hidden!r}")
    parsed = parse_specs(specs)
    positive = all(bool((x > 0).all()) for x, _ in task.evaluation.values())
    if rows is None:
        rows = {
            k: (x.double().numpy(), y[:, 0].double().numpy())
            for k, (x, y) in task.evaluation.items()
        }
    settings = (steps, seeds, first_seed, lr, hidden, batch_size, device, progress)
    scaling = Scaling.of(*task.train)  # trained near 1, read back in the data's units
    scaled = scaling.task(task)
    candidates = []
    for spec in parsed:
        candidate = _fit_spec(scaled, spec, settings)
        candidate.scaling = scaling
        _measure(candidate, task, rows)
        if candidate.run.diverged:
            candidate.note = f"every seed diverged (first at step {candidate.run.diverged_at})"
        elif spec.activation:
            candidate.note = "an MLP has no closed-form formula"
        else:
            _read_formula(candidate, names, rows, tolerance=tolerance, positive=positive)
        candidates.append(candidate)
    return candidates


def _fit_spec(task: DatasetTask, spec: ModelSpec, settings: tuple) -> Candidate:
    """Train ``spec``'s seeds together; the seed with the lowest final training MSE, loaded."""
    steps, seeds, first_seed, lr, hidden, batch_size, device, progress = settings

    def make() -> nn.Module:
        return spec.build(task.in_features, 1, hidden)

    result = fit_seeds(
        make,
        [task] * seeds,
        seeds=range(first_seed, first_seed + seeds),
        steps=steps,
        lr=default_lr(spec) if lr is None else lr,
        batch_size=min(batch_size, len(task.train[0])),
        regularizer=scaled_regularizer(make(), steps),
        device=device,
        progress=progress,
        description=str(spec),
    )
    finished = [r for r in result.runs if not r.diverged and r.history]
    best = min(
        finished or result.runs,
        key=lambda r: r.history[-1].get("interpolation_mse", np.inf) if r.history else np.inf,
    )
    model = make()
    model.load_state_dict(best.weights)
    model.eval()
    return Candidate(str(spec), model, best, diverged=result.diverged)


def _measure(candidate: Candidate, task: DatasetTask, rows: Mapping[str, Any]) -> None:
    with torch.no_grad():
        for key, (x, y) in rows.items():
            x = torch.as_tensor(x, dtype=task.train[0].dtype)
            predicted = candidate.predict(x)[:, 0].double()
            candidate.model_mse[key] = _mse(predicted.numpy(), y)


def _read_formula(
    candidate: Candidate,
    names: Sequence[str],
    rows: Mapping[str, Any],
    *,
    tolerance: float,
    positive: bool,
) -> None:
    """Read the candidate's formula and measure it on ``rows``."""
    try:
        extraction = extract_formula(candidate.model, names, tolerance=tolerance, positive=positive)
    except NalmError as e:  # a unit from outside nalm without a formula reader: no formula
        candidate.note = str(e)
        return
    candidate.extraction = extraction
    # read on the scaled rows; shown and measured in the data's units
    extraction.outputs = tuple(candidate.scaling.undo(e, names) for e in extraction.outputs)
    try:
        function = formula_function(extraction.formula, names)
        folded = fold_power_of_ten(extraction.formula, function, *rows["interpolation"], EXACT)
        if folded is not None:  # right up to a power of ten the units cannot learn
            extraction.outputs = (folded,)
            function = formula_function(folded, names)
        for key, (x, y) in rows.items():
            value = function(x)
            candidate.formula_mse[key] = _mse(value, y)
            candidate.formula_error[key] = float(np.max(relative_errors(value, y)))
    except NalmError as e:  # e.g. a division by a path that snapped to 0
        candidate.note = str(e)
        candidate.formula_mse = dict.fromkeys(rows, float("inf"))
        candidate.formula_error = dict.fromkeys(rows, float("inf"))


def _mse(predicted: np.ndarray, expected: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        value = float(np.mean((np.asarray(predicted) - expected) ** 2))
    return value if np.isfinite(value) else float("inf")


def best_candidate(candidates: Sequence[Candidate], task: DatasetTask) -> Candidate | None:
    """The candidate whose formula fits the training rows best (exact and shortest first), or
    ``None`` when no candidate fit: every error infinite, every seed diverged, or even the
    closest leaving more than :data:`CLOSE` of the target's variance unexplained."""
    best = closest_candidate(candidates, task)
    if best is None or unexplained(best, task) > CLOSE:
        return None
    return best


def closest_candidate(candidates: Sequence[Candidate], task: DatasetTask) -> Candidate | None:
    """The candidate that ranks first (exact and shortest, else the lowest MSE), fit or not;
    ``None`` when every error is infinite or every seed diverged."""
    y = task.evaluation["interpolation"][1].double()
    scale = float((y**2).mean()) or 1.0
    best = min(candidates, key=lambda c: c.score(scale))
    return best if np.isfinite(best.score(scale)[1]) else None


def unexplained(candidate: Candidate, task: DatasetTask) -> float:
    """The share of the target's variance on the training rows that ``candidate`` leaves
    unexplained (its MSE ÷ the variance; 0 for an exact formula, ``inf`` for a constant
    target that it does not fit exactly)."""
    y = task.evaluation["interpolation"][1].double()
    scale = float((y**2).mean()) or 1.0
    mse, variance = candidate.mse(), float(y.var(unbiased=False))
    if candidate.formula is not None and mse <= EXACT * scale:
        return 0.0
    return mse / variance if variance > 0 else float("inf")
