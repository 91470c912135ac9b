"""The recipe levers: the first unit's gradient preconditioned by its inputs' moment, and a
learning-rate decay. Their arithmetic, their agreement between the stacked engine and a seed
trained alone, and a resume that loses nothing."""

import pytest
import torch
from torch import nn

from nalm.errors import NalmError
from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import Policy
from nalm.train.precondition import InputPreconditioner, Precondition, first_weight
from nalm.train.schedule import Decay, Ramp
from nalm.units import NAU, NMU

POLICY = Policy(
    "lever-test",
    regularizer=Ramp(10.0, 150, 300),
    precondition=Precondition(damping=0.05, start=50, every=30, decay=0.9),
    lr_decay=Decay(start=100, end=350, factor=0.2),
)


def test_the_preconditioner_is_the_damped_inverse_of_the_running_moment():
    rule = Precondition(damping=0.1, start=2, every=1, decay=0.5)
    pre = InputPreconditioner(rule, "0.W")
    g = torch.randn(3, 2, 4, dtype=torch.float64)
    x1, x2 = torch.rand(8, 4, dtype=torch.float64) + 1, torch.rand(8, 4, dtype=torch.float64) + 1
    grads = {"0.W": g.clone()}
    pre.update(1, x1, grads)  # before the start: the moment only
    assert torch.equal(grads["0.W"], g)
    pre.update(2, x2, grads)
    moment = 0.5 * (x1.T @ x1 / 8) + 0.5 * (x2.T @ x2 / 8)
    s = moment.diagonal().mean()
    expected = g @ (s * torch.linalg.inv(moment + 0.1 * s * torch.eye(4, dtype=torch.float64)))
    torch.testing.assert_close(grads["0.W"], expected)
    # the all-inputs direction is damped, the contrasts amplified
    ones, contrast = torch.ones(4, dtype=torch.float64), torch.tensor([1.0, -1, 0, 0]).double()
    gain = [(pre.inverse @ v).norm() / v.norm() for v in (ones, contrast)]
    assert gain[0] < 1 < gain[1] and gain[1] > 10 * gain[0]


def test_the_decay_falls_geometrically_and_refuses_a_bad_span():
    decay = Decay(start=10, end=30, factor=0.01)
    assert [decay(t) for t in (0, 10, 20, 30, 99)] == [1.0, 1.0, 0.1, 0.01, 0.01]
    with pytest.raises(NalmError, match="must end after it starts"):
        Decay(start=5, end=5, factor=0.5)
    with pytest.raises(NalmError, match=r"factor must be in \(0, 1\]"):
        Decay(start=0, end=5, factor=2.0)


def test_a_model_whose_first_unit_does_not_read_the_inputs_is_refused():
    model = nn.Sequential(nn.Linear(4, 2), NMU(2, 1))
    with pytest.raises(NalmError, match="first unit has no W of 4 inputs"):
        first_weight(model, ["0.weight", "1.W"], 4)
    assert first_weight(nn.Sequential(NAU(4, 2), NMU(2, 1)), ["0.W", "1.W"], 4) == "0.W"


def train(seeds, inputs=12, **kwargs):
    tasks = [ArithmeticTask("mul", input_size=inputs, seed=s, eval_size=200) for s in seeds]
    result = fit_seeds(
        lambda: nn.Sequential(NAU(inputs, 2), NMU(2, 1)),
        tasks,
        seeds,
        steps=400,
        eval_every=50,
        lr=1e-2,
        policy=POLICY,
        shared_inputs=True,
        progress=False,
        **kwargs,
    )
    return {run.seed: run for run in result.runs}


@pytest.fixture(scope="module")
def together():
    return train([0, 1, 2])


def test_stacked_seeds_match_each_seed_trained_alone(together):
    for seed in (0, 2):
        alone = train([seed])[seed]
        for name, w in together[seed].weights.items():
            torch.testing.assert_close(alone.weights[name], w, rtol=1e-5, atol=1e-6)
        assert alone.history[-1]["extrapolation_mse"] == pytest.approx(
            together[seed].history[-1]["extrapolation_mse"], rel=1e-4
        )


def test_the_levers_change_the_training(together):
    tasks = [ArithmeticTask("mul", input_size=12, seed=0, eval_size=200)]
    plain = fit_seeds(
        lambda: nn.Sequential(NAU(12, 2), NMU(2, 1)),
        tasks,
        [0],
        steps=400,
        eval_every=50,
        lr=1e-2,
        policy=POLICY.replace(precondition=None, lr_decay=None),
        shared_inputs=True,
        progress=False,
    ).runs[0]
    assert not torch.allclose(plain.weights["0.W"], together[0].weights["0.W"], atol=1e-3)


@pytest.mark.parametrize(("seeds", "inputs"), [([0, 1, 2], 12), ([0], 10)])
def test_an_interrupted_run_resumes_to_the_same_end(tmp_path, seeds, inputs):
    checkpoint = tmp_path / "levers.safetensors"
    calls = {"n": 0}

    def stop_once(i, history):
        if history[-1]["step"] == 250 and i == 0 and calls["n"] == 0:
            calls["n"] = 1
            raise KeyboardInterrupt
        return False

    def run(**kwargs):
        return train(seeds, inputs, early_stop=stop_once, checkpoint_seconds=0, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        run(checkpoint=checkpoint)
    resumed = run(checkpoint=checkpoint)
    calls["n"] = 1
    whole = run()
    for seed, r in whole.items():
        for name, w in r.weights.items():
            assert torch.equal(resumed[seed].weights[name], w), (seed, name)


def test_seeds_with_inputs_of_their_own_are_refused():
    tasks = [ArithmeticTask("mul", input_size=12, seed=s, eval_size=50) for s in (0, 1)]
    with pytest.raises(NalmError, match="its seeds must share their inputs"):
        fit_seeds(lambda: nn.Sequential(NAU(12, 2), NMU(2, 1)), tasks, [0, 1], steps=5,
                  policy=POLICY, shared_inputs=False, progress=False)  # fmt: skip
