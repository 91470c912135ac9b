"""What nalm's reports are made of: numbers and tables, CSV, figures and published values.

- :mod:`nalm.reporting.numbers`: number formatters (:func:`fmt`, :func:`number`, …), text and
  Markdown tables, :func:`write_csv`;
- :mod:`nalm.reporting.unit_tables`: the units overview and a model's weights for the command line;
- :mod:`nalm.reporting.published`: the one registry of published values;
- :mod:`nalm.reporting.figures`: matplotlib with the Agg backend (``plt``) and :func:`save`;
  imported on its own (``from nalm.reporting.figures import plt``), not from here, so that
  reading a table does not load matplotlib.
"""

from .numbers import finite_or_none, fmt, markdown_table, number, significant, table, write_csv
from .unit_tables import UNIT_COLUMNS, describe_weights, units_overview

__all__ = [
    "UNIT_COLUMNS",
    "describe_weights",
    "finite_or_none",
    "fmt",
    "markdown_table",
    "number",
    "significant",
    "table",
    "units_overview",
    "write_csv",
]
