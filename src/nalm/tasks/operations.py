"""The operations ``t = a ∘ b`` of the arithmetic tasks, by name or symbol.

Examples:
    >>> import torch
    >>> op = get_operation("÷")
    >>> op.name, op(torch.tensor(6.0), torch.tensor(4.0)).item()
    ('div', 1.5)
    >>> [name for name, o in OPERATIONS.items() if not o.uses_b]
    ['squared', 'root']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import NalmError


@dataclass(frozen=True)
class Operation:
    """One arithmetic operation ``t = f(a, b)``; ``squared`` and ``root`` use ``a`` only."""

    name: str
    symbol: str
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    uses_b: bool = True

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.function(a, b)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("add", "+", lambda a, b: a + b),
        Operation("sub", "−", lambda a, b: a - b),
        Operation("mul", "×", lambda a, b: a * b),
        Operation("div", "÷", lambda a, b: a / b),
        Operation("squared", "z²", lambda a, b: a * a, uses_b=False),
        Operation("root", "√", lambda a, b: torch.sqrt(a), uses_b=False),
    )
}

_ALIASES = {
    "+": "add",
    "-": "sub",
    "−": "sub",
    "*": "mul",
    "×": "mul",
    "/": "div",
    "÷": "div",
    "z²": "squared",
    "z^2": "squared",
    "square": "squared",
    "√": "root",
    "sqrt": "root",
}


def get_operation(name: str | Operation) -> Operation:
    """An operation by name (``add sub mul div squared root``) or symbol (``+ - * / z² √``).

    Examples:
        >>> get_operation("*").name, get_operation("root").symbol
        ('mul', '√')
    """
    if isinstance(name, Operation):
        return name
    key = _ALIASES.get(name, name) if isinstance(name, str) else None
    if key not in OPERATIONS:
        valid = ", ".join(OPERATIONS)
        raise NalmError(f"unknown operation {name!r}; valid operations: {valid} (or + - * / z² √)")
    return OPERATIONS[key]
