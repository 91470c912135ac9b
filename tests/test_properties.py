"""Property tests (hypothesis): units stay finite on their domain; the parser never runs code."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nalm.errors import NalmError
from nalm.tasks import Expression
from nalm.units import registry

# The documented domains: every finite input in [-100, 100]; the division units divide by x, so
# theirs leaves out |x| < 1e-3 (at x = 0 in evaluation mode they give the documented ±inf).
DIVIDING = {"nmru", "nru"}
# The power units raise |x| + ε to learned exponents: a negative one divides by ε ≈ 1e-7 at
# x = 0, and the input gradient there is inf · 0 = NaN (found by hypothesis), so their domain
# leaves out |x| < 1e-3 as well; so do their gate-less and snapping twins (the same power of
# |x| + ε), which passed before only because the 300 derandomised cases missed them at x = 0.
AWAY_FROM_ZERO = DIVIDING | {
    "npu",
    "real_npu",
    "naive_npu",
    "real_naive_npu",
    "snap_npu",
    "int_snap_npu",
    "power",  # x^w with w < 0 is inf at 0 by definition (eps is the dtype's smallest normal)
}
UNITS = registry.names()

unit_cases = st.fixed_dictionaries(
    {
        "name": st.sampled_from(UNITS),
        "n_in": st.integers(1, 4),
        "n_out": st.integers(1, 3),
        "seed": st.integers(0, 2**31 - 1),
        "scale": st.floats(0.0, 3.0),
        "rows": st.integers(1, 5),
        "magnitude": st.sampled_from([1e-2, 1.0, 10.0, 100.0]),
    }
)


def _inputs(case, draw_zero):
    generator = torch.Generator().manual_seed(case["seed"])
    x = (torch.rand(case["rows"], case["n_in"], generator=generator) * 2 - 1) * case["magnitude"]
    if case["name"] in AWAY_FROM_ZERO:
        x = torch.where(x.abs() < 1e-3, torch.full_like(x, 1e-3), x)
    elif draw_zero:
        x[0, 0] = 0.0
    return x


# derandomize: CI sees the same 300 cases every run, so a pass or a failure is reproducible
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(case=unit_cases, draw_zero=st.booleans())
def test_every_unit_gives_finite_outputs_and_gradients_on_its_domain(case, draw_zero):
    torch.manual_seed(case["seed"])
    unit = registry.create(case["name"], case["n_in"], case["n_out"])
    with torch.no_grad():  # random parameters, not just the initialisation
        for p in unit.parameters():
            p.add_(torch.randn_like(p) * case["scale"])
    unit.after_step()  # the projection the trainer applies (clamping), as in training
    x = _inputs(case, draw_zero).requires_grad_()
    y = unit(x)
    assert y.shape == (case["rows"], case["n_out"])
    assert torch.isfinite(y).all(), (case, y)
    (y.sum() + unit.regularization()).backward()
    for name, p in unit.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), (case, name)
    assert torch.isfinite(x.grad).all(), case


@pytest.mark.parametrize("name", sorted(DIVIDING))
def test_division_by_zero_gives_the_documented_inf(name):
    unit = registry.create(name, 2, 1).eval()
    with torch.no_grad():
        unit.W.zero_()
        unit.W[0, -1] = 1.0  # NMRU: select 1/x1; NRU: W = [0, 1] ... set below
        if name == "nru":
            unit.W[0, -1] = -1.0
    y = unit(torch.tensor([[3.0, 0.0]]))
    assert torch.isinf(y).all()


TOKENS = [
    "x0",
    "x1",
    "x12",
    "y",
    "+",
    "-",
    "*",
    "/",
    "**",
    "(",
    ")",
    "1",
    "2.5",
    "1e308",
    "0",
    "10",
    "sqrt(",
    "abs(",
    "exp(",
    "log(",
    "__import__(",
    "'os'",
    "lambda",
    ":",
    ",",
    ".",
    "[",
    "]",
    "9" * 400,
    " ",
    "x0.real",
    "open(",
    "=",
    "==",
    "if",
    "else",
    "**-",
    "nan",
    "inf",
]


@settings(max_examples=400, deadline=1000)
@given(
    text=st.one_of(
        st.text(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
    )
)
def test_the_parser_returns_an_expression_or_says_why(text):
    """Never another exception, never code run, never a hang (hypothesis' deadline: 1 s)."""
    try:
        expression = Expression(text)
    except NalmError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert expression.n_inputs >= 1
    x = torch.rand(4, expression.n_inputs) + 0.5
    with torch.no_grad():
        value = expression(x)
    assert value.shape in ((4,), ())


def test_the_parser_bounds_exponents_and_size():
    with pytest.raises(NalmError, match="outside"):
        Expression("x0 ** 11")
    with pytest.raises(NalmError, match="must be a number"):
        Expression("2 ** 2 ** 2 ** 2 ** x0")
    with pytest.raises(NalmError, match="longer than"):
        Expression("x0 + " * 300 + "x0")
    with pytest.raises(NalmError, match="more than 200 terms"):
        Expression("+".join(["x0"] * 150))
    assert math.isfinite(float(Expression("x0 ** -10")(torch.tensor([[2.0]]))[0]))
