"""Parallel paths with a learned selection: the ``(a|b)`` layer of the model grammar."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import NalmError
from .base import Unit, factory_kwargs

DECIDED = 0.99
"""The selection share at which an output's branch is chosen for good (see
:meth:`Branches.after_step`)."""
MARGIN = 40.0
"""How far below the chosen branch's logit the others are set once decided (``e^-40``)."""


class Branches(Unit):
    r"""Units side by side on the same input, mixed by an input-independent selection that is
    pulled to one of them: the layer ``(nau|nmu)`` of the model grammar.

    .. math::
        s = \mathrm{softmax}(S)_{\,\cdot k}, \qquad z_k = \sum_i s_{ik}\, u_i(x)_k

    with one selection logit ``S_ik`` per branch ``i`` and output ``k``, 0 at the start (every
    branch ``1/n``). The penalty (scaled by the policy's λ like every unit's) is the branches'
    own plus ``mean_k (1 − max_i s_ik)``, zero once each output has chosen one branch. After
    each step, an output whose share of one branch has reached :data:`DECIDED` keeps that branch
    alone (the others' logits :data:`MARGIN` below). Snapped, the layer *is* the chosen units
    (``to_formula`` reads only them).

    Args:
        branches: the units, each ``(*, in_features) → (*, out_features)``.

    Shape:
        ``(*, in_features) → (*, out_features)``.

    Attributes:
        S: ``(len(branches), out_features)``, the selection logits, 0.

    Examples:
        >>> from nalm.units import NAU, NMU
        >>> layer = Branches([NAU(2, 1), NMU(2, 1)])
        >>> with torch.no_grad():
        ...     _ = layer.branches[0].W.fill_(1.0); _ = layer.branches[1].W.fill_(1.0)
        ...     _ = layer.S.copy_(torch.tensor([[-30.0], [30.0]]))  # choose the NMU
        >>> layer(torch.tensor([[3.0, 4.0]])).detach()
        tensor([[12.]])
    """

    def __init__(
        self,
        branches: Sequence[nn.Module],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        units = list(branches)
        if len(units) < 2:
            raise NalmError(f"a branch layer needs at least 2 units; got {len(units)}")
        sizes = {(u.in_features, u.out_features) for u in units}
        if len(sizes) != 1:
            raise NalmError(f"the units of a branch layer must have the same sizes; got {sizes}")
        (in_features, out_features) = sizes.pop()
        super().__init__(in_features, out_features)
        self.branches = nn.ModuleList(units)
        factory = factory_kwargs(type(self).__name__, device, dtype)
        self.S = nn.Parameter(torch.empty(len(units), out_features, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for unit in self.branches:
            if hasattr(unit, "reset_parameters"):
                unit.reset_parameters()
        with torch.no_grad():
            self.S.zero_()

    stackable = True  # the branch units are stackable or the model is not; S stacks per seed

    def selection(self) -> torch.Tensor:
        """``(branches, out_features)``: each output's share of each branch (columns sum to 1);
        ``(S, branches, out_features)`` for S seeds' stacked logits."""
        return torch.softmax(self.S, dim=-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = torch.stack([unit(x) for unit in self.branches])  # (branches, [S,] *, out)
        share = self.selection()
        if share.dim() == 3:  # stacked seeds: (S, branches, out) → (branches, S, 1…, out)
            share = share.transpose(0, 1)
            share = share.reshape(*share.shape[:2], *(1,) * (outputs.dim() - 3), share.shape[2])
        else:
            share = share.reshape(share.shape[0], *(1,) * (outputs.dim() - 2), share.shape[1])
        return (share * outputs).sum(0)

    def regularization(self) -> torch.Tensor:
        """The selection's penalty only: the trainer reaches the branch units themselves (it
        walks every module), so their penalties and projections are theirs."""
        return (1 - self.selection().max(dim=-2).values).mean(-1)

    def after_step(self) -> None:
        """An output whose selection has reached :data:`DECIDED` is decided: the other branches'
        logits are set :data:`MARGIN` below the chosen one's, so the layer computes the chosen
        unit alone (its share rounds to 1 in float32) and the choice stays."""
        with torch.no_grad():
            top = self.S.amax(dim=-2, keepdim=True)
            decided = torch.softmax(self.S, dim=-2).amax(dim=-2, keepdim=True) >= DECIDED
            self.S.copy_(torch.where(decided & (top > self.S), top - MARGIN, self.S))

    def decided_logits(self, branch: int) -> torch.Tensor:
        """``(branches, out_features)`` logits that keep branch ``branch`` (modulo the number of
        branches) alone for every output: 0 for it, :data:`MARGIN` below for the others.

        Example:
            >>> from nalm.units import NAU, NMU
            >>> Branches([NAU(2, 1), NMU(2, 1)]).decided_logits(3).flatten().tolist()
            [-40.0, 0.0]
        """
        logits = torch.full_like(self.S, -MARGIN).detach()
        logits[branch % len(self.branches)] = 0.0
        return logits

    def gate_parameters(self) -> list[nn.Parameter]:
        return [self.S]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        weights = {"s": self.selection().detach()}
        for i, unit in enumerate(self.branches):
            if isinstance(unit, Unit):
                weights.update({f"{i}.{k}": v for k, v in unit.effective_weights().items()})
        return weights

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, branches={len(self.branches)}"


def branch_units(layer: str) -> tuple[str, ...]:
    """The units of a branch layer ``(a|b|…)``, else ``()``.

    Examples:
        >>> branch_units("(nau|nmu)"), branch_units("nmu")
        (('nau', 'nmu'), ())
    """
    if not (layer.startswith("(") and layer.endswith(")")):
        return ()
    return tuple(p.strip() for p in layer[1:-1].split("|"))


def tidy_layer(part: str) -> str:
    """A layer without spaces around ``|`` (``( nau | nmu )`` reads ``(nau|nmu)``)."""
    part = part.strip()
    if part.startswith("(") and part.endswith(")"):
        return "(" + "|".join(p.strip() for p in part[1:-1].split("|")) + ")"
    return part
