"""The Neural Arithmetic Logic Unit of Trask et al. (2018)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import NalmError
from .base import Unit, factory_kwargs
from .functional import linear
from .nac import check_eps, check_init, init_nac_pair, nac_weight

GATES = ("input", "independent")


class NALU(Unit):
    r"""Neural Arithmetic Logic Unit: a learned gate between a NAC and a log-space NAC.

    .. math::
        a = x W_a^\top, \quad m = \exp\big(\log(|x| + \varepsilon) W_m^\top\big), \quad
        g = \sigma(x G^\top), \quad y = g \odot a + (1 - g) \odot m

    with ``W = tanh(W_hat) ⊙ σ(M_hat)`` for each path. The paper ties the two paths
    (``W_a = W_m``); the seed code gives each its own ``W_hat, M_hat``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        shared_weights: one W for both paths (``True``, the paper) or separate weights
            ``W_hat_mul, M_hat_mul`` for the multiplicative path (``False``, the seed code).
        gate: ``"input"`` — ``g = σ(x Gᵀ)`` with ``G`` of shape ``(out, in)`` (the paper); or
            ``"independent"`` — ``g = σ(G)`` with ``G`` of shape ``(out,)`` (as in iNALU).
        eps: ε inside the log (default 1e-7, Madsen & Johansen's reference code; seed: 1e-6).
        init: ``"xavier"`` — Xavier-uniform for every matrix (an independent G starts at 0) —
            or ``"seed"`` — U[−2, 2] for ``W_hat``/``M_hat`` and N(0, 1) for ``G``.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W_hat, M_hat: ``(out_features, in_features)``, the additive path (and the shared one).
        W_hat_mul, M_hat_mul: ``(out_features, in_features)``, only with ``shared_weights=False``.
        G: the gate weights, ``(out_features, in_features)`` or ``(out_features,)``.

    Examples:
        >>> nalu = NALU.seed_preset(3, 1)
        >>> nalu.shared_weights, nalu.eps, nalu.init
        (False, 1e-06, 'seed')
        >>> nalu(torch.rand(8, 3)).shape
        torch.Size([8, 1])
    """

    operations = "+ − × ÷ powers of |x|"
    keeps_sign = False
    paper = "Trask et al. 2018"
    # Multiplies every tanh/σ pre-activation; 1 for the paper's base e (see GNALU).
    _scale = 1.0

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        shared_weights: bool = True,
        gate: str = "input",
        eps: float = 1e-7,
        init: str = "xavier",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        name = type(self).__name__
        if gate not in GATES:
            raise NalmError(f"{name}: gate must be one of {', '.join(GATES)}; got {gate!r}")
        if not isinstance(shared_weights, bool):
            raise NalmError(f"{name}: shared_weights must be True or False; got {shared_weights!r}")
        self.shared_weights = shared_weights
        self.gate = gate
        self.eps = check_eps(name, eps)
        self.init = check_init(name, init)
        factory = factory_kwargs(name, device, dtype)
        shape = (out_features, in_features)
        self.W_hat = nn.Parameter(torch.empty(shape, **factory))
        self.M_hat = nn.Parameter(torch.empty(shape, **factory))
        if not shared_weights:
            self.W_hat_mul = nn.Parameter(torch.empty(shape, **factory))
            self.M_hat_mul = nn.Parameter(torch.empty(shape, **factory))
        gate_shape = shape if gate == "input" else (out_features,)
        self.G = nn.Parameter(torch.empty(gate_shape, **factory))
        self.reset_parameters()

    @classmethod
    def seed_preset(cls, in_features: int, out_features: int, **kwargs) -> NALU:
        """The seed code's NALU: separate weights, U[−2, 2] / N(0, 1) init, ε = 1e-6."""
        preset = {"shared_weights": False, "eps": 1e-6, "init": "seed"}
        return cls(in_features, out_features, **{**preset, **kwargs})

    def reset_parameters(self) -> None:
        init_nac_pair(self.W_hat, self.M_hat, self.init)
        if not self.shared_weights:
            init_nac_pair(self.W_hat_mul, self.M_hat_mul, self.init)
        with torch.no_grad():
            if self.init == "seed":
                nn.init.normal_(self.G, 0.0, 1.0)
            elif self.gate == "input":
                nn.init.xavier_uniform_(self.G, gain=nn.init.calculate_gain("sigmoid"))
            else:
                nn.init.zeros_(self.G)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_a, W_m)``: the additive and multiplicative paths' weights (equal when shared)."""
        W_a = nac_weight(self.W_hat, self.M_hat, self._scale)
        if self.shared_weights:
            return W_a, W_a
        W_m = nac_weight(self.W_hat_mul, self.M_hat_mul, self._scale)
        return W_a, W_m

    def gate_value(self, x: torch.Tensor) -> torch.Tensor:
        """``g``: ``σ(x Gᵀ)`` of shape ``(*, out)``, or ``σ(G)`` of shape ``(out,)``."""
        logits = linear(x, self.G) if self.gate == "input" else self.G
        return torch.sigmoid(logits * self._scale if self._scale != 1.0 else logits)

    def gate_parameters(self) -> list[nn.Parameter]:
        return [self.G]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W_a, W_m = self.weights()
        a = linear(x, W_a)
        m = torch.exp(linear(torch.log(x.abs() + self.eps), W_m))
        g = self.gate_value(x)
        return g * a + (1 - g) * m

    def effective_weights(self) -> dict[str, torch.Tensor]:
        W_a, W_m = (w.detach() for w in self.weights())
        paths = {"W": W_a} if self.shared_weights else {"W_add": W_a, "W_mul": W_m}
        return {**paths, "G": self.G.detach()}

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, shared_weights={self.shared_weights}, gate={self.gate!r}, "
            f"eps={self.eps:g}, init={self.init!r}"
        )


GOLDEN_RATIO = (1 + math.sqrt(5)) / 2


class GNALU(NALU):
    r"""Golden-ratio NALU (Rana & Malhi 2019): NALU with base φ instead of e in σ and tanh.

    .. math::
        \sigma_\varphi(u) = \frac{1}{1 + \varphi^{-u}}, \qquad
        \tanh_\varphi(u) = \frac{\varphi^{2u} - 1}{\varphi^{2u} + 1}, \qquad \varphi \approx 1.618

    used in ``W = tanh_φ(W_hat) ⊙ σ_φ(M_hat)`` and in the gate. This equals the NALU with every
    tanh/σ pre-activation scaled by ``ln φ ≈ 0.481``: the saturating functions flatten, so
    gradients vanish later. The log/exp of the multiplicative path keep base e. Arguments,
    shapes and parameters are those of :class:`NALU`.

    Examples:
        >>> gnalu = GNALU(2, 1)
        >>> with torch.no_grad():
        ...     _ = gnalu.W_hat.fill_(0.5); _ = gnalu.M_hat.fill_(0.0)
        >>> w = gnalu.weights()[0][0, 0].item()   # tanh(0.5 ln φ) · σ(0)
        >>> round(w, 4) == round(math.tanh(0.5 * math.log(GOLDEN_RATIO)) * 0.5, 4)
        True
    """

    paper = "Rana & Malhi 2019"
    _scale = math.log(GOLDEN_RATIO)
