import pytest
import torch

from nalm import INALU, NalmError

from ..conftest import saturate


def test_forward_equals_formula_by_hand():
    unit = INALU(3, 2, eps=1e-3, omega=5.0, dtype=torch.float64)
    x = torch.randn(7, 3, dtype=torch.float64) * 4
    x[0, 2] = 0.0
    Wa = torch.tanh(unit.W_hat) * torch.sigmoid(unit.M_hat)
    Wm = torch.tanh(unit.W_hat_mul) * torch.sigmoid(unit.M_hat_mul)
    expected = torch.empty(7, 2, dtype=torch.float64)
    for n in range(7):
        for k in range(2):
            a = sum(x[n, j] * Wa[k, j] for j in range(3))
            log_m = sum(
                torch.log(torch.clamp(x[n, j].abs(), min=1e-3)) * Wm[k, j] for j in range(3)
            )
            m = torch.exp(torch.clamp(log_m, max=5.0))
            msv = 1.0
            for j in range(3):
                msv = msv * (torch.sign(x[n, j]) * Wm[k, j].abs() + 1 - Wm[k, j].abs())
            g = torch.sigmoid(unit.G[k])
            expected[n, k] = g * a + (1 - g) * m * torch.clamp(msv, -1, 1)
    torch.testing.assert_close(unit(x), expected)


def test_exact_weights_multiply_and_divide_with_negative_a():
    unit = INALU(2, 2, dtype=torch.float64)
    W_hat, M_hat = saturate(torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64))
    with torch.no_grad():
        unit.W_hat_mul.copy_(W_hat)
        unit.M_hat_mul.copy_(M_hat)
        unit.G.fill_(-50.0)  # the multiplicative path
    a = -(torch.rand(500, dtype=torch.float64) * 1e3 + 1.0)
    b = torch.rand(500, dtype=torch.float64) * 1e3 + 1.0
    y = unit(torch.stack([a, b], dim=-1)).detach()
    torch.testing.assert_close(y[:, 0], a * b, rtol=1e-9, atol=0)
    torch.testing.assert_close(y[:, 1], a / b, rtol=1e-9, atol=0)


def test_omega_caps_the_log_path():
    unit = INALU(1, 1, omega=3.0)
    W_hat, M_hat = saturate(torch.tensor([[1.0]]))
    with torch.no_grad():
        unit.W_hat_mul.copy_(W_hat)
        unit.M_hat_mul.copy_(M_hat)
        unit.G.fill_(-50.0)
    assert unit(torch.tensor([[1e6]])).item() == pytest.approx(torch.e**3, rel=1e-5)


def test_init_regularizer_and_gate():
    unit = INALU(50, 40)
    assert 0.9 < unit.W_hat.mean() < 1.1 and -1.1 < unit.M_hat_mul.mean() < -0.9
    assert unit.G.shape == (40,) and unit.G.std() < 0.2
    assert unit.gate_parameters() == [unit.G]
    with torch.no_grad():
        for p in unit.parameters():
            p.fill_(5.0)
    # (1/t) Σ_θ mean(max(t − |θ|, 0)) with t = 20, five parameter tensors at |θ| = 5.
    assert unit.regularization().item() == pytest.approx(5 * 15 / 20)


def test_options_are_validated():
    with pytest.raises(NalmError, match="INALU: omega must be a number in"):
        INALU(2, 1, omega=0)
    with pytest.raises(NalmError, match="INALU: eps must be > 0"):
        INALU(2, 1, eps=0)
    with pytest.raises(NalmError, match="INALU: init must be one of inalu, xavier"):
        INALU(2, 1, init="seed")
