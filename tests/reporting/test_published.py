import pytest

from nalm.app.reproduce.sequences import PUBLISHED_WORDS
from nalm.reporting import published as registry
from nalm.reporting.published import QUOTES, Quote, benchmark_figure, find, quote, table1_score


def test_every_quote_is_named_once_by_table_model_task_and_metric():
    keys = {(q.table, q.model, q.task, q.metric) for q in QUOTES}
    assert len(keys) == len(QUOTES)
    assert {q.paper for q in QUOTES} == {"Madsen & Johansen 2020", "Trask et al. 2018"}


def test_the_registry_holds_each_table_whole():
    # 37 of the 8 models × 6 operations have a success rate; 8 of them a solved step too
    assert len(find(table="arithmetic", metric="success")) == 37
    assert len(find(table="arithmetic", metric="solved_at")) == 8
    assert [q.model for q in find(table="arithmetic", metric="sparsity_error")] == [
        "NMU",
        "NAU",
        "NAU",
    ]
    assert len(find(table="Table 1 static")) == 2 * 6 * 4
    assert len(find(table="Table 1 recurrent")) == 2 * 6 * 4
    assert len(find(paper="Trask et al. 2018", metric="extrapolation score", model="NALU")) == 12


def test_madsen_cells_keep_their_figures_and_number_types():
    nmu = benchmark_figure("madsen", "NMU", "mul")
    assert (nmu.success, nmu.solved_at, nmu.sparsity_error) == (98, 1.4e6, 4.2e-7)
    assert type(nmu.success) is int  # the report's CSV writes "98", not "98.0"
    assert benchmark_figure("madsen", "NAU", "sub") == registry.Published(100, 5.0e3, 6.6e-2)
    assert benchmark_figure("madsen", "NALU", "root").success == 2
    assert benchmark_figure("madsen", "ReLU6", "div").success == 0
    assert benchmark_figure("madsen", "NAC•", "add") is None
    assert benchmark_figure("single-module", "NMU", "mul") is None


def test_table1_scores_are_the_printed_text():
    assert table1_score("static", "interpolation", "None", "div") == "35.0"
    assert table1_score("recurrent", "extrapolation", "NALU", "div") == ">999"
    assert table1_score("recurrent", "extrapolation", "ReLU6", "add") is None  # static-only row
    assert table1_score("static", "training", "NAC", "add") is None
    assert quote("Table 1 recurrent", "NAC", "root", "extrapolation score").value == 1000.0


def test_words_quotes_agree_with_the_sequence_experiment():
    quoted = {q.model: q.value for q in find(table="language to number")}
    assert quoted == {"LSTM": PUBLISHED_WORDS["lstm"], "LSTM+NALU": PUBLISHED_WORDS["lstm>nalu"]}


@pytest.mark.parametrize(("text", "value"), [("98", 98), ("0.0", 0.0), ("6.6e-2", 0.066)])
def test_a_quote_reads_its_number(text, value):
    q = Quote("p", "t", "m", "x", "metric", text)
    assert q.value == value and type(q.value) is type(value)
