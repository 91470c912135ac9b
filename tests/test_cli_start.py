"""The command starts without the heavy libraries: ``import nalm``, ``import nalm.cli`` and the
parsers of ``nalm --help`` and ``nalm train --help`` load neither torch, sympy nor matplotlib,
and ``nalm units`` loads torch but not sympy or matplotlib. Each case runs in a fresh
interpreter (this one has them all loaded already)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nalm
from nalm import cli

HEAVY = ("torch", "sympy", "matplotlib")


def _loaded_after(code: str) -> list[str]:
    """Which of :data:`HEAVY` a fresh interpreter has loaded after running ``code``."""
    report = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import nalm",
        "import nalm.cli",
        "from nalm.cli import build_parser; build_parser(only='').format_help()",
        "from nalm.cli import build_parser; build_parser(only='train').parse_args(['train'])",
    ],
)
def test_the_start_loads_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_help_runs_without_torch():
    code = (
        "import contextlib, io\nfrom nalm.cli import main\n"
        "for argv in (['--help'], ['train', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)"
    )
    assert _loaded_after(code) == []


def test_units_loads_torch_but_not_sympy_or_matplotlib():
    code = (
        "import contextlib, io\nfrom nalm.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['units']) == 0\n"
        "assert 'all-six' in out.getvalue()"
    )
    assert _loaded_after(code) == ["torch"]


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_a_command_parser_built_alone_is_the_one_built_with_all(name):
    alone = cli.build_parser(only=name)._subparsers._group_actions[0].choices[name]
    full = cli.build_parser()._subparsers._group_actions[0].choices[name]
    assert alone.format_help() == full.format_help()


def test_top_help_lists_every_command_with_its_summary():
    text = cli.build_parser(only="").format_help()
    for name in cli.COMMANDS:
        summary = cli.command(name).SUMMARY
        assert name in text and summary.split()[0] in text


def test_the_lazy_names_are_the_modules_names():
    from nalm import units
    from nalm.app import training

    assert nalm.NALU is units.NALU and nalm.fit is nalm.train.fit
    assert cli.prepare_train is cli.train.prepare_train and cli.TrainSetup is training.TrainSetup
    assert set(nalm.__all__) <= set(dir(nalm))
    with pytest.raises(AttributeError, match="no attribute 'nowhere'"):
        nalm.nowhere  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nowhere'"):
        cli.nowhere  # noqa: B018


@pytest.mark.parametrize("package", ["nalm", "nalm.tasks"])
def test_every_lazy_name_is_the_object_its_typing_import_names(package):
    """Each public name, loaded on first use, is the very object the package's TYPE_CHECKING
    block imports (what type checkers and the API reference read)."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n)
    )
    found = {}
    for node in block.body:
        for alias in node.names:
            home = f"{package}.{node.module}" if node.module else f"{package}.{alias.name}"
            found[alias.name] = (home, None if node.module is None else alias.name)
    assert sorted(found) == sorted(module.__all__)
    for name, (home, attribute) in found.items():
        expected = importlib.import_module(home)
        expected = expected if attribute is None else getattr(expected, attribute)
        assert getattr(module, name) is expected, name
