"""Units from outside nalm: the decorator, ``--import`` on every command, entry points, the Ray
backend's workers, and ``nalm.load`` refusing a unit it does not know."""

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import nalm
from nalm.bench.store import Store
from nalm.cli import build_parser, main
from nalm.cli.common import leaf_parsers
from nalm.errors import NalmError
from nalm.models import TORCH_CELLS
from nalm.units import NAU, imports, registry

# A linear unit with an option of its own: y = scale · x Wᵀ. Its name is filled in per test,
# since the registry is global and one test's unit must not meet another's.
UNIT_SOURCE = '''
import torch
from torch import nn

from nalm.units import Unit, register


@register("{name}")
class Scaled(Unit):
    """y = scale · x Wᵀ."""

    operations = "+, -"

    def __init__(self, in_features, out_features, *, scale=1.0, device=None, dtype=None):
        super().__init__(in_features, out_features)
        self.scale = scale
        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.W, -0.5, 0.5)

    def forward(self, x):
        return self.scale * (x @ self.W.t())
'''


def _forget(name: str, path: Path | None = None) -> None:
    registry._unregister(name)
    if path is not None:
        key = str(path.resolve())
        if key in imports._LOADED:
            imports._LOADED.remove(key)
        sys.modules.pop(imports.module_name(path), None)


@pytest.fixture
def unit_file(tmp_path, request):
    """A ``.py`` file defining a unit named after the test; forgotten afterwards."""
    name = "ext_" + request.node.name.replace("[", "_").replace("]", "").lower()[:40]
    path = tmp_path / "my_units.py"
    path.write_text(UNIT_SOURCE.format(name=name))
    yield SimpleNamespace(name=name, path=path)
    _forget(name, path)


# --- the decorator --------------------------------------------------------------------------


def test_register_works_as_a_decorator_and_as_a_call():
    @registry.register("ext_decorated")
    class Decorated(NAU):
        pass

    class Called(NAU):
        pass

    try:
        assert registry.get("ext_decorated") is Decorated
        assert registry.register("ext_called", Called) is Called
        assert registry.register("ext_called", Called) is Called  # the same again: nothing
        assert {"ext_decorated", "ext_called"} <= set(registry.names())
        unit = registry.create("ext_decorated", 3, 2)
        assert isinstance(unit, Decorated) and unit(torch.ones(4, 3)).shape == (4, 2)
    finally:
        _forget("ext_decorated")
        _forget("ext_called")


@pytest.mark.parametrize(
    "name,cls,message",
    [
        ("nau", NAU, None),  # the same class under its own name is fine
        ("nau", type("Other", (NAU,), {}), "unit name 'nau' is already registered to NAU"),
        ("My-Unit", NAU, "unit name 'My-Unit' is not lower-case letters, digits and '_'"),
        ("nau>nmu", NAU, "is not lower-case letters"),
        ("", NAU, "is not lower-case letters"),
        ("lstm", NAU, "unit name 'lstm' is taken by the model grammar's recurrent cell"),
        ("ext_plain", torch.nn.Linear, "cannot register <class 'torch.nn.modules.linear.Linear'>"),
        ("ext_plain", "nau", "a unit is a subclass of nalm.units.Unit"),
    ],
)
def test_register_refuses_bad_names_and_classes(name, cls, message):
    if message is None:
        assert registry.register(name, cls) is cls
        return
    with pytest.raises(NalmError, match=message):
        registry.register(name, cls)
    with pytest.raises(NalmError, match=message):  # the decorator refuses the same
        registry.register(name)(cls)
    assert "ext_plain" not in registry.names()


def test_reserved_names_are_the_grammars_torch_cells():
    assert set(TORCH_CELLS) == registry._RESERVED


# --- --import on the command line -------------------------------------------------------------


def test_every_command_and_subcommand_takes_import():
    leaves = leaf_parsers(build_parser())
    progs = {p.prog for p in leaves}
    assert {"nalm train", "nalm fit", "nalm units", "nalm demo"} <= progs
    assert {"nalm bench run", "nalm bench report", "nalm reproduce table1"} <= progs
    for leaf in leaves:
        assert "--import" in leaf._option_string_actions, leaf.prog
    args = build_parser().parse_args(["units", "--import", "a.py", "--import", "pkg.mod"])
    assert args.imports == ("a.py", "pkg.mod")
    assert getattr(build_parser().parse_args(["units"]), "imports", None) is None
    assert "nalm units check" in progs  # a nested subcommand, and its parent runs alone too
    given = ["units", "--import", "a.py", "check", "nau"]  # the subcommand keeps the parent's
    assert build_parser().parse_args(given).imports == ("a.py",)


