"""The law search of ``nalm fit``: model families with constants, tried from the simplest up.

A law of physics is a monomial with a constant (``8.314·n·T/V``), a sum of monomials
(``m·v²/2 + 9.81·m·h``), a monomial of sums or a ratio of sums (``R1·R2/(R1 + R2)``). Each is a
stack of two units with free constants (:mod:`nalm.units.laws`): ``power`` (``c·Π x^p``) and
``affine`` (``W x + b``). :func:`find_law` tries such stacks (a :class:`Structure` each) in order
of complexity; for each it

1. trains many seeds at once on the engine (the table's columns divided by powers of ten, so
   every value is near 1);
2. *polishes* the best seeds: each exponent is snapped to a simple rational (an integer, a half,
   a third), the exponents are frozen and the constants are fitted again in float64 (L-BFGS);
3. reads the formula, snaps each constant to ``p/q`` (``q ≤ 12``, or such a fraction times
   ``π^k``) when the law stays exact, else keeps the fewest significant digits that keep it
   exact (the precision the data supports);
4. stops at the first formula that is exact on rows held back from training (never the test
   file): its mean square error there at most :data:`EXACT` × the target's mean square.

When no formula is exact within the budget, the most accurate one found is returned, marked as
not exact, with its error on the held-back rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
import torch
from torch import nn

from ..errors import NalmError
from ..symbolic import extract_formula
from ..tasks.base import DatasetTask
from ..train import fit_seeds
from ..units.laws import ScaledPower
from .candidates import EXACT
from .constants import defined_beyond, snap_constants
from .families import Structure, default_structures
from .law import Attempt, Law, attempt_line, prefer_simplest
from .monomials import Monomials, is_sum_of_monomials, monomial_search, search_rows
from .polish import GRIDS, local_search, snap_exponents
from .ratios import ratio_search

HELD_BACK = 0.25
"""The share of the training file's rows held back to judge formulas (at least 8 rows)."""
POLISHED = 8
"""Seeds per family whose exponents are snapped and constants refitted (the lowest errors)."""
SHARP = 1e-20
"""A held-back relative MSE this small is exact to float64's last digits (the noise-free laws of
a float64 table); between it and :data:`EXACT`, a formula is exact but may be a close imitation
(see :func:`_search`)."""
MARGIN = 3.0
"""Seconds of the budget (at most a tenth of it) kept for the last family's end: its training
stops at its next evaluation after ``budget − MARGIN``, and its polishing and search then."""
SEARCHED = 3
"""Snapped seeds per family whose exponents are then improved one at a time."""


