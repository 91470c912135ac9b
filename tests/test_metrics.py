import math

import pytest
import torch
from torch import nn

from nalm.metrics import judge, success_threshold, wilson_interval
from nalm.tasks import ArithmeticTask
from nalm.train.stack import Stack
from nalm.units import NAU, NMU


def _small_task(op, **kwargs):
    return ArithmeticTask(op, input_size=4, subset=0.5, overlap=0.0, eval_size=2, **kwargs)


def test_selection_threshold_equals_a_hand_computation():
    task = _small_task("mul")
    x = task.evaluation["extrapolation"][0].double()
    eps = 1e-5
    by_hand = []
    for row in x.tolist():
        a = (1 - eps) * (row[0] + row[1]) + eps * (row[2] + row[3])
        b = eps * (row[0] + row[1]) + (1 - eps) * (row[2] + row[3])
        exact = (row[0] + row[1]) * (row[2] + row[3])
        by_hand.append((a * b - exact) ** 2)
    assert success_threshold(task) == pytest.approx(sum(by_hand) / 2, rel=1e-9)


def test_module_threshold_for_addition_is_eps_times_the_input_magnitudes():
    task = ArithmeticTask(
        "add",
        input_size=2,
        subset=0.5,
        overlap=0,
        eval_size=3,
        epsilon_perfect="module",
        extrapolation_range="-6,-2|2,6",
    )
    x = task.evaluation["extrapolation"][0].double()
    by_hand = ((1e-5 * x.abs().sum(1)) ** 2).mean().item()
    assert success_threshold(task) == pytest.approx(by_hand, rel=1e-12)
    assert success_threshold(task) > 0


def _perfect_nau_nmu(task: ArithmeticTask) -> nn.Module:
    model = nn.Sequential(NAU(task.in_features, 2), NMU(2, 1))
    with torch.no_grad():
        model[0].W.copy_(task.selection.float())
        model[1].W.fill_(1.0)
    return model


def test_a_perfect_model_is_a_success_and_a_random_one_is_not():
    task = ArithmeticTask("mul", seed=5)
    threshold = success_threshold(task)
    assert 0.1 < threshold < 0.25  # the ε-perfect error of × on U[2, 6] with 100 inputs

    def mse(model, name):
        x, y = task.evaluation[name]
        with torch.no_grad():
            return torch.mean((model(x) - y) ** 2).item()

    perfect = _perfect_nau_nmu(task)
    torch.manual_seed(0)
    random = nn.Sequential(NAU(100, 2), NMU(2, 1))
    for model, expected in ((perfect, True), (random, False)):
        history = [
            {
                "step": s,
                "interpolation_mse": mse(model, "interpolation"),
                "extrapolation_mse": mse(model, "extrapolation"),
            }
            for s in (0, 1000)
        ]
        assert judge(history, threshold).success is expected
    assert mse(perfect, "extrapolation") < 1e-3 * threshold


@pytest.mark.parametrize(
    "successes,trials,low,high",
    [
        (98, 100, 0.9300, 0.9945),
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (25, 25, 0.8668, 1.0),
    ],
)
def test_wilson_interval_matches_known_values(successes, trials, low, high):
    lo, hi = wilson_interval(successes, trials)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="0 ≤ successes ≤ trials"):
        wilson_interval(11, 10)


def test_judge_picks_the_lowest_interpolation_step_and_the_first_solved_step():
    rows = [
        {"step": 0, "interpolation_mse": 9.0, "extrapolation_mse": 90.0, "sparsity_error": 0.5},
        {"step": 1000, "interpolation_mse": 1e-3, "extrapolation_mse": 5e-7, "sparsity_error": 0.1},
        {
            "step": 2000,
            "interpolation_mse": 1e-8,
            "extrapolation_mse": 2e-7,
            "sparsity_error": 1e-4,
        },
        {"step": 3000, "interpolation_mse": math.nan, "extrapolation_mse": math.nan},
    ]
    outcome = judge(rows, threshold=1e-6)
    assert (outcome.success, outcome.best_step, outcome.solved_at) == (True, 2000, 1000)
    assert outcome.sparsity_error == 1e-4
    # the lowest interpolation MSE decides, even when a later step extrapolates better
    rows[2]["extrapolation_mse"] = 1e-3
    assert judge(rows, threshold=1e-6).success is False
    # a diverged seed is never a success
    rows[2]["extrapolation_mse"] = 2e-7
    assert judge(rows, threshold=1e-6, diverged=True).success is False


def test_sparsity_error_is_the_worst_distance_to_minus_one_zero_one():
    def error(*weights):
        model = nn.Sequential(*(NAU(w.shape[1], w.shape[0]) for w in weights))
        with torch.no_grad():
            for unit, w in zip(model, weights, strict=True):
                unit.W.copy_(w)
        return Stack.of([model], torch.device("cpu")).call("sparsity_error").item()

    assert error(torch.tensor([[0.0, 1.0, -1.0]])) == 0.0
    assert error(torch.tensor([[0.3, 0.9]]), torch.tensor([[-0.98]])) == pytest.approx(0.3)


def test_solved_at_counts_only_the_try_that_was_judged():
    rows = [
        {"step": 1000, "interpolation_mse": 1e-3, "extrapolation_mse": 1e-9},  # try 1 dips below
        {"step": 2000, "interpolation_mse": 1e-2, "extrapolation_mse": 5.0},  # restarted at 2000
        {"step": 3000, "interpolation_mse": 1e-4, "extrapolation_mse": 1e-7},
        {"step": 4000, "interpolation_mse": 1e-9, "extrapolation_mse": 1e-8},  # best: try 2
    ]
    assert judge(rows, 1e-6).solved_at == 1000
    assert judge(rows, 1e-6, restarts=[2000]).solved_at == 3000  # the row at 2000 is try 2's
    assert judge(rows, 1e-6, restarts=[2000, 5000]).solved_at == 3000  # a later one: no matter
    last = {"step": 3000, "interpolation_mse": 1e-12, "extrapolation_mse": 1.0}
    failed = judge([*rows[:2], last], 1e-6, restarts=[2000])
    assert not failed.success and failed.solved_at is None
