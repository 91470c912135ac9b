"""Model specs for the benchmarks: ``first>second``, ``unit``, ``mlp:ACTIVATION``, or a paper name.

- ``nau>nmu``: a registry unit ``in → hidden``, then another ``hidden → 1``.
- ``nau``: one unit. In a two-layer suite (``madsen``) it means ``nau>nau``; in the
  ``single-module`` suite it is the whole model.
- ``mlp:relu``: an MLP with one hidden layer of the suite's hidden size and that activation.
- The papers' row names are aliases (case-sensitive, as printed in the papers): ``NMU`` =
  ``nau>nmu``, ``NAU`` = ``nau>nau``, ``NAC•`` (or ``NAC*``) = ``nac>nac_mul``, ``NAC+`` =
  ``nac>nac``, ``NALU`` = ``nalu>nalu``, ``Linear`` = ``linear>linear``, ``ReLU`` = ``mlp:relu``,
  ``ReLU6`` = ``mlp:relu6``. In the single-module suite they name the output unit alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..errors import NalmError
from ..units import MLP, registry

PAPER_NAMES: dict[str, str] = {
    "NMU": "nau>nmu",
    "NAU": "nau>nau",
    "NAC•": "nac>nac_mul",
    "NAC*": "nac>nac_mul",
    "NAC+": "nac>nac",
    "NALU": "nalu>nalu",
    "Linear": "linear>linear",
    "ReLU": "mlp:relu",
    "ReLU6": "mlp:relu6",
}
"""The papers' row names and the specs they stand for."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``units`` (one or two registry names) or an MLP ``activation``."""

    units: tuple[str, ...] = ()
    activation: str | None = None

    def __str__(self) -> str:
        return f"mlp:{self.activation}" if self.activation else ">".join(self.units)

    @property
    def paper_name(self) -> str | None:
        """The paper's row name for this spec, if it has one (``nau>nmu`` → ``NMU``)."""
        text = str(self)
        return next((k for k, v in PAPER_NAMES.items() if v == text and k != "NAC*"), None)

    def build(self, in_features: int, hidden: int) -> nn.Module:
        """The model: ``(*, in_features) → (*, 1)``."""
        if self.activation is not None:
            return MLP(in_features, 1, hidden=(hidden,), activation=self.activation)
        if len(self.units) == 1:
            return registry.create(self.units[0], in_features, 1)
        first, second = self.units
        return nn.Sequential(
            registry.create(first, in_features, hidden), registry.create(second, hidden, 1)
        )


def parse_spec(text: str, layers: int = 2) -> ModelSpec:
    """Parse a model spec for a suite whose models have ``layers`` units (1 or 2).

    Examples:
        >>> str(parse_spec("NMU")), str(parse_spec("nau")), str(parse_spec("nau>real_npu"))
        ('nau>nmu', 'nau>nau', 'nau>real_npu')
        >>> str(parse_spec("NMU", layers=1)), parse_spec("nau>nmu").paper_name
        ('nmu', 'NMU')
    """
    if not isinstance(text, str) or not text.strip():
        raise NalmError(f"a model spec must be a non-empty string; got {text!r}")
    text = text.strip()
    resolved = PAPER_NAMES.get(text, text)
    if resolved.startswith("mlp:"):
        activation = resolved.removeprefix("mlp:")
        MLP(1, 1, hidden=(1,), activation=activation)  # validates the activation's name
        return ModelSpec(activation=activation)
    parts = tuple(p.strip() for p in resolved.split(">"))
    if len(parts) > 2 or not all(parts):
        raise NalmError(
            f"model spec {text!r} is not UNIT, FIRST>SECOND, mlp:ACTIVATION or a paper name "
            f"({', '.join(PAPER_NAMES)})"
        )
    for name in parts:
        registry.get(name)  # raises with the valid names
    if layers == 1:
        if len(parts) == 2 and text not in PAPER_NAMES:
            raise NalmError(f"this suite trains one unit; {text!r} names two")
        return ModelSpec(units=(parts[-1],))
    return ModelSpec(units=parts if len(parts) == 2 else parts * 2)
