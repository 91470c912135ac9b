"""``nalm.units.check``: the unit contract as a checker (after scikit-learn's ``check_estimator``).

:func:`check` builds a unit class and runs each check of the contract on it: its shapes and
dtypes, gradients, weights computed in ``forward``, finite values at initialisation,
``reset_parameters``, ``regularization`` and ``after_step`` (in :mod:`nalm.units.contract`);
and, registered by
:mod:`nalm.unit_contract` (which :func:`check` loads on its first call), the checks that need the
rest of nalm:
the many-seed engine, ``nalm.save``/``nalm.load`` and the formula readers. Each check gives a
:class:`CheckResult`: its name, whether it is required, whether it passed and, when it failed,
one sentence on what to fix. ``nalm units check NAME`` prints the same report.

Examples:
    >>> from nalm.units import NAU, check
    >>> report = check(NAU)
    >>> report.passed, report["gradients"].status
    (True, 'PASS')
    >>> print(report["shapes"].line())
    PASS  shapes          forward maps (*, in_features) to (*, out_features) like torch.nn.Linear
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import NalmError
from ..limits import check_size
from .base import Unit

__all__ = [
    "Check",
    "CheckReport",
    "CheckResult",
    "Subject",
    "add_check",
    "check",
    "checks",
    "require",
]


@dataclass(frozen=True)
class Subject:
    """The unit class under check, the sizes and constructor options to build it with, and the
    inputs checks feed it."""

    cls: type[Unit]
    in_features: int
    out_features: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, seed: int = 0, **kwargs: object) -> Unit:
        """``cls(in_features, out_features, **options, **kwargs)`` under
        ``torch.manual_seed(seed)``, leaving the global generator as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.cls(self.in_features, self.out_features, **{**self.options, **kwargs})

    def inputs(
        self, *batch: int, seed: int = 0, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """``(*batch, in_features)`` inputs of magnitude 0.5 to 2.5, the first input negative."""
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(*batch, self.in_features, generator=generator, dtype=dtype) * 2 + 0.5
        x[..., 0] *= -1
        return x

    def edge_inputs(self) -> torch.Tensor:
        """Four rows with zeros and negatives: mixed, one nonzero, all zero, all negative."""
        pattern = [[0.0, -1.5, 2.0], [-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-0.5, -2.0, -7.0]]
        return torch.tensor([[row[j % 3] for j in range(self.in_features)] for row in pattern])


CheckFn = Callable[[Subject], "str | None"]


@dataclass(frozen=True)
class Check:
    """One check of the contract: ``run(subject)`` returns ``None`` when the unit passes, else
    one sentence: what it saw and what to fix. ``quick``: it needs only the unit and takes
    milliseconds, so :func:`require` runs it before anything trains."""

    name: str
    description: str
    run: CheckFn
    required: bool = True
    quick: bool = False


@dataclass(frozen=True)
class CheckResult:
    """What one check found; ``message`` is the sentence on what to fix (empty when passed)."""

    name: str
    description: str
    required: bool
    passed: bool
    message: str = ""

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"`` (a required check failed) or ``"WARN"`` (an optional one)."""
        return "PASS" if self.passed else "FAIL" if self.required else "WARN"

    def line(self) -> str:
        """``STATUS  name  sentence``: the description when passed, the fix otherwise."""
        return f"{self.status}  {self.name:<14}  {self.message or self.description}"


@dataclass(frozen=True)
class CheckReport:
    """Every check's result for one unit class, in the order they ran."""

    unit: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """Whether every required check passed (warnings do not count)."""
        return all(r.passed for r in self.results if r.required)

    @property
    def failures(self) -> list[CheckResult]:
        """The checks that did not pass, required or not."""
        return [r for r in self.results if not r.passed]

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        ran = ", ".join(r.name for r in self.results)
        raise NalmError(f"no check named {name!r} ran on {self.unit}; these did: {ran}")

    def __str__(self) -> str:
        return "\n".join(r.line() for r in self.results)


_CHECKS: list[Check] = []


def add_check(
    name: str, description: str, *, required: bool = True, quick: bool = False
) -> Callable[[CheckFn], CheckFn]:
    """Decorator: run ``fn(subject) -> sentence | None`` as check ``name``, after those before it
    (``quick``: see :class:`Check`).

    Example:
        >>> @add_check("example", "an example check", required=False)
        ... def _example(subject):
        ...     return None
        >>> names = [c.name for c in checks()]
        >>> names.pop()
        'example'
        >>> _CHECKS.pop().name
        'example'
    """

    def register(fn: CheckFn) -> CheckFn:
        if any(c.name == name for c in _CHECKS):
            raise NalmError(f"a unit check named {name!r} exists already")
        _CHECKS.append(Check(name, description, fn, required, quick))
        return fn

    return register


def checks() -> list[Check]:
    """The checks :func:`check` runs, in order: nalm's own (:mod:`nalm.units.contract`, then
    :mod:`nalm.unit_contract`), then those added by other code, each in the order added."""
    _add_contract()
    own = [c for c in _CHECKS if c.run.__module__ in _OWN]
    return own + [c for c in _CHECKS if c.run.__module__ not in _OWN]


_OWN = ("nalm.units.contract", "nalm.unit_contract")


def _add_contract() -> None:
    """Add the checks that need the engine, persistence and the formula readers: they live in
    :mod:`nalm.unit_contract`, above this module, which registers them when first imported."""
    from .. import unit_contract  # noqa: F401  (a cycle, closed only inside this function)


def check(
    cls: type[Unit],
    *,
    in_features: int = 3,
    out_features: int = 2,
    options: Mapping[str, Any] | None = None,
    quick: bool = False,
) -> CheckReport:
    """Run the unit contract on ``cls``, built as ``cls(in_features, out_features, **options)``.

    Every check runs (a failing one does not stop the others) unless the unit cannot be built
    at all; ``quick=True`` runs only the quick ones (see :class:`Check`). The global random
    generator is left as it was.

    Raises:
        NalmError: ``cls`` is not a subclass of :class:`~nalm.units.Unit`, or a size is not a
            whole number from 1 up.

    Example:
        >>> from nalm.units import NMU
        >>> report = check(NMU, in_features=4, out_features=1)
        >>> report.passed, [r.name for r in report.failures]
        (True, [])
    """
    if not (isinstance(cls, type) and issubclass(cls, Unit)):
        raise NalmError(f"nalm.units.check takes a subclass of nalm.units.Unit; got {cls!r}")
    check_size(in_features, "in_features")
    check_size(out_features, "out_features")
    subject = Subject(cls, in_features, out_features, dict(options or {}))
    results = []
    for c in [c for c in checks() if c.quick or not quick]:
        with torch.random.fork_rng(devices=[]):
            results.append(_run(c, subject))
        if c.name == "builds" and not results[-1].passed:
            break  # nothing else can run on a unit that cannot be built
    return CheckReport(cls.__name__, tuple(results))


def _run(c: Check, subject: Subject) -> CheckResult:
    try:
        problem = c.run(subject)
    except Exception as e:  # a check's own failure is the unit's: report it, run the rest
        problem = f"checking that {c.description} raised {type(e).__name__}: {short(e)}"
    return CheckResult(c.name, c.description, c.required, problem is None, problem or "")


def short(error: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, at most ``limit`` characters."""
    text = (str(error).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


_REQUIRED: dict[tuple[type[Unit], str], str | None] = {}  # (class, options) → the refusal


def require(cls: type[Unit], name: str, options: Mapping[str, Any] | None = None) -> None:
    """Refuse a unit from outside nalm that fails a quick required check of the contract, in
    that check's sentence, before anything trains (the built-in units are checked by nalm's own
    tests). Runs once per class and options in a process, on the CPU; the global generator is
    left as it was.

    Raises:
        NalmError: naming the unit, the check and what to fix.
    """
    if cls.__module__.partition(".")[0] == "nalm":
        return
    key = (cls, repr(sorted((options or {}).items())))
    if key not in _REQUIRED:
        # On the CPU, with gradients, whatever the caller builds under (nalm.load's skeletons
        # on the meta device, torch.no_grad()).
        with torch.device("cpu"), torch.inference_mode(False), torch.enable_grad():
            report = check(cls, options=options, quick=True)
        failed = [r for r in report.results if r.required and not r.passed]
        _REQUIRED[key] = None
        if failed:
            _REQUIRED[key] = (
                f"unit {name!r} ({cls.__name__}) fails the unit contract's {failed[0].name!r} "
                f"check: {failed[0].message} ('nalm units check {name}' runs every check)"
            )
    refusal = _REQUIRED[key]
    if refusal is not None:
        raise NalmError(refusal)
