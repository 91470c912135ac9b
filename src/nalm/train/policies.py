"""Training policies: the papers' tricks that belong to the trainer, not to a layer.

A :class:`Policy` bundles the regulariser schedule λ(t), gradient clipping, iNALU's alternating
gate/weight updates and its reinitialise-on-stall rule. Each unit names the policy its paper
used (``Unit.policy``); :func:`~nalm.train.fit` applies the model's recommended policy unless it
is given another one (``policy="none"`` turns every trick off).

>>> POLICIES["madsen-nau"].regularizer(50_000)
0.01
>>> get_policy("inalu").replace(clip_value=None).alternate
(8, 2)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..errors import NalmError
from ..limits import check_number
from ..units.base import Unit
from .precondition import Precondition
from .restarts import Deadline, Stall
from .schedule import Constant, Cosine, Decay, Geometric, Ramp


@dataclass(frozen=True)
class Policy:
    """How to train: regulariser schedule, clipping, alternating updates, restarts.

    Attributes:
        name: shown in reports and run configs.
        regularizer: λ(step), the weight of the units' regularisers (``None``: off); a number
            is a constant λ (0: off).
        regularize_below: apply the regulariser only while the previous step's training MSE is
            below this (iNALU: 1).
        clip_value: clip every gradient element to ``[−c, c]`` (iNALU: 0.1).
        clip_norm: rescale the gradient to at most this total L2 norm (NMRU: 1).
        alternate: ``(weight_steps, gate_steps)``: in each cycle update only the non-gate
            parameters for ``weight_steps`` steps, then only the gates (iNALU: (8, 2)). Models
            without gate parameters ignore it.
        reinit: reinitialise every parameter and the optimiser when this rule fires (iNALU's
            :class:`~nalm.train.restarts.Stall`, nalm's :class:`~nalm.train.restarts.Deadline`).
        precondition: precondition the first unit's weight gradient by the inverse of its
            inputs' second moment (:mod:`nalm.train.precondition`).
        lr_decay: a learning-rate multiplier over the steps (:class:`~nalm.train.schedule.Decay`);
            a number above 0 is a constant one. Every value a schedule gives (λ and this) must
            be a finite number ≥ 0, or training stops with a sentence naming it.
        lr, batch_size, steps: the recipe's learning rate, batch size and training steps, which
            the benchmark uses where its command gives none (``None``: the suite's or the
            model's own). A plain :func:`~nalm.train.fit` takes them from its caller.
        unit_lambda: a factor on λ for each unit of the model, in module order (``(1, 0)``: the
            first unit's regulariser only); ``None``: 1 for every unit.
        branch_per_try: ``True``: every branch layer (``(nau|nmu|…)``) trains one branch per
            try, its selection fixed to it: the first, then the next after each restart of
            ``reinit``, round again after the last. ``None``: the selection is learned.
    """

    name: str = "none"
    regularizer: Callable[[int], float] | None = None
    regularize_below: float | None = None
    clip_value: float | None = None
    clip_norm: float | None = None
    alternate: tuple[int, int] | None = None
    reinit: Stall | Deadline | None = None
    lr: float | None = None
    batch_size: int | None = None
    precondition: Precondition | None = None
    lr_decay: Callable[[int], float] | None = None
    unit_lambda: tuple[float, ...] | None = None
    branch_per_try: bool | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        for what in ("regularizer", "lr_decay"):  # a number: a constant schedule
            value = getattr(self, what)
            if value is None or callable(value):
                continue
            if not _number(value):
                raise NalmError(
                    f"policy {self.name!r}: {what} must be a number, a schedule (a function of "
                    f"the step) or None; got {value!r}"
                )
            what_ = f"policy {self.name!r}: {what}"
            number = check_number(value, what_, positive=what == "lr_decay", nonnegative=True)
            object.__setattr__(self, what, Constant(number) if number else None)
        for what in ("batch_size", "steps"):
            value = getattr(self, what)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise NalmError(
                    f"policy {self.name!r}: {what} must be a positive integer or None; "
                    f"got {value!r}"
                )
        for what in ("clip_value", "clip_norm", "regularize_below", "lr"):
            value = getattr(self, what)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise NalmError(f"policy {self.name!r}: {what} must be > 0 or None; got {value!r}")
        if self.unit_lambda is not None:  # stored as floats: (1, 0) and (1.0, 0.0) key alike
            factors = self.unit_lambda
            if not (
                isinstance(factors, (tuple, list))
                and factors
                and all(_number(f) and 0 <= f < math.inf for f in factors)
            ):
                raise NalmError(
                    f"policy {self.name!r}: unit_lambda must be one finite factor ≥ 0 per unit; "
                    f"got {factors!r}"
                )
            object.__setattr__(self, "unit_lambda", tuple(float(f) for f in factors))
        if self.branch_per_try not in (None, True):
            raise NalmError(f"policy {self.name!r}: branch_per_try must be True or None")
        if self.alternate is not None and (len(self.alternate) != 2 or min(self.alternate) < 1):
            raise NalmError(
                f"policy {self.name!r}: alternate must be two positive step counts; "
                f"got {self.alternate!r}"
            )

    def replace(self, **changes: object) -> Policy:
        """A copy with some fields changed (e.g. ``policy.replace(clip_norm=1.0)``)."""
        return dataclasses.replace(self, **changes)

    def updates_gates_only(self, step: int) -> bool | None:
        """``True``/``False`` in the gate/weight phase of an alternating cycle; ``None`` if not
        alternating."""
        if self.alternate is None:
            return None
        weight_steps, gate_steps = self.alternate
        return (step - 1) % (weight_steps + gate_steps) >= weight_steps

    def describe(self) -> str:
        """One line listing what the policy does."""
        parts = []
        if self.regularizer is not None:
            below = f" while loss < {self.regularize_below:g}" if self.regularize_below else ""
            parts.append(f"regulariser λ = {_describe_schedule(self.regularizer)}{below}")
        if self.clip_value is not None:
            parts.append(f"clip gradients to ±{self.clip_value:g}")
        if self.clip_norm is not None:
            parts.append(f"clip gradient norm to {self.clip_norm:g}")
        if self.alternate is not None:
            parts.append(
                f"per {sum(self.alternate)} steps: {self.alternate[0]} weights only, "
                f"{self.alternate[1]} gates only"
            )
        if self.reinit is not None:
            parts.append(self.reinit.describe())
        if self.precondition is not None:
            pre = self.precondition
            parts.append(
                f"first unit's gradient preconditioned by its inputs' moment from step "
                f"{pre.start:,} (damping {pre.damping:g}, inverse every {pre.every:,} steps, "
                f"moment decay {pre.decay:g})"
            )
        if isinstance(self.lr_decay, Decay):
            decay = self.lr_decay
            parts.append(f"lr × {decay.factor:g} over steps {decay.start:,}–{decay.end:,}")
        elif isinstance(self.lr_decay, Cosine):
            cosine = self.lr_decay
            parts.append(f"lr × cosine 1 → {cosine.floor:g} over steps 0–{cosine.end:,}")
        elif isinstance(self.lr_decay, Constant):
            parts.append(f"lr × {self.lr_decay.value:g}")
        elif self.lr_decay is not None:
            parts.append(f"lr × {self.lr_decay!r}")
        if self.unit_lambda is not None:
            parts.append("λ per unit × " + ", ".join(f"{f:g}" for f in self.unit_lambda))
        if self.branch_per_try:
            parts.append("one branch per try, in order")
        if self.lr is not None:
            parts.append(f"lr {self.lr:g}")
        if self.batch_size is not None:
            parts.append(f"batch {self.batch_size}")
        if self.steps is not None:
            parts.append(f"{self.steps:,} steps")
        return "; ".join(parts) or "plain training"


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe_schedule(schedule: Callable[[int], float]) -> str:
    if isinstance(schedule, Constant):
        return f"{schedule.value:g}"
    if isinstance(schedule, Ramp) and schedule.end - schedule.start == 1:
        return f"{schedule.lambda_hat:g} from step {schedule.end:,}"
    if isinstance(schedule, Ramp):
        return f"ramp 0 → {schedule.lambda_hat:g} over steps {schedule.start:,}–{schedule.end:,}"
    if isinstance(schedule, Geometric):
        return (
            f"{schedule.start:g} ×{schedule.factor:g} every {schedule.every:,} steps "
            f"up to {schedule.end:g}"
        )
    return repr(schedule)


_NMU_RAMP = Ramp(lambda_hat=10.0, start=1_000_000, end=2_000_000)
_PRECONDITION = Precondition(damping=0.01, start=10_000)  # nalm's recipes' first-layer lever
# nalm's recipes for SelectNAU→IntSnapNPU on ÷ and SelectNAU→SnapNPU on √ (docs/recipes.md):
# the power unit's exponents pulled to its grid, lr falling 1000× to meet ÷'s ε (≈ 6·10⁻¹²);
# snap-root pulls the first layer to {0, 1} too, at λ̂ = 10 (its regulariser is a mean, the
# power unit's a sum).
_SNAP_DIV = Policy(
    "snap-div",
    regularizer=Ramp(lambda_hat=1e-3, start=30_000, end=60_000),
    unit_lambda=(0.0, 1.0),
    lr=1e-3,
    batch_size=512,
    precondition=_PRECONDITION,
    lr_decay=Decay(start=60_000, end=150_000, factor=1e-3),
)
_SNAP_ROOT = _SNAP_DIV.replace(name="snap-root", unit_lambda=(10_000.0, 1.0))

POLICIES: dict[str, Policy] = {
    "none": Policy("none"),
    # Madsen & Johansen (2020): the NAU's and the NMU's sparsity ramps.
    "madsen-nau": Policy("madsen-nau", regularizer=Ramp(lambda_hat=0.01, start=5_000, end=50_000)),
    "madsen-nmu": Policy("madsen-nmu", regularizer=_NMU_RAMP),
    # Schlör et al. (2020): regulariser on after 10 "epochs" (of 1000 steps) while loss < 1,
    # gradient clipping ±0.1, 8 weight / 2 gate updates, restarts on stalls.
    "inalu": Policy(
        "inalu",
        regularizer=Ramp(lambda_hat=1.0, start=10_000, end=10_001),
        regularize_below=1.0,
        clip_value=0.1,
        alternate=(8, 2),
        reinit=Stall(),
    ),
    # Heim et al. (2020): L1 weight β ×10 every 10k steps (this range is the paper's for +).
    "npu": Policy("npu", regularizer=Geometric(start=1e-5, end=1e-4, factor=10, every=10_000)),
    # Mistry et al. (2022): gradient-norm clipping 1, with the NMU's sparsity ramp.
    "nmru": Policy("nmru", regularizer=_NMU_RAMP, clip_norm=1.0),
    # nalm's recipe for NAU→NMU on Madsen's task (docs/recipes.md): the first layer's gradient
    # preconditioned by its inputs' moment, an early ramp and a falling learning rate.
    "nmu-fast": Policy(
        "nmu-fast",
        regularizer=Ramp(lambda_hat=10.0, start=60_000, end=100_000),
        lr=1e-3,
        batch_size=128,
        precondition=_PRECONDITION,
        lr_decay=Decay(start=40_000, end=120_000, factor=0.1),
    ),
    # Curry (2025), the DMU's code: Adam lr 1e-2 on a cosine to 1e-4 over its 3,000 steps,
    # batch 512, gradient-norm clipping 1; no regulariser.
    "dmu": Policy(
        "dmu", clip_norm=1.0, lr=1e-2, batch_size=512, lr_decay=Cosine(end=3_000, floor=0.01)
    ),
    "snap-div": _SNAP_DIV,
    # snap-div with retries, its deadline near the decay's end (docs/recipes.md)
    "snap-div-retry": _SNAP_DIV.replace(name="snap-div-retry", reinit=Deadline(140_000, 1e-8)),
    "snap-root": _SNAP_ROOT,
    # snap-root with retries: a new try 6·10⁴ steps after the last began (docs/recipes.md)
    "snap-root-retry": _SNAP_ROOT.replace(name="snap-root-retry", reinit=Deadline(60_000, 1e-8)),
    # for the model `all-six`: one branch per try, 7 tries of 1.4·10⁵ steps (docs/recipes.md)
    "all-six": _SNAP_DIV.replace(
        name="all-six",
        reinit=Deadline(140_000, 1e-8),
        branch_per_try=True,
        steps=1_000_000,
        unit_lambda=(10_000.0, 1_000.0, 10_000.0, 10_000.0, 1.0, 1.0),
    ),
}
"""Every named policy by name (``get_policy``, ``--policy NAME``; ``--import`` may add more)."""


def get_policy(policy: str | Policy | None) -> Policy:
    """A policy by name (see :data:`POLICIES`); a :class:`Policy` is returned as is."""
    if policy is None:
        return POLICIES["none"]
    if isinstance(policy, Policy):
        return policy
    try:
        return POLICIES[policy]
    except (KeyError, TypeError):
        valid = ", ".join(["auto", *POLICIES])
        raise NalmError(f"unknown training policy {policy!r}; valid policies: {valid}") from None


def resolve(
    choice: str | Policy | Mapping[str, str | Policy | None] | None,
    model: nn.Module | None = None,
    *,
    name: str = "model",
    lambda_hat: float | None = None,
    ramp: tuple[int, int] | None = None,
    clip_value: float | None = None,
    clip_norm: float | None = None,
    regularizer: float | Callable[[int], float] | None = None,
    where: str = "the model",
) -> Policy:
    """The one way from a choice to the policy that trains ``model`` (``fit``, ``fit_seeds``,
    ``nalm train``, ``nalm fit``, the bench and its stored keys all come through here).

    ``choice`` is ``"auto"`` (the model's recommended policy, :func:`recommended_policy`), a
    name (``None``: ``"none"``), a :class:`Policy`, or a mapping that picks one by the model's
    ``name`` (``"auto"`` for a model it does not name). Then the overrides: ``regularizer`` (a
    constant λ or a schedule) replaces the policy's λ(t); ``lambda_hat``, ``ramp`` and the
    clipping are the command line's (:func:`with_overrides`, ``where`` naming the model in its
    sentence).

    Examples:
        >>> from nalm.units import NAU
        >>> resolve("auto", NAU(2, 1)).name, resolve(None).name
        ('madsen-nau', 'none')
        >>> resolve("madsen-nmu", regularizer=0.5).describe()
        'regulariser λ = 0.5'
    """
    if isinstance(choice, Mapping):
        choice = choice.get(name, "auto")
    if choice == "auto" and model is None:
        raise NalmError("the policy 'auto' is the model's own; give the model to resolve it")
    base = recommended_policy(model) if choice == "auto" else get_policy(choice)  # type: ignore[arg-type]
    if callable(regularizer):
        base = base.replace(regularizer=regularizer)
    elif regularizer is not None:
        if isinstance(regularizer, bool) or not isinstance(regularizer, (int, float)):
            raise NalmError(f"regularizer must be a number or a schedule; got {regularizer!r}")
        constant = check_number(regularizer, "regularizer", nonnegative=True)
        base = base.replace(regularizer=Constant(constant) if constant else None)
    clipping = {"clip_value": clip_value, "clip_norm": clip_norm}
    return with_overrides(base, lambda_hat=lambda_hat, ramp=ramp, **clipping, model=where)


def units_of(model: nn.Module) -> list[Unit]:
    """The arithmetic units inside ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, Unit)]


def with_overrides(
    policy: Policy,
    *,
    lambda_hat: float | None = None,
    ramp: tuple[int, int] | None = None,
    clip_value: float | None = None,
    clip_norm: float | None = None,
    model: str = "the model",
) -> Policy:
    """``policy`` with the command line's overrides (the one place they are applied): λ̂ and/or
    the steps its ramp spans (the other from the policy's own ramp; λ̂ = 0 switches the
    regulariser off), and gradient clipping. Moving the ramp of a policy that has none needs λ̂
    (``model`` names it in the sentence).

    Examples:
        >>> with_overrides(get_policy("madsen-nmu"), ramp=(10, 20)).describe()
        'regulariser λ = ramp 0 → 10 over steps 10–20'
    """
    changes: dict[str, Any] = {}
    if lambda_hat is not None or ramp is not None:
        current = policy.regularizer
        if lambda_hat is None and not isinstance(current, Ramp):
            raise NalmError(
                f"{model} has no regulariser ramp to move (policy {policy.name!r}); "
                "give --lambda too"
            )
        lam = lambda_hat if lambda_hat is not None else current.lambda_hat  # type: ignore[union-attr]
        own = (current.start, current.end) if isinstance(current, Ramp) else (0, 1)
        start, end = ramp if ramp is not None else own
        changes["regularizer"] = Ramp(lam, start, end) if lam else None
    clipping = {"clip_value": clip_value, "clip_norm": clip_norm}
    changes.update({k: v for k, v in clipping.items() if v is not None})
    return policy.replace(**changes) if changes else policy


def recommended_policy(model: nn.Module) -> Policy:
    """The policy of the model's output unit (its last unit), e.g. ``madsen-nmu`` for NAU→NMU.

    Examples:
        >>> from nalm.units import build
        >>> recommended_policy(build("nau", 4, 1, layers=2)).name
        'madsen-nau'
        >>> recommended_policy(nn.Linear(2, 1)).name
        'none'
    """
    units = units_of(model)
    return get_policy(units[-1].policy if units else "none")
