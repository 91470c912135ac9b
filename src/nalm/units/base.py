"""The unit contract shared by every arithmetic unit and baseline."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ..errors import NalmError
from ..limits import check_device, check_dtype, check_elements, check_size


class Unit(nn.Module):
    """Base class of every layer in :mod:`nalm.units`.

    A unit is shaped like :class:`torch.nn.Linear`: it maps ``(*, in_features)`` to
    ``(*, out_features)`` and stores its weights as ``(out_features, in_features)``. On top of
    ``forward`` it offers three hooks that the trainer uses and nothing else needs to know about:

    - :meth:`regularization` — the unit's own penalty (a scalar tensor); the trainer multiplies it
      by the schedule λ(t). Zero unless the unit overrides it.
    - :meth:`after_step` — the projection applied after each optimiser step (e.g. clamping).
      A no-op unless the unit overrides it.
    - :meth:`effective_weights` — the constrained weights the forward pass actually uses (e.g.
      ``W = tanh(W_hat) ⊙ σ(M_hat)``), by name, for printing and inspection.

    - :meth:`gate_parameters` — the parameters that form a gate between paths (empty unless the
      unit has one), for training policies that update gates and weights in turns.

    Weights are always computed from the parameters inside ``forward``; never cache them.

    A subclass calls ``super().__init__(in_features, out_features)``, or, as for any
    :class:`torch.nn.Module`, ``super().__init__()`` and then sets ``self.in_features`` and
    ``self.out_features`` itself.

    Class attributes describe the unit for ``nalm units`` and the trainer: ``operations`` (what
    exact weights can represent), ``keeps_sign`` (whether negative inputs give correctly signed
    results; ``None`` where that does not apply), ``paper``, ``policy`` (the name of the
    training policy its paper used, see :mod:`nalm.train.policies`) and ``lr`` (the learning rate
    its paper used, where it differs from a benchmark's own; ``None``: the benchmark's).

    ``stackable = True``, declared by a class itself (not inherited), promises that ``forward``
    and :meth:`regularization` also take S seeds' parameters stacked, ``(S, *shape)``, with
    inputs ``(B, in)`` shared by the seeds or ``(S, B, in)``, and return ``(S, B, out)`` and
    ``(S,)``. The training engine then calls a model made only of such units (in
    ``nn.Sequential``) on the stacked tensors directly, without ``vmap``; any other model is
    mapped over the seeds with ``vmap``, with the same results up to float rounding.
    """

    stackable: ClassVar[bool] = False
    in_features: int
    out_features: int
    operations: ClassVar[str] = ""
    keeps_sign: ClassVar[bool | None] = True
    paper: ClassVar[str] = ""
    policy: ClassVar[str] = "none"
    lr: ClassVar[float | None] = None

    def __init__(self, in_features: int | None = None, out_features: int | None = None) -> None:
        super().__init__()
        if in_features is None and out_features is None:
            return  # written as for torch.nn.Module: the subclass sets the sizes itself
        label = type(self).__name__
        check_size(in_features, f"{label}: in_features")
        check_size(out_features, f"{label}: out_features")
        check_elements({"in_features": in_features, "out_features": out_features}, label)
        self.in_features = in_features
        self.out_features = out_features

    def reset_parameters(self) -> None:  # pragma: no cover - every unit overrides it
        raise NotImplementedError

    def regularization(self) -> torch.Tensor:
        """The unit's own penalty; zero for units that have none."""
        p = next(self.parameters(), None)
        if p is None:
            return torch.zeros(())
        return torch.zeros((), device=p.device, dtype=p.dtype)

    def after_step(self) -> None:
        """Projection applied after each optimiser step; nothing by default."""

    def gate_parameters(self) -> list[nn.Parameter]:
        """Parameters of the unit's gate between paths; none by default."""
        return []

    def effective_weights(self) -> dict[str, torch.Tensor]:
        """The weights the forward pass uses, by name (detached)."""
        return {name: p.detach() for name, p in self.named_parameters(recurse=False)}

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def factory_kwargs(
    label: str, device: torch.device | str | None, dtype: torch.dtype | None
) -> dict[str, torch.device | torch.dtype | None]:
    """The ``device``/``dtype`` keywords a unit creates its parameters with, checked once here
    for every unit (``label`` names the unit): a device nalm runs on and a floating-point dtype,
    or ``None`` for torch's defaults.

    Examples:
        >>> factory_kwargs("NAU", "cpu", torch.float64)
        {'device': device(type='cpu'), 'dtype': torch.float64}
        >>> factory_kwargs("NAU", None, torch.int64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        nalm.errors.NalmError: NAU: dtype must be a floating-point torch.dtype ...; got torch.int64
    """
    return {
        "device": None if device is None else check_device(device, f"{label}: device"),
        "dtype": None if dtype is None else check_dtype(dtype, f"{label}: dtype"),
    }


