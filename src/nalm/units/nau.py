"""The Neural Addition Unit of Madsen & Johansen (2020)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import ClampedUnit, matrix_mean, off_grid
from .functional import linear


def nau_init_range(in_features: int, out_features: int) -> float:
    """``r = min(0.5, √3 · √(2 / (fan_in + fan_out)))``: NAU weights start in U[−r, r]."""
    return min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (in_features + out_features)))


class NAU(ClampedUnit):
    r"""Neural Addition Unit: a linear layer with weights kept in [−1, 1] and pushed to {−1, 0, 1}.

    .. math::
        z = x W^\top, \qquad W \in [-1, 1], \qquad
        R_{\text{sparse}} = \operatorname{mean}\big(\min(|W|, 1 - |W|)\big)

    Unlike the NAC's ``tanh(W_hat) ⊙ σ(M_hat)``, W is used directly, so its gradient does not
    vanish near the solution; the sparsity regulariser (ramped in by the trainer) drives it to
    exactly −1, 0 or 1, where it adds and subtracts at any magnitude.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        clamp: clamp W to [−1, 1] in the forward pass and after every optimiser step
            (default ``True``, the paper).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, initialised U[−r, r] with
            ``r = min(0.5, √3 · √(2 / (in + out)))``.

    Examples:
        >>> nau = NAU(2, 1)
        >>> with torch.no_grad():
        ...     _ = nau.W.copy_(torch.tensor([[1.0, -1.0]]))
        >>> nau(torch.tensor([[5e6, 3.0]]))
        tensor([[4999997.]], grad_fn=<MmBackward0>)
    """

    operations = "+ −"
    paper = "Madsen & Johansen 2020"
    stackable = True
    policy = "madsen-nau"
    low = -1.0

    def reset_parameters(self) -> None:
        r = nau_init_range(self.in_features, self.out_features)
        nn.init.uniform_(self.W, -r, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight())


class SelectNAU(NAU):
    r"""An NAU whose weights are kept in [0, 1]: a layer that selects inputs and sums them.

    .. math::
        z = x W^\top, \qquad W \in [0, 1], \qquad
        R_{\text{sparse}} = \operatorname{mean}\big(\min(W, 1 - W)\big)

    nalm's own unit (no paper): Madsen & Johansen's task asks of the first layer only sums with
    weight 1 (``a`` and ``b`` are sums of input subsets, for every operation), and in front of a
    power unit the NAU's negative weights let a model fit the training range with near-solutions
    that do not extrapolate. With W ≥ 0, the hidden values of positive inputs stay positive, and
    ``select_nau>int_snap_npu`` is the model of nalm's ÷ recipe on the standard task
    (docs/recipes.md has its measurements beside ``nau>snap_npu``'s). It cannot subtract: use
    the NAU where ``a − b`` is needed.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        clamp: clamp W to [0, 1] in the forward pass and after every optimiser step (default
            ``True``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, initialised U[0, 2r] with the NAU's
            ``r = min(0.5, √3 · √(2 / (in + out)))``.

    Examples:
        >>> select = SelectNAU(3, 1)
        >>> with torch.no_grad():
        ...     _ = select.W.copy_(torch.tensor([[1.0, 0.0, -0.5]]))   # −0.5 is read as 0
        >>> select(torch.tensor([[2.0, 7.0, 4.0]]))
        tensor([[2.]], grad_fn=<MmBackward0>)
    """

    operations = "+ (selection)"
    paper = "nalm"
    stackable = True  # the NAU's forward and regulariser on stacked W, clamped elementwise
    low = 0.0

    def reset_parameters(self) -> None:
        r = nau_init_range(self.in_features, self.out_features)
        nn.init.uniform_(self.W, 0.0, 2 * r)


class IntNAU(NAU):
    r"""An NAU whose weights range over [−2, 2] and are pulled to the nearest integer.

    .. math::
        z = x W^\top, \qquad W \in [-2, 2], \qquad
        R_{\text{sparse}} = \operatorname{mean}\big(|W - \operatorname{round}(W)|\big)

    nalm's own unit (no paper), for one model that can hold all six of Madsen & Johansen's
    operations in front of a power unit: their ``a + b`` needs weight 2 on the items ``a`` and
    ``b`` share, which a first layer in [−1, 1] cannot give; ``a − b`` needs −1, and ×, ÷, z²
    and √ need ``a`` and ``b`` with weights 1 (the power unit's exponents do the rest).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        clamp: clamp W to [−2, 2] in the forward pass and after every optimiser step (default
            ``True``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, initialised as the NAU's, U[−r, r].

    Examples:
        >>> unit = IntNAU(3, 1)
        >>> with torch.no_grad():
        ...     _ = unit.W.copy_(torch.tensor([[2.0, 1.0, -1.0]]))
        >>> unit(torch.tensor([[1.5, 4.0, 2.0]])), unit.regularization()
        (tensor([[5.]], grad_fn=<MmBackward0>), tensor(0., grad_fn=<MeanBackward0>))
    """

    operations = "+ − (integer weights)"
    paper = "nalm"
    stackable = True
    low, high = -2.0, 2.0

    def regularization(self) -> torch.Tensor:
        return matrix_mean(off_grid(self.weight()))
