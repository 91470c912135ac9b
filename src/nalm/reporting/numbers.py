"""Numbers as reports print them, text and Markdown tables, and CSV files.

Every report of nalm formats its numbers here, so one value reads the same in the command line's
tables, the Markdown reports and the figures' labels.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..files import open_atomic


def fmt(value: float | None) -> str:
    """A number for a table in three significant digits: ``1.20e-05``, ``nan`` or ``-``.

    Examples:
        >>> fmt(0.000012), fmt(1234.5), fmt(float("nan")), fmt(None)
        ('1.20e-05', '1.23e+03', 'nan', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


def number(value: float | None, digits: int = 1) -> str:
    """A score or error for a table: ``12.3``, ``1.2e+04``, ``inf`` or ``-``.

    Fixed-point with ``digits`` decimals, scientific where that would show no digit or more
    than four before the point.

    Examples:
        >>> number(12.345), number(12.345, 2), number(0.01), number(12345.0)
        ('12.3', '12.35', '1.0e-02', '1.2e+04')
        >>> number(float("inf")), number(float("nan")), number(None), number(0.0)
        ('inf', '-', '-', '0.0')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** (-digits)):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def significant(value: float | None, digits: int = 2) -> str:
    """A value in ``digits`` significant digits, scientific from 10⁴ on; ``—`` when missing.

    Examples:
        >>> significant(0.012345), significant(1500.0), significant(1.4e6), significant(None)
        ('0.012', '1.5e+03', '1.4e+06', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.1e}"


def finite_or_none(value: float) -> float | None:
    """``value`` for JSON, with NaN and ±inf as ``None``.

    Examples:
        >>> finite_or_none(1.5), finite_or_none(float("inf")), finite_or_none(float("nan"))
        (1.5, None, None)
    """
    return value if math.isfinite(value) else None


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a rule under the header.

    Examples:
        >>> print(table(["model", "MSE"], [["nau", fmt(0.0)], ["mlp", fmt(0.0104)]]))
        model  MSE
        -----  --------
        nau    0.00e+00
        mlp    1.04e-02
    """
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` inside cells is escaped).

    Examples:
        >>> print(markdown_table(["op", "success"], [["a|b", "98 %"]]))
        | op | success |
        | --- | --- |
        | a\\|b | 98 % |
    """

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(r) for r in rows)])


def write_csv(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[object] | Mapping[str, object]],
) -> Path:
    """Write a CSV file: a header of ``columns``, then one line per row.

    A row is a sequence in column order, or a mapping read by column name (a missing key is an
    empty cell). ``None`` is written as an empty cell, as :mod:`csv` does.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "cells.csv"
        >>> _ = write_csv(path, ["model", "mse"], [["nau", 0.5], {"model": "mlp"}])
        >>> path.read_text().splitlines()
        ['model,mse', 'nau,0.5', 'mlp,']
    """
    with open_atomic(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            if isinstance(row, Mapping):
                row = [row.get(c) for c in columns]
            writer.writerow(row)
    return path
