import math

import pytest
import torch
from torch import nn

from nalm import MLP, NAC, ExpressionTask, NACMul, NalmError, Ramp, fit
from nalm.units import Unit


def train(unit_cls, target, seed, steps, lr):
    torch.manual_seed(seed)
    task = ExpressionTask(target, "1,2", "2,6", eval_seed=seed)
    return fit(
        unit_cls(2, 1), task, steps=steps, lr=lr, seed=seed, progress=False, eval_every=steps
    )


@pytest.mark.slow
@pytest.mark.parametrize("target", ["x0 + x1", "x0 - x1"])
@pytest.mark.parametrize("seed", range(5))
def test_nac_learns_addition_and_subtraction_and_extrapolates(target, seed):
    result = train(NAC, target, seed, steps=10_000, lr=0.1)
    assert result.final["extrapolation_mse"] < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_nac_mul_learns_multiplication_and_extrapolates(seed):
    result = train(NACMul, "x0 * x1", seed, steps=3000, lr=1.0)
    assert result.final["extrapolation_mse"] < 1e-4


def test_an_mlp_does_not_extrapolate_addition():
    # The contrast the library exists for: the MLP fits the training range and fails outside.
    torch.manual_seed(0)
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=2000)
    result = fit(MLP(2, 1), task, steps=2000, lr=1e-2, progress=False)
    assert result.final["interpolation_mse"] < 1e-2
    assert result.final["extrapolation_mse"] > 100 * result.final["interpolation_mse"]


def test_same_seed_same_run_and_different_seed_different_run():
    def run(seed):
        torch.manual_seed(seed)
        task = ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=100, eval_seed=seed)
        return fit(NACMul(2, 1), task, steps=50, lr=0.05, seed=seed, progress=False, eval_every=10)

    a, b, c = run(3), run(3), run(4)
    assert a.train_loss == b.train_loss and a.history == b.history
    assert a.train_loss != c.train_loss


def test_history_rows_and_side_by_side_models():
    torch.manual_seed(0)
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=100)
    results = fit(
        {"nac": NAC(2, 1), "mlp": MLP(2, 1, hidden=(4,))},
        task,
        steps=25,
        lr={"nac": 0.1, "mlp": 1e-3},
        eval_every=10,
        progress=False,
    )
    for r in results.values():
        assert [row["step"] for row in r.history] == [0, 10, 20, 25]
        assert set(r.history[0]) == {
            "step",
            "train_loss",
            "interpolation_mse",
            "extrapolation_mse",
            "sparsity_error",
        }
        assert len(r.train_loss) == 25 and r.steps == 25 and not r.diverged
    # the two models saw the same batches but learned at their own rates
    assert results["nac"].train_loss != results["mlp"].train_loss


class _Blows(Unit):
    """Returns NaN from step ``at`` on: a stand-in for a seed that diverges."""

    def __init__(self, at: int) -> None:
        super().__init__(2, 1)
        self.w = nn.Parameter(torch.zeros(1, 2))
        self.at, self.calls = at, 0

    def forward(self, x):
        self.calls += self.training
        y = x @ self.w.T
        return y * math.nan if self.training and self.calls >= self.at else y


def test_a_diverging_model_stops_and_the_others_go_on():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=50)
    results = fit(
        {"bad": _Blows(at=7), "good": NAC(2, 1)},
        task,
        steps=30,
        lr=0.1,
        eval_every=10,
        progress=False,
    )
    assert results["bad"].diverged_at == 7 and results["bad"].steps == 6
    assert results["good"].steps == 30 and not results["good"].diverged


class _Clamped(Unit):
    """Counts its regulariser calls and clamps after each step."""

    def __init__(self) -> None:
        super().__init__(2, 1)
        self.W = nn.Parameter(torch.full((1, 2), 0.5))
        self.lambdas: list[float] = []

    def forward(self, x):
        return x @ self.W.T

    def regularization(self):
        return self.W.abs().sum()

    def after_step(self):
        with torch.no_grad():
            self.W.clamp_(-0.6, 0.6)


def test_regulariser_schedule_and_projection_are_applied():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    unit = _Clamped()
    fit(unit, task, steps=200, lr=0.1, regularizer=Ramp(1.0, start=0, end=100), progress=False)
    # the MSE pulls W towards 1, the clamp holds it at 0.6
    assert torch.allclose(unit.W, torch.full((1, 2), 0.6))


def test_bad_arguments():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=10)
    with pytest.raises(NalmError, match="steps must be at least 1"):
        fit(NAC(2, 1), task, steps=0)
    with pytest.raises(NalmError, match="lr must be a finite number above 0"):
        fit(NAC(2, 1), task, lr=-1.0)
    with pytest.raises(NalmError, match="unknown optimizer 'adamm'"):
        fit(NAC(2, 1), task, optimizer="adamm")
