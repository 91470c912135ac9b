"""The symbols ``nalm fit`` writes its formulas in: the column names, or ``x0, x1, …`` with a
legend when a name would not read as one symbol (``2*3`` for columns ``2`` and ``3``, ``a-b*c``
for columns ``a-b`` and ``c``).

Examples:
    >>> formula_names(["V", "R"])
    ['V', 'R']
    >>> formula_names(["2", "3"])
    ['x0', 'x1']
    >>> legend(["2", "3"], ["x0", "x1"])
    'where x0 = "2", x1 = "3"'
    >>> shown("a-b"), shown("y")
    ('"a-b"', 'y')
"""

from __future__ import annotations

import json
import keyword
import unicodedata
from collections.abc import Sequence

from ..tasks.expression import FUNCTIONS

RESERVED = frozenset({*FUNCTIONS, "Abs", "sign", "cos", "Heaviside", "pi", "E", "oo", "nan"})
"""Names of the functions and constants a printed formula can hold (a unit's reader writes
``Abs``, ``sign``, ``cos(pi*…)``, ``Heaviside``): as a column name they would read as those."""


def is_symbol(name: str) -> bool:
    """Whether ``name`` reads as one symbol in a formula and parses back as one: a Python
    identifier, not a keyword, not a function or constant, unchanged by Unicode folding."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in RESERVED
        and unicodedata.normalize("NFKC", name) == name
    )


def formula_names(names: Sequence[str]) -> list[str]:
    """The names themselves when every one is a symbol; otherwise ``x0, x1, …`` for all (a
    column may itself be named ``x1``, so all are renamed or none)."""
    if all(is_symbol(n) for n in names):
        return list(names)
    return [f"x{i}" for i in range(len(names))]


def legend(names: Sequence[str], symbols: Sequence[str]) -> str:
    """``where x0 = "2", x1 = "3"`` when the symbols are not the names; else ``""``."""
    if list(names) == list(symbols):
        return ""
    quoted = [json.dumps(n, ensure_ascii=False) for n in names]
    pairs = ", ".join(f"{s} = {q}" for s, q in zip(symbols, quoted, strict=True))
    return f"where {pairs}"


def shown(name: str) -> str:
    """A column name as the left side of ``name = formula``: quoted unless it reads as one name
    (the target is not in the formula, so ``I`` or ``pi`` may stand there as they are)."""
    plain = name.isidentifier() and unicodedata.normalize("NFKC", name) == name
    return name if plain else json.dumps(name, ensure_ascii=False)
