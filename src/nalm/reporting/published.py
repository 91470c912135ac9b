"""Published results, quoted as the papers report them, for the reports' side-by-side columns.

One registry, :data:`QUOTES`: a :class:`Quote` per published value, naming its paper, table,
model (the paper's name for it), task, metric and the value as printed. The tables it holds:

- ``Madsen & Johansen 2020``, ``arithmetic``: the arithmetic task, 100 seeds each; ``success``
  in %, ``solved_at`` (the median step at which successful seeds were solved) and
  ``sparsity_error``. Quoted from the project's reference notes; not re-derived here.
- ``Trask et al. 2018``, ``Table 1 static`` and ``Table 1 recurrent``: the simple function tasks,
  ``interpolation score`` and ``extrapolation score`` (100 × MSE / MSE of a randomly initialised
  model), as quoted by reproductions: *unconfirmed*, not read from the paper itself.
- ``Trask et al. 2018``, ``language to number``: test MAE of reading numbers written in English
  words (task ``words``), also unconfirmed.

:func:`find` selects quotes by any of their fields; :func:`benchmark_figure` and
:func:`table1_score` are the lookups the benchmark report and Table 1's reproduction use.
"""

from __future__ import annotations

from dataclasses import dataclass

MADSEN_2020 = "Madsen & Johansen 2020"
TRASK_2018 = "Trask et al. 2018"


@dataclass(frozen=True)
class Quote:
    """One published value: where it is printed, what it measures, and the value as printed.

    Examples:
        >>> q = Quote(TRASK_2018, "Table 1 recurrent", "NAC", "div", "extrapolation score", ">999")
        >>> q.value
        1000.0
    """

    paper: str
    table: str
    model: str
    task: str
    metric: str
    text: str

    @property
    def value(self) -> float:
        """The value as a number: ``"98"`` is 98, ``"1.4e6"`` 1400000.0, ``">999"`` 1000.0."""
        if self.text.isdigit():
            return int(self.text)
        return as_number(self.text)


def as_number(text: str) -> float:
    """A quoted value as a number; ``">999"`` becomes 1000.

    Examples:
        >>> as_number("42.6"), as_number(">999")
        (42.6, 1000.0)
    """
    return 1000.0 if text.startswith(">") else float(text)


# Madsen & Johansen (2020), the arithmetic task: (model, operation) → success in %, median solved
# step, sparsity error (None where the paper gives no figure).
_ALL_MADSEN = ("NMU", "NAU", "NAC•", "NAC+", "NALU", "Linear", "ReLU", "ReLU6")
_MADSEN_METRICS = ("success", "solved_at", "sparsity_error")
_MADSEN: dict[tuple[str, str], tuple[str, ...]] = {
    ("NMU", "mul"): ("98", "1.4e6", "4.2e-7"),
    ("NAC•", "mul"): ("31",),
    ("NALU", "mul"): ("0",),
    ("NAU", "mul"): ("0",),
    ("NAC+", "mul"): ("0",),
    ("Linear", "mul"): ("0",),
    ("ReLU", "mul"): ("0",),
    ("ReLU6", "mul"): ("0",),
    ("NAU", "add"): ("100", "1.8e4", "3.2e-5"),
    ("Linear", "add"): ("100", "6.1e4"),
    ("NAC+", "add"): ("100", "2.5e5"),
    ("ReLU", "add"): ("62",),
    ("NALU", "add"): ("14", "1.5e6"),
    ("NAU", "sub"): ("100", "5.0e3", "6.6e-2"),
    ("NAC+", "sub"): ("100", "9.0e3"),
    ("NMU", "sub"): ("56",),
    ("NALU", "sub"): ("14",),
    ("Linear", "sub"): ("7",),
    ("ReLU", "sub"): ("0",),
    ("NMU", "squared"): ("100", "1.2e6"),
    ("NAC•", "squared"): ("77",),
    ("NAC•", "root"): ("7",),
    ("NALU", "root"): ("2",),
    **{(m, "div"): ("0",) for m in _ALL_MADSEN},
    **{(m, "root"): ("0",) for m in ("NMU", "NAU", "NAC+", "Linear", "ReLU", "ReLU6")},
}

# Trask et al. (2018), Table 1: (setting, evaluation) → operation → the row as printed, one score
# per model below.
_TABLE1_MODELS = {
    "static": ("ReLU6", "None", "NAC", "NALU"),
    "recurrent": ("LSTM", "ReLU", "NAC", "NALU"),
}
_TABLE1: dict[tuple[str, str], dict[str, str]] = {
    ("static", "interpolation"): {
        "add": "0.2 0.0 0.0 0.0",
        "sub": "0.0 0.0 0.0 0.0",
        "mul": "3.2 20.9 21.4 0.0",
        "div": "4.2 35.0 37.1 5.3",
        "squared": "0.7 4.3 22.4 0.0",
        "root": "0.5 2.2 3.6 0.0",
    },
    ("static", "extrapolation"): {
        "add": "42.6 0.0 0.0 0.0",
        "sub": "29.0 0.0 0.0 0.0",
        "mul": "10.1 29.5 33.3 0.0",
        "div": "37.2 52.3 61.3 0.7",
        "squared": "47.0 25.1 53.3 0.0",
        "root": "13.3 20.0 16.4 0.0",
    },
    ("recurrent", "interpolation"): {
        "add": "0.0 0.0 0.0 0.0",
        "sub": "0.0 0.0 0.0 0.0",
        "mul": "0.0 0.0 1.5 0.0",
        "div": "0.0 0.0 1.2 0.0",
        "squared": "0.0 0.0 2.3 0.0",
        "root": "0.0 0.0 2.1 0.0",
    },
    ("recurrent", "extrapolation"): {
        "add": "96.1 85.5 0.0 0.0",
        "sub": "97.0 70.9 0.0 0.0",
        "mul": "98.2 97.9 88.4 0.0",
        "div": "95.6 863.5 >999 >999",
        "squared": "98.0 98.0 123.7 0.0",
        "root": "95.6 59.3 >999 0.0",
    },
}


