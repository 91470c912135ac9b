"""The checks of the unit contract that need the rest of nalm, run by :func:`nalm.units.check`.

:mod:`nalm.units.checker` holds the checker, :mod:`nalm.units.contract` the checks that need only
the unit; neither can import the engine, :mod:`nalm.persist` or :mod:`nalm.symbolic` (they import
the units). This module, which :func:`~nalm.units.check` loads on its first call, lists three
more (:data:`CHECKS`), which run after those:

- ``engine``: the unit trains under :func:`nalm.train.fit_seeds` with three seeds as one
  batched computation (:func:`torch.func.vmap`), and each seed ends exactly where it ends when
  trained alone (seed independence, to float tolerance);
- ``save-load``: ``nalm.load`` of what ``nalm.save`` wrote gives the same outputs;
- ``formula`` (a warning, not required): :func:`nalm.to_formula` has a reader for the unit.

Example:
    >>> import nalm
    >>> from nalm.units import NMU, check
    >>> report = check(NMU)
    >>> [(r.name, r.status) for r in report.results[-3:]]
    [('engine', 'PASS'), ('save-load', 'PASS'), ('formula', 'PASS')]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .errors import NalmError
from .persist import load, save
from .symbolic.readers import reader_for
from .tasks.base import DatasetTask
from .train import fit_seeds
from .units import registry
from .units.subject import Check, Subject, entry, short

CHECKS: list[Check] = []
"""The checks that need the engine, save/load and the formula readers, in the order they run."""

SEEDS = (0, 1, 2)
"""The seeds the engine check trains together, and then each alone."""
STEPS = 12
RTOL, ATOL = 1e-4, 1e-5
"""How close a seed trained beside others must end to the same seed trained alone."""


def _task(s: Subject, seed: int) -> DatasetTask:
    """A small regression task of its own per seed: positive inputs, a random linear target."""
    generator = torch.Generator().manual_seed(1000 + seed)
    x = torch.rand(96, s.in_features, generator=generator) * 2 + 0.5
    A = torch.randn(s.out_features, s.in_features, generator=generator) / s.in_features
    y = x @ A.T
    return DatasetTask((x[:64], y[:64]), {"test": (x[64:], y[64:])}, name="unit-check")


def _train(s: Subject, seeds: tuple[int, ...]) -> list[dict[str, torch.Tensor]]:
    result = fit_seeds(
        lambda: s.cls(s.in_features, s.out_features, **s.options),
        [_task(s, seed) for seed in seeds],
        list(seeds),
        steps=STEPS,
        lr=1e-2,
        batch_size=16,
        eval_every=STEPS // 2,
        progress=False,
    )
    return [run.weights for run in result.runs]


@entry(CHECKS, "engine", "fit_seeds trains seeds together under vmap, each as if alone")
def _engine(s: Subject) -> str | None:
    try:
        alone = [_train(s, (seed,))[0] for seed in SEEDS]
    except Exception as e:
        return (
            f"training one seed with nalm.train.fit_seeds raised {type(e).__name__} "
            f"({short(e)}): make forward, regularization() and after_step() work in a plain "
            "training loop first"
        )
    try:
        together = _train(s, SEEDS)
    except Exception as e:
        return (
            f"training {len(SEEDS)} seeds as one batched computation raised "
            f"{type(e).__name__} ({short(e)}): make forward work under torch.func.vmap, "
            "without in-place changes to tensors made in forward, .item() or branches on values"
        )
    for seed, one, many in zip(SEEDS, alone, together, strict=True):
        for name, value in one.items():
            if not torch.allclose(value, many[name], rtol=RTOL, atol=ATOL, equal_nan=True):
                gap = (value - many[name]).abs().max().item()
                return (
                    f"seed {seed} trained beside seeds {[x for x in SEEDS if x != seed]} ended "
                    f"with {name!r} {gap:.2g} away from the same seed trained alone: keep each "
                    "seed to its own parameters (after_step acts on every seed's at once, so "
                    "it must work elementwise; forward must share no state and draw nothing)"
                )
    return None


@entry(CHECKS, "save-load", "nalm.load of what nalm.save wrote gives the same outputs")
def _save_load(s: Subject) -> str | None:
    if s.cls not in (registry.get(n) for n in registry.names()):
        return (
            f"{s.cls.__name__} is not registered, so nalm.save cannot name it: register it with "
            '@nalm.units.register("name") or nalm.units.register("name", cls)'
        )
    unit = s.build()
    with tempfile.TemporaryDirectory() as d:
        again = load(save(unit, Path(d) / "unit.safetensors"))
    if type(again) is not s.cls:
        return (
            f"nalm.load rebuilt a {type(again).__name__}, not a {s.cls.__name__}: register the "
            "class under one name only"
        )
    x = s.inputs(8)
    with torch.no_grad():
        before, after = unit(x), again(x)
    if not torch.equal(before, after):
        return (
            "the unit nalm.load rebuilt gives other outputs than the one saved: keep all state "
            "in parameters and buffers, and each constructor option in an attribute of the "
            "option's name (nalm.save reads options back from them)"
        )
    return None


@entry(CHECKS, "formula", "nalm.to_formula has a reader for it", required=False)
def _formula(s: Subject) -> str | None:
    try:
        reader_for(s.build())
    except NalmError:
        name = s.cls.__name__
        return (
            f"to_formula will not read {name} units: if their weights encode a formula, teach "
            f"it with nalm.symbolic.register_reader({name}, read)"
        )
    return None
