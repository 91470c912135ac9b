"""Units with free constants, the building blocks of the laws that ``nalm fit`` searches for.

The arithmetic units of the papers keep their weights in small sets (NAU: [−1, 1]; NMU: [0, 1])
so they extrapolate exactly, but a law of physics also has constants: ``8.314·n·T/V``,
``m·v²/2 + 9.81·m·h``. Two units supply them, and stacks of the two write every law made of
sums, products, powers and constants:

- :class:`ScaledPower` (``power``): ``c·Π x^p``, a monomial with a learned constant factor;
- :class:`Affine` (``affine``): ``W x + b``, sums with free real weights and an added constant.

``power>affine`` is a sum of monomials, ``affine>power`` a monomial of sums and
``power>affine>power`` a ratio of sums (``R1·R2/(R1 + R2) = (R1⁻¹ + R2⁻¹)⁻¹``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import Unit, add_weights
from .functional import linear
from .nac import check_eps


def _per_output(b: torch.Tensor) -> torch.Tensor:
    """A bias ``(out,)``, or S seeds' ``(S, out)`` made ``(S, 1, out)`` to broadcast over the
    batch."""
    return b.unsqueeze(-2) if b.dim() == 2 else b


class _WeightsAndConstants(Unit):
    """A unit with weights ``W`` ``(out, in)`` and one constant ``b`` per output, and no
    penalty (the law search makes them exact by snapping and refitting instead)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        add_weights(self, True, device, dtype)
        self.reset_parameters()

    def regularization(self) -> torch.Tensor:
        """None: zero (one zero per seed when the parameters are S seeds' stacked)."""
        return self.W.new_zeros(self.W.shape[:-2])


class ScaledPower(_WeightsAndConstants):
    r"""A monomial with a constant factor per output: ``z_k = e^{b_k} · Π_j x_j^{W_kj}``.

    .. math::
        z = \exp\big(\log(|x| + \varepsilon)\, W^\top + b\big) \odot
            \cos\big(\pi\, \mathbb 1[x < 0]\, W^\top\big)

    The RealNPU (Heim et al. 2020) without its relevance gate, plus the log-scale ``b``: the
    factor ``e^b`` is the law's constant (``b = log 8.314`` in ``8.314·n·T/V``). The cosine gives
    a product of negative inputs its sign when ``W`` is integral. Exponents are free reals, read
    back as simple rationals (``√x`` is ``x^{1/2}``).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample (one monomial each).
        eps: ε added to ``|x|`` (default ``None``: the smallest normal number of the input's
            dtype, so that ``x = 0`` stays finite and no other value moves).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, the exponents, U[−½, ½].
        b: ``(out_features,)``, the log of each constant factor, 0.

    Examples:
        >>> power = ScaledPower(3, 1)
        >>> with torch.no_grad():   # 8.314·n·T/V
        ...     _ = power.W.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
        ...     _ = power.b.fill_(math.log(8.314))
        >>> power(torch.tensor([[2.0, 300.0, 0.5]])).detach().round()
        tensor([[9977.]])
    """

    operations = "× ÷ powers, a constant factor"
    paper = "nalm (after Heim, Pevný & Šmídl 2020)"
    stackable = True  # linear takes stacked weights; b broadcasts per seed

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.eps = None if eps is None else check_eps(type(self).__name__, eps)
        super().__init__(in_features, out_features, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W, -0.5, 0.5)
        nn.init.zeros_(self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(x.dtype).tiny if self.eps is None else self.eps
        log_x = torch.log(x.abs() + eps)
        negative = (x < 0).to(x.dtype)
        magnitude = torch.exp(linear(log_x, self.W) + _per_output(self.b))
        return magnitude * torch.cos(linear(math.pi * negative, self.W))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={'tiny' if self.eps is None else f'{self.eps:g}'}"


class Affine(_WeightsAndConstants):
    r"""Sums with free real weights and an added constant: ``z = x Wᵀ + b``.

    The layer that gives a law its coefficients (``½`` and ``9.81`` in ``m·v²/2 + 9.81·m·h``)
    and its added constants (``1 − v²/c²``). Unlike the NAU, whose weights stay in [−1, 1] so
    that it can only add and subtract, any real weight is allowed; it is read back as a small
    rational (``p/q``, ``q ≤ 12``) when it is one, else as a float.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, U[−1/√in, 1/√in] as in ``torch.nn.Linear``.
        b: ``(out_features,)``, 0.

    Examples:
        >>> affine = Affine(2, 1)
        >>> with torch.no_grad():   # 1 − x1/4
        ...     _ = affine.W.copy_(torch.tensor([[0.0, -0.25]])); _ = affine.b.fill_(1.0)
        >>> affine(torch.tensor([[7.0, 2.0]])).detach()
        tensor([[0.5000]])
    """

    operations = "+ − (real weights), a constant"
    paper = "nalm"
    stackable = True  # linear takes stacked weights; b broadcasts per seed

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.W, -bound, bound)
        nn.init.zeros_(self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.W) + _per_output(self.b)
