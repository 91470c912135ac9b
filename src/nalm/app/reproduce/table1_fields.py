"""The fields of ``nalm reproduce table1``'s settings and the rows it trains, apart from the
workflow (:mod:`.table1`), so that its report and its static half name their type without
importing it."""

from __future__ import annotations

from dataclasses import dataclass

from ...bench.table1 import STATIC_MODELS
from ...tasks.arithmetic import OPERATIONS
from ...units import registry

SETTINGS = ("static", "recurrent")

RECURRENT_MODELS: dict[str, str] = {
    "LSTM": "lstm",
    "ReLU": "rnn",
    "NAC": "nac",
    "NALU": "nalu",
    "NAU": "nau",
    "NMU": "nau>nmu",
}
"""The recurrent rows: ``lstm``/``rnn`` cells with a linear head; a unit name means that unit as
the cell and the head; ``cell>head`` names both."""


def static_models() -> dict[str, str]:
    """:data:`STATIC_MODELS` plus ``unit>unit`` for any registry unit not in it yet, so the table
    grows as units land."""
    models = dict(STATIC_MODELS)
    used = {name for spec in models.values() for name in spec.replace("mlp:", "").split(">")}
    for name in registry.names():
        if name not in used and name not in ("mlp", "linear"):
            models[registry.get(name).__name__] = f"{name}>{name}"
    return models


@dataclass(frozen=True)
class Table1Fields:
    """The fields of :class:`~nalm.app.reproduce.table1.Table1Settings` (``nalm reproduce
    table1``): every flag's default is the full run."""

    seeds: int = 10
    static_steps: int = 20_000
    recurrent_steps: int = 10_000
    lr: float = 1e-3
    batch_size: int = 128
    hidden: int = 2
    rnn_hidden: int = 16
    random_inits: int = 100
    operations: tuple[str, ...] = tuple(OPERATIONS)
    settings: tuple[str, ...] = SETTINGS
    static_models: tuple[str, ...] = ()
    recurrent_models: tuple[str, ...] = ()
    input_size: int = 100
    subset: float = 0.25
    overlap: float = 0.5
    train_range: str = "1,2"
    extrapolation_range: str = "2,6"
    eval_size: int = 10_000
    train_length: int = 10
    extrapolation_length: int = 20
    sequence_train_range: str = "0.1,0.2"
    sequence_extrapolation_range: str = "0.2,0.3"
    sequence_eval_size: int = 1000
    quick_run: bool = False

    def models(self, setting: str) -> dict[str, str]:
        """Row label → model spec for ``static`` or ``recurrent``."""
        if setting == "static":
            chosen, lineup = self.static_models, static_models()
        else:
            chosen, lineup = self.recurrent_models, dict(RECURRENT_MODELS)
        if not chosen:
            return lineup
        return {label: lineup.get(label, label) for label in chosen}
