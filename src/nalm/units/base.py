"""The unit contract shared by every arithmetic unit and baseline."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import NalmError


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

    Weights are always computed from the parameters inside ``forward``; never cache them.
    """

    in_features: int
    out_features: int

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NalmError(
                    f"{type(self).__name__}: {name} must be a positive integer, got {value!r}"
                )
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

    def effective_weights(self) -> dict[str, torch.Tensor]:
        """The weights the forward pass uses, by name (detached)."""
        return {name: p.detach() for name, p in self.named_parameters(recurse=False)}

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


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