def test_train_a_unit_from_a_file(unit_file, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            *("train", "--import", str(unit_file.path), "--unit", unit_file.name),
            *("--layers", "1", "--steps", "30", "--eval-size", "20"),
            *("--out", str(out), "--no-progress"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert unit_file.name in (out / "config.json").read_text()
    assert imports.loaded()[-1] == str(unit_file.path.resolve())
    assert registry.get(unit_file.name).__module__ == imports.module_name(unit_file.path)


def _bench(unit_file, db, *extra):
    return main(
        [
            *("bench", "run", "madsen", "--import", str(unit_file.path)),
            *("--models", unit_file.name, "--ops", "add", "--seeds", "2", "--steps", "50"),
            *("--eval-every", "25", "--eval-size", "50", "--db", str(db), "--no-progress"),
            *extra,
        ]
    )


def test_bench_run_a_unit_from_a_file_locally(unit_file, tmp_path, capsys):
    db = tmp_path / "local.sqlite"
    assert _bench(unit_file, db) == 0, capsys.readouterr().err
    rows = Store(db).rows()
    assert [r["seed"] for r in rows] == [0, 1]
    assert {r["model"] for r in rows} == {f"{unit_file.name}>{unit_file.name}"}
    assert all(r["interpolation_mse"] is not None for r in rows)


def test_bench_run_a_unit_from_a_file_on_ray(unit_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    # the workers must import this nalm (not another checkout), found by absolute path
    here = str(Path(nalm.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    db = tmp_path / "ray.sqlite"
    code = _bench(unit_file, db, "--backend", "ray", "--retries", "0")
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "1 cells stored, 0 failed" in output.out
    with Store(db) as store:
        assert store.failures() == []
        assert [r["seed"] for r in store.rows()] == [0, 1]
    local = tmp_path / "local.sqlite"
    assert _bench(unit_file, local) == 0
    for a, b in zip(Store(local).rows(), Store(db).rows(), strict=True):
        assert b["interpolation_mse"] == pytest.approx(a["interpolation_mse"], rel=1e-6)


def test_save_and_load_after_the_import(unit_file, tmp_path):
    imports.load([str(unit_file.path)])
    model = nalm.models.parse(f"nau>{unit_file.name}").build(3, 1, hidden=2, options={})
    model[1].scale = 2.5  # read back as the constructor's option
    path = nalm.save(model, tmp_path / "m.safetensors")
    again = nalm.load(path)
    x = torch.randn(7, 3)
    assert type(again[1]) is registry.get(unit_file.name) and again[1].scale == 2.5
    assert torch.equal(model(x), again(x))

    # a fresh process that has not imported the file refuses, naming the unit and the way in
    script = f"import nalm; nalm.load({str(path)!r})"
    env = {**os.environ, "PYTHONPATH": str(Path(nalm.__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        f"nalm.errors.NalmError: cannot load {path}: the model uses the unknown unit "
        f"{unit_file.name!r}, which is "
        "not registered in this process; make it available with --import MODULE_OR_FILE on the "
        "command line, by importing the module that defines it first in Python, or by "
        "installing its package"
    )
    # ... and with the import it loads (the file names a module, nothing in the model does)
    script = f"from nalm.units import imports; imports.load([{str(unit_file.path)!r}]); " + script
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert proc.returncode == 0


def test_loading_a_file_twice_imports_it_once(unit_file):
    first = imports.load([str(unit_file.path)])
    cls = registry.get(unit_file.name)
    assert imports.load([str(unit_file.path)]) == first
    assert registry.get(unit_file.name) is cls
    assert imports.loaded().count(str(unit_file.path.resolve())) == 1


def test_a_module_on_the_path(tmp_path, monkeypatch):
    (tmp_path / "ext_pkg_units.py").write_text(UNIT_SOURCE.format(name="ext_from_module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert main(["units", "--import", "ext_pkg_units"]) == 0
        assert registry.get("ext_from_module").__module__ == "ext_pkg_units"
        assert "ext_pkg_units" in imports.loaded()
    finally:
        _forget("ext_from_module")
        imports._LOADED.remove("ext_pkg_units")
        sys.modules.pop("ext_pkg_units", None)


@pytest.mark.parametrize(
    "source,message",
    [
        (None, r"cannot import '.*missing\.py': there is no such file"),
        ("raise RuntimeError('no GPU here')", r"importing '.*bad\.py' raised RuntimeError: no GPU"),
        ("def broken(:\n", r"importing '.*bad\.py' raised SyntaxError"),
        ("import no_such_dependency_xyz", "raised ModuleNotFoundError: No module named 'no_such"),
        ("import sys; sys.exit(3)", r"importing '.*bad\.py' raised SystemExit: 3"),
    ],
)
def test_files_that_cannot_be_loaded(tmp_path, capsys, source, message):
    path = tmp_path / ("missing.py" if source is None else "bad.py")
    if source is not None:
        path.write_text(source)
    with pytest.raises(NalmError, match=message):
        imports.load([str(path)])
    assert imports.module_name(path) not in sys.modules  # not half-loaded
    assert main(["units", "--import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nalm: error: ") and len(err.splitlines()) == 1


def test_a_directory_and_a_missing_module(tmp_path):
    (tmp_path / "units.py").mkdir()
    with pytest.raises(NalmError, match=r"'.*units\.py': it is a directory, not a Python file"):
        imports.load([str(tmp_path / "units.py")])
    with pytest.raises(NalmError, match=r"cannot import 'ext_nowhere\.sub': there is no such mod"):
        imports.load(["ext_nowhere.sub"])
    with pytest.raises(NalmError, match=r"--import needs a module name or a \.py file"):
        imports.load([" "])
    assert "ext_nowhere.sub" not in imports.loaded()


def test_ray_tasks_are_handed_what_was_imported(unit_file, monkeypatch):
    from nalm.bench import ray_backend

    imports.load([str(unit_file.path)])
    registry._unregister(unit_file.name)  # as on a fresh worker...
    sys.modules.pop(imports.module_name(unit_file.path))
    seen = []
    rows, lines = ray_backend._train_remote(
        lambda cell, device, progress: seen.append(registry.get(cell).__name__) or [],
        unit_file.name,
        "cpu",
        list(imports.loaded()),
    )
    assert rows == lines == [] and seen == ["Scaled"]  # ...the task loads the file first


# --- entry points ---------------------------------------------------------------------------


class _EntryPoint:
    def __init__(self, name, value, loads):
        self.name, self.value, self.loads = name, value, loads
        self.dist = SimpleNamespace(name="ext-dist")

    def load(self):
        return self.loads()


def _broken():
    raise ImportError("cannot import name 'Gone' from 'ext_pkg'")


@pytest.fixture
def fake_entry_points(monkeypatch):
    class FromEntryPoint(NAU):
        pass

    points = [
        _EntryPoint("ext_ep_unit", "ext_pkg:FromEntryPoint", lambda: FromEntryPoint),
        _EntryPoint("ext_ep_broken", "ext_pkg:Gone", _broken),
    ]
    asked = []

    def entry_points(*, group):
        asked.append(group)
        return points

    monkeypatch.setattr(registry, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "_broken", {})
    yield SimpleNamespace(cls=FromEntryPoint, asked=asked)
    _forget("ext_ep_unit")


def test_entry_points_are_loaded_once_lazily(fake_entry_points):
    assert fake_entry_points.asked == []  # nothing until the registry is asked
    with pytest.warns(UserWarning, match="entry point ext_ep_broken = ext_pkg:Gone of ext-dist"):
        listed = registry.names()
    assert "ext_ep_unit" in listed and "ext_ep_broken" not in listed
    assert registry.get("ext_ep_unit") is fake_entry_points.cls
    assert isinstance(registry.create("ext_ep_unit", 2, 1), fake_entry_points.cls)
    assert fake_entry_points.asked == ["nalm.units"]  # once
    with pytest.raises(NalmError, match=r"ext_pkg:Gone of ext-dist \(group nalm.units\) did not "):
        registry.get("ext_ep_broken")


def test_a_broken_entry_point_does_not_break_nalm_units(fake_entry_points, capsys):
    with pytest.warns(UserWarning, match="ImportError: cannot import name 'Gone'"):
        assert main(["units"]) == 0
    assert "ext_ep_unit" in capsys.readouterr().out


def test_an_entry_point_that_is_not_a_unit(monkeypatch):
    points = [_EntryPoint("ext_not_unit", "ext_pkg:Thing", lambda: argparse.Namespace)]
    monkeypatch.setattr(registry, "entry_points", lambda *, group: points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "_broken", {})
    with pytest.warns(UserWarning, match="a unit is a subclass of nalm.units.Unit"):
        registry.names()
    with pytest.raises(NalmError, match="entry point ext_not_unit = ext_pkg:Thing of ext-dist"):
        registry.get("ext_not_unit")


def test_ray_refuses_an_imported_file_that_is_gone(tmp_path):
    from nalm.bench.ray_backend import _check_reachable
    from nalm.errors import NalmError

    gone = str(tmp_path / "gone.py")
    with pytest.raises(NalmError, match=r"gone\.py was imported in this process but no longer"):
        _check_reachable(["some.module", gone])
    _check_reachable(["some.module"])  # modules are looked up on the worker's path
