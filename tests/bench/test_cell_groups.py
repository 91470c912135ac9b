"""A suite that groups operations trains a model's cells of every operation as one batched
computation (Table 1's reproduction); other suites train each cell on its own."""

import dataclasses

import pytest

from nalm.bench import cells as cells_module
from nalm.bench.runner import Settings, run_sweep
from nalm.bench.store import Store
from nalm.bench.suites import MADSEN, TABLE1

TINY = Settings(steps=30, eval_every=30, eval_size=64)


@pytest.fixture
def calls(monkeypatch):
    seen = []
    real = cells_module.fit_seeds

    def spy(build, tasks, seeds, **kwargs):
        seen.append((kwargs["description"], list(seeds)))
        return real(build, tasks, seeds, **kwargs)

    monkeypatch.setattr(cells_module, "fit_seeds", spy)
    return seen


def _suite(suite, **changes):
    return dataclasses.replace(suite, input_size=8, random_inits=2, baseline_tasks=2, **changes)


def test_table1_trains_every_operation_of_a_model_at_once(tmp_path, calls):
    suite = _suite(TABLE1)
    ops = ["add", "mul", "div"]
    db = tmp_path / "r.sqlite"
    summary = run_sweep(suite, ["nau>nmu", "nac"], ops, suite.ranges, range(2), db, TINY,
                        progress=False, log=lambda _: None)  # fmt: skip
    # one computation per model, its seeds operation by operation (each from its init seed)
    assert [d for d, _ in calls] == ["nau>nmu (3 operations)", "nac>nac (3 operations)"]
    assert calls[0][1] == [suite.init_seed(op, s) for op in ops for s in range(2)]
    assert summary.written == 12
    with Store(db) as store:
        rows = store.rows()
    assert sorted({(r["model"], r["operation"]) for r in rows}) == sorted(
        (m, op) for m in ("nau>nmu", "nac>nac") for op in ops
    )
    assert all(r["scores"]["random_interpolation_mse"] is not None for r in rows)
    # resuming: nothing left to train, nothing trained
    calls.clear()
    again = run_sweep(suite, ["nau>nmu", "nac"], ops, suite.ranges, range(2), db, TINY,
                      progress=False, log=lambda _: None)  # fmt: skip
    assert calls == [] and again.written == 0


def test_other_suites_train_each_cell_on_its_own(tmp_path, calls):
    suite = dataclasses.replace(MADSEN, input_size=8)
    run_sweep(suite, ["nau>nmu"], ["add", "mul"], suite.ranges[:1], range(2), tmp_path / "r.sqlite",
              TINY, progress=False, log=lambda _: None)  # fmt: skip
    assert len(calls) == 2 and all(len(seeds) == 2 for _, seeds in calls)
