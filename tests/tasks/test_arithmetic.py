import math

import pytest
import torch

from nalm.errors import NalmError
from nalm.tasks import ArithmeticTask, get_operation
from nalm.tasks.arithmetic import RecurrentArithmeticTask, stacked_targets


def test_madsen_slices_follow_the_papers_sizes_and_offsets():
    offsets = set()
    for seed in range(300):
        task = ArithmeticTask("mul", seed=seed)
        (a0, a1), (b0, b1) = task.a_slice, task.b_slice
        assert a1 - a0 == 25 and b1 - b0 == 25  # ⌊0.25 · 100⌋
        assert a1 - b0 == 12  # overlap ⌊0.5 · 25⌋
        assert a0 >= 0 and b1 <= 100
        offsets.add(a0)
    assert offsets == set(range(63))  # every offset 0 … 100 − 38 is reachable


@pytest.mark.parametrize(
    "op,expected",
    [("add", 7.0), ("sub", -1.0), ("mul", 12.0), ("div", 0.75), ("squared", 9.0), ("root", 3**0.5)],
)
def test_targets_by_hand(op, expected):
    task = ArithmeticTask(op, input_size=4, subset=0.5, overlap=0.0, eval_size=3)
    assert task.a_slice == (0, 2) and task.b_slice == (2, 4)
    x = torch.tensor([[1.0, 2.0, 1.5, 2.5]], dtype=torch.float64)
    assert task.targets(x).item() == pytest.approx(expected, rel=1e-12)


def test_seeds_share_evaluation_inputs_but_not_targets():
    a, b = ArithmeticTask("add", seed=1), ArithmeticTask("add", seed=2)
    assert a.a_slice != b.a_slice
    xa, ya = a.evaluation["extrapolation"]
    xb, yb = b.evaluation["extrapolation"]
    assert xa is xb and xa.shape == (10_000, 100)
    assert not torch.equal(ya, yb)
    assert xa.min() >= 2 and xa.max() <= 6
    assert a.evaluation["interpolation"][0].max() <= 2


def test_training_batches_are_fresh_and_in_range():
    task = ArithmeticTask("div", seed=0, train_range="1,2")
    g = torch.Generator().manual_seed(0)
    x1, y1 = task.sample(128, g)
    x2, _ = task.sample(128, g)
    assert x1.shape == (128, 100) and y1.shape == (128, 1)
    assert not torch.equal(x1, x2)
    assert x1.min() >= 1 and x1.max() <= 2
    torch.testing.assert_close(y1, task.targets(x1))


def test_stacked_targets_match_each_task_for_shared_and_per_seed_inputs():
    tasks = [ArithmeticTask("mul", seed=s) for s in range(4)]
    targets = stacked_targets(tasks)
    shared = torch.rand(6, 100) + 1
    per_seed = torch.rand(4, 6, 100) + 1
    for i, task in enumerate(tasks):
        torch.testing.assert_close(targets(shared)[i], task.targets(shared))
        torch.testing.assert_close(targets(per_seed)[i], task.targets(per_seed[i]))


def test_stacked_targets_mix_operations_and_recurrent_tasks():
    ops = ["add", "div", "mul", "root", "div", "sub"]
    static = [ArithmeticTask(op, seed=s) for s, op in enumerate(ops)]
    seq = [RecurrentArithmeticTask(op, seed=s, eval_size=2) for s, op in enumerate(ops)]
    # float64: a − b of two sums near 260 loses digits in float32 whatever the order
    x = torch.rand(5, 100, dtype=torch.float64) + 1
    xs = torch.rand(5, 7, 100, dtype=torch.float64) + 1
    per_seed = torch.rand(6, 5, 7, 100, dtype=torch.float64) + 1
    for i in range(len(ops)):
        torch.testing.assert_close(stacked_targets(static)(x)[i], static[i].targets(x))
        torch.testing.assert_close(stacked_targets(seq)(xs)[i], seq[i].targets(xs))
        torch.testing.assert_close(stacked_targets(seq)(per_seed)[i], seq[i].targets(per_seed[i]))
    with pytest.raises(NalmError, match="all static or all recurrent"):
        stacked_targets([static[0], seq[0]])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"operation": "pow"}, "unknown operation 'pow'"),
        ({"operation": "add", "subset": 0.8}, "need 120 inputs; input_size is 100"),
        ({"operation": "add", "input_size": 3, "subset": 0.2}, "leaves no input in a slice"),
        ({"operation": "add", "train_range": "2,1"}, "inverted"),
        ({"operation": "add", "epsilon_perfect": "both"}, "epsilon_perfect must be"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArithmeticTask(**kwargs)


def test_operation_aliases():
    assert [get_operation(s).name for s in "+-*/"] == ["add", "sub", "mul", "div"]
    assert get_operation("√")(torch.tensor(4.0), torch.tensor(math.nan)).item() == 2.0
