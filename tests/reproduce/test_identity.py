import csv
import json
import math

import pytest

from nalm.app.reproduce import IdentitySettings, run_identity
from nalm.app.reproduce import identity as identity_module
from nalm.errors import NalmError

from ..conftest import kill_when, run_to_end

TINY = IdentitySettings(
    models=4, steps=400, activations=("Tanh", "ReLU"), units=("nac",), points=81
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    return run_identity(TINY, out, progress=False, log=lambda _: None), out


def test_outputs_have_one_curve_per_model_over_the_grid(tiny_run):
    result, out = tiny_run
    assert [c.label for c in result.curves] == ["Tanh", "ReLU", "NAC"]
    assert result.x[0] == -20 and result.x[-1] == 20 and len(result.x) == 81
    with (out / "identity.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 81
    assert {r["model"] for r in rows} == {"Tanh", "ReLU", "NAC"}
    assert all(int(r["models"]) + int(r["diverged"]) == 4 for r in rows)
    text = (out / "identity.md").read_text()
    assert "MAE at \\|x\\| = 20" in text and "| NAC |" in text
    assert (out / "identity.png").stat().st_size > 10_000
    assert json.loads((out / "config.json").read_text())["models"] == 4


def test_tanh_mlps_fail_outside_the_training_range_while_nac_holds(tiny_run):
    result, _ = tiny_run
    tanh, nac = result.row("Tanh"), result.row("NAC")
    # tanh saturates: beyond the training range the output stops following x
    assert tanh["mae_20"] > 5
    assert tanh["mae_20"] > 20 * tanh["mae_train"]
    # the NAC stack is linear: its error grows at most in proportion to |x|
    assert nac["mae_20"] < 0.5
    assert nac["mae_20"] < tanh["mae_20"] / 10


def test_rerun_with_the_same_out_trains_nothing_and_gives_the_same_curves(tiny_run, monkeypatch):
    result, out = tiny_run

    def refuse(*args, **kwargs):
        raise AssertionError("a finished part was trained again")

    monkeypatch.setattr(identity_module, "fit_seeds", refuse)
    again = run_identity(TINY, out, progress=False, log=lambda _: None)
    for a, b in zip(result.curves, again.curves, strict=True):
        assert a.label == b.label
        assert all(
            (math.isnan(u) and math.isnan(v)) or u == v for u, v in zip(a.mae, b.mae, strict=True)
        )


def test_parts_keep_other_settings_and_drop_a_line_without_its_newline(tmp_path):
    from nalm.app.experiment import Parts

    Parts(tmp_path, {"steps": 1}).put("a", 1)
    Parts(tmp_path, {"steps": 2}).put("b", 2)
    assert Parts(tmp_path, {"steps": 1}).done == {"a": 1}  # b's line is kept, not used
    assert Parts(tmp_path, {"steps": 2}).done == {"b": 2}
    path = tmp_path / "parts.jsonl"
    path.write_text(path.read_text().rstrip("\n"))  # killed before the newline
    assert Parts(tmp_path, {"steps": 2}).done == {}
    Parts(tmp_path, {"steps": 2}).put("c", 3)
    assert Parts(tmp_path, {"steps": 2}).done == {"c": 3}
    assert Parts(tmp_path, {"steps": 1}).done == {"a": 1}


def test_a_cut_last_line_is_retrained_and_other_settings_are_ignored(tmp_path, monkeypatch):
    small = IdentitySettings(models=2, steps=30, activations=("ReLU", "Tanh"), units=(), points=9)
    run_identity(small, tmp_path, progress=False, log=lambda _: None)
    parts = tmp_path / "parts.jsonl"
    lines = parts.read_text().splitlines()
    parts.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed mid-write
    trained = []
    real = identity_module.fit_seeds

    def spy(*args, **kwargs):
        trained.append(kwargs["description"])
        return real(*args, **kwargs)

    monkeypatch.setattr(identity_module, "fit_seeds", spy)
    run_identity(small, tmp_path, progress=False, log=lambda _: None)
    assert [d.split(" ")[0] for d in trained] == ["Tanh"]
    trained.clear()
    run_identity(
        IdentitySettings(models=2, steps=31, activations=("ReLU",), units=(), points=9),
        tmp_path,
        progress=False,
        log=lambda _: None,
    )
    assert [d.split(" ")[0] for d in trained] == ["ReLU"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"models": 0}, "models must be a positive integer"),
        ({"activations": ("Tanhx",)}, "unknown activation 'Tanhx'"),
        ({"units": ("nalx",)}, "unknown unit 'nalx'"),
        ({"train_range": "5,-5"}, "inverted"),
        ({"activations": (), "units": ()}, "nothing to train"),
    ],
)
def test_bad_settings_are_one_clear_error(kwargs, message, tmp_path):
    with pytest.raises(NalmError, match=message):
        run_identity(IdentitySettings(**kwargs), tmp_path, progress=False)


def test_identity_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    """Each finished model family is a checkpoint (parts.jsonl); a kill loses at most one."""
    import sys

    command = [
        sys.executable,
        "-m",
        "nalm.cli",
        "reproduce",
        "identity",
        "--activations",
        "Tanh,ReLU,ELU,Sigmoid,Softsign,ReLU6",
        "--units",
        "nac",
        "--models",
        "3",
        "--steps",
        "600",
        "--no-progress",
    ]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_to_end([*command, "--out", str(whole)])
    parts = cut / "parts.jsonl"
    kill_when(
        [*command, "--out", str(cut)],
        lambda: parts.exists() and parts.read_text().count("\n") >= 2,
    )
    finished = parts.read_text().count("\n")
    assert 2 <= finished < 7, "the run must be killed mid-way"
    done = run_to_end([*command, "--out", str(cut)])
    assert (whole / "identity.csv").read_text() == (cut / "identity.csv").read_text()
    assert (whole / "parts.jsonl").read_text().count("\n") == 7
    assert done.returncode == 0
