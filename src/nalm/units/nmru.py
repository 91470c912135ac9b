"""Division units of Mistry, Farrahi & Hare (2021/2022): NMRU and NRU."""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import ClampedUnit
from .functional import linear
from .nac import check_eps
from .nau import nau_init_range
from .nmu import nmu_product

# Machine epsilon of float32, the ε the authors' code uses in both units.
FLOAT32_EPS = float(torch.finfo(torch.float32).eps)


class _MistryUnit(ClampedUnit):
    """What NMRU and NRU share: the paper, its learning rate, and the ε of the training mode."""

    operations = "× ÷"
    paper = "Mistry, Farrahi & Hare 2022"
    lr = 1e-2  # Mistry et al. 2022

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = FLOAT32_EPS,
        clamp: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.eps = check_eps(type(self).__name__, eps)
        super().__init__(in_features, out_features, clamp=clamp, device=device, dtype=dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}"


class NMRU(_MistryUnit):
    r"""Neural Multiplicative Reciprocal Unit: an NMU over the inputs and their reciprocals.

    .. math::
        x' &= [x,\ 1/(x + \varepsilon)] \quad (\varepsilon \text{ only in training mode}) \\
        z_k &= \prod_j \big(W_{kj} |x'_j| + 1 - W_{kj}\big) \cdot
               \cos\big(\pi \textstyle\sum_j \mathbb 1[x'_j < 0]\, W_{kj}\big),
               \qquad W \in [0, 1]

    Selecting ``x_j`` (first half of W) multiplies it in, selecting ``1/x_j`` (second half)
    divides by it; the cosine gives the result the sign of the selected negative factors, as in
    :class:`RealNPU`. In evaluation mode the reciprocal is exact, so ``x = 0`` gives ``inf``
    where ``1/x`` is selected.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: ε added to x before the reciprocal while training (default float32's machine
            epsilon ≈ 1.19e-7, as in the authors' code).
        clamp: clamp W to [0, 1] (default ``True``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, 2 * in_features)``, U[0.25, 0.75]; columns ``in_features:`` act on
            the reciprocals.

    Examples:
        >>> nmru = NMRU(2, 1).eval()
        >>> with torch.no_grad():   # x0 / x1
        ...     _ = nmru.W.copy_(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
        >>> nmru(torch.tensor([[-300.0, 4.0]])).detach()
        tensor([[-75.]])
    """

    policy = "nmru"
    low = 0.0
    columns_per_input = 2  # x and 1/x
    stackable = True  # linear and nmu_product take stacked W; the reciprocals are per row

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W, 0.25, 0.75)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reciprocal = 1 / (x + self.eps) if self.training else 1 / x
        x = torch.cat((x, reciprocal), dim=-1)
        W = self.weight()
        sign = torch.cos(math.pi * linear((x < 0).to(x.dtype), W))
        return nmu_product(x.abs(), W) * sign


class NRU(_MistryUnit):
    r"""Neural Reciprocal Unit: an NMU whose weights in [−1, 1] are also exponents.

    .. math::
        z_k = \prod_j \big(\mathrm{sign}(x_j)\, |x_j|^{W_{kj}}\, |W_{kj}| + 1 - |W_{kj}|\big),
        \qquad W \in [-1, 1]

    ``W = 1`` multiplies ``x_j`` in, ``W = −1`` divides by it, ``W = 0`` gives the factor 1
    (sign(0) is taken as +1, so dividing by 0 gives ±inf).
    While training, ``|x|`` gets ε added so that gradients stay finite at ``x = 0``; in
    evaluation mode the power is exact (``0^{−1} = inf``).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: ε added to ``|x|`` while training (default float32's machine epsilon).
        clamp: clamp W to [−1, 1] (default ``True``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, initialised as the NAU's, U[−r, r].

    Examples:
        >>> nru = NRU(2, 1).eval()
        >>> with torch.no_grad():   # x0 / x1
        ...     _ = nru.W.copy_(torch.tensor([[1.0, -1.0]]))
        >>> nru(torch.tensor([[-300.0, 4.0]])).detach()
        tensor([[-75.]])
    """

    policy = "madsen-nmu"
    low = -1.0

    def reset_parameters(self) -> None:
        r = nau_init_range(self.in_features, self.out_features)
        nn.init.uniform_(self.W, -r, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W = self.weight()
        magnitude = x.abs() + self.eps if self.training else x.abs()
        power = torch.pow(magnitude.unsqueeze(-2), W)
        # sign(x)·|x|^W, written so that 0^(−1) stays +inf instead of 0 · inf = nan.
        signed = torch.where(x.unsqueeze(-2) < 0, -power, power)
        selected = W.abs()
        return (signed * selected + (1 - selected)).prod(dim=-1)
