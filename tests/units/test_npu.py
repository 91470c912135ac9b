import math

import pytest
import torch

from nalm import NPU, NalmError, RealNPU


def inputs():
    x = torch.randn(8, 3, dtype=torch.float64) * 3
    x[0, 1] = 0.0
    return x


def test_npu_forward_equals_complex_power_by_hand():
    unit = NPU(3, 2, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        unit.W_im.normal_()
        unit.g.copy_(torch.tensor([0.2, 1.4, -0.3]))  # clamped to 0.2, 1, 0
    x = inputs()
    g = torch.tensor([0.2, 1.0, 0.0], dtype=torch.float64)
    expected = torch.empty(8, 2, dtype=torch.float64)
    for n in range(8):
        for k in range(2):
            # Re Π_j (r_j · e^{iπ k_j})^(W_re + i W_im), r_j = ĝ_j(|x_j| + ε) + 1 − ĝ_j.
            z = complex(1.0, 0.0)
            for j in range(3):
                r = g[j] * (abs(x[n, j]) + 1e-3) + 1 - g[j]
                k_j = g[j] * float(x[n, j] < 0)
                w = complex(unit.W_re[k, j].item(), unit.W_im[k, j].item())
                z *= complex(math.e) ** (w * (math.log(r) + 1j * math.pi * k_j))
            expected[n, k] = z.real
    torch.testing.assert_close(unit(x), expected)


def test_real_npu_forward_by_hand():
    unit = RealNPU(3, 2, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        unit.g.copy_(torch.tensor([0.7, 1.0, 0.1]))
    x = inputs()
    g = unit.g.detach()
    r = g * (x.abs() + 1e-3) + 1 - g
    k = g * (x < 0)
    W = unit.W.detach()
    expected = torch.empty(8, 2, dtype=torch.float64)
    for n in range(8):
        for o in range(2):
            expected[n, o] = math.prod(r[n, j] ** W[o, j] for j in range(3)) * math.cos(
                math.pi * sum(k[n, j] * W[o, j] for j in range(3))
            )
    torch.testing.assert_close(unit(x), expected)


@pytest.mark.parametrize("cls", [NPU, RealNPU])
def test_exact_weights_divide_take_roots_and_multiply_signed(cls):
    unit = cls(2, 3, eps=0.0, dtype=torch.float64)
    W = torch.tensor([[1.0, -1.0], [0.5, 0.0], [1.0, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        getattr(unit, "W_re" if cls is NPU else "W").copy_(W)
        unit.g.fill_(1.0)
    a = torch.rand(1000, dtype=torch.float64) * 1e6 + 1.0
    b = torch.rand(1000, dtype=torch.float64) * 1e6 + 1.0
    y = unit(torch.stack([a, b], dim=-1)).detach()
    torch.testing.assert_close(y[:, 0], a / b, rtol=1e-10, atol=0)
    torch.testing.assert_close(y[:, 1], a.sqrt(), rtol=1e-10, atol=0)
    y = unit(torch.stack([-a, b], dim=-1)).detach()  # negative a
    torch.testing.assert_close(y[:, 2], -a * b, rtol=1e-10, atol=0)
    torch.testing.assert_close(y[:, 0], -a / b, rtol=1e-10, atol=0)


def test_init_and_l1_regularizer():
    unit = NPU(4, 3)
    assert torch.equal(unit.W_im, torch.zeros(3, 4)) and torch.equal(unit.g, torch.full((4,), 0.5))
    expected = unit.W_re.abs().sum() + 0.5 * 4
    torch.testing.assert_close(unit.regularization(), expected)


def test_gate_removes_an_input():
    unit = RealNPU(2, 1)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, 1.0]]))
        unit.g.copy_(torch.tensor([1.0, 0.0]))  # x1 dropped: even x1 = 0 does not zero the output
    assert unit(torch.tensor([[7.0, 0.0]])).item() == pytest.approx(7.0)


def test_eps_is_validated():
    with pytest.raises(NalmError, match=r"RealNPU: eps must be a number in \[0, 1\), got -1"):
        RealNPU(2, 1, eps=-1)


@pytest.mark.parametrize(("naive", "gated"), [("NaiveNPU", "NPU"), ("RealNaiveNPU", "RealNPU")])
def test_a_naive_npu_is_its_gated_npu_with_every_gate_open(naive, gated):
    import nalm

    torch.manual_seed(0)
    plain = getattr(nalm, naive)(3, 2, eps=1e-3, dtype=torch.float64)
    reference = getattr(nalm, gated)(3, 2, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.normal_()
            getattr(reference, name).copy_(p)
        reference.g.fill_(1.0)
    assert not hasattr(plain, "g")
    x = inputs()
    torch.testing.assert_close(plain(x), reference(x))
    # the L1 penalty counts only the weights: the open gates add in_features to the gated one's
    assert plain.regularization().item() == pytest.approx(reference.regularization().item() - 3)


def test_a_real_naive_npu_divides_signed_and_takes_a_root_exactly():
    from nalm import RealNaiveNPU

    unit = RealNaiveNPU(2, 2, eps=0.0, dtype=torch.float64)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.5]]))
    x = torch.tensor([[-12.0, 16.0], [7.0, 2.25]], dtype=torch.float64)
    expected = torch.tensor([[-0.75, 4.0], [7 / 2.25, 1.5]], dtype=torch.float64)
    torch.testing.assert_close(unit(x), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "name", ["NPU", "RealNPU", "NaiveNPU", "RealNaiveNPU", "SnapNPU", "IntSnapNPU"]
)
def test_stacked_parameters_give_each_seeds_output_and_penalty(name):
    import nalm

    torch.manual_seed(1)
    seeds = [getattr(nalm, name)(3, 2, dtype=torch.float64) for _ in range(4)]
    for unit in seeds:
        with torch.no_grad():
            for p in unit.parameters():
                p.normal_()
    stacked = getattr(nalm, name)(3, 2, dtype=torch.float64)
    for key, _ in stacked.named_parameters():
        setattr(stacked, key, torch.nn.Parameter(torch.stack([getattr(u, key) for u in seeds])))
    x = inputs()
    for batch in (x, torch.stack([x + i for i in range(4)])):  # shared, then one per seed
        expected = torch.stack([u(batch if batch.dim() == 2 else batch[i])
                                for i, u in enumerate(seeds)])  # fmt: skip
        torch.testing.assert_close(stacked(batch), expected)
    penalty = torch.stack([u.regularization() for u in seeds])
    torch.testing.assert_close(stacked.regularization(), penalty)


