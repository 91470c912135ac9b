import pytest
import torch

from nalm.errors import NalmError
from nalm.tasks import read_table, table_task


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_a_table_and_builds_the_task(tmp_path):
    path = write(tmp_path, "V, R ,T,I\n6,2,20,3\n\n10,5,21,2\n1e3,1e2,22,10\n")
    table = read_table(path)
    assert table.columns == ("V", "R", "T", "I")
    assert table.values.dtype == torch.float64 and len(table) == 3
    assert table.column("V").tolist() == [6.0, 10.0, 1000.0]
    test = read_table(write(tmp_path, "I,R,V,T\n4,100,400,1\n", "test.csv"), min_rows=1)
    task, inputs = table_task(table, "I", test, exclude=["T"])
    assert inputs == ["V", "R"]
    x, y = task.evaluation["interpolation"]
    assert x.tolist() == [[6.0, 2.0], [10.0, 5.0], [1000.0, 100.0]]
    assert y[:, 0].tolist() == [3.0, 2.0, 10.0]
    xt, yt = task.evaluation["extrapolation"]  # columns matched by name, not by position
    assert xt.tolist() == [[400.0, 100.0]] and yt.tolist() == [[4.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,3\n1,x,3\n", "data.csv line 3, column 'b': 'x' is not a number"),
        ("a,b,y\n1,2,3\n1,nan,3\n", "data.csv line 3, column 'b': 'nan' is not a finite number"),
        ("a,b,y\n1,2,3\n4,5,inf\n", "data.csv line 3, column 'y': 'inf' is not a finite number"),
        ("a,b,y\n1,2,3\n1,,3\n", "data.csv line 3, column 'b': the cell is empty"),
        ("a,b,y\n1,2,3\n", "data.csv has 1 data row (line 2); fitting needs at least 2"),
        ("a,b,y\n1,2,3\n1_0,2,3\n", "data.csv line 3, column 'a': '1_0' is not a number"),
        (" , \n1,2\n3,4\n", "data.csv line 1: column 1 of the header has no name"),
        ("a,b,y\n1,2,3\n4,5\n", "data.csv line 3 has 2 cells; the header has 3 columns"),
        ("", "data.csv is empty; expected a header line"),
        ("a,,y\n1,2,3\n4,5,6\n", "data.csv line 1: column 2 of the header has no name"),
        ("a,a,y\n1,2,3\n4,5,6\n", "data.csv line 1: the header names column 'a' twice"),
    ],
    ids=[
        "text",
        "nan",
        "inf",
        "empty",
        "one-row",
        "underscore",
        "blank-header",
        "short-row",
        "empty-file",
        "no-name",
        "twice",
    ],
)
def test_bad_files_give_one_sentence_with_file_line_and_column(tmp_path, text, message):
    with pytest.raises(NalmError) as error:
        read_table(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_columns(tmp_path):
    table = read_table(write(tmp_path, "a,b,y\n1,2,3\n4,5,6\n"))
    with pytest.raises(NalmError, match=r"data.csv has no column 'z'; its columns are a, b, y"):
        table_task(table, "z")
    with pytest.raises(NalmError, match="has no column 'c'"):
        table_task(table, "y", exclude=["c"])
    with pytest.raises(NalmError, match="no input columns besides the target 'y'"):
        table_task(table, "y", exclude=["a", "b"])
    other = read_table(write(tmp_path, "a,y\n1,2\n", "t.csv"), min_rows=1)
    with pytest.raises(NalmError, match=r"t\.csv lacks the column 'b'"):
        table_task(table, "y", other)
    with pytest.raises(NalmError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffI,V\n1,2\n3,4\n".encode())
    assert read_table(path).columns == ("I", "V")


def test_a_value_too_large_for_float32_is_named(tmp_path):
    table = read_table(write(tmp_path, "a,y\n1,2\n1e39,3\n"))
    with pytest.raises(NalmError, match=r"data\.csv line 3, column 'a': 1e\+39 is too large"):
        table_task(table, "y")
