"""The Domain Mixed Unit (Curry 2025): its forward pass by hand, exact weights far outside the
training range, the frozen operands, the formula reader and save/load."""

import math

import pytest
import sympy
import torch

import nalm
from nalm.errors import NalmError
from nalm.units import DMU, check


def _dmu(init: str, gate_logit: float, **options) -> DMU:
    unit = DMU(2, 1, init=init, dtype=torch.float64, **options)
    with torch.no_grad():
        unit.G.fill_(gate_logit)
    return unit


def test_the_forward_pass_matches_a_worked_example():
    unit = DMU(2, 1, dtype=torch.float64)  # O = (½, ½), g = σ(0) = ½
    # x = (2, 8): R_lin = 5, R_log = ½ ln 2 + ½ ln 8 = ln 4, sign ½·1 + ½·cos 0 = 1,
    # |z| = 5^½ · 4^½ = √20
    # x = (−2, 8): R_lin = 3, R_log = ln 4, sign ½·tanh(3/τ) + ½·cos(π/2) = ½, |z| = √12
    z = unit(torch.tensor([[2.0, 8.0], [-2.0, 8.0]], dtype=torch.float64))
    assert z[:, 0].tolist() == pytest.approx([math.sqrt(20), 0.5 * math.sqrt(12)], rel=1e-8)


@pytest.mark.parametrize(
    ("init", "logit", "op"),
    [
        ("add", 40.0, lambda a, b: a + b),
        ("add", -40.0, lambda a, b: a * b),
        ("sub", 40.0, lambda a, b: a - b),
        ("sub", -40.0, lambda a, b: a / b),
    ],
)
def test_exact_weights_give_each_operation_a_million_times_beyond_the_training_range(
    init, logit, op
):
    x = 1e6 * (
        1 + torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    )
    unbounded = _dmu(init, logit, limit=None)
    truth = op(x[:, 0], x[:, 1])
    assert torch.allclose(unbounded(x)[:, 0], truth, rtol=1e-9)
    # the author's bound: |z| ≤ e^L ≈ 3.7e5, so at these inputs the exact unit is clamped
    clamped = _dmu(init, logit)(x)[:, 0]
    bound = math.exp(math.log(1e6) - 1)
    assert (clamped.abs() <= bound * (1 + 1e-9)).all()
    assert torch.allclose(clamped, truth, rtol=1e-9) == bool((truth.abs() < bound).all())


def test_frozen_operands_stay_while_the_gate_learns():
    x = 1 + torch.rand(256, 2, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] * x[:, 1])[:, None]
    frozen, free = DMU(2, 1, init="add", freeze_operands=True), DMU(2, 1, init="add")
    for unit in (frozen, free):
        optimizer = torch.optim.Adam(unit.parameters(), lr=1e-2)
        for _ in range(1000):
            optimizer.zero_grad()
            ((unit(x) - y) ** 2).mean().backward()
            optimizer.step()
            unit.after_step()
    assert frozen.O.tolist() == [[1.0, 1.0]] and "O" in dict(frozen.named_buffers())
    assert free.O.tolist() != [[1.0, 1.0]]
    assert float(frozen.gate().detach()) < 0.1  # the gate turned to the product


def test_the_formula_reads_each_domain_and_the_unit_round_trips_through_save(tmp_path):
    a, b = sympy.symbols("a b")
    assert nalm.to_formula(_dmu("add", 40.0), ["a", "b"]) == a + b
    assert nalm.to_formula(_dmu("sub", -40.0), ["a", "b"]) == a / b
    mixed = nalm.to_formula(_dmu("add", 0.0), ["a", "b"])
    assert mixed.has(sympy.Abs) and not mixed.equals(a + b)
    unit = _dmu("sub", -0.4, freeze_operands=True, limit=20.0, temperature=0.01)
    loaded = nalm.load(nalm.save(unit, tmp_path / "dmu.pt"))
    settings = (loaded.init, loaded.freeze_operands, loaded.limit, loaded.temperature)
    assert settings == ("sub", True, 20.0, 0.01)
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    assert torch.equal(loaded(x), unit(x))


def test_bad_options_are_refused_in_one_sentence():
    with pytest.raises(NalmError, match="init must be one of half, add, sub; got 'mul'"):
        DMU(2, 1, init="mul")
    with pytest.raises(NalmError, match="needs at least 2 inputs"):
        DMU(1, 1, init="sub")
    with pytest.raises(NalmError, match="temperature must be a positive number"):
        DMU(2, 1, temperature=0.0)
    with pytest.raises(NalmError, match="limit must be a positive number"):
        DMU(2, 1, limit=0.0)
    assert check(DMU).passed


def test_seeds_of_a_dmu_stack_train_together_under_a_regulariser():
    from nalm.models import parse
    from nalm.tasks import ExpressionTask
    from nalm.train import Policy, fit_seeds

    result = fit_seeds(
        lambda: parse("nau>dmu").build(4, 1, hidden=2),
        [ExpressionTask("(x0 + x1) * (x2 + x3)", "1,2", "2,6")] * 2,
        seeds=[0, 1],
        steps=50,
        lr=0.01,
        policy=Policy("with-lambda", regularizer=0.1),
        progress=False,
    )
    assert [r.diverged for r in result.runs] == [False, False]
    assert all(r.history[-1]["interpolation_mse"] < float("inf") for r in result.runs)
