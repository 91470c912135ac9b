"""The Ray backend against a real local Ray (installed by `make test` through the `ray` extra)."""

import os
import sys
from dataclasses import asdict, dataclass

import pytest

from nalm.bench.report import write_report
from nalm.bench.runner import Settings, run_sweep
from nalm.bench.store import Store
from nalm.bench.suites import SINGLE_MODULE, Suite
from nalm.errors import NalmError
from nalm.units import NAU, registry

ray = pytest.importorskip("ray")

SETTINGS = Settings(steps=300, eval_every=100, eval_size=100)
RANGES = SINGLE_MODULE.parse_ranges("6")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _sweep(db, backend, models=("nau", "nmu"), ops=("add", "mul"), log=None, **kwargs):
    lines = []
    written = run_sweep(
        SINGLE_MODULE,
        list(models),
        list(ops),
        RANGES,
        range(3),
        db,
        SETTINGS,
        progress=False,
        log=log or lines.append,
        backend=backend,
        **kwargs,
    ).written
    return written, lines


def _comparable(rows):
    drop = {"seconds"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_ray_gives_the_same_rows_as_the_local_backend(tmp_path, local_ray):
    local, _ = _sweep(tmp_path / "local.sqlite", "local")
    remote, lines = _sweep(tmp_path / "ray.sqlite", "ray")
    assert local == remote == 12
    assert "ray: 4 cells submitted" in lines[0]
    a = _comparable(Store(tmp_path / "local.sqlite").rows())
    b = _comparable(Store(tmp_path / "ray.sqlite").rows())
    assert len(a) == len(b) == 12
    for x, y in zip(a, b, strict=True):
        assert {k: x[k] for k in ("model", "operation", "seed", "success")} == {
            k: y[k] for k in ("model", "operation", "seed", "success")
        }
        for key in ("interpolation_mse", "extrapolation_mse", "threshold"):
            assert y[key] == pytest.approx(x[key], rel=1e-6, abs=1e-12)
        for hx, hy in zip(x["history"], y["history"], strict=True):
            for u, v in zip(hx, hy, strict=True):  # step, then MSEs (None where NaN)
                assert v == u if u is None else v == pytest.approx(u, rel=1e-6, abs=1e-12)


class _Boom(NAU):
    """Registered in this (driver) process only: a Ray worker cannot build it and raises."""


def test_a_failing_cell_is_retried_then_recorded_and_the_others_finish(tmp_path, local_ray):
    registry.register("boom_only_in_driver", _Boom)
    try:
        written, lines = _sweep(
            tmp_path / "r.sqlite", "ray", models=("nau", "boom_only_in_driver"), retries=1
        )
    finally:
        registry._REGISTRY.pop("boom_only_in_driver")
    assert written == 6  # nau's two cells
    with Store(tmp_path / "r.sqlite") as store:
        assert {r["model"] for r in store.rows()} == {"nau"}
        failures = store.failures()
    assert len(failures) == 2
    assert {f["operation"] for f in failures} == {"add", "mul"}
    assert all(f["attempts"] == 2 and f["seeds"] == [0, 1, 2] for f in failures)
    assert all("unknown unit 'boom_only_in_driver'" in f["error"] for f in failures)
    assert any("failed after 2 attempts" in line for line in lines)
    assert "2 cells stored, 2 failed" in lines[-1]
    with Store(tmp_path / "r.sqlite") as store:
        paths = write_report(store.rows(), tmp_path / "report", store.failures())
    text = paths["markdown"].read_text()
    assert "## Failed cells" in text and "boom_only_in_driver add" in text


@dataclass(frozen=True)
class _FlakySuite(Suite):
    """The single-module suite, except that a cell's first attempt fails (a marker file
    remembers it across Ray's worker processes)."""

    marker: str = ""

    def task(self, *args, **kwargs):
        if not os.path.exists(self.marker):
            with open(self.marker, "w"):
                pass
            raise RuntimeError("flaky: the first attempt fails")
        return super().task(*args, **kwargs)


@pytest.mark.parametrize("retries", [1, 0])
def test_a_task_is_really_retried(tmp_path, local_ray, retries):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    suite = _FlakySuite(**asdict(SINGLE_MODULE), marker=str(tmp_path / "first-attempt"))
    lines = []
    written = run_sweep(
        suite,
        ["nau"],
        ["add"],
        RANGES,
        range(2),
        tmp_path / "f.sqlite",
        SETTINGS,
        progress=False,
        log=lines.append,
        backend="ray",
        retries=retries,
    ).written
    assert (tmp_path / "first-attempt").exists()
    with Store(tmp_path / "f.sqlite") as store:
        failures = store.failures()
    if retries:  # the second attempt succeeds
        assert written == 2 and failures == []
    else:
        assert written == 0 and len(failures) == 1
        assert "RuntimeError: flaky: the first attempt fails" in failures[0]["error"]


def test_resuming_submits_only_the_missing_cells(tmp_path, local_ray):
    db = tmp_path / "resume.sqlite"
    first, _ = _sweep(db, "ray", ops=("add",))
    assert first == 6
    again, lines = _sweep(db, "ray", ops=("add", "mul"))
    assert again == 6
    assert sum("seeds done, skipped" in line for line in lines) == 2
    assert any("ray: 2 cells submitted" in line for line in lines)
    nothing, lines = _sweep(db, "ray", ops=("add", "mul"))
    assert nothing == 0 and not any("submitted" in line for line in lines)
    assert Store(db).count() == 12


def test_without_ray_the_backend_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(NalmError, match=r"pip install 'nalm\[ray\]'"):
        _sweep(tmp_path / "x.sqlite", "ray")


def test_bad_backend_and_retries(tmp_path):
    with pytest.raises(NalmError, match="unknown backend 'spark'"):
        _sweep(tmp_path / "x.sqlite", "spark")
    with pytest.raises(NalmError, match="retries must be a whole number"):
        _sweep(tmp_path / "x.sqlite", "ray", retries=-1)


def test_cli_ray_backend_end_to_end(tmp_path):
    import subprocess

    db = tmp_path / "cli.sqlite"
    args = [
        "single-module",
        "--models",
        "nau",
        "--ops",
        "add",
        "--ranges",
        "6",
        "--seeds",
        "2",
        "--steps",
        "50",
        "--eval-every",
        "25",
        "--eval-size",
        "50",
        "--db",
        str(db),
        "--no-progress",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "nalm", "bench", "run", *args, "--backend", "ray"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ray: 1 cells submitted" in proc.stdout and "2 rows written" in proc.stdout
    assert Store(db).count() == 2
    proc = subprocess.run(
        [sys.executable, "-m", "nalm", "bench", "run", *args, "--address", "auto"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "nalm: error: --address is for the Ray backend; use it with --backend ray"
    )
