"""``nalm bench run --grid KEY=V1,V2``: a sweep over training and task settings.

Each ``--grid`` names one setting and its values; the sweep runs every combination (the first
``--grid`` varies slowest), each grid point its own settings in the store. The keys are the
flags of ``nalm bench run`` that set one number or name (see :data:`GRID_KEYS`).

Examples:
    >>> expand(["lr=1e-3,1e-2", "ramp=2e4:1e5,10:1e5:2e5"])  # doctest: +NORMALIZE_WHITESPACE
    [{'lr': 0.001, 'ramp': '20000,100000'}, {'lr': 0.001, 'ramp': '10,100000,200000'},
     {'lr': 0.01, 'ramp': '20000,100000'}, {'lr': 0.01, 'ramp': '10,100000,200000'}]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import NalmError
from ..train.policies import get_policy
from ..train.schedule import parse_ramp


def _whole(text: str) -> int:
    value = float(text)
    if not (value.is_integer() and value >= 1):
        raise ValueError(text)
    return int(value)


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(text)
    return value


def _nonnegative(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(text)
    return value


def _fraction(*, zero: bool) -> Callable[[str], float]:
    """A parser of fractions in [0, 1] (``zero=True``) or (0, 1]."""

    def parse(text: str) -> float:
        value = float(text)
        if not (0 <= value <= 1 and (zero or value > 0)):
            raise ValueError(text)
        return value

    return parse


def _ramp(text: str) -> str:
    """``START:END`` or ``LAMBDA:START:END`` as ``--ramp`` writes it (commas)."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(text)
    lambda_hat, start, end = parse_ramp(",".join(parts))
    steps = f"{start},{end}"
    return steps if lambda_hat is None else f"{lambda_hat:g},{steps}"


def _policy(text: str) -> str:
    return text if text == "auto" else get_policy(text).name


GRID_KEYS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    # grid key: (the Sweep field it sets, its parser, what a value must be)
    "steps": ("steps", _whole, "a whole number of steps ≥ 1"),
    "batch_size": ("batch_size", _whole, "a whole number ≥ 1"),
    "eval_every": ("eval_every", _whole, "a whole number of steps ≥ 1"),
    "lr": ("lr", _positive, "a number > 0"),
    "lambda": ("lambda_hat", _nonnegative, "a number ≥ 0"),
    "ramp": ("ramp", _ramp, "START:END or LAMBDA:START:END"),
    "clip_value": ("clip_value", _positive, "a number > 0"),
    "clip_norm": ("clip_norm", _positive, "a number > 0"),
    "policy": ("policy", _policy, "a policy name"),
    "input_size": ("input_size", _whole, "a whole number ≥ 1"),
    "subset": ("subset", _fraction(zero=False), "a fraction in (0, 1]"),
    "overlap": ("overlap", _fraction(zero=True), "a fraction in [0, 1]"),
}
"""What ``--grid`` may vary (``batch-size`` is accepted for ``batch_size``)."""


def parse(item: str) -> tuple[str, list[Any]]:
    """One ``--grid KEY=V1,V2`` as the :class:`~nalm.bench.sweep.Sweep` field and its values.

    Examples:
        >>> parse("batch-size=128,1024")
        ('batch_size', [128, 1024])
        >>> parse("lambda=0,10")
        ('lambda_hat', [0.0, 10.0])
    """
    key, sep, values = item.partition("=")
    name = key.strip().replace("-", "_")
    if not sep or not name:
        raise NalmError(f"--grid {item!r} is not KEY=VALUE,VALUE (e.g. lr=1e-3,1e-2)")
    if name not in GRID_KEYS:
        raise NalmError(
            f"--grid {item!r}: unknown setting {key.strip()!r}; the grid varies "
            f"{', '.join(GRID_KEYS)}"
        )
    field, parser, what = GRID_KEYS[name]
    texts = [v.strip() for v in values.split(",")]
    parsed = []
    for text in texts:
        try:
            parsed.append(parser(text))
        except NalmError as error:
            raise NalmError(f"--grid {item!r}: {error}") from None
        except (ValueError, OverflowError):
            raise NalmError(
                f"--grid {item!r}: {text!r} is not a value of {name}, which must be {what}"
            ) from None
    if len(set(parsed)) != len(parsed):
        raise NalmError(f"--grid {item!r} gives a value of {name} twice")
    return field, parsed


def check(name: str, value: Any) -> None:
    """Refuse a flag's value that the grid key ``name`` would refuse (``None`` is unset)."""
    if value is None:
        return
    _, parser, what = GRID_KEYS[name]
    try:
        parser(str(value))
    except (ValueError, OverflowError, NalmError):
        raise NalmError(f"--{name.replace('_', '-')} must be {what}; got {value!r}") from None


def expand(items: Sequence[str], given: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every combination of the ``--grid`` items, as Sweep field → value; ``given`` names the
    fields the command line already sets (a grid over one of them is refused)."""
    axes: dict[str, list[Any]] = {}
    for item in items:
        field, values = parse(item)
        if field in axes:
            raise NalmError(f"--grid varies {item.partition('=')[0].strip()} twice; give it once")
        if field in given:
            flag = "--lambda" if field == "lambda_hat" else "--" + field.replace("_", "-")
            raise NalmError(f"{flag} and --grid both set {field}; give it in one place")
        axes[field] = values
    return [dict(zip(axes, point, strict=True)) for point in itertools.product(*axes.values())]


def label(point: dict[str, Any]) -> str:
    """A grid point in one line, in grid-key spelling (``lr=0.01 batch_size=1024``)."""
    names = {field: key for key, (field, _, _) in GRID_KEYS.items()}
    return " ".join(
        f"{names[k]}={v:g}" if isinstance(v, float) else f"{names[k]}={v}" for k, v in point.items()
    )
