import pytest
import torch

from nalm import NAU, NMU, IntNAU, NalmError, SelectNAU


def random_inputs(rows=6, cols=3):
    return torch.randn(rows, cols, dtype=torch.float64) * 3  # negative inputs included


def test_nau_forward_is_clamped_linear_map():
    unit = NAU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[0.3, -1.7, 0.9], [2.0, 0.0, -0.4]]))
    x = random_inputs()
    W = torch.tensor([[0.3, -1.0, 0.9], [1.0, 0.0, -0.4]], dtype=torch.float64)
    expected = torch.stack([x @ W[k] for k in range(2)], dim=-1)
    torch.testing.assert_close(unit(x), expected)
    unclamped = NAU(3, 2, clamp=False, dtype=torch.float64)
    with torch.no_grad():
        unclamped.W.copy_(unit.W)
    torch.testing.assert_close(unclamped(x)[:, 0], x @ unit.W[0])


def test_nau_exact_weights_subtract_far_outside_training():
    unit = NAU(2, 1)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, -1.0]]))
    x = torch.rand(1000, 2) * 1e6 + 1e6  # a million times the U[1, 2] training range
    assert torch.equal(unit(x).detach()[:, 0], x[:, 0] - x[:, 1])


def test_nau_init_range_regularizer_and_projection():
    unit = NAU(100, 2)
    r = min(0.5, (3 * 2 / 102) ** 0.5)
    assert unit.W.abs().max() <= r and unit.W.abs().max() > 0.9 * r
    with torch.no_grad():
        unit.W.zero_()
        unit.W[0, :4] = torch.tensor([0.5, -0.25, 1.0, 3.0])
    # min(|W|, 1 − |W|) per element: 0.5, 0.25, 0, 0 (clamped to 1); the rest 0.
    assert unit.regularization().item() == pytest.approx((0.5 + 0.25) / 200)
    unit.after_step()
    assert unit.W[0, 3].item() == 1.0


@pytest.mark.parametrize("unit_class", [NAU, NMU])
def test_sparsity_gradient_matches_the_reference_and_is_zero_at_saturation(unit_class):
    # The reference code's min(|W|, |1 − |W||): no push at |W| = 1 (nor at 0), ∓1/n elsewhere.
    unit = unit_class(4, 1, dtype=torch.float64)
    low = -1.0 if unit_class is NAU else 0.0
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, low, 0.25, 0.75]]))
    unit.regularization().backward()
    expected = torch.tensor([[0.0, 0.0, 0.25, -0.25]], dtype=torch.float64)
    torch.testing.assert_close(unit.W.grad, expected, rtol=0, atol=0)
    W = unit.W.detach().clone().requires_grad_()
    torch.min(torch.abs(W), torch.abs(1 - torch.abs(W))).mean().backward()
    torch.testing.assert_close(unit.W.grad, W.grad, rtol=0, atol=0)


def test_nmu_forward_equals_product_by_hand():
    unit = NMU(3, 2, dtype=torch.float64)
    x = random_inputs()
    W = unit.W.detach()
    expected = torch.ones(6, 2, dtype=torch.float64)
    for k in range(2):
        for j in range(3):
            expected[:, k] *= W[k, j] * x[:, j] + 1 - W[k, j]
    torch.testing.assert_close(unit(x), expected)


def test_nmu_exact_weights_multiply_negative_inputs_and_zero():
    unit = NMU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]))
    x = torch.rand(1000, 3, dtype=torch.float64) * 2e6 - 1e6  # signs of both kinds
    x[0, 2] = 0.0
    y = unit(x).detach()
    torch.testing.assert_close(y[:, 0], x[:, 0] * x[:, 1], rtol=1e-12, atol=0)
    torch.testing.assert_close(y[:, 1], x.prod(dim=-1), rtol=1e-12, atol=0)
    assert y[0, 1] == 0.0


def test_nmu_weights_stay_in_unit_interval():
    unit = NMU(2, 1)
    assert unit.W.min() >= 0.25 and unit.W.max() <= 0.75
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[-0.5, 1.5]]))
    assert torch.equal(unit.weight(), torch.tensor([[0.0, 1.0]]))
    assert unit.regularization().item() == 0.0
    unit.after_step()
    assert torch.equal(unit.W.detach(), torch.tensor([[0.0, 1.0]]))


def test_clamp_must_be_a_bool():
    with pytest.raises(NalmError, match="NMU: clamp must be True or False; got 'yes'"):
        NMU(2, 1, clamp="yes")


def test_select_nau_starts_in_its_range_reads_negative_weights_as_zero_and_stays_in_unit_interval():
    unit = SelectNAU(100, 2)
    r = min(0.5, (3 * 2 / 102) ** 0.5)
    assert unit.W.min() >= 0 and unit.W.max() <= 2 * r and unit.W.max() > 1.8 * r
    with torch.no_grad():
        unit.W.copy_(torch.zeros(2, 100))
        unit.W[0, :3] = torch.tensor([1.0, -0.5, 0.25])
        unit.W[1, :2] = torch.tensor([1.7, 1.0])
    x = torch.rand(50, 100) * 1e5 + 1e5
    expected = torch.stack([x[:, 0] + 0.25 * x[:, 2], x[:, 0] + x[:, 1]], dim=-1)
    torch.testing.assert_close(unit(x).detach(), expected)
    # min(W, 1 − W) on [0, 1]: 0.25 from the 0.25; −0.5 reads as 0 and 1.7 as 1
    assert unit.regularization().item() == pytest.approx(0.25 / 200)
    unit.after_step()
    assert unit.W[0, 1].item() == 0.0 and unit.W[1, 0].item() == 1.0


def test_int_nau_keeps_weights_in_plus_minus_two_and_pulls_them_to_integers():
    unit = IntNAU(4, 2)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[2.6, 1.0, -0.4, 0.0], [-2.0, 1.5, 0.75, -1.2]]))
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    # 2.6 reads as 2: 2 + 2 − 1.2 = 2.8; −2 + 3 + 2.25 − 4.8 = −1.55
    torch.testing.assert_close(unit(x).detach(), torch.tensor([[2.8, -1.55]]))
    # distance to the nearest integer, mean over 8 weights: 0.4 + 0.5 + 0.25 + 0.2
    penalty = unit.regularization()
    assert penalty.item() == pytest.approx(1.35 / 8)
    penalty.backward()
    # sign(W − round(W)), 0 where the clamp holds 2.6 at 2; 1.5 rounds to 2 (half to even)
    expected = torch.tensor([[0.0, 0.0, -1.0, 0.0], [0.0, -1.0, -1.0, -1.0]]) / 8
    assert torch.equal(unit.W.grad, expected)
    unit.after_step()
    assert unit.W[0, 0].item() == 2.0 and unit.W.min() >= -2.0
