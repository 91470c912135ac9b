"""Hostile inputs to the Python API, each refused in one sentence naming the bad value (and the
valid calls beside them still working)."""

from __future__ import annotations

import math

import pytest
import torch

import nalm
from nalm.errors import NalmError
from nalm.units import registry


@pytest.fixture
def task() -> nalm.ExpressionTask:
    return nalm.ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=16)


# 1. a unit's device and dtype
def test_unit_refuses_an_unknown_device() -> None:
    with pytest.raises(NalmError, match=r"NAU: device 'banana' is not supported"):
        nalm.NAU(2, 1, device="banana")


def test_unit_refuses_a_non_floating_dtype() -> None:
    with pytest.raises(NalmError, match=r"NAU: dtype must be a floating-point .*torch\.int64"):
        nalm.NAU(2, 1, dtype=torch.int64)


@pytest.mark.parametrize("name", ["nac", "nalu", "inalu", "nau", "nmu", "npu", "nmru", "mlp"])
def test_every_unit_refuses_a_bad_device_and_dtype(name: str) -> None:
    cls = registry.get(name)
    with pytest.raises(NalmError, match=r"device 'banana'"):
        cls(2, 1, device="banana")
    with pytest.raises(NalmError, match=r"got torch\.int32"):
        cls(2, 1, dtype=torch.int32)


def test_baselines_refuse_a_bad_device_and_dtype() -> None:
    with pytest.raises(NalmError, match=r"MLP: device 'banana'"):
        nalm.MLP(2, 1, device="banana")
    with pytest.raises(NalmError, match=r"Linear: dtype .*torch\.complex64"):
        nalm.Linear(2, 1, dtype=torch.complex64)


def test_valid_device_and_dtype_still_build() -> None:
    unit = nalm.NAU(2, 1, device="cpu", dtype=torch.float64)
    assert unit.W.dtype == torch.float64 and unit.W.device.type == "cpu"
    mlp = nalm.MLP(2, 1, device=torch.device("cpu"), dtype=torch.float64)
    assert {p.dtype for p in mlp.parameters()} == {torch.float64}
    assert nalm.NPU(2, 1, dtype=torch.float64).W_re.dtype == torch.float64


# 2. load's device
def test_load_refuses_an_unknown_device(tmp_path) -> None:
    path = nalm.save(nalm.NAU(2, 1), tmp_path / "m.safetensors")
    with pytest.raises(NalmError, match=r"device 'banana' is not supported"):
        nalm.load(path, device="banana")
    assert isinstance(nalm.load(path, device="cpu"), nalm.NAU)


# 3. evaluate checks the model against the task
def test_evaluate_refuses_a_model_of_other_sizes(task) -> None:
    with pytest.raises(NalmError, match=r"model takes 3 input\(s\) but the task has 2"):
        nalm.evaluate(nalm.NAU(3, 1), task)


def test_evaluate_still_measures_a_fitting_model(task) -> None:
    unit = nalm.NAU(2, 1)
    with torch.no_grad():
        unit.W.fill_(1.0)
    scores = nalm.evaluate(unit, task)
    assert set(scores) == {"interpolation_mse", "extrapolation_mse"}
    assert scores["extrapolation_mse"] < 1e-8


# 4. save's path
def test_save_refuses_a_directory(tmp_path) -> None:
    with pytest.raises(NalmError, match=rf"cannot save to '{tmp_path}': it is a directory"):
        nalm.save(nalm.NAU(2, 1), tmp_path)


def test_save_refuses_a_parent_that_is_not_a_folder() -> None:
    with pytest.raises(NalmError, match=r"cannot save to '/dev/null/m\.safetensors': '/dev/null'"):
        nalm.save(nalm.NAU(2, 1), "/dev/null/m.safetensors")


def test_save_refuses_a_missing_parent(tmp_path) -> None:
    path = tmp_path / "missing" / "m.safetensors"
    with pytest.raises(NalmError, match=r"does not exist") as caught:
        nalm.save(nalm.NAU(2, 1), path)
    assert str(path) in str(caught.value) and ".tmp" not in str(caught.value)


# 5. to_formula's tolerance
@pytest.mark.parametrize("tolerance", [math.nan, math.inf, -0.1])
def test_to_formula_refuses_a_bad_tolerance(tolerance: float) -> None:
    with pytest.raises(NalmError, match=rf"tolerance must be a finite number .*got {tolerance}"):
        nalm.to_formula(nalm.NAU(2, 1), tolerance=tolerance)


def test_to_formula_still_reads_with_a_valid_tolerance() -> None:
    unit = nalm.NAU(2, 1)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[0.99, 1.0]]))
    assert str(nalm.to_formula(unit, tolerance=0.05)) == "x0 + x1"


# 6. a task's dtype
def test_task_refuses_a_non_floating_dtype() -> None:
    with pytest.raises(NalmError, match=r"dtype must be a floating-point .*torch\.int32"):
        nalm.ExpressionTask("x0", "1,2", "2,6", dtype=torch.int32)
    with pytest.raises(NalmError, match=r"torch\.int64"):
        nalm.ArithmeticTask("add", input_size=4, subset=0.5, eval_size=4, dtype=torch.int64)


def test_task_still_takes_float64() -> None:
    task = nalm.ExpressionTask("x0", "1,2", "2,6", eval_size=4, dtype=torch.float64)
    assert task.evaluation["extrapolation"][0].dtype == torch.float64


# 7. an expression's input names
def test_expression_refuses_a_name_given_twice() -> None:
    with pytest.raises(NalmError, match=r"input name 'x0' is given twice"):
        nalm.Expression("x0", names=["x0", "x0"])


def test_expression_refuses_a_name_that_is_not_an_identifier() -> None:
    with pytest.raises(NalmError, match=r"input name '1bad' cannot be used in a formula"):
        nalm.Expression("a", names=["a", "1bad"])
    with pytest.raises(NalmError, match=r"input name 'lambda'"):
        nalm.Expression("a", names=["a", "lambda"])


def test_expression_still_takes_distinct_names() -> None:
    f = nalm.Expression("V / R", names=["V", "R"])
    assert f(torch.tensor([[6.0, 2.0]])).tolist() == [3.0]


# 8. a stray key in fit's lr
def test_fit_names_a_stray_learning_rate_key_first(task) -> None:
    with pytest.raises(
        NalmError, match=r"lr has a learning rate for 'zz', not a model given to fit \('model'\)"
    ):
        nalm.fit(nalm.NAU(2, 1), task, lr={"zz": 0.1}, steps=1, progress=False)
