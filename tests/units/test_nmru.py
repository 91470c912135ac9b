import math

import pytest
import torch

from nalm import NMRU, NRU


def test_nmru_forward_by_hand_in_training_and_eval_mode():
    unit = NMRU(2, 2, eps=1e-3, dtype=torch.float64)
    x = torch.randn(6, 2, dtype=torch.float64) * 3
    W = unit.W.detach()
    for training, eps in ((True, 1e-3), (False, 0.0)):
        unit.train(training)
        expected = torch.empty(6, 2, dtype=torch.float64)
        for n in range(6):
            xp = [x[n, 0], x[n, 1], 1 / (x[n, 0] + eps), 1 / (x[n, 1] + eps)]
            for k in range(2):
                magnitude = math.prod(W[k, j] * abs(xp[j]) + 1 - W[k, j] for j in range(4))
                negatives = sum(W[k, j] * float(xp[j] < 0) for j in range(4))
                expected[n, k] = magnitude * math.cos(math.pi * negatives)
        torch.testing.assert_close(unit(x), expected)


def test_nmru_exact_weights_divide_signed_inputs_far_outside_training():
    unit = NMRU(2, 1, dtype=torch.float64).eval()
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    a = (torch.rand(1000, dtype=torch.float64) * 2 - 1) * 1e6
    b = (torch.rand(1000, dtype=torch.float64) * 2 - 1) * 1e6
    y = unit(torch.stack([a, b], dim=-1)).detach()[:, 0]
    torch.testing.assert_close(y, a / b, rtol=1e-10, atol=0)
    assert unit.W.shape == (1, 4)


def test_nru_forward_by_hand():
    unit = NRU(3, 2, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[0.4, -0.7, 1.0], [-1.0, 0.2, -0.1]]))
    x = torch.randn(5, 3, dtype=torch.float64) * 3
    for training, eps in ((True, 1e-3), (False, 0.0)):
        unit.train(training)
        expected = torch.empty(5, 2, dtype=torch.float64)
        for n in range(5):
            for k in range(2):
                terms = []
                for j in range(3):
                    w, v = unit.W[k, j].item(), x[n, j].item()
                    terms.append(math.copysign(1, v) * (abs(v) + eps) ** w * abs(w) + 1 - abs(w))
                expected[n, k] = math.prod(terms)
        torch.testing.assert_close(unit(x), expected)


def test_nru_exact_weights_divide_and_multiply():
    unit = NRU(2, 2, dtype=torch.float64).eval()
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, -1.0], [1.0, 1.0]]))
    a = (torch.rand(1000, dtype=torch.float64) * 2 - 1) * 1e6
    b = (torch.rand(1000, dtype=torch.float64) * 2 - 1) * 1e6
    y = unit(torch.stack([a, b], dim=-1)).detach()
    torch.testing.assert_close(y[:, 0], a / b, rtol=1e-10, atol=0)
    torch.testing.assert_close(y[:, 1], a * b, rtol=1e-10, atol=0)


@pytest.mark.parametrize("cls", [NMRU, NRU])
def test_eval_mode_division_by_zero_is_inf(cls):
    unit = cls(2, 1).eval()
    with torch.no_grad():
        unit.W.copy_(
            torch.tensor([[1.0, 0.0, 0.0, 1.0]]) if cls is NMRU else torch.tensor([[1.0, -1.0]])
        )
    assert torch.isinf(unit(torch.tensor([[3.0, 0.0]]))).all()
