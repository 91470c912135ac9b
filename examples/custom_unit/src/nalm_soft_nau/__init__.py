"""The soft NAU: an example of a unit that lives outside nalm.

.. math::
    z = x \\tanh(\\hat W)^\\top, \\qquad
    R_{\\text{sparse}} = \\operatorname{mean}\\big(\\min(|W|, 1 - |W|)\\big),\\ W = \\tanh(\\hat W)

It is the NAC without its gate, or a NAU whose bound [−1, 1] comes from ``tanh`` instead of a
clamp, with the NAU's sparsity regulariser. Installed, it appears in nalm through the entry point
``nalm.units: soft_nau`` (see this package's ``pyproject.toml``); without installing, load this
file with ``--import``: the decorator registers it either way (registering the same class under
the same name twice is allowed).

Examples:
    >>> import torch
    >>> unit = SoftNAU(2, 1)
    >>> unit(torch.ones(4, 2)).shape
    torch.Size([4, 1])
"""

from __future__ import annotations

import torch
from torch import nn

from nalm.units import Unit, factory_kwargs, register, sparsity_penalty


@register("soft_nau")
class SoftNAU(Unit):
    """``(*, in_features) → (*, out_features)`` with ``W = tanh(W_hat)``, pushed to {−1, 0, 1}."""

    operations = "+ −"
    paper = "nalm example (examples/custom_unit)"
    policy = "madsen-nau"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        shape = (out_features, in_features)
        factory = factory_kwargs("SoftNAU", device, dtype)  # refuses 'banana' or torch.int64
        self.W_hat = nn.Parameter(torch.empty(shape, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W_hat, -0.5, 0.5)

    def weight(self) -> torch.Tensor:
        return torch.tanh(self.W_hat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight().T

    def regularization(self) -> torch.Tensor:
        return sparsity_penalty(self.weight())

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return {"W": self.weight().detach()}
