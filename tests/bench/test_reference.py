"""nalm's shipped reference table and the ranked report beside it (``bench report --reference``)."""

import csv
import json
import re
from pathlib import Path

from nalm import cli
from nalm.bench.reference import COMPARED, ranking, reference_cells

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_reference_is_the_recorded_madsen_run():
    cells = reference_cells()
    with (ROOT / "benchmarks/results/madsen/results.csv").open() as f:
        recorded = list(csv.DictReader(f))
    assert len(cells) == len(recorded)
    for cell, row in zip(cells, recorded, strict=True):
        assert (cell["model"], cell["operation"], cell["steps"], cell["seeds"]) == (
            row["model"],
            row["operation"],
            int(row["steps"]),
            int(row["seeds"]),
        )
        assert cell["successes"] == int(row["successes"])
        settings = json.loads(row["settings"])
        kept = {k: settings[k] for k in ("steps", "batch_size", "lr", "eval_size")}
        # the recorded run's policy by name, and its early-stop rule (it read the test set)
        kept |= {"policy": settings["policy"], "stop_rule": "solved-early"}
        assert set(COMPARED) == set(kept) and cell["settings"] == kept


def _summary(model, operation, successes, seeds, steps):
    settings = {"steps": steps, "batch_size": 128, "lr": 0.001, "eval_size": 10_000}
    settings |= {"policy": "madsen-nmu", "early_stop": True}  # as the reference was made
    return {
        "suite": "madsen",
        "model": model,
        "operation": operation,
        "range": "1,2:2,6",
        "seeds": seeds,
        "successes": successes,
        "solved_at_median": 5000.0 if successes else None,
        "steps": steps,
        "settings": json.dumps(settings),
    }


def test_ranking_orders_by_success_and_marks_other_settings():
    ranked = ranking([_summary("nau>nmu", "mul", 10, 10, 1_000_000)])
    entries = ranked[("madsen", "mul", "1,2:2,6")]
    assert [(e.source, e.model) for e in entries] == [
        ("yours", "nau>nmu"),  # 100 % beats the paper's 98 % and the reference's
        ("Madsen & Johansen 2020", "NMU"),
        ("nalm reference", "nau>nmu"),  # 5/25 at 10^6 steps: the same settings, no mark
        ("nalm reference", "nalu>nalu"),  # 0/100 each; ties by name
        ("nalm reference", "nau>nmu"),  # 0/100 at 2·10^5 steps
    ]
    assert entries[2].note == "" and entries[2].successes == 5
    assert entries[3].note == (
        "settings differ: steps 50,000 vs your 1,000,000, policy none vs your madsen-nmu"
    )
    assert entries[4].note == "settings differ: steps 200,000 vs your 1,000,000"
    assert 0 < entries[2].low < 0.2 < entries[2].high  # Wilson interval of 5/25


def test_the_ranking_plots_cells_at_0_and_100_percent(tmp_path):
    from nalm.bench.reference import plot_ranking

    ranked = ranking([_summary("nau>nau", "add", 20, 20, 20_000), _summary("nac>nac", "add", 0, 20,
                                                                          20_000)])  # fmt: skip
    assert next(e.rate for e in ranked[("madsen", "add", "1,2:2,6")]) == 1.0
    assert plot_ranking(ranked, tmp_path / "r.png").stat().st_size > 10_000


def test_bench_report_reference_writes_the_ranking(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite")
    common = ["--seeds", "2", "--steps", "30", "--eval-every", "30", "--eval-size", "64"]
    assert cli.main(["bench", "run", "madsen", "--models", "nau", "--ops", "add", "--db", db,
                     "--no-progress", *common]) == 0  # fmt: skip
    out = tmp_path / "report"
    assert cli.main(["bench", "report", "--db", db, "--out", str(out), "--reference"]) == 0
    text = (out / "ranking.md").read_text()
    assert re.search(r"\| yours \| nau>nau \| [0-2]/2, ", text)
    assert "settings differ: steps 100,000 vs your 30" in text
    assert (out / "ranking.png").stat().st_size > 0
    assert "# Your results beside nalm's reference" in capsys.readouterr().out
