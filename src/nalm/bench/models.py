"""The benchmarks' model specs: the one grammar of :mod:`nalm.models`, with the suites' depth.

- ``nau>nmu``: a registry unit ``in → hidden``, then another ``hidden → 1``.
- ``nau``: one unit. In a two-layer suite (``madsen``) it means ``nau>nau``; in the
  ``single-module`` suite it is the whole model.
- ``mlp:relu``: an MLP with one hidden layer of the suite's hidden size and that activation.
- The papers' row names are aliases (:data:`nalm.models.ALIASES`); in the single-module suite
  they name the output unit alone.
"""

from __future__ import annotations

from ..models import ALIASES, ModelSpec, parse

PAPER_NAMES = ALIASES
"""The papers' row names and the specs they stand for (:data:`nalm.models.ALIASES`)."""

__all__ = ["PAPER_NAMES", "ModelSpec", "parse_spec"]


def parse_spec(text: str, layers: int = 2) -> ModelSpec:
    """Parse a model spec for a suite whose models have ``layers`` units (1 or 2):
    :func:`nalm.models.parse` with ``layers``.

    Examples:
        >>> str(parse_spec("NMU")), str(parse_spec("nau")), str(parse_spec("nau>real_npu"))
        ('nau>nmu', 'nau>nau', 'nau>real_npu')
        >>> str(parse_spec("NMU", layers=1)), parse_spec("nau>nmu").paper_name
        ('nmu', 'NMU')
    """
    return parse(text, layers=layers)
