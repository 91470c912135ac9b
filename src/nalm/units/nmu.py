"""The Neural Multiplication Unit of Madsen & Johansen (2020)."""

from __future__ import annotations

import torch
from torch import nn

from .base import ClampedUnit
from .functional import nmu_product


class NMU(ClampedUnit):
    r"""Neural Multiplication Unit: a product of inputs, each selected by a weight in [0, 1].

    .. math::
        z_k = \prod_j \big(W_{kj}\, x_j + 1 - W_{kj}\big), \qquad W \in [0, 1], \qquad
        R_{\text{sparse}} = \operatorname{mean}\big(\min(W, 1 - W)\big)

    ``W_kj = 1`` multiplies ``x_j`` in; ``W_kj = 0`` contributes the factor 1. There is no log
    and no ε, so negative inputs and inputs at zero multiply correctly. It cannot divide.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        clamp: clamp W to [0, 1] in the forward pass and after every optimiser step
            (default ``True``, the paper).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, initialised U[0.25, 0.75] (the paper's code).

    Examples:
        >>> nmu = NMU(3, 1)
        >>> with torch.no_grad():
        ...     _ = nmu.W.copy_(torch.tensor([[1.0, 1.0, 0.0]]))
        >>> nmu(torch.tensor([[-300.0, 7.0, 0.0]])).detach()
        tensor([[-2100.]])
    """

    operations = "×"
    paper = "Madsen & Johansen 2020"
    stackable = True
    policy = "madsen-nmu"
    low = 0.0

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W, 0.25, 0.75)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nmu_product(x, self.weight())
