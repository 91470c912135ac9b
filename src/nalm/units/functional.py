"""The units' two workhorses, written to be fast when many seeds are trained under ``vmap``.

:func:`linear` (``x Wᵀ``) and :func:`nmu_product` (``Π_j (W_kj x_j + 1 − W_kj)``) compute exactly
what their one-line formulas say for one seed. Each also has a batching rule for
:func:`torch.func.vmap`, which the training engine uses to step S seeds as one computation.

``linear``: many seeds sharing one input batch cost one product.

Under :func:`torch.func.vmap` over S seeds, ``x @ W.T`` with a shared ``x`` of shape ``(B, in)``
and per-seed weights ``(S, out, in)`` becomes a batched product that first copies ``x`` once per
seed (S × B × in numbers). :func:`linear` instead lays the seeds' weight rows side by side,
``(S·out, in)``, and all seeds take one matrix product ``(S·out, in) xᵀ`` of shape ``(S·out, B)``
(batch innermost, so elementwise work after it runs along the batch); the gradient of the
weights is one product too. It does so on stacked weights ``(S, out, in)`` (the engine's stacked
call) and, through its batching rule, under ``vmap``. Each seed's numbers are the same sums as
alone, up to the order float32 adds them in.

``nmu_product``: the default batching rule keeps the seeds' ``(B, out, in)`` factors with ``in``
(often 2) innermost in memory, so every elementwise step runs along a dimension of 2. Its rule
lays the factors out as ``(S, out, in, B)`` instead, batch innermost, with a hand-written
gradient (the product of the other factors, by prefix and suffix products: no division, so a
zero factor is exact).
"""

from __future__ import annotations

from typing import Any

import torch