def add_weights(
    unit: Unit, bias: bool, device: torch.device | str | None, dtype: torch.dtype | None
) -> None:
    """Give ``unit`` a weight ``W`` ``(out_features, in_features)`` and, with ``bias``, a
    ``b`` ``(out_features,)`` (else ``b = None``), undrawn: ``reset_parameters`` draws them."""
    factory = factory_kwargs(type(unit).__name__, device, dtype)
    unit.W = nn.Parameter(torch.empty(unit.out_features, unit.in_features, **factory))
    unit.b = nn.Parameter(torch.empty(unit.out_features, **factory)) if bias else None


def regularization(model: nn.Module) -> torch.Tensor:
    """Sum of :meth:`Unit.regularization` over every unit inside ``model``."""
    terms = [m.regularization() for m in model.modules() if isinstance(m, Unit)]
    if not terms:
        p = next(model.parameters(), None)
        return torch.zeros((), device=None if p is None else p.device)
    return torch.stack([t.reshape(()) for t in terms]).sum()


def after_step(model: nn.Module) -> None:
    """Apply :meth:`Unit.after_step` of every unit inside ``model``."""
    for m in model.modules():
        if isinstance(m, Unit):
            m.after_step()


def sparsity_penalty(W: torch.Tensor) -> torch.Tensor:
    """Madsen & Johansen's sparsity regulariser ``mean(min(|W|, |1 − |W||))``: zero on {−1, 0, 1}.

    ``W`` of shape ``(out, in)`` gives a scalar; ``(S, out, in)`` (S seeds) one value per seed.

    Written as their reference code writes it: the outer ``|·|`` changes no value inside the
    clamp, but makes the gradient exactly 0 at ``|W| = 1``, so a saturated weight is not pushed
    into the clamp (nor feeds Adam's moments) by the regulariser.

    Examples:
        >>> W = torch.tensor([1.0, -1.0, 0.75], requires_grad=True)
        >>> sparsity_penalty(W).backward()
        >>> (W.grad == 0).tolist()  # saturated weights get no push; 0.75 is pulled towards 1
        [True, True, False]
    """
    magnitude = W.abs()
    return matrix_mean(torch.minimum(magnitude, (1 - magnitude).abs()))


def matrix_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of per-weight ``values``: a scalar for one matrix, one per seed for ``(S, out,
    in)``."""
    return values.flatten(-2).mean(-1) if values.dim() > 2 else values.mean()


def off_grid(W: torch.Tensor, grid: float = 1.0) -> torch.Tensor:
    """Each weight's distance to the nearest multiple of ``grid``, ``|W − round(W/grid)·grid|``
    (the SnapNPU's and the IntNAU's regularisers).

    Examples:
        >>> off_grid(torch.tensor([0.375, 1.625, -0.875]), 0.5).tolist()
        [0.125, 0.125, 0.125]
    """
    return (W - torch.round(W / grid) * grid).abs()


class ClampedUnit(Unit):
    """A unit with one weight matrix ``W`` kept in ``[low, high]`` and a sparsity regulariser.

    Subclasses set ``low`` (−1 or 0; ``high`` is 1 but for the IntNAU's ±2), initialise ``W``
    in ``reset_parameters`` and use :meth:`weight` in ``forward``. ``clamp=True`` (the papers'
    choice) clamps W in the forward pass and projects the parameter back after every optimiser
    step.
    """

    low: ClassVar[float] = -1.0
    high: ClassVar[float] = 1.0
    columns_per_input: ClassVar[int] = 1  # the NMRU's W also has a column per reciprocal

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        clamp: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if not isinstance(clamp, bool):
            raise NalmError(f"{type(self).__name__}: clamp must be True or False; got {clamp!r}")
        self.clamp = clamp
        shape = (out_features, self.columns_per_input * in_features)
        factory = factory_kwargs(type(self).__name__, device, dtype)
        self.W = nn.Parameter(torch.empty(shape, **factory))
        self.reset_parameters()

    def weight(self) -> torch.Tensor:
        """``W``, clamped to ``[low, high]`` when ``clamp`` is on."""
        return self.W.clamp(self.low, self.high) if self.clamp else self.W

    def regularization(self) -> torch.Tensor:
        return sparsity_penalty(self.weight())

    def after_step(self) -> None:
        if self.clamp:
            with torch.no_grad():
                self.W.clamp_(self.low, self.high)

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return {"W": self.weight().detach()}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp={self.clamp}"