@dataclass
class _Data:
    fit: tuple[np.ndarray, np.ndarray]
    held: tuple[np.ndarray, np.ndarray]
    scales: np.ndarray  # the inputs' powers of ten
    target_scale: int

    def scaled(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = getattr(self, part)
        xs = torch.as_tensor(x / 10.0**self.scales)
        ys = torch.as_tensor(y / 10.0**self.target_scale)
        return xs, ys[:, None]


def _power_of_ten(values: np.ndarray) -> int:
    magnitude = np.abs(values[np.isfinite(values) & (values != 0)])
    return 0 if magnitude.size == 0 else round(float(np.log10(np.median(magnitude))))


def split_rows(n: int, share: float = HELD_BACK, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(fit, held back)``: a random ``share`` of ``n`` rows (at least 8, at most
    half) is held back to judge formulas."""
    held = min(max(8, round(share * n)), n // 2)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def find_law(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    budget: float = 120.0,
    seed: int = 0,
    seeds: int = 32,
    steps: int = 4000,
    lr: float = 0.02,
    structures: Sequence[Structure] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> Law:
    """Find the law ``y = f(x)`` among sums, products, powers and constants.

    Args:
        x: inputs, ``(N, d)``.
        y: the target, ``(N,)``.
        names: the inputs' names (default ``x0, x1, …``).
        budget: seconds to search: no family starts after ``budget − MARGIN``, and the one in
            progress stops then (its training at its next evaluation).
        seed: seeds the held-back rows and the first training seed.
        seeds: seeds trained at once per family.
        steps: training steps per family.
        lr: Adam's learning rate.
        structures: the families to try, in order (default :func:`default_structures`).
        progress: show a progress bar per family.
        log: called with one line per family tried.

    Returns:
        A :class:`Law`; ``law.exact`` says whether the formula is exact on the held-back rows.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(1, 5, (200, 2))
        >>> law = find_law(x, 2.5 * x[:, 0] * x[:, 1] ** 2, ["m", "v"], seeds=16)
        >>> law.formula, law.exact
        (5*m*v**2/2, True)
    """
    started = time.perf_counter()
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise NalmError(f"x must be (N, d) and y (N,); got {x.shape} and {y.shape}")
    names = [f"x{i}" for i in range(x.shape[1])] if names is None else [str(n) for n in names]
    fit_rows, held_rows = split_rows(len(y), seed=seed)
    data = _Data(
        (x[fit_rows], y[fit_rows]),
        (x[held_rows], y[held_rows]),
        np.array([_power_of_ten(c) for c in x.T]),
        _power_of_ten(y),
    )
    best = Law(None, False, held_back=len(held_rows))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only waits (25× slower under load)
    try:
        _search(
            best,
            structures or default_structures(x.shape[1]),
            data,
            names,
            started,
            budget,
            (seed, seeds, steps, lr, progress),
            log,
        )
    finally:
        torch.set_num_threads(threads)
    best.seconds = time.perf_counter() - started
    return best


def _search(
    best: Law,
    structures: Sequence[Structure],
    data: _Data,
    names: list[str],
    started: float,
    budget: float,
    settings: tuple[int, int, int, float, bool],
    log: Callable[[str], None] | None,
) -> None:
    """Try ``structures`` in order until one is exact or the budget is spent; ``best`` is
    updated in place. A formula exact only to :data:`EXACT` (not to :data:`SHARP`) lets the
    other least-squares families run first: a ratio of sums can imitate a root to 10⁻⁵, and
    one of them may be exact to the last digits (it then replaces it)."""
    positive = bool((data.fit[1] > 0).all())
    plan = _plan(structures)
    deadline = started + budget - min(MARGIN, budget / 10)
    for step, (rank, structure, solve) in enumerate(plan):
        if structure.target_power != 1 and not positive:
            continue  # a root of y^k is the law only where y > 0
        if time.perf_counter() > deadline:
            break
        if best.exact and not (solve or len(structure.layers) == 1):
            return  # the least-squares families are done: the exact formula found stands
        t0 = time.perf_counter()
        found = _try(structure, data, names, settings, deadline, solve)
        label = (found.structure if found is not None else "") or structure.label
        attempt = Attempt(label, seconds=time.perf_counter() - t0, trained=not solve, rank=rank)
        if found is not None:
            attempt.formula, attempt.exact = found.formula, found.exact
            attempt.error, attempt.mse = found.error, found.mse
            attempt.trained = found.trained
        best.tried.append(attempt)
        if log is not None:
            log(attempt_line(attempt))
        if found is not None and _better(found, best):
            best.formula, best.exact, best.structure = found.formula, found.exact, label
            best.error, best.mse, best.trained = found.error, found.mse, found.trained
        if best.exact and (best.mse <= SHARP or step + 1 == len(plan) or not solve):
            return
    prefer_simplest(best, lambda formula: defined_beyond(formula, names, data.fit[0]))


def _better(found: Law, best: Law) -> bool:
    """Whether ``found`` replaces ``best``: the first exact formula, or one exact to
    :data:`SHARP` beside one exact only to :data:`EXACT`; without an exact one, the lower
    error."""
    if best.exact:
        return found.exact and found.mse <= SHARP < best.mse
    return found.exact or found.mse < best.mse


def _plan(structures: Sequence[Structure]) -> list[tuple[int, Structure, bool]]:
    """``(place in the list, family, by least squares alone)`` in the order tried: first the
    one-unit families (trained) and every family that least squares solves (sums of monomials
    and ratios), each list simplest first; then the sums of monomials and the deeper stacks
    trained."""
    first: list[tuple[int, Structure, bool]] = []
    later: list[tuple[int, Structure, bool]] = []
    for rank, structure in enumerate(structures):
        if structure.ratio:
            first.append((rank, structure, True))
        elif len(structure.layers) == 1:
            first.append((rank, structure, False))
        elif is_sum_of_monomials(structure.build(1)):
            first.append((rank, structure, True))
            later.append((rank, structure, False))
        else:
            later.append((rank, structure, False))
    return first + later


def _try(
    structure: Structure,
    data: _Data,
    names: list[str],
    settings: tuple[int, int, int, float, bool],
    deadline: float,
    solve: bool,
) -> Law | None:
    """One family's best formula: by least squares alone (``solve``: sums of monomials and
    ratios), or its seeds trained and the best polished (the local search stops at
    ``deadline``, a :func:`time.perf_counter` time, and so does training)."""
    xs64, ys64 = data.scaled("fit")
    ys64 = ys64 ** float(structure.target_power)
    if solve:
        return _least_squares(structure, xs64, ys64, data, names, deadline)
    best = None
    runs = _train(structure, xs64, ys64, settings, deadline)
    snapped: list[tuple[float, nn.Module]] = []
    sums = is_sum_of_monomials(structure.build(xs64.shape[1]))
    for rank, run in enumerate(runs[:POLISHED]):
        if rank > 0 and time.perf_counter() > deadline:
            break
        for grid in GRIDS:
            model = structure.build(xs64.shape[1]).double()
            model.load_state_dict({k: v.double() for k, v in run.weights.items()})
            # a sum of monomials has its coefficients solved below: no refit needed here
            loss = snap_exponents(model, grid, xs64, ys64, refitted=not sums)
            if math.isfinite(loss):
                snapped.append((loss, model))
    if sums:
        snapped = _searched(snapped, xs64, ys64, deadline)
    snapped.sort(key=lambda pair: pair[0])
    for rank, (loss, model) in enumerate(snapped[:SEARCHED]):
        if rank > 0 and time.perf_counter() > deadline:
            break
        if not is_sum_of_monomials(model):
            powers = [m for m in model if isinstance(m, ScaledPower)]
            local_search(model, powers, xs64, ys64, loss, deadline)
        law = _read(model, data, names, structure.target_power)
        if law is not None and (best is None or law.mse < best.mse):
            best = law
        if best is not None and best.exact:
            break
    return best


def _searched(
    snapped: list[tuple[float, nn.Module]], xs: torch.Tensor, ys: torch.Tensor, deadline: float
) -> list[tuple[float, nn.Module]]:
    """The monomial search from each distinct snapped start (:data:`POLISHED` at most, in the
    order of the seeds' training errors)."""
    monomials, seen, found = Monomials(xs[search_rows(xs.shape[0])]), set(), []
    for _, model in sorted(snapped, key=lambda pair: pair[0]):
        key = tuple(model[0].W.flatten().tolist())
        if key in seen or len(found) >= POLISHED:
            continue
        seen.add(key)
        found.append((monomial_search(model, xs, ys, deadline, monomials=monomials), model))
    return found


def _least_squares(
    structure: Structure,
    xs: torch.Tensor,
    ys: torch.Tensor,
    data: _Data,
    names: list[str],
    deadline: float,
) -> Law | None:
    """A sum of monomials chosen by least squares alone, before any training (forward
    selection, then one monomial at a time: :func:`~nalm.fitting.monomials.monomial_search`),
    or a ratio of sums (:func:`~nalm.fitting.ratios.ratio_search`); ``None`` where none is
    found."""
    if structure.ratio:
        ratio = ratio_search(xs, ys[:, 0], structure.hidden[0], deadline)
        formula = None if ratio is None else ratio.formula(names, structure.target_power)
        law = None if formula is None else _judge(formula, data, names)
        if law is not None and ratio is not None and not len(ratio.b):
            sums = Structure(("power", "affine"), (len(ratio.a),), "", structure.target_power)
            law.structure = f"{sums.label} (ratio search)"  # no denominator left: a sum
    else:
        model = structure.build(xs.shape[1]).double()
        model[0].W.requires_grad_(False)
        if not math.isfinite(monomial_search(model, xs, ys, deadline, forward=True)):
            return None
        law = _read(model, data, names, structure.target_power)
    if law is not None:
        law.trained = False
    return law


def _train(
    structure: Structure,
    xs: torch.Tensor,
    ys: torch.Tensor,
    settings: tuple[int, int, int, float, bool],
    deadline: float,
) -> list:
    """The family's seeds trained at once on the engine (float32), the lowest training error
    first; diverged seeds left out. At ``deadline`` every seed stops at its next evaluation
    (every quarter of the steps)."""
    seed, seeds, steps, lr, progress = settings
    task = DatasetTask((xs.float(), ys.float()), {"interpolation": (xs.float(), ys.float())})
    result = fit_seeds(
        lambda: structure.build(xs.shape[1], start=torch.initial_seed() - seed),
        [task] * seeds,
        seeds=range(seed, seed + seeds),
        steps=steps,
        lr=lr,
        batch_size=None,
        policy=None,
        eval_every=max(1, steps // 4),
        early_stop=lambda i, history: time.perf_counter() > deadline,
        progress=progress,
        description=structure.label,
    )
    return sorted(
        (r for r in result.runs if not r.diverged and r.history),
        key=lambda r: r.history[-1].get("interpolation_mse", math.inf),
    )


def _read(
    model: nn.Module, data: _Data, names: list[str], target_power: int | Fraction = 1
) -> Law | None:
    """The model's formula in the data's units with its constants snapped (:func:`_judge`);
    ``None`` where it cannot be read or is not finite."""
    try:
        extraction = extract_formula(model, names, tolerance=0.0, simplify=False, digits=17)
    except NalmError:
        return None
    formula = extraction.formula
    if target_power != 1:
        power = Fraction(target_power)
        formula = formula ** sympy.Rational(power.denominator, power.numerator)
    return _judge(formula, data, names)


def _judge(formula: sympy.Expr, data: _Data, names: list[str]) -> Law | None:
    """A formula over the scaled inputs, in the data's units with its constants snapped
    (:func:`~nalm.fitting.constants.snap_constants`) and judged on the held-back rows."""
    every = np.concatenate([data.fit[0], data.held[0]])
    positive = [n for n, column in zip(names, every.T, strict=True) if (column > 0).all()]
    snapped = snap_constants(_undo_scaling(formula, names, data), names, data.held, positive)
    if snapped is None:
        return None
    formula, mse, error = snapped
    return Law(formula, mse <= EXACT, error=error, mse=mse)


def _undo_scaling(formula: sympy.Expr, names: list[str], data: _Data) -> sympy.Expr:
    """The formula in the data's units: each input ``x`` read as ``x / 10^k``, the result times
    ``10^k``; a power of ten with a fractional exponent (``√10`` from ``√(x/10)``) becomes a
    float, so that it joins the constant it multiplies."""
    symbols = [sympy.Symbol(n) for n in names]
    mapping = {
        s: s / sympy.Integer(10) ** int(k) for s, k in zip(symbols, data.scales, strict=True)
    }
    undone = sympy.Integer(10) ** int(data.target_scale) * formula.xreplace(mapping)
    return undone.replace(
        lambda e: isinstance(e, sympy.Pow) and e.base.is_Number and not e.exp.is_Integer,
        lambda e: sympy.Float(float(e), 17),
    )
