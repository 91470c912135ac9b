"""The sequence experiments' models: an encoder on every step, a recurrent cell over time, a head
(:class:`SequenceModel`), and how each experiment's model is built from a grammar name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ...models import parse

if TYPE_CHECKING:
    from .sequence_fields import SequenceFields


class SequenceModel(nn.Module):
    """``encoder`` on every step → ``cell`` over time → ``head`` on the state.

    With ``per_step=True`` the head reads the state after every step (``(N, T, out)``, for
    running targets); otherwise only the last state (``(N, out)``). The output is multiplied by
    the constant ``scale``: targets in the hundreds are then within reach of a head whose
    weights Adam moves by about the learning rate per step.
    """

    def __init__(
        self,
        encoder: nn.Module,
        cell: nn.Module,
        head: nn.Module,
        per_step: bool,
        scale: float = 1.0,
    ):
        super().__init__()
        self.encoder, self.cell, self.head, self.per_step = encoder, cell, head, per_step
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.encoder(x)
        state = self.cell.initial(e[:, 0])
        outputs = []
        for t in range(e.shape[1]):
            state = self.cell(e[:, t], state)
            if self.per_step:
                outputs.append(self.head(self.cell.output(state)))
        if self.per_step:
            return torch.stack(outputs, dim=1) * self.scale
        return self.head(self.cell.output(state)) * self.scale


class TokenEncoder(nn.Module):
    """``(N, T, 2)`` (token id, value) → ``(N, T, dim + 1)``: an embedding and the value."""

    def __init__(self, vocabulary: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.embedding(x[..., 0].long()), x[..., 1:]], dim=-1)


def image_encoder(pixels: int, out: int, softmax: bool) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(pixels, 64), nn.ReLU(), nn.Linear(64, out)]
    if softmax:
        layers.append(nn.Softmax(dim=-1))
    return nn.Sequential(*layers)


def make_cell(kind: str, size: int, out: int, hidden: int, initial: float = 0.0) -> tuple:
    """``(cell, head)`` for a model name (:meth:`nalm.models.ModelSpec.cell_and_head`)."""
    return parse(kind, recurrent=True).cell_and_head(size, out, hidden, initial=initial)


def build_model(settings: SequenceFields, kind: str, name: str, task: Any) -> nn.Module:
    """The model ``name`` for an experiment's task (``kind``: count, sum, product, or None)."""
    h = settings.hidden
    if settings.experiment in ("digits", "product"):
        out = 10 if kind == "count" else 1
        encoder = image_encoder(task.in_features, 10 if kind == "count" else 1, kind == "count")
        size = 10 if kind == "count" else 1
        cell, head = make_cell(name, size, out, h, initial=1.0 if kind == "product" else 0.0)
        return SequenceModel(encoder, cell, head, per_step=True)
    encoder = TokenEncoder(len(task.vocabulary), 16)
    cell, head = make_cell(name, 17, 1, h)
    scale = 100.0 if settings.experiment == "words" else 10.0  # values up to 999; about ±300
    return SequenceModel(encoder, cell, head, per_step=False, scale=scale)
