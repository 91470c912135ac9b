"""The Neural Power Units of Heim, Pevný & Šmídl (2020): NPU and RealNPU, and their gate-less
NaiveNPU and RealNaiveNPU."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from .base import Unit, factory_kwargs, off_grid
from .functional import linear
from .nac import check_eps


def relevance(x: torch.Tensor, g: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log r, k)`` of the NPU's relevance-gated input.

    ``ĝ = clamp(g, 0, 1)``, ``r = ĝ ⊙ (|x| + ε) + (1 − ĝ)``, ``k = ĝ ⊙ 1[x < 0]``.
    An input with ĝ = 0 becomes r = 1 (log r = 0): it drops out of every product. For S seeds
    at once, ``g`` is ``(S, in)`` and ``x`` ``(B, in)`` or ``(S, B, in)``.
    """
    g_hat = g.clamp(0.0, 1.0)
    if g_hat.dim() > 1:  # S seeds' gates: one row per seed, broadcast over the batch
        g_hat = g_hat.unsqueeze(-2)
    r = g_hat * (x.abs() + eps) + (1 - g_hat)
    return torch.log(r), g_hat * (x < 0).to(x.dtype)


def l1_penalty(unit: nn.Module, seeds: int = 0) -> torch.Tensor:
    """``‖θ‖₁``: the sum of absolute values of every parameter of ``unit``; with ``seeds = 1``
    the parameters are S seeds' stacked ones and the result is ``(S,)``."""
    terms = [p.abs().flatten(seeds).sum(-1) for p in unit.parameters(recurse=False)]
    return torch.stack(terms).sum(0)


