"""The limits nalm holds user input to, and the checks every entry point goes through.

The command line, :func:`nalm.fit`, :func:`nalm.train.fit_seeds`, the tasks, the units'
constructors and :func:`nalm.load` all call these functions, so one rule answers one kind of bad
input everywhere, in one sentence that names the argument (``what``) and the limit:

=====================  =====================================================================
sizes                  every size (inputs, outputs, hidden width, layers, batch, evaluation
                       rows, seeds, sequence lengths) is an integer in 1 … :data:`MAX_SIZE`
layers                 at most :data:`MAX_LAYERS` layers in one model
tensors                no tensor nalm would allocate for the input holds more than
                       :data:`MAX_ELEMENTS` numbers (e.g. batch × inputs × seeds), and no
                       model more weights (a stack, an MLP, seeds × parameters)
steps                  1 … :data:`MAX_STEPS` optimiser steps
seeds                  integers in 0 … :data:`MAX_SEED` (2⁶³ − 1, what SQLite and torch store)
devices                ``cpu``, ``cuda`` or ``cuda:N`` where CUDA is present
dtypes                 a floating-point ``torch.dtype`` (weights must take gradients)
numbers                learning rates, λ, clipping: finite and within float32; ranges: ends
                       within float32
targets                finite, with ``|y| ≤`` :data:`MAX_TARGET` (√ of float32's largest value,
                       so the squared error still fits in float32)
=====================  =====================================================================
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .errors import NalmError

MAX_SIZE = 1_000_000
"""The largest size of any one dimension: inputs, outputs, widths, batch, rows, seeds."""
MAX_ELEMENTS = 2**28
"""The most numbers one tensor may hold (268,435,456: 1 GiB in float32)."""
MAX_LAYERS = 1000
"""The most layers one model may stack (a stack, an MLP, a saved architecture)."""
MAX_MODULES = 10_000
"""The most modules (layers, cells, heads) a saved architecture may describe."""
MAX_STEPS = 100_000_000
"""The most optimiser steps of one run (the papers' longest use 5·10⁶)."""
MAX_SEED = 2**63 - 1
"""The largest seed: seeds are stored as signed 64-bit integers (SQLite, torch)."""
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
"""float32's largest finite value, about 3.4e38."""
FLOAT32_TINY = float(torch.finfo(torch.float32).tiny)
"""float32's smallest positive normal value, about 1.2e-38."""
MAX_TARGET = math.sqrt(FLOAT32_MAX)
"""The largest |target| nalm trains on (about 1.8e19): its square, the MSE, still fits float32."""
DEVICES = ("cpu", "cuda")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_size(value: Any, what: str, *, minimum: int = 1, limit: int = MAX_SIZE) -> int:
    """``value`` as a size in ``minimum … limit``, or a :class:`NalmError` naming ``what``.

    Examples:
        >>> check_size(128, "batch_size")
        128
        >>> check_size(10**10, "batch_size")
        Traceback (most recent call last):
        nalm.errors.NalmError: batch_size must be at most 1,000,000 (nalm's limit); got 10000000000
    """
    if not _is_int(value):
        raise NalmError(f"{what} must be a whole number; got {value!r}")
    if value < minimum:
        raise NalmError(f"{what} must be at least {minimum}; got {value}")
    if value > limit:
        raise NalmError(f"{what} must be at most {limit:,} (nalm's limit); got {value}")
    return int(value)


def check_steps(value: Any, what: str = "steps") -> int:
    """``value`` as a number of optimiser steps in 1 … :data:`MAX_STEPS`."""
    return check_size(value, what, limit=MAX_STEPS)


def check_elements(factors: Mapping[str, int], what: str = "") -> None:
    """Refuse a tensor of ``∏ factors`` numbers above :data:`MAX_ELEMENTS`, naming the factors.

    Examples:
        >>> check_elements({"batch_size": 100_000, "inputs": 100_000})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: batch_size 100000 × inputs 100000 = 1e+10 numbers in one tensor, ...
    """
    total = math.prod(factors.values())
    if total > MAX_ELEMENTS:
        named = " × ".join(f"{name} {value}" for name, value in factors.items())
        where = f" ({what})" if what else ""
        raise NalmError(
            f"{named} = {total:.3g} numbers in one tensor{where}, above nalm's limit of "
            f"{MAX_ELEMENTS:,} (1 GiB of float32)"
        )


def check_stack(sizes: Sequence[int], what: str) -> None:
    """Refuse a stack whose layers ``sizes[0] → sizes[1] → …`` hold more than
    :data:`MAX_ELEMENTS` weights in all (``what`` names the stack in the sentence)."""
    weights = sum(a * b for a, b in itertools.pairwise(sizes) if _is_size(a) and _is_size(b))
    if weights > MAX_ELEMENTS:
        raise NalmError(
            f"{what}: the stack has {weights:.3g} weights, above nalm's limit of "
            f"{MAX_ELEMENTS:,} numbers per model (1 GiB of float32)"
        )


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_run(steps: Any, eval_every: Any, device: Any) -> torch.device:
    """What both trainers take alike: ``steps``, ``eval_every`` and the device (returned as a
    :class:`torch.device`)."""
    check_steps(steps)
    check_size(eval_every, "eval_every", limit=MAX_STEPS)
    return check_device(device)


def check_seed(value: Any, what: str = "seed") -> int:
    """``value`` as a seed in 0 … 2⁶³ − 1 (a negative seed would silently alias another).

    Examples:
        >>> check_seed(-1)
        Traceback (most recent call last):
        nalm.errors.NalmError: seed must be a whole number from 0 to 2**63 - 1; got -1
    """
    if not _is_int(value) or not 0 <= value <= MAX_SEED:
        raise NalmError(f"{what} must be a whole number from 0 to 2**63 - 1; got {value!r}")
    return int(value)


def check_device(device: Any, what: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` nalm supports and this machine has.

    Examples:
        >>> check_device("cpu")
        device(type='cpu')
        >>> check_device("tpu")
        Traceback (most recent call last):
        nalm.errors.NalmError: device 'tpu' is not supported; nalm runs on 'cpu', 'cuda' or 'cuda:N'
    """
    if isinstance(device, torch.device):
        parsed = device
    elif isinstance(device, str):
        try:
            parsed = torch.device(device.strip())
        except (RuntimeError, ValueError):
            parsed = None
        if parsed is not None and parsed.type not in DEVICES:
            parsed = None
    else:
        parsed = None
    if parsed is None or parsed.type not in DEVICES:
        raise NalmError(
            f"{what} {str(device)!r} is not supported; nalm runs on 'cpu', 'cuda' or 'cuda:N'"
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise NalmError(f"{what} {str(device)!r} was asked for, but CUDA is not available here")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise NalmError(
                f"{what} {str(device)!r} was asked for, but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    return parsed


def check_dtype(dtype: Any, what: str = "dtype") -> torch.dtype:
    """``dtype`` as a floating-point :class:`torch.dtype`: the only kind a unit's weights can
    take gradients in and a task's targets can be regressed in.

    Examples:
        >>> check_dtype(torch.float64)
        torch.float64
        >>> check_dtype(torch.int64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: dtype must be a floating-point torch.dtype ...; got torch.int64
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise NalmError(
            f"{what} must be a floating-point torch.dtype such as torch.float32; got {dtype!r}"
        )
    return dtype


def check_number(
    value: Any,
    what: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
    """``value`` as a finite float (``positive``: > 0; ``nonnegative``: ≥ 0) that float32, in
    which training computes, holds: at most :data:`FLOAT32_MAX` in size and, when
    ``positive``, at least :data:`FLOAT32_TINY` (a smaller one would become 0).

    Examples:
        >>> check_number(float("nan"), "lr", positive=True)
        Traceback (most recent call last):
        nalm.errors.NalmError: lr must be a finite number above 0; got nan
        >>> check_number(1e39, "--lr", positive=True)
        Traceback (most recent call last):
        nalm.errors.NalmError: --lr must be at most 3.4e+38 (float32's largest value); got 1e+39
    """
    bound = " above 0" if positive else " of at least 0" if nonnegative else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NalmError(f"{what} must be a finite number{bound}; got {value!r}")
    number = float(value)
    if not math.isfinite(number) or (positive and number <= 0) or (nonnegative and number < 0):
        raise NalmError(f"{what} must be a finite number{bound}; got {value!r}")
    if abs(number) > FLOAT32_MAX:
        raise NalmError(
            f"{what} must be at most {FLOAT32_MAX:.2g} (float32's largest value); got {value!r}"
        )
    if positive and number < FLOAT32_TINY:
        raise NalmError(
            f"{what} must be at least {FLOAT32_TINY:.2g} (float32's smallest normal number); "
            f"got {value!r}"
        )
    return number


def check_task_values(task: Any, what: str = "task", checked: set[int] | None = None) -> None:
    """Refuse a task whose evaluation inputs or targets float32 cannot carry through training:
    a non-finite input or target, or a target beyond ±:data:`MAX_TARGET` (its squared error
    would overflow float32 and the run would end as diverged). ``checked`` holds the ids of
    input tensors already checked (many seeds' tasks share theirs); it is added to."""
    for name, (x, y) in task.evaluation.items():
        if checked is None or id(x) not in checked:
            if not bool(torch.isfinite(x).all()):
                raise NalmError(f"the {name} inputs of the {what} are not all finite numbers")
            if checked is not None:
                checked.add(id(x))
        if bool(torch.isnan(y).any()):
            raise NalmError(
                f"the {what}'s target is undefined on part of its {name} set (e.g. the root of "
                "a negative sum); choose a range where the operation is defined"
            )
        if not bool(torch.isfinite(y).all()):
            raise NalmError(
                f"the {what}'s target is infinite on part of its {name} set (float32 cannot "
                "hold it); choose a smaller range"
            )
        largest = float(y.abs().max()) if y.numel() else 0.0
        if largest > MAX_TARGET:
            raise NalmError(
                f"the {what}'s target reaches {largest:.3g} on its {name} set, beyond "
                f"±{MAX_TARGET:.2g} where its squared error overflows float32; choose a smaller "
                "range"
            )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_model(model: Any, what: str = "model", *, trainable: bool = True) -> nn.Module:
    """``model`` as a module (with trainable parameters, where ``trainable``: to be fitted), or
    a sentence naming ``what``."""
    if not isinstance(model, nn.Module):
        raise NalmError(
            f"{what} must be a torch.nn.Module such as nalm.NAU(2, 1); got "
            f"{type(model).__name__} {_shown(model)}"
        )
    if trainable and not any(p.requires_grad for p in model.parameters()):
        raise NalmError(f"{what} ({type(model).__name__}) has no trainable parameters to fit")
    return model


def check_task(task: Any, what: str = "task") -> None:
    """``task`` as something the trainers can drive: ``sample``, ``evaluation`` and sizes."""
    usable = (
        callable(getattr(task, "sample", None))
        and isinstance(getattr(task, "evaluation", None), Mapping)
        and _is_int(getattr(task, "in_features", None))
        and _is_int(getattr(task, "out_features", None))
    )
    if not usable:
        raise NalmError(
            f"{what} must be a nalm task such as ExpressionTask('x0 + x1', '1,2', '2,6'); got "
            f"{type(task).__name__} {_shown(task)}"
        )


def model_sizes(model: nn.Module) -> tuple[int | None, int | None]:
    """``(inputs, outputs)`` of a unit, linear layer, stack or recurrent model where it can be
    read from the modules (``None`` where it cannot): the first module's ``in_features`` (or a
    cell's ``input_size``), the last one's ``out_features``."""
    first = last = model
    while isinstance(first, nn.Sequential) and len(first):
        first = first[0]
    while isinstance(last, nn.Sequential) and len(last):
        last = last[-1]
    n_in = getattr(first, "in_features", getattr(first, "input_size", None))
    n_out = getattr(last, "out_features", None)
    return (n_in if _is_int(n_in) else None, n_out if _is_int(n_out) else None)


def check_model_fits_task(model: nn.Module, task: Any, what: str = "model") -> None:
    """Refuse a model whose input or output size differs from the task's."""
    n_in, n_out = model_sizes(model)
    if n_in is not None and n_in != task.in_features:
        raise NalmError(
            f"{what} takes {n_in} input(s) but the task has {task.in_features}; build it with "
            f"in_features={task.in_features}"
        )
    if n_out is not None and n_out != task.out_features:
        raise NalmError(
            f"{what} gives {n_out} output(s) but the task has {task.out_features}; build it with "
            f"out_features={task.out_features}"
        )


def check_model_runs(model: nn.Module, task: Any, what: str = "model") -> None:
    """Run ``model`` once on two evaluation rows (evaluation mode, no gradient, random state
    kept) and refuse it, in one sentence, if it cannot take the task's inputs or gives outputs
    of another shape than the task's targets."""
    x, y = next(iter(task.evaluation.values()))
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = model(x[:2].to(device))
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise NalmError(
            f"{what} cannot take the task's inputs of shape {tuple(x.shape[1:])} ({reason})"
        ) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(y[:2].shape):
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
        raise NalmError(
            f"{what} gives outputs of shape {shape} where the task's targets have shape "
            f"{tuple(y.shape[1:])}"
        )
