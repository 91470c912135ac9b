import math

import pytest
import torch
from torch import nn

from nalm.tasks import ArithmeticTask, DatasetTask
from nalm.train import Policy, fit_seeds
from nalm.units import INALU, NAU, NMU


def nau_nmu() -> nn.Module:
    return nn.Sequential(NAU(100, 2), NMU(2, 1))


@pytest.mark.parametrize("shared", [True, False])
def test_a_seed_ends_the_same_alone_and_inside_a_cohort_of_16(shared):
    def train(seeds):
        tasks = [ArithmeticTask("mul", seed=s, eval_size=500) for s in seeds]
        return fit_seeds(
            nau_nmu,
            tasks,
            seeds,
            steps=300,
            eval_every=100,
            lr=1e-2,
            shared_inputs=shared,
            progress=False,
        )[3]

    alone, inside = train([3]), train(list(range(16)))
    for name, w in alone.weights.items():
        torch.testing.assert_close(inside.weights[name], w, rtol=1e-5, atol=1e-6)
    assert alone.weights["0.W"].abs().sum() > 0
    for a, b in zip(alone.history, inside.history, strict=True):
        assert b["extrapolation_mse"] == pytest.approx(a["extrapolation_mse"], rel=1e-4)


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_one_seed_matches_torch_adam_on_the_same_batches(lam):
    """S = 1 with per-seed inputs reproduces a plain loop with torch.optim.Adam (with and
    without the unit's regulariser)."""
    task = ArithmeticTask("add", input_size=2, subset=0.5, overlap=0, eval_size=10)
    result = fit_seeds(
        lambda: NAU(2, 1),
        [task],
        [7],
        steps=50,
        lr=0.05,
        progress=False,
        policy=None,
        regularizer=lam,
    )
    torch.manual_seed(7)
    model = NAU(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(7)  # seed 7's own stream, as fit(seed=7) draws
    for _ in range(50):
        x = task.inputs(128, generator)
        loss = torch.mean((model(x) - task.targets(x)) ** 2) + lam * model.regularization()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.after_step()
    torch.testing.assert_close(result[7].weights["W"], model.W.detach(), rtol=1e-5, atol=1e-7)


def test_a_diverging_seed_is_marked_and_the_others_are_untouched():
    x = torch.rand(64, 2)
    poisoned = DatasetTask(
        (x, torch.full((64,), math.inf)),
        {"interpolation": (x, x.sum(1)), "extrapolation": (x, x.sum(1))},
    )
    # generic tasks (no shared inputs): every seed samples from its own task
    tasks = [
        DatasetTask((x, x.sum(1)), dict(poisoned.evaluation)),
        poisoned,
        DatasetTask((x, x.sum(1)), dict(poisoned.evaluation)),
    ]
    result = fit_seeds(
        lambda: NAU(2, 1), tasks, [0, 1, 2], steps=200, lr=0.05, progress=False, eval_every=50
    )
    assert result[1].diverged_at == 1 and result.diverged == 1
    alone = fit_seeds(
        lambda: NAU(2, 1), [tasks[0]], [0], steps=200, lr=0.05, progress=False, eval_every=50
    )
    torch.testing.assert_close(result[0].weights["W"], alone[0].weights["W"], rtol=1e-5, atol=1e-7)
    assert result[0].history[-1]["interpolation_mse"] < 1e-4
    assert result[2].steps == 200 and result[1].steps == 0


def test_early_stop_freezes_a_seed_and_training_ends_when_all_stopped():
    tasks = [
        ArithmeticTask("add", input_size=2, subset=0.5, overlap=0, eval_size=10) for _ in range(3)
    ]
    result = fit_seeds(
        lambda: NAU(2, 1),
        tasks,
        [0, 1, 2],
        steps=5000,
        lr=0.05,
        eval_every=100,
        early_stop=lambda i, history: history[-1]["interpolation_mse"] < 1e-3,
        progress=False,
    )
    stops = [run.stopped_at for run in result.runs]
    assert all(s is not None and s < 5000 for s in stops)
    for run in result.runs:
        assert run.steps == run.stopped_at and run.history[-1]["step"] == run.stopped_at
        assert run.history[-1]["interpolation_mse"] < 1e-3


def test_alternating_policy_rests_the_gates_and_clipping_bounds_the_step():
    tasks = [
        ArithmeticTask("mul", input_size=2, subset=0.5, overlap=0, eval_size=10) for _ in range(2)
    ]
    rule = Policy("test", alternate=(2, 1), clip_value=1e-12)

    def train(steps):
        return fit_seeds(
            lambda: INALU(2, 1), tasks, [0, 1], steps=steps, lr=0.1, policy=rule, progress=False
        )[0].weights

    torch.manual_seed(0)
    start = {k: v.detach() for k, v in INALU(2, 1).named_parameters()}
    two, three = train(2), train(3)
    # steps 1-2 update the weights only: the gate rests; clipping to 1e-12 leaves Adam a step
    # of about lr * g / eps = 1e-5 per step
    torch.testing.assert_close(two["G"], start["G"])
    moved = (two["W_hat"] - start["W_hat"]).abs().max().item()
    assert 1e-6 < moved < 1e-4
    # step 3 updates the gate only
    assert (three["G"] - two["G"]).abs().max() > 0
    torch.testing.assert_close(three["W_hat"], two["W_hat"])


def test_sparsity_error_and_history_rows():
    tasks = [ArithmeticTask("add", seed=s, eval_size=100) for s in range(2)]
    result = fit_seeds(
        lambda: nn.Sequential(NAU(100, 2), NAU(2, 1)),
        tasks,
        [0, 1],
        steps=20,
        eval_every=10,
        progress=False,
        shared_inputs=True,
    )
    rows = result[0].history
    assert [r["step"] for r in rows] == [0, 10, 20]
    assert set(rows[0]) >= {
        "train_loss",
        "interpolation_mse",
        "extrapolation_mse",
        "sparsity_error",
    }
    assert math.isnan(rows[0]["train_loss"]) and rows[1]["train_loss"] > 0
    assert 0 < rows[0]["sparsity_error"] <= 0.5


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [0, 0]}, "distinct"),
        ({"seeds": [0, 1, 2]}, "one task per seed"),
        ({"steps": 0}, "steps must be at least 1"),
        ({"lr": -1.0}, "lr must be a finite number above 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"seeds": [0, 1], "steps": 5, "lr": 1e-3} | kwargs
    tasks = [ArithmeticTask("add", eval_size=10) for _ in range(2)]
    with pytest.raises(ValueError, match=message):
        fit_seeds(nau_nmu, tasks, args.pop("seeds"), progress=False, **args)


def test_stall_rule_restarts_only_the_stalled_seed():
    from nalm.train.policies import Stall
    from nalm.train.records import RestartTracker as _Stall

    tracker = _Stall(Policy("t", reinit=Stall(chunk=2, half=2, threshold=1.0)), 2)
    active = torch.tensor([True, True])
    fired = []
    for step in range(1, 13):
        # seed 0 is flat at 5 (a stall), seed 1 falls steadily
        losses = torch.tensor([5.0, 10.0 / step])
        fired += [(step, i) for i in tracker.update(step, losses, active)]
    assert fired == [(8, 0)]  # 4 chunks of 2 steps seen, then every 4 chunks since the restart


def test_alternating_updates_match_torch_adam_per_parameter():
    """A resting parameter does not age: its Adam step count is its own, as in torch.optim.Adam."""
    task = ArithmeticTask("mul", input_size=2, subset=0.5, overlap=0, eval_size=10)
    rule = Policy("alternate", alternate=(3, 2))
    result = fit_seeds(
        lambda: INALU(2, 1), [task], [4], steps=20, lr=1e-2, policy=rule, progress=False
    )
    torch.manual_seed(4)
    model = INALU(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(4)  # seed 4's own stream
    for step in range(1, 21):
        x = task.inputs(128, generator)
        loss = torch.mean((model(x) - task.targets(x)) ** 2)
        optimizer.zero_grad()
        loss.backward()
        gates_only = rule.updates_gates_only(step)  # 3 weight steps, then 2 gate steps
        for name, p in model.named_parameters():
            if (name == "G") != gates_only:
                p.grad = None
        optimizer.step()
    for name, p in model.named_parameters():
        torch.testing.assert_close(result[4].weights[name], p.detach(), rtol=1e-5, atol=1e-6)


class _Scaled(nn.Module):
    """A module with a per-seed buffer drawn at construction."""

    def __init__(self):
        super().__init__()
        self.unit = NAU(2, 1)
        self.register_buffer("scale", torch.rand(1) + 0.5)

    def forward(self, x):
        return self.unit(x) * self.scale


def test_buffers_are_split_per_seed():
    tasks = [
        ArithmeticTask("add", input_size=2, subset=0.5, overlap=0, eval_size=10) for _ in range(3)
    ]
    cohort = fit_seeds(_Scaled, tasks, [0, 1, 2], steps=30, lr=0.05, progress=False)
    alone = fit_seeds(_Scaled, tasks[:1], [2], steps=30, lr=0.05, progress=False)
    torch.testing.assert_close(cohort[2].weights["unit.W"], alone[2].weights["unit.W"])
    # the buffers come back with the weights, so predictions can be rebuilt from them
    torch.testing.assert_close(cohort[2].weights["scale"], alone[2].weights["scale"])
    assert not torch.equal(cohort[0].weights["scale"], cohort[2].weights["scale"])


def test_one_task_object_for_every_seed_trains_as_equal_separate_tasks():
    from nalm.tasks import ExpressionTask

    def make():
        return nn.Linear(2, 1)

    one = ExpressionTask("x0 * 0.5 - x1", "-1,1", "2,3", eval_size=20)
    same = fit_seeds(make, [one] * 3, [0, 1, 2], steps=40, lr=0.01, progress=False)
    copies = [ExpressionTask("x0 * 0.5 - x1", "-1,1", "2,3", eval_size=20) for _ in range(3)]
    separate = fit_seeds(make, copies, [0, 1, 2], steps=40, lr=0.01, progress=False)
    for a, b in zip(same.runs, separate.runs, strict=True):
        for name, w in a.weights.items():
            torch.testing.assert_close(w, b.weights[name], rtol=1e-6, atol=1e-7)