class _PowerUnit(Unit):
    operations = "× ÷ powers"
    paper = "Heim, Pevný & Šmídl 2020"
    policy = "npu"
    gated: ClassVar[bool] = True  # with the relevance gate g (the naive variants have none)
    # The (out, in) weights: the first is drawn Xavier-uniform, any other starts at zeros.
    weight_names: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = 1e-7,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        self.eps = check_eps(type(self).__name__, eps)
        factory = factory_kwargs(type(self).__name__, device, dtype)
        for name in self.weight_names:
            setattr(self, name, nn.Parameter(torch.empty(out_features, in_features, **factory)))
        if self.gated:
            self.g = nn.Parameter(torch.empty(in_features, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        first, *others = self.weight_names
        nn.init.xavier_uniform_(getattr(self, first))
        for name in others:
            nn.init.zeros_(getattr(self, name))
        if self.gated:
            nn.init.constant_(self.g, 0.5)

    def log_r_and_k(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log r, k)``: through the relevance gate, or ``r = |x| + ε``, ``k = 1[x < 0]``."""
        if self.gated:
            return relevance(x, self.g, self.eps)
        return torch.log(x.abs() + self.eps), (x < 0).to(x.dtype)

    def effective_weights(self) -> dict[str, torch.Tensor]:
        weights = {name: p.detach() for name, p in self.named_parameters(recurse=False)}
        if self.gated:
            weights["g"] = weights["g"].clamp(0.0, 1.0)
        return weights

    def regularization(self) -> torch.Tensor:
        first = next(self.parameters())  # (out, in), or (S, out, in) stacked
        return l1_penalty(self, seeds=int(first.dim() == 3))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}"


class NPU(_PowerUnit):
    r"""Neural Power Unit: the real part of a complex power, so negative inputs keep their sign.

    .. math::
        \hat g &= \mathrm{clamp}(g, 0, 1), \quad
        r = \hat g \odot (|x| + \varepsilon) + (1 - \hat g), \\
        k &= \hat g \odot \mathbb 1[x < 0] \\
        z &= \exp\big(\log r\, W_{re}^\top - \pi k W_{im}^\top\big) \odot
             \cos\big(\log r\, W_{im}^\top + \pi k W_{re}^\top\big)

    With ``W_im = 0`` and ``W_re`` in {−1, 0, 1}, ``z`` is a product/quotient of the selected
    inputs with the right sign (``cos(π · number of negative factors)``); fractional ``W_re``
    gives powers such as √x. The relevance gate ``g`` removes an input from the product (r = 1),
    so an irrelevant input that is 0 does not zero the output.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: ε added to ``|x|`` (default 1e-7; the paper only asks for a small constant).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W_re: ``(out_features, in_features)``, Xavier-uniform.
        W_im: ``(out_features, in_features)``, zeros.
        g: ``(in_features,)``, the relevance gate, 0.5.

    The regulariser is the L1 norm of all parameters; the ``"npu"`` policy grows its weight β
    ×10 every 10,000 steps, as in the paper.

    Examples:
        >>> npu = NPU(2, 1)
        >>> with torch.no_grad():   # x0 / x1
        ...     _ = npu.W_re.copy_(torch.tensor([[1.0, -1.0]])); _ = npu.g.fill_(1.0)
        >>> npu(torch.tensor([[-300.0, 4.0]])).detach().round()
        tensor([[-75.]])
    """

    stackable = True  # linear takes stacked weights; relevance broadcasts stacked gates
    weight_names = ("W_re", "W_im")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_r, k = self.log_r_and_k(x)
        magnitude = torch.exp(linear(log_r, self.W_re) - linear(math.pi * k, self.W_im))
        return magnitude * torch.cos(linear(log_r, self.W_im) + linear(math.pi * k, self.W_re))


class RealNPU(_PowerUnit):
    r"""Real Neural Power Unit: the NPU without the imaginary weights.

    .. math::
        z = \exp\big(\log r\, W^\top\big) \odot \cos\big(\pi k W^\top\big)

    with ``r`` and ``k`` as in :class:`NPU`. Products, quotients and powers of the selected
    inputs; the cosine restores the sign of products of negative inputs when W is integral.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        eps: ε added to ``|x|`` (default 1e-7).

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        W: ``(out_features, in_features)``, Xavier-uniform.
        g: ``(in_features,)``, the relevance gate, 0.5.

    Examples:
        >>> npu = RealNPU(2, 2)
        >>> with torch.no_grad():   # x0 · x1 and √x1
        ...     _ = npu.W.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.5]])); _ = npu.g.fill_(1.0)
        >>> npu(torch.tensor([[-3.0, 16.0]])).detach().round()
        tensor([[-48.,   4.]])
    """

    stackable = True  # linear takes stacked weights; relevance broadcasts stacked gates
    weight_names = ("W",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_r, k = self.log_r_and_k(x)
        return torch.exp(linear(log_r, self.W)) * torch.cos(linear(math.pi * k, self.W))


class NaiveNPU(NPU):
    r"""The NPU without its relevance gate (Heim, Pevný & Šmídl 2020's NaiveNPU): every input
    always takes part, so an exact product, quotient or power has no gate left to settle.

    .. math::
        r = |x| + \varepsilon, \quad k = \mathbb 1[x < 0], \quad
        z = \exp\big(\log r\, W_{re}^\top - \pi k W_{im}^\top\big) \odot
            \cos\big(\log r\, W_{im}^\top + \pi k W_{re}^\top\big)

    Arguments, shape, ``W_re`` and ``W_im``: as :class:`NPU`, which adds the gate ``g``.

    Examples:
        >>> npu = NaiveNPU(2, 1)
        >>> with torch.no_grad():   # x0 / x1
        ...     _ = npu.W_re.copy_(torch.tensor([[1.0, -1.0]]))
        >>> npu(torch.tensor([[-300.0, 4.0]])).detach().round()
        tensor([[-75.]])
    """

    stackable = True  # as the NPU
    gated = False


class RealNaiveNPU(RealNPU):
    r"""The RealNPU without its relevance gate (Heim, Pevný & Šmídl 2020's RealNaiveNPU): a
    signed power product of every input.

    .. math::
        z = \exp\big(\log(|x| + \varepsilon)\, W^\top\big) \odot
            \cos\big(\pi\, \mathbb 1[x < 0]\, W^\top\big)

    With the RealNPU's gate, ``r = ĝ |x| + 1 − ĝ`` with ``ĝ`` inside (0, 1) is an affine
    function of ``|x|``, which lets a model fit a narrow range with inexact powers (a ÷ or √ run
    of ``nau>real_npu`` ends there: docs/recipes.md); here only the exponents can move.

    Arguments, shape and ``W`` (the exponents): as :class:`RealNPU`, which adds the gate ``g``.

    Examples:
        >>> npu = RealNaiveNPU(2, 2)
        >>> with torch.no_grad():   # x0 / x1 and √x1
        ...     _ = npu.W.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.5]]))
        >>> npu(torch.tensor([[-12.0, 16.0]])).detach()
        tensor([[-0.7500,  4.0000]])
    """

    stackable = True  # as the RealNPU
    gated = False


class SnapNPU(RealNaiveNPU):
    r"""A RealNaiveNPU whose regulariser pulls each exponent to the nearest multiple of ½.

    .. math::
        R = \sum_{ij} \big|W_{ij} - \operatorname{round}(2 W_{ij}) / 2\big|

    nalm's own regulariser (no paper): the NPU paper's L1 pulls every exponent to 0, away from
    the 1, −1 and ½ of a product, a quotient and a root, and the ε-thresholds of Madsen's task
    leave no room for that bias. ``R`` is 0 at every exact product, quotient, square and square
    root, and closes the flat valley in which an exponent off by η is offset by the first
    layer's scale on a narrow training range (docs/recipes.md). Ramp it in late (policy
    ``npu-snap``), once the exponents sit near their values: it pulls each to the nearest one.

    Arguments, shape and ``W``: as :class:`RealNaiveNPU`.

    Examples:
        >>> npu = SnapNPU(2, 1)
        >>> with torch.no_grad():
        ...     _ = npu.W.copy_(torch.tensor([[0.9, -0.3]]))
        >>> npu.regularization()   # 0.1 from 1 plus 0.2 from −½
        tensor(0.3000, grad_fn=<SumBackward1>)
    """

    paper = "nalm, on Heim et al. 2020"
    stackable = True  # as the RealNPU; the regulariser sums per seed on stacked W
    grid = 0.5  # the spacing of the values the exponents are pulled to

    def regularization(self) -> torch.Tensor:
        return off_grid(self.W, self.grid).flatten(int(self.W.dim() == 3)).sum(-1)


class IntSnapNPU(SnapNPU):
    r"""A SnapNPU that pulls each exponent to the nearest integer: products, quotients and
    integer powers, not roots.

    .. math::
        R = \sum_{ij} \big|W_{ij} - \operatorname{round}(W_{ij})\big|

    nalm's own (no paper), for ÷ on Madsen's task (``select_nau>int_snap_npu``, policy
    ``snap-div``: docs/recipes.md). There a seed can stall with the items that ``a`` and ``b``
    share at a first-layer weight ``c < 1`` and both exponents near ``±(1 + c)/2``, which fits
    U[1, 2] to first order. Pulled to the nearest integer, an exponent above ½ goes to 1 and
    takes ``c`` with it; the SnapNPU pulls one below ¾ to ½, and ``c`` towards 0.

    Arguments, shape and ``W``: as :class:`RealNaiveNPU`.

    Examples:
        >>> npu = IntSnapNPU(2, 1)
        >>> with torch.no_grad():
        ...     _ = npu.W.copy_(torch.tensor([[0.7, -0.9]]))
        >>> npu.regularization()   # 0.3 from 1 plus 0.1 from −1
        tensor(0.4000, grad_fn=<SumBackward1>)
    """

    operations = "× ÷ integer powers"
    stackable = True  # as the SnapNPU
    grid = 1.0
