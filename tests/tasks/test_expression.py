import math

import pytest
import torch

from nalm import Expression, NalmError, Range


@pytest.mark.parametrize(
    "text,expected",
    [
        ("x0 * x1", lambda a, b, c: a * b),
        ("x0/4 + x1/2 + x2**2", lambda a, b, c: a / 4 + b / 2 + c**2),
        ("-x0 - (x1 - x2)", lambda a, b, c: -a - (b - c)),
        (
            "sqrt(x0) + abs(x1) * exp(-x2) + log(x0)",
            lambda a, b, c: math.sqrt(a) + abs(b) * math.exp(-c) + math.log(a),
        ),
        ("x2 ** -1 + x0 ** (1/2)", lambda a, b, c: 1 / c + a**0.5),
    ],
)
def test_evaluation_matches_python_math(text, expected):
    x = torch.tensor([[2.5, -1.5, 3.0], [7.0, 2.0, 0.5]], dtype=torch.float64)
    got = Expression(text)(x)
    want = torch.tensor([expected(*row) for row in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(got, want)


def test_inputs_are_counted_from_the_largest_index():
    f = Expression("x3 - x1")
    assert f.variables == [1, 3] and f.n_inputs == 4


@pytest.mark.parametrize(
    "text,message",
    [
        ("x0 +", "is not a valid expression"),
        ("__import__('os')", "unknown function '__import__'"),
        ("x0.__class__", "is not allowed"),
        ("y + 1", "unknown name 'y'"),
        ("(lambda: 1)()", "unknown function"),
        ("x0 if x1 else x2", "is not allowed"),
        ("x0 // x1", "is not allowed"),
        ("x0 ** x1", "exponent 'x1' must be a number"),
        ("x0 ** 1000", "outside"),
        ("2 + 3", "uses no input"),
        ("sqrt(x0, x1)", "exactly one argument"),
        ("", "is empty"),
        ("x0 + " * 400 + "x0", "longer than"),
        ("'a' * x0", "is not a finite real number"),
    ],
)
def test_bad_expressions_raise_one_clear_error(text, message):
    with pytest.raises(NalmError, match=message) as info:
        Expression(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text,range_text,message",
    [
        ("x0 / x1", "-1,1", "the divisor 'x1' can be 0"),
        ("x0 / (x0 - x1)", "1,2", "the divisor 'x0 - x1' can be 0"),
        ("sqrt(x0 - 3)", "1,5", "can be negative"),
        ("log(x0)", "-2,2", "can be 0 or negative"),
        ("x0 ** -2", "-1,1", "negative power divides"),
        ("x0 ** 0.5", "-1,1", "fractional power"),
    ],
)
def test_domain_errors(text, range_text, message):
    with pytest.raises(NalmError, match=message):
        Expression(text).check_domain(Range.parse(range_text), "training")


@pytest.mark.parametrize(
    "text,range_text",
    [
        ("x0 / x1", "-6,-2|2,6"),
        ("x0 / (x1 + 3)", "1,2"),
        ("sqrt(x0 * x1)", "-6,-2"),
        ("x0 ** -1", "0.1,0.2"),
    ],
)
def test_domains_that_are_fine(text, range_text):
    expression, inputs = Expression(text), Range.parse(range_text)
    intervals = expression.check_domain(inputs)  # no refusal, and the bounds it returns hold
    values = expression(inputs.sample((2000, 2), torch.Generator().manual_seed(0), torch.float64))
    assert bool(torch.isfinite(values).all())
    inside = torch.zeros_like(values, dtype=torch.bool)
    for lo, hi in intervals:
        inside |= (values >= lo - 1e-9) & (values <= hi + 1e-9)
    assert bool(inside.all())
