"""Watching a run: the engine's evaluation rows reach the watchers, and --tensorboard writes them
as TensorBoard scalars that TensorBoard's own reader reads back."""

from __future__ import annotations

import math

import pytest

from nalm import NAU, NMU, ExpressionTask, NalmError, fit, fit_seeds
from nalm.cli import main
from nalm.train import watch

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard extra is not installed (pip install 'nalm[tensorboard]')",
)


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    events = event_accumulator.EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def test_rows_reach_a_watcher_and_stop_after_the_block():
    seen = []

    class Collect:
        closed = False

        def evaluated(self, label, seeds, seed, row):
            seen.append((label, seeds, seed, row["step"]))

        def close(self):
            Collect.closed = True

    task = ExpressionTask("x0 + x1", "1,2", "2,6")
    with watch.watching(Collect()):
        fit({"a": NAU(2, 1), "b": NAU(2, 1)}, task, steps=200, eval_every=100, progress=False)
    assert Collect.closed
    assert seen == [
        (label, 1, 0, step) for label in ("training a", "training b") for step in (0, 100, 200)
    ]
    fit(NAU(2, 1), task, steps=100, eval_every=100, progress=False)
    assert len(seen) == 6  # no watcher outside the block


def test_tensorboard_scalars_equal_the_history(tmp_path):
    task = ExpressionTask("x0 * x1", "1,2", "2,6")
    with watch.tensorboard(tmp_path):
        results = fit({"nmu": NMU(2, 1)}, task, steps=300, eval_every=100, progress=False)
    scalars = read_scalars(tmp_path / "training")  # one model: the label is the description
    history = results["nmu"].history
    assert set(scalars) == {
        "train_loss",
        "interpolation_mse",
        "extrapolation_mse",
        "sparsity_error",
    }
    for tag, points in scalars.items():
        expected = [(int(r["step"]), r[tag]) for r in history if math.isfinite(r[tag])]
        assert [s for s, _ in points] == [s for s, _ in expected]
        assert [v for _, v in points] == pytest.approx([v for _, v in expected], rel=1e-6)


def test_several_seeds_get_a_line_each(tmp_path):
    tasks = [ExpressionTask("x0 + x1", "1,2", "2,6") for _ in range(2)]
    with watch.tensorboard(tmp_path):
        result = fit_seeds(
            lambda: NAU(2, 1), tasks, seeds=[4, 9], steps=200, eval_every=100, progress=False
        )
    scalars = read_scalars(tmp_path / "seeds")
    for run in result.runs:
        points = scalars[f"extrapolation_mse/seed-{run.seed}"]
        assert [v for _, v in points] == pytest.approx(
            [r["extrapolation_mse"] for r in run.history], rel=1e-6
        )


def test_tensorboard_flag_on_train(tmp_path):
    code = main(
        ["train", "--unit", "nau", "--target", "x0 - x1", "--steps", "200", "--eval-every",
         "100", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"),
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    runs = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert runs == ["train_mlp", "train_nau"]
    assert [s for s, _ in read_scalars(tmp_path / "tb" / "train_nau")["extrapolation_mse"]] == [
        0,
        100,
        200,
    ]


def test_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NalmError, match="is a file; give a folder"):
        watch.TensorBoard(path)


def test_ray_backend_is_refused(capsys):
    code = main(["bench", "run", "madsen", "--tensorboard", "tb", "--backend", "ray"])
    assert code == 2
    assert "--backend ray the cells train in other processes" in capsys.readouterr().err
