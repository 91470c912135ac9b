"""Each flag's default is written once, in the settings it fills: the parsers read it from there."""

import argparse
import dataclasses
import re
import subprocess
import sys

import pytest

from nalm import cli
from nalm.app.fit import FitSettings
from nalm.app.reproduce import IdentitySettings, Table1Settings
from nalm.app.reproduce.sequences import SequenceSettings
from nalm.app.training import TrainSettings
from nalm.bench.runner import Settings
from nalm.bench.suites import Suite
from nalm.cli.common import default, shown
from nalm.errors import NalmError
from nalm.fitting import find_law, fit_candidates


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _shown_default(action: argparse.Action) -> str | None:
    found = re.search(r"\(default ([^:;)]+)[;)]|^default (\S+)$", action.help or "")
    return next(g for g in found.groups() if g) if found else None


def test_train_flags_are_the_train_settings():
    actions = {a.dest: a for a in _subparser("train")._actions}
    for field in dataclasses.fields(TrainSettings):
        action = actions["option" if field.name == "options" else field.name]
        expected = default(TrainSettings, field.name)
        if field.name == "steps":  # unset means "the preset's own" with --preset
            assert action.default is None and _shown_default(action) == shown(expected)
        elif field.name == "options":
            assert action.default == expected == ()
        else:
            assert action.default == expected, field.name
    # nothing given: exactly the default settings
    args = cli.build_parser().parse_args(["train"])
    assert cli.train.settings(args) == TrainSettings()


def test_a_repeated_option_keeps_its_order_and_the_last_wins():
    args = cli.build_parser().parse_args(
        ["train", "--unit", "nau", "--option", "clamp=true", "--option", "clamp=false"]
    )
    settings = cli.train.settings(args)
    assert settings.options == (("clamp", True), ("clamp", False))
    assert cli.prepare_train(args).options == {"clamp": False}


# the run flags, and defaults that are not a settings field: bench run's retries are the
# runner's argument, fit's units and learning rate come from DEFAULT_UNITS and default_lr
_RUN = {"device", "seed", "first_seed", "out"}


@pytest.mark.parametrize(
    ("path", "settings", "not_fields"),
    [
        (("reproduce", "identity"), IdentitySettings, set()),
        (("reproduce", "table1"), Table1Settings, set()),
        (("reproduce", "digits"), SequenceSettings, {"kinds"}),  # "both"
        (("reproduce", "words"), SequenceSettings, set()),
        (("bench", "run"), Suite, {"retries", "checkpoint_seconds"}),  # the latter: Settings
        (("fit",), FitSettings, {"try_units", "lr", "steps", "seeds"}),  # below
    ],
)
def test_every_default_a_help_shows_is_the_settings_default(path, settings, not_fields):
    checked = 0
    for action in _subparser(*path)._actions:
        text = _shown_default(action)
        if text is None or action.dest in _RUN | not_fields:
            continue
        assert text == shown(default(settings, action.dest)), (path, action.dest)
        if action.default is not None and not isinstance(action.default, bool):
            assert action.default == default(settings, action.dest), (path, action.dest)
        checked += 1
    assert checked >= 2


def test_fit_shows_the_search_and_the_unit_defaults_and_leaves_them_to_the_settings():
    actions = {a.dest: a for a in _subparser("fit")._actions}
    for key in ("steps", "seeds"):
        assert actions[key].default is None
        help_text = actions[key].help or ""
        assert f"(default {shown(default(find_law, key))})" in help_text
        assert f"(default {shown(default(fit_candidates, key))})" in help_text
    assert f"default {shown(default(find_law, 'lr'))} in the search" in (actions["lr"].help or "")
    search, units = FitSettings("d.csv", "y"), FitSettings("d.csv", "y", units=("nau",))
    assert (search.steps, search.seeds, search.lr) == tuple(
        default(find_law, k) for k in ("steps", "seeds", "lr")
    )
    assert (units.steps, units.seeds, units.lr) == (
        default(fit_candidates, "steps"),
        default(fit_candidates, "seeds"),
        None,
    )
    assert default(FitSettings, "budget") == default(find_law, "budget")


def test_the_experiments_flags_leave_their_defaults_to_the_settings():
    for name in ("identity", "table1"):
        for action in _subparser("reproduce", name)._actions:
            if action.dest not in ("help", "device", "quick", "no_progress", "imports"):
                assert action.default is None, (name, action.dest)
    parsed = _subparser("bench", "run").parse_args(["madsen"])
    assert parsed.eval_size == Settings().eval_size
    assert parsed.checkpoint_seconds == Settings().checkpoint_seconds == 30.0


def test_default_and_shown():
    assert default(Table1Settings, "lr") == 1e-3 and shown(1e-3) == "1e-3"
    assert shown(3e-3) == "3e-3" and shown(1.5e-4) == "1.5e-4" and shown(0.25) == "0.25"
    assert default(fit_candidates, "tolerance") == 0.05
    with pytest.raises(NalmError, match="IdentitySettings has no field 'nope'"):
        default(IdentitySettings, "nope")
    with pytest.raises(NalmError, match="SequenceSettings has no field 'models' with a default"):
        default(SequenceSettings, "models")
    with pytest.raises(NalmError, match="fit_candidates has no keyword 'task'"):
        default(fit_candidates, "task")


def test_python_m_nalm_cli_is_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "nalm.cli", "units", "--markdown"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("|")
    assert "| nmu |" in done.stdout.replace("`", "")
