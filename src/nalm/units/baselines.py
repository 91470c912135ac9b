"""Baselines that the arithmetic units are measured against: a linear layer and an MLP."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules import activation as _activation

from ..errors import NalmError
from ..limits import MAX_ELEMENTS, MAX_LAYERS, check_size
from .base import Unit, add_weights, factory_kwargs
from .functional import linear

# Activations for (*, features) inputs only: GLU halves the last dimension, Softmax2d needs
# image-shaped input, and attention is not an activation.
_EXCLUDED = {"MultiheadAttention", "GLU", "Softmax2d"}
# Constructor arguments for activations that have no defaults in torch.
_REQUIRED_KWARGS: dict[str, dict[str, Any]] = {"Threshold": {"threshold": 0.0, "value": 0.0}}


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


ACTIVATIONS: dict[str, type[nn.Module]] = {
    _key(name): getattr(_activation, name)
    for name in sorted(_activation.__all__)
    if name not in _EXCLUDED and isinstance(getattr(_activation, name), type)
}


def activation_names() -> list[str]:
    """The activation names :class:`MLP` accepts (any ``torch.nn`` elementwise activation)."""
    return [cls.__name__ for cls in ACTIVATIONS.values()]


def make_activation(name: str, **kwargs: Any) -> nn.Module:
    """A ``torch.nn`` activation by name, ignoring case and underscores (``"relu6"``).

    ``Threshold`` has no defaults in torch; here it defaults to ``threshold=0, value=0``.
    """
    cls = ACTIVATIONS.get(_key(name)) if isinstance(name, str) else None
    if cls is None:
        raise NalmError(
            f"unknown activation {name!r}; valid activations: {', '.join(activation_names())}"
        )
    return cls(**{**_REQUIRED_KWARGS.get(cls.__name__, {}), **kwargs})


class Linear(Unit):
    r"""A plain linear layer, ``y = x Wᵀ (+ b)``; bias off by default, like the arithmetic units.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: add a learned bias ``b`` (default ``False``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, init U[−1/√in, 1/√in] as in ``torch.nn.Linear``.
        b: ``(out_features,)`` when ``bias=True``, same init.

    Examples:
        >>> Linear(3, 2)(torch.ones(5, 3)).shape
        torch.Size([5, 2])
    """

    operations = "+ − (any linear map)"
    paper = "baseline"
    stackable = True  # linear takes stacked W; a stacked b (S, out) broadcasts over the batch

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        add_weights(self, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.W.uniform_(-bound, bound)
            if self.b is not None:
                self.b.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = linear(x, self.W)
        if self.b is None:
            return y
        return y + (self.b.unsqueeze(-2) if self.W.dim() == 3 else self.b)  # (S, 1, out) stacked

    def regularization(self) -> torch.Tensor:
        """No penalty: zero, one per seed when the weights are stacked ``(S, out, in)``."""
        return self.W.new_zeros(self.W.shape[:-2])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bias={self.b is not None}"


class MLP(Unit):
    r"""A multi-layer perceptron: ``Linear → act → … → Linear``, with biases.

    .. math::
        h_0 = x, \quad h_{i+1} = \phi(h_i A_i^\top + b_i), \quad y = h_L A_L^\top + b_L

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        hidden: widths of the hidden layers (default ``(64, 64)``); ``()`` gives a linear model.
        activation: any ``torch.nn`` elementwise activation by name (default ``"relu6"``, the
            baseline of Trask et al.'s Table 1).
        activation_kwargs: constructor arguments for the activation.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Examples:
        >>> mlp = MLP(2, 1, hidden=(8, 8), activation="tanh")
        >>> mlp(torch.zeros(4, 2)).shape
        torch.Size([4, 1])
    """

    operations = "none exactly"
    keeps_sign = None
    paper = "baseline"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu6",
        activation_kwargs: dict[str, Any] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise NalmError(f"MLP: hidden must be positive integers, got {hidden!r}")
        if len(hidden) > MAX_LAYERS:
            raise NalmError(f"MLP: at most {MAX_LAYERS} hidden layers; got {len(hidden)}")
        widths = (in_features, *hidden, out_features)
        for n_out in hidden:
            check_size(n_out, "MLP: a hidden width")
        weights = sum(a * b for a, b in itertools.pairwise(widths))
        if weights > MAX_ELEMENTS:
            raise NalmError(
                f"MLP: hidden sizes {hidden} give {weights:.3g} weights, above nalm's limit of "
                f"{MAX_ELEMENTS:,} numbers per model (1 GiB of float32)"
            )
        make_activation(activation, **(activation_kwargs or {}))  # validate the name early
        factory = factory_kwargs("MLP", device, dtype)
        self.hidden = hidden
        self.activation = activation
        self.activation_kwargs = dict(activation_kwargs or {})
        sizes = (in_features, *hidden, out_features)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            if i > 0:
                layers.append(make_activation(activation, **(activation_kwargs or {})))
            layers.append(nn.Linear(n_in, n_out, **factory))
        self.net = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        for m in self.net.modules():
            if hasattr(m, "reset_parameters") and m is not self.net:
                m.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return {name: p.detach() for name, p in self.net.named_parameters()}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, hidden={self.hidden}, activation={self.activation!r}"
