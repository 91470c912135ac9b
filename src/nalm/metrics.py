"""Errors between a model and its targets."""

from __future__ import annotations

import torch
from torch import nn


def mse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error, as a float."""
    return torch.mean((prediction - target) ** 2).item()


def mean_relative_error(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """``mean(|ŷ − y| / |y|)``; rows with ``y = 0`` are left out.

    Examples:
        >>> mean_relative_error(torch.tensor([110.0, 9.0]), torch.tensor([100.0, 10.0]))
        0.10000000149011612
    """
    keep = target != 0
    return torch.mean((prediction[keep] - target[keep]).abs() / target[keep].abs()).item()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """``model(x)`` in eval mode without gradients, returned on the CPU."""
    was_training = model.training
    model.eval()
    try:
        return model(x.to(device)).cpu()
    finally:
        model.train(was_training)