def linear(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    r"""``y = x Wᵀ``: ``x`` of shape ``(*, in)``, ``W`` of shape ``(out, in)``, ``y`` ``(*, out)``.

    For S seeds at once (the engine's stacked call): ``W`` ``(S, out, in)`` with ``x`` shared
    ``(B, in)`` or per seed ``(S, B, in)``; ``y`` ``(S, B, out)``.

    The units' linear maps use it. Outside ``vmap`` it is exactly ``x @ W.T``; under ``vmap`` its
    batching rule makes a shared input batch one matrix product for all seeds (module docstring).

    Examples:
        >>> x, W = torch.ones(3, 4), torch.full((2, 4), 0.5)
        >>> linear(x, W)
        tensor([[2., 2.],
                [2., 2.],
                [2., 2.]])
    """
    if _batched(x) or _batched(W):
        return _Linear.apply(x, W)
    if W.dim() == 3:  # S seeds' weights, called by the engine (see Unit.stackable)
        return _stacked_linear(x, W)
    return x @ W.transpose(-1, -2)


def _stacked_linear(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``(S, B, out)`` from ``W`` ``(S, out, in)`` and ``x`` shared ``(B, in)`` or per seed."""
    S, out, width = W.shape
    if x.dim() == 2:  # a shared batch: one product, batch innermost
        return (W.reshape(S * out, width) @ x.T).view(S, out, -1).transpose(1, 2)
    return x @ W.transpose(1, 2)  # (S, B, in): one batched product


class _Batched(torch.autograd.Function):
    """A function applied only to batched tensors (under ``vmap``), whose ``vmap`` rule computes
    it on the seeds' stacked tensors with differentiable operations: gradients flow through
    those, so its own backward is never reached."""

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:  # pragma: no cover - vmap only
        raise RuntimeError("a batched unit function is differentiated through its vmap rule")


class _Linear(_Batched):
    """:func:`linear` under ``vmap``: its rule calls :func:`linear` on the stacked weights."""

    @staticmethod
    def forward(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x @ W.transpose(-1, -2)

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, int | None], x: torch.Tensor, W: torch.Tensor):
        x_dim, w_dim = in_dims
        if w_dim is None:  # one W for every seed: the seeds' rows are more rows
            return x.movedim(x_dim, 0) @ W.transpose(-1, -2), 0
        W = W.movedim(w_dim, 0)
        S, out, width = W.shape
        # plain operations from here (under an outer vmap, x may still be batched there)
        if x_dim is None:  # a shared input: the stacked form's one product
            return _stacked_linear(x.reshape(-1, width), W).reshape(S, *x.shape[:-1], out), 0
        x = x.movedim(x_dim, 0)  # per-seed inputs: one batched product
        return _stacked_linear(x.reshape(S, -1, width), W).reshape(*x.shape[:-1], out), 0


def nmu_product(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    r"""``z_k = Π_j (W_kj x_j + 1 − W_kj)``: ``x`` of shape ``(*, in)``, ``W`` ``(out, in)``, ``z``
    ``(*, out)``. ``(1 − W)`` is added last: it is exactly 0 where ``W = 1``, so a selected input
    passes through unrounded. For S seeds at once: ``W`` ``(S, out, in)``, ``x`` ``(S, B, in)``
    (or a shared ``(B, in)``), ``z`` ``(S, B, out)``.

    Examples:
        >>> nmu_product(torch.tensor([[3.0, 5.0, 7.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
        tensor([[15.]])
    """
    if _batched(x) or _batched(W):
        return _Product.apply(x, W)
    if W.dim() == 3:  # S seeds' weights, called by the engine (see Unit.stackable)
        if x.dim() == 2:  # a shared batch (an NMU as first layer)
            x = x.expand(W.shape[0], *x.shape)
        return _columns(x.transpose(1, 2), W).transpose(1, 2)
    return (x.unsqueeze(-2) * W + (1 - W)).prod(dim=-1)


def _batched(t: torch.Tensor) -> bool:
    return torch._C._functorch.is_batchedtensor(t)


class _Product(_Batched):
    """:func:`nmu_product` under ``vmap``; see the module docstring."""

    @staticmethod
    def forward(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return (x.unsqueeze(-2) * W + (1 - W)).prod(dim=-1)

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, int | None], x: torch.Tensor, W: torch.Tensor):
        x_dim, w_dim = in_dims
        S = info.batch_size
        x = x.movedim(x_dim, 0) if x_dim is not None else x.expand(S, *x.shape)
        W = W.movedim(w_dim, 0) if w_dim is not None else W.expand(S, *W.shape)
        lead, width = x.shape[1:-1], x.shape[-1]
        columns = x.reshape(S, -1, width).transpose(-1, -2)  # (S, in, B)
        z = _columns(columns, W)  # (S, out, B)
        return z.transpose(-1, -2).reshape(S, *lead, W.shape[-2]), 0


def _columns(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``(S, out, B)`` products of ``(S, in, B)`` inputs: :class:`_Columns`, or under a
    ``torch.func`` transform (``grad``, ``jacrev``, an outer ``vmap``), the plain formula in the
    same layout (a function without ``setup_context`` cannot be transformed)."""
    if torch._C._are_functorch_transforms_active():
        factors = x.unsqueeze(1) * W.unsqueeze(-1) + (1 - W).unsqueeze(-1)
        if factors.shape[2] > _UNROLLED:
            return factors.prod(dim=2)
        product = factors[:, :, 0]  # two factors: their product as one multiplication, the
        for j in range(1, factors.shape[2]):  # same number as prod's, whose zero-safe
            product = product * factors[:, :, j]  # gradient takes two cumprods a call
        return product
    return _Columns.apply(x, W)


_UNROLLED = 2
"""Up to this many inputs, the traced NMU multiplies its factors one by one (see _columns): for
two, bit for bit what ``prod`` gives, its gradient too (each factor's is the other factor)."""


class _Columns(torch.autograd.Function):
    """``z[s, k, b] = Π_j (W[s, k, j] x[s, j, b] + 1 − W[s, k, j])`` over ``(S, in, B)`` inputs."""

    # The forward takes ``ctx`` (no ``setup_context``): ``apply`` then skips binding the
    # arguments with ``inspect.signature``, 0.1 ms a call. It is only called when no torch.func
    # transform is active (see ``_columns``).
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, W)
        factors = x.unsqueeze(1) * W.unsqueeze(-1) + (1 - W).unsqueeze(-1)  # (S, out, in, B)
        return factors.prod(dim=2)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, W = ctx.saved_tensors
        factors = x.unsqueeze(1) * W.unsqueeze(-1) + (1 - W).unsqueeze(-1)
        others = _others(factors) * grad.unsqueeze(2)  # ∂L/∂factor, (S, out, in, B)
        grad_x = (others * W.unsqueeze(-1)).sum(1) if ctx.needs_input_grad[0] else None
        grad_W = (others * (x.unsqueeze(1) - 1)).sum(-1) if ctx.needs_input_grad[1] else None
        return grad_x, grad_W


def _others(factors: torch.Tensor) -> torch.Tensor:
    """For each factor along dim 2, the product of the others (prefix × suffix products)."""
    width = factors.shape[2]
    if width == 1:
        return torch.ones_like(factors)
    if width == 2:
        return factors.flip(2)
    ones = torch.ones_like(factors[:, :, :1])
    before = torch.cat([ones, factors[:, :, :-1].cumprod(2)], 2)
    after = torch.cat([factors[:, :, 1:].flip(2).cumprod(2).flip(2), ones], 2)
    return before * after
