"""The Domain Mixed Unit (Curry 2025): one gate mixes a sum and a product in log space."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import NalmError
from .base import Unit, factory_kwargs
from .functional import linear

LIMIT = math.log(1e6) - 1
"""The author's bound on the log-magnitudes: ``|z| ≤ e^L ≈ 3.7·10⁵``."""
INITS = ("half", "add", "sub")
"""``half``: every operand weight ½ (the code's default); ``add``: every weight 1 (covers + and
×); ``sub``: the first input +1, the second −1, the rest 0 (covers − and ÷)."""


def _per_output(g: torch.Tensor) -> torch.Tensor:
    """A gate ``(out,)``, or S seeds' ``(S, out)`` made ``(S, 1, out)`` for the batch."""
    return g.unsqueeze(-2) if g.dim() == 2 else g


class DMU(Unit):
    r"""Domain Mixed Unit (Curry 2025, arXiv 2509.08180): the weighted sum of the inputs and the
    weighted product of their powers, mixed by one input-independent gate in log space.

    .. math::
        R_{lin} = x\,O^\top, \quad R_{log} = \log\max(|x|, \varepsilon)\,O^\top, \quad
        g = \sigma(G / T)

        m = \mathrm{clamp}\big(g \log\sqrt{R_{lin}^2 + \delta}
              + (1 - g)\,\mathrm{clamp}(R_{log}, \pm L), \pm L\big)

        s = g \tanh(R_{lin}/\tau) + (1 - g)\cos\big(\pi\, \mathbb 1[x < 0]\,|O|^\top\big),
        \quad z = s\, e^{m}

    At ``g = 1`` the output is ``Σ O·x`` (its sign from ``tanh(R/τ)``), at ``g = 0`` it is
    ``Π x^O``; in between, ``|z| = |s| · |R_lin|^g · e^{(1−g) R_log}`` (``|s| < 1`` where the
    two paths' signs disagree). One gate per output decides
    between the two domains, and the operand weights ``O`` serve both: with ``O = (1, 1)`` the
    unit is ``a + b`` or ``a·b``, with ``O = (1, −1)`` it is ``a − b`` or ``a / b``. The author's
    code fixes ``O`` at one of these (``freeze_operands``) and learns the gate alone; then only
    the choice of domain is learned. The constants are the code's: ``ε = 1e-11``,
    ``δ = 1e-8``, ``τ = 1e-4``, ``L = ln(10⁶) − 1``. No regulariser.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        init: the operand weights' start, one of :data:`INITS` (default ``"half"``).
        freeze_operands: ``O`` stays at its start, a buffer rather than a parameter (the
            code's ``--freeze-O``); only the gate learns.
        temperature: ``T`` in ``g = σ(G/T)`` (default 1; the code's ``--G-temperature``: below 1
            the gate saturates sooner).
        limit: ``L``, the bound of the log-magnitudes (default the code's ``ln(10⁶) − 1``, so
            ``|z| ≤ 3.7·10⁵``: beyond it even an exact sum or product is clamped); ``None``
            removes both clamps.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        O: ``(out_features, in_features)``, the operand weights (per ``init``; a buffer with
            ``freeze_operands``).
        G: ``(out_features,)``, the gate's logit, 0 (``g = ½``).

    Examples:
        >>> dmu = DMU(2, 1, init="sub")
        >>> with torch.no_grad():
        ...     _ = dmu.G.fill_(-30.0)  # g ≈ 0: the log domain, a / b
        >>> dmu(torch.tensor([[-12.0, 4.0]])).detach()
        tensor([[-3.]])
    """

    stackable = True  # linear takes stacked weights; the gate broadcasts per seed
    operations = "+ − × ÷ (the gate picks the domain: sums at g = 1, products at g = 0)"
    paper = "Curry 2025, arXiv 2509.08180"
    policy = "dmu"
    lr = 1e-2
    EPS, DELTA, TAU = 1e-11, 1e-8, 1e-4

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "half",
        freeze_operands: bool = False,
        temperature: float = 1.0,
        limit: float | None = LIMIT,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if init not in INITS:
            raise NalmError(f"DMU: init must be one of {', '.join(INITS)}; got {init!r}")
        if init == "sub" and in_features < 2:
            raise NalmError("DMU: init='sub' needs at least 2 inputs (the first minus the second)")
        if not temperature > 0:
            raise NalmError(f"DMU: temperature must be a positive number; got {temperature!r}")
        if limit is not None and not limit > 0:
            raise NalmError(f"DMU: limit must be a positive number or None; got {limit!r}")
        self.init, self.freeze_operands = init, bool(freeze_operands)
        self.limit = None if limit is None else float(limit)
        self.temperature = float(temperature)
        factory = factory_kwargs(type(self).__name__, device, dtype)
        operands = torch.empty(out_features, in_features, **factory)
        if self.freeze_operands:  # not trained: a buffer (saved and stacked, never updated)
            self.register_buffer("O", operands)
        else:
            self.O = nn.Parameter(operands)
        self.G = nn.Parameter(torch.empty(out_features, **factory))
        self.reset_parameters()

    def start(self) -> torch.Tensor:
        """The operand weights of ``init``: ``(out_features, in_features)``."""
        size = (self.out_features, self.in_features)
        weights = torch.full(size, 0.5 if self.init == "half" else 1.0)
        if self.init == "sub":
            weights[:, 1], weights[:, 2:] = -1.0, 0.0
        return weights.to(device=self.O.device, dtype=self.O.dtype)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.O.copy_(self.start())
            self.G.zero_()

    def gate(self) -> torch.Tensor:
        """``g = σ(G/T)``: 1 the sum, 0 the product."""
        return torch.sigmoid(self.G / self.temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = _per_output(self.gate())
        r_lin = linear(x, self.O)
        r_log = linear(torch.log(x.abs().clamp_min(self.EPS)), self.O)
        negatives = linear((x < 0).to(x.dtype), self.O.abs())
        sign = g * torch.tanh(r_lin / self.TAU) + (1 - g) * torch.cos(math.pi * negatives)
        linear_log = torch.log(torch.sqrt(r_lin**2 + self.DELTA).clamp_min(self.EPS))
        if self.limit is None:
            return sign * torch.exp(g * linear_log + (1 - g) * r_log)
        mixed = g * linear_log + (1 - g) * r_log.clamp(-self.limit, self.limit)
        return sign * torch.exp(mixed.clamp(-self.limit, self.limit))

    def regularization(self) -> torch.Tensor:
        """None: zero (one zero per seed when the parameters are S seeds' stacked)."""
        return self.G.new_zeros(self.G.shape[:-1])

    def gate_parameters(self) -> list[nn.Parameter]:
        return [self.G]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return {"O": self.O.detach(), "g": self.gate().detach()}

    def extra_repr(self) -> str:
        frozen = ", freeze_operands=True" if self.freeze_operands else ""
        limit = "" if self.limit == LIMIT else f", limit={self.limit}"
        cold = "" if self.temperature == 1.0 else f", temperature={self.temperature:g}"
        return f"{super().extra_repr()}, init={self.init!r}{frozen}{cold}{limit}"
