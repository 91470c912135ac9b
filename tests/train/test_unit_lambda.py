"""λ per unit (``Policy.unit_lambda``): each unit's regulariser weighted by its own factor, the
same on the stacked path, through vmap and for a seed alone, refused where the model has another
number of units, and kept out of the keys of policies that do not set it."""

import json

import pytest
import torch
from torch import nn

from nalm.bench.rows import policy_fields, policy_from_fields
from nalm.bench.sweep import Sweep
from nalm.errors import NalmError
from nalm.tasks import ArithmeticTask
from nalm.train import fit_seeds
from nalm.train.policies import POLICIES, Policy
from nalm.train.schedule import Ramp
from nalm.units import NAU, NMU

RAMP = Ramp(5.0, 20, 120)


class QuietNMU(NMU):
    """An NMU without a regulariser (and, as a subclass, trained through vmap)."""

    def regularization(self) -> torch.Tensor:
        return self.W.sum() * 0


def train(seeds, second=NMU, regularizer=RAMP, **policy):
    tasks = [ArithmeticTask("mul", input_size=6, seed=s, eval_size=100) for s in seeds]
    result = fit_seeds(
        lambda: nn.Sequential(NAU(6, 2), second(2, 1)),
        tasks,
        seeds,
        steps=200,
        eval_every=50,
        lr=1e-2,
        policy=Policy("unit-lambda-test", regularizer=regularizer, **policy),
        shared_inputs=True,
        progress=False,
    )
    return {run.seed: run.weights for run in result.runs}


def assert_same(a, b, **tolerance):
    assert a.keys() == b.keys()
    for seed in a:
        for name in a[seed]:
            torch.testing.assert_close(a[seed][name], b[seed][name], **tolerance)


@pytest.fixture(scope="module")
def first_only():
    return train([0, 1, 2], unit_lambda=(1.0, 0.0))


def test_a_zero_factor_removes_that_units_regulariser(first_only):
    # stacked NAU→NMU with the NMU's factor 0 = vmap over NAU→(an NMU with no regulariser)
    assert_same(first_only, train([0, 1, 2], second=QuietNMU), rtol=1e-5, atol=1e-6)
    everything = train([0, 1, 2])
    gap = max((first_only[s]["1.W"] - everything[s]["1.W"]).abs().max().item() for s in range(3))
    assert gap > 1e-3  # the NMU's own regulariser moved its weights


def test_vmap_and_a_seed_alone_weight_the_units_alike(first_only, monkeypatch):
    assert_same({1: first_only[1]}, train([1], unit_lambda=(1.0, 0.0)), rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(NMU, "stackable", False)  # the same model through vmap
    assert_same(first_only, train([0, 1, 2], unit_lambda=(1.0, 0.0)), rtol=1e-5, atol=1e-6)


def test_a_factor_scales_its_units_regulariser():
    doubled = train([0], unit_lambda=(2.0, 2.0))
    assert_same(doubled, train([0], regularizer=Ramp(10.0, 20, 120)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factors", [(), (1.0, -1.0), (float("inf"),), ("1",), (True,), 1.0])
def test_bad_factors_are_refused_in_one_sentence(factors):
    with pytest.raises(NalmError, match="unit_lambda must be one finite factor ≥ 0 per unit"):
        Policy("bad", unit_lambda=factors)


def test_factors_for_another_number_of_units_are_refused(tmp_path, monkeypatch):
    with pytest.raises(NalmError, match=r"weights the regularisers of 3 units .*the model has 2"):
        train([0], unit_lambda=(1.0, 0.0, 1.0))
    monkeypatch.setitem(POLICIES, "three", Policy("three", regularizer=RAMP, unit_lambda=(1, 1, 1)))
    db = tmp_path / "never.sqlite"
    sweep = Sweep("madsen", models=["nau>nmu"], ops=["mul"], seeds=1, steps=20, policy="three",
                  no_progress=True, db=str(db))  # fmt: skip
    with pytest.raises(NalmError, match=r"^nau>nmu: policy 'three' weights the regularisers of 3"):
        sweep.run(log=lambda line: None)
    assert not db.exists()


def test_the_factors_round_trip_and_stay_out_of_other_policies_keys():
    policy = Policy("p", regularizer=RAMP, unit_lambda=(1.0, 0.0))
    stored = json.loads(json.dumps(policy_fields(policy)))
    assert stored["unit_lambda"] == [1.0, 0.0]
    assert policy_from_fields(stored) == policy
    assert "unit_lambda" not in policy_fields(Policy("p", regularizer=RAMP))
    # whole numbers are stored as floats, so (1, 0) and (1.0, 0.0) are one setting
    assert Policy("p", regularizer=RAMP, unit_lambda=[1, 0]) == policy
    assert "λ per unit × 1, 0" in policy.describe()