def test_snap_npu_pulls_each_exponent_to_the_nearest_half_and_computes_as_the_real_naive_npu():
    import nalm

    snap = nalm.SnapNPU(3, 2, dtype=torch.float64)
    plain = nalm.RealNaiveNPU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        snap.W.copy_(torch.tensor([[0.9, -0.3, 0.26], [1.0, -1.0, 0.5]]))
        plain.W.copy_(snap.W)
    x = inputs()
    torch.testing.assert_close(snap(x), plain(x))
    # distances to the nearest multiple of ½: 0.1 (to 1), 0.2 (to −½), 0.24 (to ½); row 2 exact
    assert snap.regularization().item() == pytest.approx(0.1 + 0.2 + 0.24)
    snap.regularization().backward()
    torch.testing.assert_close(
        snap.W.grad, torch.tensor([[-1.0, 1.0, -1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    )
    with torch.no_grad():
        snap.W.copy_(torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.5, 2.0]]))
    assert snap.regularization().item() == 0.0


def test_int_snap_npu_pulls_each_exponent_to_the_nearest_integer():
    import nalm

    snap = nalm.IntSnapNPU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        snap.W.copy_(torch.tensor([[0.7, -0.3, 0.5], [1.0, -1.0, 2.2]]))
    # to 1, to 0, ½ (a tie rounds to the even 0), then 0, 0 and 0.2 (to 2)
    assert snap.regularization().item() == pytest.approx(0.3 + 0.3 + 0.5 + 0.2)
    snap.regularization().backward()
    torch.testing.assert_close(
        snap.W.grad, torch.tensor([[-1.0, -1.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    )
    x = inputs()
    plain = nalm.RealNaiveNPU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        plain.W.copy_(snap.W)
    torch.testing.assert_close(snap(x), plain(x))
