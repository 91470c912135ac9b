import pytest
import torch

from nalm import NALU, NalmError

from ..conftest import saturate


@pytest.mark.parametrize("shared", [True, False])
def test_forward_equals_formula_by_hand(shared):
    unit = NALU(3, 2, shared_weights=shared, eps=1e-4)
    x = torch.randn(6, 3) * 2
    Wa = torch.tanh(unit.W_hat) * torch.sigmoid(unit.M_hat)
    Wm = Wa if shared else torch.tanh(unit.W_hat_mul) * torch.sigmoid(unit.M_hat_mul)
    a = x @ Wa.T
    m = torch.exp(torch.log(x.abs() + 1e-4) @ Wm.T)
    g = torch.sigmoid(x @ unit.G.T)
    torch.testing.assert_close(unit(x), g * a + (1 - g) * m)


def test_independent_gate_uses_one_value_per_output():
    unit = NALU(2, 3, gate="independent")
    assert unit.G.shape == (3,)
    with torch.no_grad():
        unit.G.copy_(torch.tensor([50.0, -50.0, 0.0]))
    x = torch.tensor([[2.0, 3.0]])
    W = torch.tanh(unit.W_hat) * torch.sigmoid(unit.M_hat)
    a, m = x @ W.T, torch.exp(torch.log(x.abs() + unit.eps) @ W.T)
    y = unit(x)
    torch.testing.assert_close(y[0, 0], a[0, 0])
    torch.testing.assert_close(y[0, 1], m[0, 1])
    torch.testing.assert_close(y[0, 2], 0.5 * (a[0, 2] + m[0, 2]))


def test_exact_gate_and_weights_multiply_far_outside_training():
    unit = NALU(2, 1, shared_weights=False)
    W_hat, M_hat = saturate(torch.tensor([[1.0, 1.0]]))
    with torch.no_grad():
        unit.W_hat_mul.copy_(W_hat)
        unit.M_hat_mul.copy_(M_hat)
        unit.G.fill_(-30.0)  # x Gᵀ ≪ 0 for positive x: the multiplicative path
    x = torch.rand(100, 2) * 1e3 + 1.0
    y = unit(x).detach()[:, 0]
    assert ((y - x[:, 0] * x[:, 1]).abs() / (x[:, 0] * x[:, 1])).max() < 1e-4


def test_seed_preset():
    unit = NALU.seed_preset(30, 40)
    assert not unit.shared_weights and unit.eps == 1e-6 and unit.init == "seed"
    assert {n for n, _ in unit.named_parameters()} == {
        "W_hat",
        "M_hat",
        "W_hat_mul",
        "M_hat_mul",
        "G",
    }
    assert -2.0 <= unit.W_hat_mul.min() < -1.8 and 1.8 < unit.M_hat.max() <= 2.0
    assert 0.9 < unit.G.std() < 1.1 and abs(unit.G.mean()) < 0.1  # N(0, 1)


def test_shared_weights_has_the_paper_parameters():
    assert {n for n, _ in NALU(2, 1).named_parameters()} == {"W_hat", "M_hat", "G"}


@pytest.mark.parametrize("shared", [True, False])
def test_every_parameter_gets_a_gradient(shared):
    unit = NALU(3, 2, shared_weights=shared)
    unit(torch.rand(16, 3) + 0.5).pow(2).sum().backward()
    for name, p in unit.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("preset", [False, True])
def test_zeros_and_negatives_give_finite_outputs_and_gradients(preset):
    unit = NALU.seed_preset(3, 2) if preset else NALU(3, 2)
    x = torch.tensor([[0.0, -1.0, 2.0], [0.0, 0.0, 0.0], [-5.0, 3.0, -0.5]], requires_grad=True)
    y = unit(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in unit.parameters())


def test_bad_options():
    with pytest.raises(NalmError, match="gate must be one of input, independent"):
        NALU(2, 1, gate="sigmoid")
    with pytest.raises(NalmError, match="shared_weights must be True or False"):
        NALU(2, 1, shared_weights="yes")


def test_gnalu_uses_golden_ratio_base_in_tanh_sigmoid_and_gate():
    from nalm import GNALU

    phi = (1 + 5**0.5) / 2
    unit = GNALU(3, 2, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)

    def sigma_phi(u):
        return 1 / (1 + phi ** (-u))

    def tanh_phi(u):
        return (phi ** (2 * u) - 1) / (phi ** (2 * u) + 1)

    W = tanh_phi(unit.W_hat) * sigma_phi(unit.M_hat)
    g = sigma_phi(x @ unit.G.T)
    expected = g * (x @ W.T) + (1 - g) * torch.exp(torch.log(x.abs() + unit.eps) @ W.T)
    torch.testing.assert_close(unit(x), expected)