def _quotes() -> tuple[Quote, ...]:
    madsen = [
        Quote(MADSEN_2020, "arithmetic", model, operation, metric, text)
        for (model, operation), texts in _MADSEN.items()
        for metric, text in zip(_MADSEN_METRICS, texts, strict=False)
    ]
    table1 = [
        Quote(TRASK_2018, f"Table 1 {setting}", model, operation, f"{evaluation} score", text)
        for (setting, evaluation), rows in _TABLE1.items()
        for operation, row in rows.items()
        for model, text in zip(_TABLE1_MODELS[setting], row.split(), strict=True)
    ]
    words = [
        Quote(TRASK_2018, "language to number", model, "words", "test MAE", text)
        for model, text in (("LSTM", "29.4"), ("LSTM+NALU", "0.42"))
    ]
    return (*madsen, *table1, *words)


QUOTES: tuple[Quote, ...] = _quotes()
"""Every published value nalm sets beside its own, one :class:`Quote` each."""


def find(
    *,
    paper: str | None = None,
    table: str | None = None,
    model: str | None = None,
    task: str | None = None,
    metric: str | None = None,
) -> list[Quote]:
    """The quotes whose fields equal every one given, in the registry's order.

    Examples:
        >>> [q.text for q in find(table="arithmetic", model="NMU", task="mul")]
        ['98', '1.4e6', '4.2e-7']
        >>> [(q.model, q.value) for q in find(table="language to number")]
        [('LSTM', 29.4), ('LSTM+NALU', 0.42)]
    """
    wanted = {"paper": paper, "table": table, "model": model, "task": task, "metric": metric}
    given = {k: v for k, v in wanted.items() if v is not None}
    return [q for q in QUOTES if all(getattr(q, k) == v for k, v in given.items())]


def quote(table: str, model: str, task: str, metric: str) -> Quote | None:
    """The one quote of ``table`` for a model, task and metric, or ``None`` where there is none.

    Examples:
        >>> quote("Table 1 static", "ReLU6", "add", "extrapolation score").text
        '42.6'
        >>> quote("Table 1 static", "NMU", "add", "extrapolation score") is None
        True
    """
    return _INDEX.get((table, model, task, metric))


_INDEX = {(q.table, q.model, q.task, q.metric): q for q in QUOTES}


# The lookups of the benchmark report and of Table 1's reproduction, over the registry.


@dataclass(frozen=True)
class Published:
    """A benchmark cell's published figures: success in %, median solved step, sparsity error."""

    success: float  # percent
    solved_at: float | None = None
    sparsity_error: float | None = None


def _by_cell(paper: str, table: str) -> dict[tuple[str, str], Published]:
    figures: dict[tuple[str, str], dict[str, float]] = {}
    for q in find(paper=paper, table=table):
        figures.setdefault((q.model, q.task), {})[q.metric] = q.value
    return {cell: Published(**values) for cell, values in figures.items()}


MADSEN: dict[tuple[str, str], Published] = _by_cell(MADSEN_2020, "arithmetic")
"""Madsen & Johansen's arithmetic task by (paper name, operation)."""

PUBLISHED: dict[str, dict[tuple[str, str], Published]] = {"madsen": MADSEN}
"""The published figures of each benchmark suite that has them."""


def benchmark_figure(suite: str, paper_name: str | None, operation: str) -> Published | None:
    """The published figure for a suite's model (by its paper name) and operation, if any.

    Examples:
        >>> benchmark_figure("madsen", "NMU", "mul")
        Published(success=98, solved_at=1400000.0, sparsity_error=4.2e-07)
        >>> benchmark_figure("madsen", None, "mul") is None
        True
    """
    if paper_name is None:
        return None
    return PUBLISHED.get(suite, {}).get((paper_name, operation))


OPERATION_ORDER = ("add", "sub", "mul", "div", "squared", "root")
"""The operations in the order of Trask et al.'s Table 1."""


def table1_score(setting: str, evaluation: str, model: str, operation: str) -> str | None:
    """Trask et al.'s Table 1 score as printed (``"0.0"``, ``">999"``), or ``None`` where the
    paper has no such cell.

    Examples:
        >>> table1_score("static", "extrapolation", "NALU", "mul")
        '0.0'
        >>> table1_score("recurrent", "extrapolation", "NAC", "div")
        '>999'
        >>> table1_score("static", "extrapolation", "NMU", "add") is None
        True
    """
    found = quote(f"Table 1 {setting}", model, operation, f"{evaluation} score")
    return None if found is None else found.text
