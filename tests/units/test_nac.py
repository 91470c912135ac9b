import pytest
import torch

from nalm import NAC, NACMul, NalmError
from nalm.units import nac_weight

from ..conftest import saturate


def set_exact(unit, W):
    W_hat, M_hat = saturate(torch.tensor(W, dtype=torch.float32))
    with torch.no_grad():
        unit.W_hat.copy_(W_hat)
        unit.M_hat.copy_(M_hat)


def test_nac_forward_equals_formula_by_hand():
    unit = NAC(3, 2)
    x = torch.randn(5, 3) * 4
    W = torch.tanh(unit.W_hat) * torch.sigmoid(unit.M_hat)
    expected = torch.stack([(x * W[k]).sum(1) for k in range(2)], dim=1)
    torch.testing.assert_close(unit(x), expected)


def test_nac_mul_forward_equals_formula_by_hand():
    unit = NACMul(3, 2, eps=1e-3)
    x = torch.randn(7, 3) * 3  # negative inputs too: the log path uses |x|
    W = torch.tanh(unit.W_hat) * torch.sigmoid(unit.M_hat)
    logs = torch.log(x.abs() + 1e-3)
    expected = torch.stack([torch.exp((logs * W[k]).sum(1)) for k in range(2)], dim=1)
    torch.testing.assert_close(unit(x), expected)


def test_exact_nac_adds_and_subtracts_inputs_a_million_times_larger():
    unit = NAC(2, 2)
    set_exact(unit, [[1, 1], [1, -1]])
    x = torch.rand(1000, 2, dtype=torch.float64).float() * 1e6 + 1.0
    y = unit(x).detach().double()
    xd = x.double()
    rel_add = ((y[:, 0] - (xd[:, 0] + xd[:, 1])).abs() / (xd[:, 0] + xd[:, 1])).max()
    rel_sub = ((y[:, 1] - (xd[:, 0] - xd[:, 1])).abs() / (xd[:, 0] - xd[:, 1]).abs()).median()
    assert rel_add < 1e-4
    # x0 − x1 can cancel to nearly 0, where any float32 rounding is a large relative error;
    # away from that, the error must be tiny.
    far = (xd[:, 0] - xd[:, 1]).abs() > 1e3
    rel_sub_far = (y[far, 1] - (xd[far, 0] - xd[far, 1])).abs() / (xd[far, 0] - xd[far, 1]).abs()
    assert rel_sub < 1e-4 and rel_sub_far.max() < 1e-4


def test_exact_nac_mul_multiplies_and_divides_inputs_a_million_times_larger():
    unit = NACMul(2, 2)
    set_exact(unit, [[1, 1], [1, -1]])
    x = torch.rand(1000, 2) * 1e6 + 1.0
    y = unit(x).detach().double()
    xd = x.double()
    assert ((y[:, 0] - xd[:, 0] * xd[:, 1]).abs() / (xd[:, 0] * xd[:, 1])).max() < 1e-4
    assert ((y[:, 1] - xd[:, 0] / xd[:, 1]).abs() / (xd[:, 0] / xd[:, 1])).max() < 1e-4


def test_nac_mul_loses_the_sign():
    unit = NACMul(2, 1)
    set_exact(unit, [[1, 1]])
    y = unit(torch.tensor([[-3.0, 4.0]]))
    assert y.item() == pytest.approx(12.0, rel=1e-5)  # |−3 · 4|, not −12


@pytest.mark.parametrize("cls", [NAC, NACMul])
def test_every_parameter_gets_a_gradient(cls):
    unit = cls(4, 3)
    unit(torch.rand(16, 4) + 0.5).pow(2).sum().backward()
    for name, p in unit.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", [NAC, NACMul])
def test_weights_are_recomputed_at_every_forward(cls):
    # The bug of computing W once in __init__ must be impossible: changing the parameters
    # must change the output.
    unit = cls(2, 1)
    x = torch.tensor([[1.5, 2.5]])
    before = unit(x).detach().clone()
    with torch.no_grad():
        unit.W_hat.add_(1.0)
    assert not torch.allclose(unit(x), before)


@pytest.mark.parametrize("cls", [NAC, NACMul])
def test_zeros_and_negatives_give_finite_outputs_and_gradients(cls):
    unit = cls(3, 2)
    x = torch.tensor([[0.0, -1.0, 2.0], [0.0, 0.0, 0.0], [-5.0, 3.0, -0.5]], requires_grad=True)
    y = unit(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    for p in unit.parameters():
        assert torch.isfinite(p.grad).all()


def test_seed_preset_initialisation():
    unit = NACMul.seed_preset(50, 40)
    assert unit.eps == 1e-6 and unit.init == "seed"
    for p in (unit.W_hat, unit.M_hat):
        assert -2.0 <= p.min() < -1.8 and 1.8 < p.max() <= 2.0  # U[−2, 2], not Xavier


def test_nac_weight_is_bounded():
    w = nac_weight(torch.randn(100) * 10, torch.randn(100) * 10)
    assert w.abs().max() <= 1.0


def test_shapes_follow_linear():
    unit = NAC(3, 5)
    assert unit.W_hat.shape == (5, 3)
    assert unit(torch.zeros(2, 7, 3)).shape == (2, 7, 5)


def test_bad_arguments_are_one_clear_error():
    with pytest.raises(NalmError, match="in_features must be at least 1"):
        NAC(0, 1)
    with pytest.raises(NalmError, match="init must be one of"):
        NAC(2, 1, init="glorot")
    with pytest.raises(NalmError, match="eps must be a number"):
        NACMul(2, 1, eps=-1)
