import csv
import math

import pytest
import torch

from nalm.app.reproduce import Table1Settings, run_table1
from nalm.app.reproduce import table1 as table1_module
from nalm.app.reproduce.table1 import _builder, _tasks, disagreements, random_baseline, summarize
from nalm.bench import cells as bench_cells
from nalm.errors import NalmError
from nalm.reporting.published import table1_score as published
from nalm.train.cohort import initial_weights

TINY = Table1Settings(
    seeds=2,
    static_steps=1500,
    recurrent_steps=60,
    lr=0.01,
    random_inits=8,
    operations=("add", "mul"),
    static_models=("None", "ReLU6"),
    recurrent_models=("LSTM", "NAC"),
    eval_size=500,
    sequence_eval_size=40,
    train_length=3,
    extrapolation_length=5,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("table1")
    return run_table1(TINY, out, progress=False, log=lambda _: None), out


def test_outputs_hold_every_cell_and_seed(tiny_run):
    result, out = tiny_run
    # 2 settings × 2 models × 2 operations × 2 evaluations
    assert len(result.cells) == 16
    with (out / "table1.csv").open() as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == 16
    assert {c["model"] for c in cells} == {"None", "ReLU6", "LSTM", "NAC"}
    with (out / "table1-seeds.csv").open() as f:
        seeds = list(csv.DictReader(f))
    assert len(seeds) == 2 * 2 * 2 * 2  # settings × models × operations × seeds
    assert len({(r["setting"], r["model"], r["init_seed"]) for r in seeds}) == 16
    text = (out / "table1.md").read_text()
    for heading in ("Static, extrapolation", "Recurrent, interpolation", "disagree"):
        assert heading in text
    assert "unconfirmed" in text
    assert (out / "table1.png").stat().st_size > 10_000


def test_the_linear_model_extrapolates_addition_and_the_mlp_does_not(tiny_run):
    result, _ = tiny_run
    linear = result.cell("static", "extrapolation", "None", "add")
    mlp = result.cell("static", "extrapolation", "ReLU6", "add")
    assert linear["score_median"] < 1
    assert mlp["score_median"] > 10
    assert linear["published"] == "0.0" and mlp["published"] == "42.6"


def test_scores_are_100_times_mse_over_the_random_mse(tiny_run):
    result, out = tiny_run
    with (out / "table1-seeds.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["setting"] == "static" and r["model"] == "None"]
    cell = result.cell("static", "extrapolation", "None", "mul")
    mses = sorted(float(r["extrapolation_mse"]) for r in rows if r["operation"] == "mul")
    expected = 100 * (mses[0] + mses[1]) / 2 / cell["random_mse"]
    assert math.isclose(cell["score_median"], expected, rel_tol=1e-9)


def test_random_baseline_is_the_mean_mse_of_random_initialisations():
    s = Table1Settings(seeds=2, eval_size=50, operations=("add",))
    build = _builder("static", "nac>nac", s)
    tasks = {"add": _tasks("static", "add", [0, 1], s)}
    got = random_baseline(build, tasks, inits=3)["add"]["extrapolation"]
    weights = initial_weights(build, [10**6, 10**6 + 1, 10**6 + 2])
    mses = []
    for r, w in enumerate(weights):
        model = build()
        model.load_state_dict(w)
        x, y = tasks["add"][r % 2].evaluation["extrapolation"]
        with torch.no_grad():
            mses.append(float(((model(x).double() - y.double()) ** 2).mean()))
    assert got[1] == 3
    assert math.isclose(got[0], sum(mses) / 3, rel_tol=1e-5)


def test_a_diverged_seed_scores_infinity_and_is_counted():
    runs = [
        {
            "setting": "static",
            "model": "NALU",
            "spec": "nalu>nalu",
            "operation": "mul",
            "seed": s,
            "interpolation_mse": mse,
            "extrapolation_mse": mse,
            "diverged_at": at,
        }
        for s, (mse, at) in enumerate([(1.0, None), (None, 17), (None, 40)])
    ]
    random = {"interpolation": [10.0, 5], "extrapolation": [10.0, 5]}
    cells = summarize(runs, {("static", "NALU"): {"mul": random}}, Table1Settings())
    cell = next(c for c in cells if c["evaluation"] == "extrapolation")
    assert cell["diverged"] == 2 and cell["seeds"] == 3
    assert math.isinf(cell["score_median"])
    assert cell["score_q1"] == pytest.approx(10.0)


def test_a_seed_that_really_diverges_scores_infinity(tmp_path):
    settings = Table1Settings(
        seeds=2,
        static_steps=5,
        lr=1e30,
        random_inits=4,
        operations=("mul",),
        settings=("static",),
        static_models=("None",),
        eval_size=100,
    )
    result = run_table1(settings, tmp_path, progress=False, log=lambda _: None)
    cell = result.cell("static", "extrapolation", "None", "mul")
    assert cell["diverged"] == 2
    assert math.isinf(cell["score_median"]) and math.isinf(cell["score_q1"])
    assert "(2✝)" in (tmp_path / "table1.md").read_text()


def test_an_operation_given_twice_is_named(tmp_path):
    with pytest.raises(NalmError, match="operation 'add' is given twice"):
        run_table1(Table1Settings(operations=("add", "+")), tmp_path, progress=False)


def test_disagreements_name_cells_on_opposite_sides():
    base = {"setting": "static", "evaluation": "extrapolation", "operation": "mul"}
    cells = [
        {**base, "model": "NALU", "score_median": 55.0, "published": "0.0"},
        {**base, "model": "NAC", "score_median": 30.0, "published": "33.3"},
        {**base, "model": "ReLU6", "score_median": 0.5, "published": "10.1"},
        {**base, "model": "NMU", "score_median": 0.1, "published": None},
    ]
    lines = disagreements(cells)
    assert len(lines) == 2
    assert "NALU on a×b: ours 55.0, paper 0.0 (≈ 0 in the paper, not here)" in lines[0]
    assert "ReLU6" in lines[1] and "≈ 0 here, not in the paper" in lines[1]


def test_published_values_are_the_quoted_table():
    assert published("static", "extrapolation", "ReLU6", "add") == "42.6"
    assert published("recurrent", "extrapolation", "ReLU", "div") == "863.5"
    assert published("recurrent", "interpolation", "NAC", "squared") == "2.3"
    assert published("static", "interpolation", "NMU", "add") is None


def test_rerun_resumes_without_training(tiny_run, monkeypatch):
    result, out = tiny_run

    def refuse(*args, **kwargs):
        raise AssertionError("a finished model was trained again")

    monkeypatch.setattr(table1_module, "fit_seeds", refuse)  # the recurrent half
    monkeypatch.setattr(bench_cells, "fit_seeds", refuse)  # the static half, the bench's
    again = run_table1(TINY, out, progress=False, log=lambda _: None)
    assert [c["score_median"] for c in again.cells] == [c["score_median"] for c in result.cells]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"seeds": 0}, "seeds must be a positive integer"),
        ({"operations": ("pow",)}, "unknown operation 'pow'"),
        ({"static_models": ("nalx>nau",)}, "static model 'nalx>nau' .*: unknown unit 'nalx'"),
        ({"recurrent_models": ("grux",)}, "recurrent model 'grux' .*LSTM.*: unknown unit 'grux'"),
        ({"train_range": "2,1"}, "inverted"),
        ({"settings": ("dynamic",)}, "unknown setting 'dynamic'"),
    ],
)
def test_bad_settings_are_one_clear_error(kwargs, message, tmp_path):
    with pytest.raises(NalmError, match=message):
        run_table1(Table1Settings(**kwargs), tmp_path, progress=False)


def test_the_static_half_is_stored_as_a_bench_database(tiny_run):
    from nalm.bench.store import Store
    from nalm.bench.table1 import row_score

    result, out = tiny_run
    (db,) = out.glob("static-*.sqlite")
    with Store(db, create=False) as store:
        rows = store.rows()
    assert {r["suite"] for r in rows} == {"table1"}
    assert len(rows) == 2 * 2 * 2  # models × operations × seeds
    row = next(r for r in rows if r["model"] == "linear>linear" and r["operation"] == "mul")
    run = next(
        r
        for r in result.runs
        if (r["setting"], r["model"], r["operation"], r["seed"]) == ("static", "None", "mul", 0)
    )
    assert row["seed"] == 0 and row["scores"]["init_seed"] == 2000  # 1000 × index of mul
    assert row["scores"]["final_extrapolation_mse"] == run["extrapolation_mse"]
    random = result.cell("static", "extrapolation", "None", "mul")["random_mse"]
    assert row_score(row, "extrapolation") == pytest.approx(
        100 * run["extrapolation_mse"] / random, rel=1e-12
    )
