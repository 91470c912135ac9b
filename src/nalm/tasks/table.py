"""Tables of numbers from CSV files: a header of column names, then one number per cell."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import NalmError
from ..limits import MAX_TARGET
from .base import DatasetTask

MIN_ROWS = 2


@dataclass(frozen=True)
class Table:
    """A numeric table read from a CSV file.

    Attributes:
        path: the file it came from.
        columns: the header's column names, in file order.
        values: ``(rows, columns)`` float64 tensor.
        lines: the file's line number of each row.
    """

    path: str
    columns: tuple[str, ...]
    values: torch.Tensor
    lines: tuple[int, ...] = ()

    def column(self, name: str) -> torch.Tensor:
        """One column by name, shape ``(rows,)``."""
        if name not in self.columns:
            raise NalmError(
                f"{self.path} has no column {name!r}; its columns are {', '.join(self.columns)}"
            )
        return self.values[:, self.columns.index(name)]

    def select(self, names: Sequence[str]) -> torch.Tensor:
        """The named columns, in that order, shape ``(rows, len(names))``."""
        return torch.stack([self.column(n) for n in names], dim=1)

    def as_dtype(self, names: Sequence[str], dtype: torch.dtype) -> torch.Tensor:
        """The named columns in ``dtype``; a value that overflows it is named by line and column."""
        values = self.select(names)
        cast = values.to(dtype)
        bad = (~torch.isfinite(cast)).nonzero()
        if len(bad):
            row, col = (int(i) for i in bad[0])
            line = self.lines[row] if self.lines else row + 2
            raise NalmError(
                f"{self.path} line {line}, column {names[col]!r}: {float(values[row, col]):g} is "
                f"too large for {str(dtype).removeprefix('torch.')}"
            )
        return cast

    def __len__(self) -> int:
        return self.values.shape[0]


def read_table(path: str | Path, min_rows: int = MIN_ROWS) -> Table:
    """Read a CSV file with a header line; every other cell must be a finite number.

    Blank lines are skipped. Errors name the file, the line and the column, e.g.
    ``data.csv line 4, column 'R': 'ten' is not a number``.

    Examples:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "ohm.csv")
        ...     _ = open(p, "w").write("V,R,I\\n6,2,3\\n10,5,2\\n")
        ...     t = read_table(p)
        >>> t.columns, t.column("I").tolist()
        (('V', 'R', 'I'), [3.0, 2.0])
    """
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: drop a leading BOM
            lines = list(_rows(f, name))
    except FileNotFoundError:
        raise NalmError(f"cannot read {name}: no such file") from None
    except IsADirectoryError:
        raise NalmError(f"cannot read {name}: it is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise NalmError(f"cannot read {name}: it is not UTF-8 text") from None
    except OSError as e:
        raise NalmError(f"cannot read {name}: {e.strerror}") from None
    if not lines:
        raise NalmError(f"{name} is empty; expected a header line naming the columns")
    header_line, header = lines[0]
    columns = tuple(c.strip() for c in header)
    for i, c in enumerate(columns):
        if not c:
            raise NalmError(f"{name} line {header_line}: column {i + 1} of the header has no name")
        if columns.index(c) != i:
            raise NalmError(f"{name} line {header_line}: the header names column {c!r} twice")
    rows, numbers = [], []
    for line, cells in lines[1:]:
        if len(cells) != len(columns):
            raise NalmError(
                f"{name} line {line} has {len(cells)} cells; the header has {len(columns)} columns"
            )
        rows.append(
            [_number(cell, name, line, col) for cell, col in zip(cells, columns, strict=True)]
        )
        numbers.append(line)
    if len(rows) < min_rows:
        where = f" (line {numbers[0]})" if len(rows) == 1 else ""
        raise NalmError(
            f"{name} has {len(rows)} data row{'s' if len(rows) != 1 else ''}{where}; "
            f"fitting needs at least {min_rows}"
        )
    return Table(name, columns, torch.tensor(rows, dtype=torch.float64), tuple(numbers))


def _rows(f, name: str):
    reader = csv.reader(f)
    try:
        for cells in reader:
            if len(cells) > 1 or (cells and cells[0].strip()):  # skip only blank lines
                yield reader.line_num, cells
    except csv.Error as e:
        raise NalmError(f"{name} line {reader.line_num} is not valid CSV: {e}") from None


def _number(cell: str, file: str, line: int, column: str) -> float:
    text = cell.strip()
    where = f"{file} line {line}, column {column!r}"
    if not text:
        raise NalmError(f"{where}: the cell is empty")
    if "_" in text:
        raise NalmError(f"{where}: {text!r} is not a number")
    try:
        value = float(text)
    except ValueError:
        raise NalmError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NalmError(f"{where}: {text!r} is not a finite number")
    return value


def table_task(
    train: Table,
    target: str,
    test: Table | None = None,
    exclude: Sequence[str] = (),
    dtype: torch.dtype = torch.float32,
) -> tuple[DatasetTask, list[str]]:
    """A :class:`DatasetTask` learning ``target`` from the other columns (minus ``exclude``).

    The evaluation sets are ``interpolation`` (the training rows) and, with ``test``,
    ``extrapolation`` (the test rows, matched to the training columns by name).

    Returns:
        The task and the input column names, in order.
    """
    train.column(target)
    for name in exclude:
        train.column(name)
    if target in exclude:
        raise NalmError(f"the target column {target!r} cannot also be excluded")
    inputs = [c for c in train.columns if c != target and c not in exclude]
    if not inputs:
        raise NalmError(f"{train.path} has no input columns besides the target {target!r}")
    x, y = train.as_dtype(inputs, dtype), train.as_dtype([target], dtype)[:, 0]
    column = train.column(target)
    if bool((column == column[0]).all()):
        raise NalmError(
            f"{train.path}: the target column {target!r} is {float(column[0]):g} on every row: "
            "a constant, not a law of the inputs, so no model fit is tried"
        )
    for table in (train, test):
        if table is not None and target in table.columns:
            values = table.select([target]).to(torch.float64)[:, 0].abs()
            if float(values.max()) > MAX_TARGET:
                row = int(values.argmax())
                line = table.lines[row] if table.lines else row + 2
                raise NalmError(
                    f"{table.path} line {line}, column {target!r}: the target "
                    f"{float(values[row]):.3g} is beyond |y| ≤ {MAX_TARGET:.2g}, where the squared "
                    "error still fits in float32; rescale the column"
                )
    evaluation = {"interpolation": (x, y)}
    if test is not None:
        missing = [c for c in [*inputs, target] if c not in test.columns]
        if missing:
            raise NalmError(
                f"{test.path} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))} that {train.path} has"
            )
        evaluation["extrapolation"] = (
            test.as_dtype(inputs, dtype),
            test.as_dtype([target], dtype)[:, 0],
        )
    task = DatasetTask((x, y), evaluation, name=Path(train.path).name, target=target, inputs=inputs)
    return task, inputs
