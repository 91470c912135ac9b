"""The improved NALU of Schlör, Ring & Hotho (2020)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import NalmError
from .base import Unit, factory_kwargs
from .functional import linear
from .nac import check_eps, check_init, nac_weight

# The regulariser's threshold t: raw parameters with |θ| < t are pushed away from zero.
REGULARIZER_T = 20.0


class INALU(Unit):
    r"""Improved NALU: separate paths, a clipped log path, sign recovery and an input-free gate.

    .. math::
        W_a &= \tanh(\hat W_a) \odot \sigma(\hat M_a), \quad
        W_m = \tanh(\hat W_m) \odot \sigma(\hat M_m) \\
        a &= x W_a^\top, \quad
        m = \exp\big(\min(\log(\max(|x|, \varepsilon))\, W_m^\top,\ \omega)\big) \\
        \mathrm{msv}_k &= \mathrm{clip}\Big(\prod_j \big(\mathrm{sgn}(x_j)\,|W_{m,kj}|
            + 1 - |W_{m,kj}|\big), -1, 1\Big) \\
        g &= \sigma(G), \quad y = g \odot a + (1 - g) \odot m \odot \mathrm{msv}

    The ``max(|x|, ε)`` and ``min(·, ω)`` keep the log path finite; ``msv`` gives products and
    quotients of negative inputs their sign.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: lower bound on ``|x|`` inside the log (default 1e-7, the paper's).
        omega: upper bound on the log-space sum (default 20, the paper's).
        init: ``"inalu"`` — the paper's arithmetic-experiment init, ``W_hat ~ N(1, 0.1)``,
            ``M_hat ~ N(−1, 0.1)`` (both paths), ``G ~ N(0, 0.1)`` — or ``"xavier"``
            (Xavier-uniform matrices, ``G = 0``).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W_hat, M_hat: ``(out_features, in_features)``, the additive path.
        W_hat_mul, M_hat_mul: ``(out_features, in_features)``, the multiplicative path.
        G: ``(out_features,)``, the gate logits.

    The regulariser ``(1/t) Σ_θ mean(max(min(−θ, θ) + t, 0))`` over every raw parameter θ
    (t = 20) pushes parameters away from zero, so weights and gate commit to a choice; the
    paper's ``"inalu"`` policy switches it on late and applies its other tricks.

    Examples:
        >>> inalu = INALU(2, 1)
        >>> with torch.no_grad():   # multiplicative path only, W_m = [[1, 1]]
        ...     _ = inalu.W_hat_mul.fill_(20.0); _ = inalu.M_hat_mul.fill_(20.0)
        ...     _ = inalu.G.fill_(-30.0)
        >>> inalu(torch.tensor([[-3.0, 7.0], [-2.0, -5.0]])).detach().round()
        tensor([[-21.],
                [ 10.]])
    """

    operations = "+ − × ÷ powers"
    paper = "Schlör, Ring & Hotho 2020"
    policy = "inalu"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = 1e-7,
        omega: float = 20.0,
        init: str = "inalu",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        name = type(self).__name__
        self.eps = check_eps(name, eps)
        if self.eps == 0:
            raise NalmError(f"{name}: eps must be > 0, since it bounds |x| away from 0 in the log")
        if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not 0 < omega < 80:
            raise NalmError(f"{name}: omega must be a number in (0, 80), got {omega!r}")
        self.omega = float(omega)
        self.init = check_init(name, init, ("inalu", "xavier"))
        factory = factory_kwargs(name, device, dtype)
        shape = (out_features, in_features)
        self.W_hat = nn.Parameter(torch.empty(shape, **factory))
        self.M_hat = nn.Parameter(torch.empty(shape, **factory))
        self.W_hat_mul = nn.Parameter(torch.empty(shape, **factory))
        self.M_hat_mul = nn.Parameter(torch.empty(shape, **factory))
        self.G = nn.Parameter(torch.empty(out_features, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "inalu":
                for W_hat in (self.W_hat, self.W_hat_mul):
                    nn.init.normal_(W_hat, 1.0, 0.1)
                for M_hat in (self.M_hat, self.M_hat_mul):
                    nn.init.normal_(M_hat, -1.0, 0.1)
                nn.init.normal_(self.G, 0.0, 0.1)
            else:
                for p in (self.W_hat, self.M_hat, self.W_hat_mul, self.M_hat_mul):
                    nn.init.xavier_uniform_(p)
                nn.init.zeros_(self.G)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_a, W_m)``: the additive and multiplicative paths' weights."""
        return nac_weight(self.W_hat, self.M_hat), nac_weight(self.W_hat_mul, self.M_hat_mul)

    def sign(self, x: torch.Tensor, W_m: torch.Tensor) -> torch.Tensor:
        """``msv``: the sign of the multiplicative path's result, shape ``(*, out_features)``."""
        magnitude = W_m.abs()
        factors = torch.sign(x).unsqueeze(-2) * magnitude + (1 - magnitude)
        return factors.prod(dim=-1).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W_a, W_m = self.weights()
        a = linear(x, W_a)
        log_m = linear(torch.log(x.abs().clamp_min(self.eps)), W_m)
        m = torch.exp(log_m.clamp_max(self.omega))
        g = torch.sigmoid(self.G)
        return g * a + (1 - g) * m * self.sign(x, W_m)

    def regularization(self) -> torch.Tensor:
        t = REGULARIZER_T
        terms = [torch.relu(t - p.abs()).mean() for p in self.parameters(recurse=False)]
        return torch.stack(terms).sum() / t

    def gate_parameters(self) -> list[nn.Parameter]:
        return [self.G]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        W_a, W_m = (w.detach() for w in self.weights())
        return {"W_add": W_a, "W_mul": W_m, "g": torch.sigmoid(self.G).detach()}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}, omega={self.omega:g}, init={self.init!r}"
