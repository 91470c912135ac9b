"""nalm's Deadline restart rule: who restarts when, and the schedules replayed per seed."""

import pytest
import torch

from nalm.bench.rows import policy_fields, policy_from_fields
from nalm.errors import NalmError
from nalm.tasks import ArithmeticTask
from nalm.train import Deadline, Policy, Stall, fit_seeds, get_policy
from nalm.train.optimizers import StackedAdam
from nalm.train.records import RestartTracker
from nalm.train.schedule import Decay, Ramp
from nalm.train.stack import Stack
from nalm.units import NAU


def _feed(tracker, losses, steps):
    fired = []
    for step in range(1, steps + 1):
        fired += [(step, i) for i in tracker.update(step, torch.tensor(losses), torch.ones(2) > 0)]
    return fired


def test_deadline_restarts_only_seeds_above_its_threshold_at_each_seeds_own_age():
    tracker = RestartTracker(Policy("t", reinit=Deadline(age=4, threshold=1.0, chunk=2)), 2)
    # seed 0 stays at 5 (restarted at ages 4, then again 4 steps after each restart); seed 1 at
    # 0.5 is below the threshold and keeps training
    assert _feed(tracker, [5.0, 0.5], 13) == [(4, 0), (8, 0), (12, 0)]
    assert tracker.started == [12, 0]


def test_a_replaying_rule_gives_each_seed_its_schedule_from_its_own_restart():
    ramp, like = Ramp(1.0, 0, 10), torch.zeros(2)
    replay = RestartTracker(Policy("t", reinit=Deadline(age=4, threshold=1.0, chunk=2)), 2)
    assert replay.scheduled(ramp, 4, like, 0.0) == 0.4  # no restart yet: one global value
    _feed(replay, [5.0, 0.5], 4)  # seed 0 restarts at step 4
    torch.testing.assert_close(replay.scheduled(ramp, 7, like, 0.0), torch.tensor([0.3, 0.7]))
    assert replay.scheduled(None, 7, like, 1.0) == 1.0
    stall = RestartTracker(Policy("t", reinit=Stall(chunk=1, half=1, threshold=1.0)), 2)
    _feed(stall, [5.0, 0.5], 4)  # iNALU's rule restarts seed 0 but keeps the global step
    assert stall.started[0] > 0 and stall.scheduled(ramp, 7, like, 0.0) == 0.7


def test_a_per_seed_learning_rate_factor_steps_each_seed_by_its_own():
    stack = Stack.of([NAU(3, 1) for _ in range(2)], torch.device("cpu"))
    adam = StackedAdam(stack, 0.1, (0.9, 0.999))
    before = stack.params["model.W"].detach().clone()
    grads = {"model.W": torch.ones_like(before)}
    adam.step(grads, torch.ones(2) > 0, True, torch.tensor([1.0, 0.0], dtype=torch.float64))
    moved = stack.params["model.W"].detach() - before
    torch.testing.assert_close(moved[0], torch.full_like(moved[0], -0.1))  # Adam's first step
    assert torch.equal(moved[1], torch.zeros_like(moved[1]))


def test_after_a_deadline_restart_the_learning_rate_decay_starts_again():
    """lr falls 10⁹-fold after 100 steps. Every seed restarts at 200 (its loss > 0; not at 400,
    which leaves no room for a try): replayed, the decay gives the new weights 100 steps at full
    lr, and the loss falls again (on the global step it would stay flat, as in steps 100–200)."""
    task = ArithmeticTask("add", input_size=4, subset=0.5, overlap=0, eval_size=50)
    rule = Deadline(age=200, threshold=0.0, chunk=100)
    policy = Policy("t", lr_decay=Decay(start=100, end=101, factor=1e-9), reinit=rule)
    run = fit_seeds(lambda: NAU(4, 1), [task] * 2, [0, 1], steps=400, lr=0.01, eval_every=50,
                    policy=policy, progress=False)  # fmt: skip
    assert [r.reinitialized_at for r in run.runs] == [[200], [200]]
    for history in [[h["train_loss"] for h in r.history] for r in run.runs]:  # rows at 0, 50, …
        assert history[4] > 0.9 * history[3]  # steps 100–200 at 10⁻⁹ of the lr: flat
        assert history[6] < 0.5 * history[5]  # after the restart at 200: learning again


def test_a_deadline_policy_round_trips_through_the_store_and_says_what_it_does():
    policy = get_policy("snap-root").replace(name="r", reinit=Deadline(60_000, 1e-8))
    assert policy_from_fields(policy_fields(policy)) == policy
    assert "restart a seed still above loss 1e-08 60,000 steps after its start" in (
        policy.describe()
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ((500, 1e-8), "age must be at least 1000"),
        ((60_000, -1.0), "threshold must be"),
        ((1_500, 1e-8), "must be a whole number of chunks of 1,000 steps"),
    ],
)
def test_a_bad_deadline_is_refused_in_one_sentence(args, message):
    with pytest.raises(NalmError, match=message):
        Deadline(*args)
