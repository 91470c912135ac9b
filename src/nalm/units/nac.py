"""The Neural Accumulator family of Trask et al. (2018): NAC (additive) and NAC• (log-space)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import NalmError
from .base import Unit, factory_kwargs
from .functional import linear

INITS = ("xavier", "seed")


def nac_weight(W_hat: torch.Tensor, M_hat: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The NAC weight ``W = tanh(W_hat) ⊙ σ(M_hat)``, biased towards {−1, 0, 1}.

    ``scale`` multiplies both pre-activations (``ln φ`` gives G-NALU's golden-ratio base).
    """
    if scale != 1.0:
        W_hat, M_hat = W_hat * scale, M_hat * scale
    return torch.tanh(W_hat) * torch.sigmoid(M_hat)


def check_init(unit: str, init: str, allowed: tuple[str, ...] = INITS) -> str:
    if init not in allowed:
        raise NalmError(f"{unit}: init must be one of {', '.join(allowed)}; got {init!r}")
    return init


def check_eps(unit: str, eps: float) -> float:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 <= eps < 1:
        raise NalmError(f"{unit}: eps must be a number in [0, 1), got {eps!r}")
    return float(eps)


def init_nac_pair(W_hat: torch.Tensor, M_hat: torch.Tensor, init: str) -> None:
    """Initialise one ``(W_hat, M_hat)`` pair: Xavier-uniform, or the seed code's U[−2, 2]."""
    with torch.no_grad():
        for p in (W_hat, M_hat):
            if init == "seed":
                nn.init.uniform_(p, -2.0, 2.0)
            else:
                nn.init.xavier_uniform_(p)


class _NACBase(Unit):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "xavier",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        self.init = check_init(type(self).__name__, init)
        factory = factory_kwargs(type(self).__name__, device, dtype)
        self.W_hat = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.M_hat = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_nac_pair(self.W_hat, self.M_hat, self.init)

    def weight(self) -> torch.Tensor:
        """``W = tanh(W_hat) ⊙ σ(M_hat)``, shape ``(out_features, in_features)``."""
        return nac_weight(self.W_hat, self.M_hat)

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return {"W": self.weight().detach()}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init={self.init!r}"


class NAC(_NACBase):
    r"""Neural Accumulator: a linear layer whose weights are pushed towards {−1, 0, 1}.

    .. math::
        W = \tanh(\hat W) \odot \sigma(\hat M), \qquad a = x W^\top

    No bias and no nonlinearity, so with W exactly in {−1, 0, 1} it adds and subtracts inputs
    exactly at any magnitude (Trask et al. 2018).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        init: ``"xavier"`` (Xavier-uniform for ``W_hat`` and ``M_hat``, as in Madsen &
            Johansen's reference code; the paper states none) or ``"seed"`` (U[−2, 2], as in the
            seed code).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W_hat: ``(out_features, in_features)``, the tanh half of W.
        M_hat: ``(out_features, in_features)``, the sigmoid half of W.

    Examples:
        >>> nac = NAC(2, 1)
        >>> with torch.no_grad():
        ...     _ = nac.W_hat.fill_(20.0); _ = nac.M_hat.fill_(20.0)   # W = [[1, 1]]
        >>> nac(torch.tensor([[1000.0, 234.0]]))
        tensor([[1234.]], grad_fn=<MmBackward0>)
    """

    operations = "+ −"
    paper = "Trask et al. 2018"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight())

    @classmethod
    def seed_preset(cls, in_features: int, out_features: int, **kwargs) -> NAC:
        """The seed code's NAC: U[−2, 2] initialisation."""
        return cls(in_features, out_features, **{"init": "seed", **kwargs})


class NACMul(_NACBase):
    r"""The log-space NAC (NAC•, the seed code's "complex NAC"): products, quotients, powers.

    .. math::
        W = \tanh(\hat W) \odot \sigma(\hat M), \qquad
        m = \exp\big(\log(|x| + \varepsilon)\, W^\top\big)

    With W in {−1, 0, 1} it computes products and quotients of ``|x|``; the sign of x is lost and
    the output is always positive. ε keeps ``log`` finite at x = 0.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: ε added to ``|x|`` before the log (default 1e-7, Madsen & Johansen's reference code;
            the seed code uses 1e-6; the paper states none).
        init: ``"xavier"`` or ``"seed"`` (U[−2, 2]), as for :class:`NAC`.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W_hat, M_hat: ``(out_features, in_features)``, as in :class:`NAC`.

    Examples:
        >>> mul = NACMul(2, 2)
        >>> with torch.no_grad():   # W = [[1, 1], [1, -1]]: x0·x1 and x0/x1
        ...     _ = mul.W_hat.copy_(torch.tensor([[20.0, 20.0], [20.0, -20.0]]))
        ...     _ = mul.M_hat.fill_(20.0)
        >>> mul(torch.tensor([[300.0, 4.0]])).detach().round()
        tensor([[1200.,   75.]])
    """

    operations = "× ÷ powers of |x|"
    keeps_sign = False
    paper = "Trask et al. 2018"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = 1e-7,
        init: str = "xavier",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.eps = check_eps(type(self).__name__, eps)
        super().__init__(in_features, out_features, init=init, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(linear(torch.log(x.abs() + self.eps), self.weight()))

    @classmethod
    def seed_preset(cls, in_features: int, out_features: int, **kwargs) -> NACMul:
        """The seed code's complex NAC: U[−2, 2] initialisation and ε = 1e-6."""
        return cls(in_features, out_features, **{"init": "seed", "eps": 1e-6, **kwargs})

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}"
