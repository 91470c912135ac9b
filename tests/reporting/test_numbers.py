import csv
import math

import pytest

from nalm.reporting import (
    finite_or_none,
    fmt,
    markdown_table,
    number,
    significant,
    table,
    write_csv,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0, "0.00e+00"),
        (-0.000123456, "-1.23e-04"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_fmt_gives_three_significant_digits(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (99.94, 1, "99.9"),
        (99.96, 1, "100.0"),
        (9999.0, 1, "9999.0"),
        (10000.0, 1, "1.0e+04"),
        (0.1, 1, "0.1"),
        (0.09, 1, "9.0e-02"),
        (0.09, 2, "0.09"),
        (-123456.0, 1, "-1.2e+05"),
        (0, 1, "0.0"),
        (-math.inf, 1, "inf"),
        (math.nan, 1, "-"),
        (None, 3, "-"),
    ],
)
def test_number_switches_to_scientific_outside_its_fixed_point_range(value, digits, text):
    assert number(value, digits) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(98, "98"), (0.000314, "0.00031"), (9999.0, "1e+04"), (1.8e4, "1.8e+04"), (math.nan, "—")],
)
def test_significant_matches_the_benchmark_reports_columns(value, text):
    assert significant(value) == text


def test_finite_or_none_keeps_finite_values_only():
    assert [finite_or_none(v) for v in (0.0, -2.5, math.inf, -math.inf, math.nan)] == [
        0.0,
        -2.5,
        None,
        None,
        None,
    ]


def test_text_table_pads_columns_to_the_widest_cell_and_strips_line_ends():
    text = table(["a", "long header"], [["wide cell", 1], ["x", ""]])
    assert text.splitlines() == [
        "a          long header",
        "---------  -----------",
        "wide cell  1",
        "x",
    ]


def test_markdown_table_escapes_pipes_and_has_one_rule():
    text = markdown_table(["x", "y"], [["|x|", 2]])
    assert text == "| x | y |\n| --- | --- |\n| \\|x\\| | 2 |"


def test_write_csv_reads_back_sequences_and_mappings(tmp_path):
    path = write_csv(
        tmp_path / "t.csv",
        ["model", "mse", "diverged_at"],
        [["nau", 1e-7, None], {"model": "a,b", "diverged_at": 3, "ignored": 1}],
    )
    with path.open(newline="") as f:
        assert list(csv.reader(f)) == [
            ["model", "mse", "diverged_at"],
            ["nau", "1e-07", ""],
            ["a,b", "", "3"],
        ]
    assert path.read_bytes().count(b"\r\n") == 3  # csv's own line ends, as every report wrote
