"""``nalm.units.check``: the unit contract as a checker (after scikit-learn's ``check_estimator``).

:func:`check` builds a unit class and runs each check of the contract on it: its shapes and
dtypes, gradients, weights computed in ``forward``, finite values at initialisation,
``reset_parameters``, ``regularization`` and ``after_step`` (in :mod:`nalm.units.contract`); then
those that need the rest of nalm (in :mod:`nalm.unit_contract`, which :func:`check` loads on its
first call): the many-seed engine, ``nalm.save``/``nalm.load`` and the formula readers; then any
added by other code (:func:`add_check`). Each check gives a :class:`CheckResult`: its name,
whether it is required, whether it passed and, when it failed, one sentence on what to fix.
``nalm units check NAME`` prints the same report.

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
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import NalmError
from ..limits import check_size
from . import contract
from .base import Unit
from .subject import Check, CheckFn, Subject, entry, short

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
    """Decorator: run ``fn(subject) -> sentence | None`` as check ``name``, after nalm's own and
    those added before it (``quick``: see :class:`Check`).

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
    if any(c.name == name for c in _own_checks()):
        raise NalmError(f"a unit check named {name!r} exists already")
    return entry(_CHECKS, name, description, required=required, quick=quick)


def checks() -> list[Check]:
    """The checks :func:`check` runs, in order: nalm's own (:mod:`nalm.units.contract`, then
    :mod:`nalm.unit_contract`), then those added by other code, each in the order added."""
    return [*_own_checks(), *_CHECKS]


def _own_checks() -> list[Check]:
    """nalm's own checks: the unit's alone, then those that need the engine, persistence and
    the formula readers, which live in :mod:`nalm.unit_contract`, above this module (imported
    here, when first asked for)."""
    from .. import unit_contract  # a cycle, closed only inside this function

    return [*contract.CHECKS, *unit_contract.CHECKS]


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
