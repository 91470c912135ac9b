"""The experiment frame: settings, the parts store, the run directory and the result."""

import json
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest

from nalm.app.experiment import Experiment, Result, settings_id
from nalm.app.reproduce import IdentitySettings, Table1Settings
from nalm.app.reproduce.sequences import settings_for
from nalm.errors import NalmError


@dataclass
class Counted(Result):
    trained: list[int]

    def write_report(self):
        path = self.out / "counted.md"
        path.write_text(f"{len(self.trained)} parts\n")
        return {"markdown": path}


@dataclass(frozen=True)
class Count(Experiment):
    name: ClassVar[str] = "count"
    command: ClassVar[str] = "count"
    QUICK: ClassVar[dict] = {"parts": 2}
    STORED_AS: ClassVar[dict] = {"quick_run": "quick"}

    parts: int = 4
    quick_run: bool = False

    def check(self):
        if self.parts < 1:
            raise NalmError(f"parts must be positive; got {self.parts}")

    def execute(self, run):
        trained = []
        for i in range(self.parts):
            if run.parts.get(str(i)) is None:
                trained.append(i)
                run.parts.put(str(i), i)
        run.log(f"trained {trained}")
        return Counted(self, trained, out=run.out)


def test_quick_applies_the_class_values_then_overrides():
    assert Count().quick() == Count(parts=2, quick_run=True)
    assert Count().quick(parts=3) == Count(parts=3, quick_run=True)


def test_to_dict_uses_stored_names_and_the_hash_follows_them():
    assert Count(parts=3).to_dict() == {"parts": 3, "quick": False}
    assert Count(parts=3).settings_id() == settings_id({"quick": False, "parts": 3})
    assert Count(parts=3).settings_id() != Count(parts=4).settings_id()


def test_runs_stored_before_the_frame_still_resume():
    # The hashes that nalm 143475d (before the frame) gave these settings' parts.jsonl lines,
    # computed by that revision: a run interrupted then resumes after an upgrade.
    s = IdentitySettings(models=2, steps=20, activations=("ReLU",), units=("nac",), points=41)
    assert s.settings_id() == "42da45a3dc0e"
    assert IdentitySettings().quick().settings_id() == "1a194037d689"
    assert settings_for("digits", quick=True).settings_id() == "97bb09a80666"
    assert Table1Settings().quick().settings_id() == "8b59fc082063"
    assert Table1Settings().settings_id() == "3ba13d3ed95d"
    assert "quick_run" not in s.to_dict()


def test_run_writes_config_resumes_and_reports(tmp_path):
    lines = []
    result = Count().run(tmp_path, log=lines.append)
    assert result.trained == [0, 1, 2, 3] and result.out == tmp_path
    assert result.paths["markdown"].read_text() == "4 parts\n"
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"command": "count", "parts": 4, "quick": False, "device": "cpu"}
    again = Count(parts=5).run(tmp_path, log=lines.append)  # other settings: all train again
    assert again.trained == [0, 1, 2, 3, 4]
    third = Count().run(tmp_path, log=lines.append)  # the first settings: nothing to train
    assert third.trained == [] and lines[-1] == "trained []"


def test_a_result_holds_the_wall_clock_time_of_its_run(tmp_path):
    class Slow(Count):
        def execute(self, run):
            time.sleep(0.2)
            return super().execute(run)

    assert 0.2 <= Slow().run(tmp_path).seconds < 30


def test_bad_settings_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(NalmError, match="parts must be positive; got 0"):
        Count(parts=0).run(tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_sequence_settings_check_names_the_flag():
    with pytest.raises(NalmError, match="--kinds takes product; got 'sum'"):
        settings_for("product", kinds=("sum",))
    assert settings_for("digits", quick=True).seeds == 1
