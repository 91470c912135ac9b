"""Every registered unit keeps the unit contract (shapes, gradients, finiteness, fresh weights)."""

import pytest
import torch

from nalm import units

SMALL = {"mlp": {"hidden": (4,)}}


def make(name, n_in=3, n_out=2, **kwargs):
    return units.create(name, n_in, n_out, **{**SMALL.get(name, {}), **kwargs})


@pytest.mark.parametrize("name", units.names())
def test_shape_like_linear(name):
    unit = make(name)
    assert unit(torch.rand(4, 5, 3) + 0.5).shape == (4, 5, 2)
    assert unit(torch.rand(3) + 0.5).shape == (2,)


@pytest.mark.parametrize("name", units.names())
def test_gradients_reach_every_parameter(name):
    unit = make(name)
    x = torch.rand(16, 3) * 2 + 0.5
    x[:, 0] *= -1  # negative inputs too
    unit(x).square().sum().backward()
    for pname, p in unit.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname} gets no gradient"


@pytest.mark.parametrize("name", units.names())
def test_finite_at_initialisation_on_zeros_and_negatives(name):
    unit = make(name).train()
    x = torch.tensor([[0.0, -1.5, 2.0], [-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-0.5, -2.0, -7.0]])
    y = unit(x)
    assert torch.isfinite(y).all(), f"{name} gives {y}"
    (y.sum() + unit.regularization()).backward()
    for pname, p in unit.named_parameters():
        assert torch.isfinite(p.grad).all(), f"{name}.{pname} has a non-finite gradient"


@pytest.mark.parametrize("name", units.names())
def test_weights_are_recomputed_in_every_forward(name):
    unit = make(name)
    x = torch.rand(8, 3) + 0.5
    before = unit(x).detach().clone()
    with torch.no_grad():
        for p in unit.parameters():
            p.mul_(0.5).add_(0.1)
    assert not torch.allclose(unit(x), before), f"{name}'s output ignored a parameter change"


@pytest.mark.parametrize("name", units.names())
def test_reset_parameters_draws_new_values_and_float64_works(name):
    unit = make(name, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in unit.parameters())
    assert unit(torch.rand(2, 3, dtype=torch.float64) + 0.5).dtype == torch.float64
    torch.manual_seed(0)
    unit.reset_parameters()
    first = [p.detach().clone() for p in unit.parameters()]
    torch.manual_seed(0)
    unit.reset_parameters()
    assert all(torch.equal(a, b) for a, b in zip(first, unit.parameters(), strict=True))


@pytest.mark.parametrize("name", units.names())
def test_regularization_is_a_finite_scalar_and_after_step_keeps_shapes(name):
    unit = make(name)
    penalty = unit.regularization()
    assert penalty.shape == () and torch.isfinite(penalty)
    shapes = [p.shape for p in unit.parameters()]
    unit.after_step()
    assert [p.shape for p in unit.parameters()] == shapes


def test_every_unit_describes_itself():
    for name in units.names():
        cls = units.get(name)
        assert cls.paper, name
        assert cls.policy in {"none", "madsen-nau", "madsen-nmu", "inalu", "npu", "nmru"}
