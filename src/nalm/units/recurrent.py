"""Recurrent models: any unit as a recurrent cell, next to LSTM and plain RNN cells.

A cell maps one step's input and the previous state to the new state. :class:`Recurrent` runs a
cell over a sequence ``(*, T, in)`` from a zero state and reads the final hidden vector with a
head. The LSTM and RNN cells are written here in plain tensor operations (not ``torch.nn.LSTM``)
so that many seeds of them train together under :func:`torch.func.vmap`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import NalmError
from ..limits import check_elements, check_size
from . import registry

State = Any  # a tensor, or a tuple of tensors for the LSTM


class UnitCell(nn.Module):
    r"""A registry unit as a recurrent cell: ``h_t = unit([x_t, h_{t−1}])``.

    The unit sees the step's input and the previous hidden vector side by side, so an additive
    unit can learn ``h_t = h_{t−1} + (slices of x_t)``: a running sum.

    Args:
        unit: registry name (``"nac"``, ``"nalu"``, ``"nau"``, …).
        input_size: entries of each ``x_t``.
        hidden_size: entries of ``h``.
        initial: every entry of ``h_0`` (0; 1 for a running product with NMU or NAC•).
        **options: the unit's options.

    Shape:
        ``x_t (*, input_size)``, ``h (*, hidden_size)`` → ``h_t (*, hidden_size)``.

    Examples:
        >>> cell = UnitCell("nac", 3, 2)
        >>> h = cell(torch.ones(4, 3), cell.initial(torch.ones(4, 3)))
        >>> tuple(h.shape)
        (4, 2)
    """

    def __init__(
        self, unit: str, input_size: int, hidden_size: int, initial: float = 0.0, **options: Any
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.initial_value = float(initial)
        self.unit = registry.create(unit, input_size + hidden_size, hidden_size, **options)

    def initial(self, x_t: torch.Tensor) -> State:
        return x_t.new_full((*x_t.shape[:-1], self.hidden_size), self.initial_value)

    @staticmethod
    def output(state: State) -> torch.Tensor:
        return state

    def forward(self, x_t: torch.Tensor, h: State) -> State:
        return self.unit(torch.cat([x_t, h], dim=-1))


class _TorchStyleCell(nn.Module):
    """A cell with input weights ``W_ih (gates·hidden, in)``, recurrent weights
    ``W_hh (gates·hidden, hidden)`` and the biases named in ``biases`` ``(gates·hidden,)``, all
    drawn U[−1/√hidden, 1/√hidden] as torch draws its cells' weights. Its state is the hidden
    vector alone, from zeros (the LSTM's has the cell state too)."""

    initial_value = 0.0
    initial = UnitCell.initial
    output = staticmethod(UnitCell.output)

    def __init__(
        self, input_size: int, hidden_size: int, gates: int, biases: tuple[str, ...]
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        for name in biases:
            self.register_parameter(name, nn.Parameter(torch.empty(gates * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


class RNNCell(_TorchStyleCell):
    r"""An Elman cell: ``h_t = φ(x_t W_ihᵀ + h_{t−1} W_hhᵀ + b)`` with φ = ReLU (or tanh).

    Every weight and the bias U[−1/√hidden, 1/√hidden], as ``torch.nn.RNNCell`` draws its
    weights (torch has two biases, whose sum is spread wider; the forward computation is the
    same).

    Examples:
        >>> cell = RNNCell(3, 5)
        >>> tuple(cell(torch.ones(2, 3), cell.initial(torch.ones(2, 3))).shape)
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "relu") -> None:
        super().__init__(input_size, hidden_size, gates=1, biases=("b",))
        if nonlinearity not in ("relu", "tanh"):
            raise NalmError(f"RNNCell: nonlinearity must be 'relu' or 'tanh'; got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def forward(self, x_t: torch.Tensor, h: State) -> State:
        pre = x_t @ self.W_ih.T + h @ self.W_hh.T + self.b
        return torch.relu(pre) if self.nonlinearity == "relu" else torch.tanh(pre)


class LSTMCell(_TorchStyleCell):
    r"""A long short-term memory cell (Hochreiter & Schmidhuber 1997):

    .. math::
        (i, f, g, o) = x_t W_{ih}^\top + h_{t-1} W_{hh}^\top + b, \quad
        c_t = σ(f) c_{t-1} + σ(i) \tanh(g), \quad h_t = σ(o) \tanh(c_t)

    Every weight and the bias U[−1/√hidden, 1/√hidden], as ``torch.nn.LSTMCell`` draws its
    weights (torch has two biases; the forward computation is the same). The gates are in
    torch's order ``i, f, g, o``. The state is ``(h, c)``.

    Examples:
        >>> cell = LSTMCell(3, 5)
        >>> h, c = cell(torch.ones(2, 3), cell.initial(torch.ones(2, 3)))
        >>> tuple(h.shape), tuple(c.shape)
        ((2, 5), (2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, gates=4, biases=("b",))

    def initial(self, x_t: torch.Tensor) -> State:
        zeros = x_t.new_zeros((*x_t.shape[:-1], self.hidden_size))
        return zeros, zeros

    @staticmethod
    def output(state: State) -> torch.Tensor:
        return state[0]

    def forward(self, x_t: torch.Tensor, state: State) -> State:
        h, c = state
        i, f, g, o = (x_t @ self.W_ih.T + h @ self.W_hh.T + self.b).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class GRUCell(_TorchStyleCell):
    r"""A gated recurrent unit cell (Cho et al. 2014), computed as ``torch.nn.GRUCell`` does:

    .. math::
        r &= σ(x W_{ir}^\top + b_{ir} + h W_{hr}^\top + b_{hr}), \quad
        z = σ(x W_{iz}^\top + b_{iz} + h W_{hz}^\top + b_{hz}) \\
        n &= \tanh(x W_{in}^\top + b_{in} + r ⊙ (h W_{hn}^\top + b_{hn})), \quad
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    Weights ``W_ih (3·hidden, in)``, ``W_hh (3·hidden, hidden)`` and biases ``b_ih``, ``b_hh``
    (gates in torch's order r, z, n), all U[−1/√hidden, 1/√hidden] as in torch.

    Examples:
        >>> cell = GRUCell(3, 5)
        >>> tuple(cell(torch.ones(2, 3), cell.initial(torch.ones(2, 3))).shape)
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, gates=3, biases=("b_ih", "b_hh"))

    def forward(self, x_t: torch.Tensor, h: State) -> State:
        xr, xz, xn = (x_t @ self.W_ih.T + self.b_ih).chunk(3, dim=-1)
        hr, hz, hn = (h @ self.W_hh.T + self.b_hh).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


class AccumulatorCell(nn.Module):
    r"""The accumulator form of a unit as a recurrent cell: ``h_t = h_{t−1} + unit(x_t)``.

    The unit maps each step's input to an increment; with an additive unit (NAC, NAU) whose
    weights select the right inputs, the state is an exact running sum at any length.

    Args:
        unit: registry name.
        input_size: entries of each ``x_t``.
        hidden_size: entries of ``h`` (the unit's outputs).
        **options: the unit's options.

    Examples:
        >>> cell = AccumulatorCell("nau", 3, 2)
        >>> tuple(cell(torch.ones(4, 3), cell.initial(torch.ones(4, 3))).shape)
        (4, 2)
    """

    def __init__(self, unit: str, input_size: int, hidden_size: int, **options: Any) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.initial_value = 0.0
        self.unit = registry.create(unit, input_size, hidden_size, **options)

    initial = UnitCell.initial
    output = staticmethod(UnitCell.output)

    def forward(self, x_t: torch.Tensor, h: State) -> State:
        return h + self.unit(x_t)


class Recurrent(nn.Module):
    r"""Run a cell over a sequence and read the last hidden vector with a head.

    .. math::
        s_0 = 0, \quad s_t = \mathrm{cell}(x_t, s_{t-1}), \quad y = \mathrm{head}(h_T)

    Args:
        cell: a :class:`UnitCell`, :class:`RNNCell` or :class:`LSTMCell` (anything with
            ``initial(x_t)``, ``output(state)`` and ``forward(x_t, state)``).
        head: maps ``(*, hidden_size)`` to the output, e.g. a unit or ``nn.Linear``.

    Shape:
        ``(*, T, input_size) → (*, out_features)``.

    Examples:
        >>> from nalm.units import NAC
        >>> model = Recurrent(UnitCell("nac", 4, 2), NAC(2, 1))
        >>> tuple(model(torch.ones(8, 10, 4)).shape)
        (8, 1)
    """

    def __init__(self, cell: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.cell, self.head = cell, head

    @property
    def in_features(self) -> int | None:
        """The size of one step's input (the cell's), where the cell says."""
        return getattr(self.cell, "input_size", None)

    @property
    def out_features(self) -> int | None:
        """The output size (the head's), where the head says."""
        head = (
            self.head[-1] if isinstance(self.head, nn.Sequential) and len(self.head) else self.head
        )
        return getattr(head, "out_features", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-2] < 1:
            raise NalmError(f"Recurrent expects inputs (*, T, features) with T ≥ 1; got {x.shape}")
        state = self.cell.initial(x[..., 0, :])
        for t in range(x.shape[-2]):
            state = self.cell(x[..., t, :], state)
        return self.head(self.cell.output(state))


def recurrent(kind: str, input_size: int, hidden_size: int, out_features: int = 1) -> Recurrent:
    """A recurrent model by name: ``nalm.models.parse(kind, recurrent=True).build(...)``.

    - ``lstm``, ``gru``, ``rnn`` (ReLU): that cell with a linear head.
    - a registry unit (``nac``, ``nalu``, ``nau``, …): the unit as both the cell
      (``h_t = unit([x_t, h_{t−1}])``) and the head; ``"nau>nmu"`` uses the first as the cell
      and the second as the head.
    - ``acc:UNIT`` (e.g. ``acc:nac``, ``acc:nau>nau``): the accumulator cell
      ``h_t = h_{t−1} + unit(x_t)``, with the unit (or the one after ``>``) as the head.

    Examples:
        >>> type(recurrent("lstm", 100, 8).cell).__name__
        'LSTMCell'
        >>> type(recurrent("gru", 100, 8).cell).__name__
        'GRUCell'
        >>> type(recurrent("nalu", 100, 2).head).__name__
        'NALU'
        >>> type(recurrent("nau>nmu", 100, 2).head).__name__
        'NMU'
        >>> type(recurrent("acc:nac", 100, 2).cell).__name__
        'AccumulatorCell'
    """
    from ..models import parse  # the one model grammar (it builds from the cells here)

    model = parse(kind, recurrent=True).build(input_size, out_features, hidden_size)
    return model  # type: ignore[return-value]


def _check_sizes(input_size: int, hidden_size: int) -> None:
    check_size(input_size, "input_size")
    check_size(hidden_size, "hidden_size")
    check_elements(
        {"hidden_size": hidden_size, "input_size + hidden_size": input_size + hidden_size}
    )
