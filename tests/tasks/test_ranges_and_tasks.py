import pytest
import torch

from nalm import DatasetTask, ExpressionTask, NalmError, Range
from nalm.tasks import seed_demos


def test_union_is_sampled_uniformly_over_its_length():
    r = Range.parse("-6,-2|2,10")
    x = r.sample((200_000,), torch.Generator().manual_seed(0), torch.float64)
    assert bool(((x >= -6) & (x <= -2) | (x >= 2) & (x <= 10)).all())
    # the second interval is twice as long, so holds 2/3 of the draws
    assert abs((x > 0).double().mean().item() - 2 / 3) < 0.01


@pytest.mark.parametrize(
    "text,message",
    [
        ("2,1", "is inverted"),
        ("1,1", "is empty"),
        ("a,b", "cannot read 'a,b'"),
        ("1,2,3", "cannot read"),
        ("", "is empty"),
        ("nan,1", "not a finite number"),
    ],
)
def test_bad_ranges(text, message):
    with pytest.raises(NalmError, match=message):
        Range.parse(text, "--train-range")


def test_expression_task_sets_and_batches():
    task = ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=500)
    x, y = task.evaluation["interpolation"]
    assert x.shape == (500, 2) and y.shape == (500, 1)
    assert bool((x >= 1).all() and (x <= 2).all())
    xe, ye = task.evaluation["extrapolation"]
    assert bool((xe >= 2).all() and (xe <= 6).all())
    torch.testing.assert_close(ye[:, 0], xe[:, 0] * xe[:, 1])
    xb, _ = task.sample(64, torch.Generator().manual_seed(3))
    xb2, _ = task.sample(64, torch.Generator().manual_seed(3))
    assert xb.shape == (64, 2) and torch.equal(xb, xb2)


def test_expression_task_inputs_and_targets_draw_what_sample_draws():
    task = ExpressionTask("x0 * x1 - x0", "1,2", "2,6", eval_size=10)
    x, y = task.sample(32, torch.Generator().manual_seed(5))
    x2 = task.inputs(32, torch.Generator().manual_seed(5))
    assert torch.equal(x, x2)
    torch.testing.assert_close(task.targets(x2), y)
    torch.testing.assert_close(task.targets(x2)[:, 0], x[:, 0] * x[:, 1] - x[:, 0])


def test_expression_task_refuses_a_divisor_range_containing_zero():
    with pytest.raises(NalmError, match="test range -1,1: the divisor 'x1' can be 0"):
        ExpressionTask("x0 / x1", "1,2", "-1,1")


def test_extra_inputs_are_distractors():
    task = ExpressionTask("x0 + x1", "1,2", "2,6", n_inputs=5, eval_size=10)
    assert task.in_features == 5
    with pytest.raises(NalmError, match="needs at least 2 inputs"):
        ExpressionTask("x0 + x1", "1,2", "2,6", n_inputs=1)


def test_seed_demo_data_is_the_seed_codes():
    add = seed_demos.nac_add()
    x, y = add.train
    assert x.shape == (2000, 2)
    assert x[0].tolist() == [0, 5] and x[-1].tolist() == [9995, 10000]
    torch.testing.assert_close(y[:, 0], x.sum(1))
    xt, _ = add.evaluation["seed_test"]
    assert xt.shape == (125, 2) and xt[-1].tolist() == [1992, 1496]
    xe, _ = add.evaluation["extrapolation"]
    assert xe.min() >= 20_000  # far above every training value

    nalu = seed_demos.nalu()
    x, y = nalu.train
    assert x[-1].tolist() == [10995, 6497, 1999]
    torch.testing.assert_close(y[:, 0], x[:, 0] / 4 + x[:, 1] / 2 + x[:, 2] ** 2)
    xt, _ = nalu.evaluation["seed_test"]
    assert xt.shape == (200, 3) and xt[:, 0].max() < 1000 and xt[:, 2].min() >= 50


def test_dataset_task_shapes_are_checked():
    with pytest.raises(NalmError, match="must be x of shape"):
        DatasetTask((torch.zeros(3, 2), torch.zeros(4)), {})
