"""Trask et al. (2018), Table 1, as quoted by reproductions (REFERENCE.md: *unconfirmed*, not
read from the paper itself). Scores: 100 × MSE / MSE of a randomly initialised model."""

from __future__ import annotations

OPERATION_ORDER = ("add", "sub", "mul", "div", "squared", "root")

_STATIC_MODELS = ("ReLU6", "None", "NAC", "NALU")
_RECURRENT_MODELS = ("LSTM", "ReLU", "NAC", "NALU")

# (setting, evaluation) → operation → one quoted value per model above, in that order.
_TABLE: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("static", "interpolation"): {
        "add": ("0.2", "0.0", "0.0", "0.0"),
        "sub": ("0.0", "0.0", "0.0", "0.0"),
        "mul": ("3.2", "20.9", "21.4", "0.0"),
        "div": ("4.2", "35.0", "37.1", "5.3"),
        "squared": ("0.7", "4.3", "22.4", "0.0"),
        "root": ("0.5", "2.2", "3.6", "0.0"),
    },
    ("static", "extrapolation"): {
        "add": ("42.6", "0.0", "0.0", "0.0"),
        "sub": ("29.0", "0.0", "0.0", "0.0"),
        "mul": ("10.1", "29.5", "33.3", "0.0"),
        "div": ("37.2", "52.3", "61.3", "0.7"),
        "squared": ("47.0", "25.1", "53.3", "0.0"),
        "root": ("13.3", "20.0", "16.4", "0.0"),
    },
    ("recurrent", "interpolation"): {
        "add": ("0.0", "0.0", "0.0", "0.0"),
        "sub": ("0.0", "0.0", "0.0", "0.0"),
        "mul": ("0.0", "0.0", "1.5", "0.0"),
        "div": ("0.0", "0.0", "1.2", "0.0"),
        "squared": ("0.0", "0.0", "2.3", "0.0"),
        "root": ("0.0", "0.0", "2.1", "0.0"),
    },
    ("recurrent", "extrapolation"): {
        "add": ("96.1", "85.5", "0.0", "0.0"),
        "sub": ("97.0", "70.9", "0.0", "0.0"),
        "mul": ("98.2", "97.9", "88.4", "0.0"),
        "div": ("95.6", "863.5", ">999", ">999"),
        "squared": ("98.0", "98.0", "123.7", "0.0"),
        "root": ("95.6", "59.3", ">999", "0.0"),
    },
}


def published(setting: str, evaluation: str, model: str, operation: str) -> str | None:
    """The quoted Table 1 score as printed (``"0.0"``, ``">999"``), or ``None`` where the paper
    has no such cell.

    Examples:
        >>> published("static", "extrapolation", "NALU", "mul")
        '0.0'
        >>> published("recurrent", "extrapolation", "NAC", "div")
        '>999'
        >>> published("static", "extrapolation", "NMU", "add") is None
        True
    """
    models = _STATIC_MODELS if setting == "static" else _RECURRENT_MODELS
    row = _TABLE.get((setting, evaluation), {}).get(operation)
    if row is None or model not in models:
        return None
    return row[models.index(model)]


def as_number(text: str) -> float:
    """A quoted value as a number; ``">999"`` becomes 1000."""
    return 1000.0 if text.startswith(">") else float(text)
