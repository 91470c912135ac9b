import math

import numpy as np
import pytest
import sympy
import torch
from torch import nn

import nalm
from nalm import ExpressionTask, fit_seeds
from nalm.errors import NalmError
from nalm.symbolic import extract_formula, formula_function, relative_errors, to_formula, verify
from nalm.train import Ramp
from nalm.units import (
    INALU,
    MLP,
    NAC,
    NALU,
    NAU,
    NMRU,
    NMU,
    NPU,
    NRU,
    Linear,
    NACMul,
    RealNPU,
    registry,
)

x0, x1, x2, x3 = sympy.symbols("x0:4")  # to_formula hands back plain symbols


def set_(param: torch.Tensor, values) -> None:
    with torch.no_grad():
        param.copy_(torch.tensor(values, dtype=param.dtype))


def nau(w):
    unit = NAU(len(w[0]), len(w))
    set_(unit.W, w)
    return unit


def nmu(w):
    unit = NMU(len(w[0]), len(w))
    set_(unit.W, w)
    return unit


def real_npu(w, g):
    unit = RealNPU(len(w[0]), len(w))
    set_(unit.W, w)
    set_(unit.g, g)
    return unit


def nmru(w):
    unit = NMRU(len(w[0]) // 2, len(w))
    set_(unit.W, w)
    return unit


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: nau([[1.0, 1.0]]), x0 + x1),
        (lambda: nau([[1.0, -1.0]]), x0 - x1),
        (lambda: nmu([[1.0, 1.0]]), x0 * x1),
        (lambda: nmru([[1.0, 0.0, 0.0, 1.0]]), x0 / x1),
        (lambda: real_npu([[1.0, -1.0]], [1.0, 1.0]), x0 / x1),
        (lambda: real_npu([[0.5]], [1.0]), sympy.sqrt(x0)),
        (
            lambda: nn.Sequential(nau([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), nmu([[1.0, 1.0]])),
            (x0 + x1) * x2,
        ),
    ],
    ids=["add", "sub", "mul", "div-nmru", "div-real_npu", "sqrt", "(x0+x1)*x2"],
)
def test_exact_weights_give_exactly_the_expression(make, expected):
    formula = to_formula(make())
    assert formula == expected  # structural equality, not just numerical
    assert str(formula) == str(expected)


def test_every_reader_on_clean_weights():
    nac = NAC(2, 1)
    set_(nac.W_hat, [[20.0, -20.0]])
    set_(nac.M_hat, [[20.0, 20.0]])
    mul = NACMul(2, 1)
    set_(mul.W_hat, [[20.0, 20.0]])
    set_(mul.M_hat, [[20.0, 20.0]])
    nalu = NALU(2, 1, gate="independent")
    set_(nalu.W_hat, [[20.0, -20.0]])
    set_(nalu.M_hat, [[20.0, 20.0]])
    set_(nalu.G, [-20.0])  # the gate closed: the multiplicative path alone
    inalu = INALU(2, 1)
    set_(inalu.W_hat_mul, [[20.0, 20.0]])
    set_(inalu.M_hat_mul, [[20.0, 20.0]])
    set_(inalu.G, [-30.0])
    npu = NPU(3, 1)
    set_(npu.W_re, [[1.0, -1.0, 0.7]])
    set_(npu.g, [1.0, 1.0, 0.0])  # x2's relevance gate shut: its weight is never read
    nru = NRU(2, 1)
    set_(nru.W, [[1.0, -1.0]])
    linear = Linear(2, 1, bias=True)
    set_(linear.W, [[0.5, 2.0]])
    set_(linear.b, [0.26])
    assert to_formula(nac) == x0 - x1
    assert to_formula(mul) == sympy.Abs(x0 * x1)
    assert to_formula(mul, positive=True) == x0 * x1
    assert to_formula(nalu) == sympy.Abs(x0 / x1)
    assert to_formula(inalu) == x0 * x1  # iNALU keeps the sign
    assert to_formula(nru) == x0 / x1
    assert to_formula(linear) == x0 / 2 + 2 * x1 + sympy.Rational(1, 4)
    extraction = extract_formula(npu)
    assert extraction.formula == x0 / x1
    assert not any(w.name == "W_re" and w.index == (0, 2) for w in extraction.snapped)
    assert any("relevance gate" in note for note in extraction.pruned)


def test_snapping_report_and_weights_kept_as_floats():
    unit = nau([[0.97, 0.7, -0.02]])
    extraction = extract_formula(unit, names=["a", "b", "c"])
    a, b = sympy.symbols("a b")
    assert extraction.formula == a + sympy.Float(0.7, 6) * b
    snapped = {w.index: (w.value, w.clean) for w in extraction.snapped}
    assert snapped[(0, 0)][1] == 1 and snapped[(0, 2)][1] == 0
    assert snapped[(0, 0)][0] == pytest.approx(0.97)
    assert [w.index for w in extraction.kept] == [(0, 1)]
    assert extraction.largest_change == pytest.approx(0.03, abs=1e-6)
    assert not extraction.exact
    assert "2 weight(s) snapped" in extraction.summary()
    # A tighter tolerance snaps less.
    tight = extract_formula(unit, tolerance=0.025)
    assert [w.index for w in tight.snapped] == [(0, 2)]


def test_exponents_snap_to_simple_rationals():
    unit = real_npu([[0.34, -0.74, 1.49]], [1.0, 1.0, 1.0])
    formula = to_formula(unit)
    assert formula == x0 ** sympy.Rational(1, 3) * x1 ** sympy.Rational(
        -3, 4
    ) * x2 ** sympy.Rational(3, 2)


def test_unused_hidden_outputs_are_pruned_and_not_reported():
    model = nn.Sequential(
        nau([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.3, 0.2, 0.6, 0.5]]),
        nmu([[1.0, 1.0, 0.0]]),
    )
    extraction = extract_formula(model)
    assert extraction.formula == (x0 + x1) * (x2 + x3)
    assert extraction.pruned == ["layer 0 outputs [2] (unused)"]
    assert not any(w.layer == 0 and w.index[0] == 2 for w in extraction.snapped + extraction.kept)
    assert extraction.exact


def test_several_outputs_give_a_column():
    formula = to_formula(nau([[1.0, 1.0], [1.0, -1.0]]))
    assert formula == sympy.ImmutableMatrix([x0 + x1, x0 - x1])


@pytest.mark.parametrize(
    "name",  # nalm's units all have a reader; one from outside (examples/custom_unit) may not
    [n for n in registry.names() if n != "mlp" and registry.get(n).__module__.startswith("nalm.")],
)
def test_unsnapped_formula_equals_the_model(name):
    """With nothing snapped, every reader's expression is the unit's own function."""
    torch.manual_seed(3)
    unit = registry.create(name, 3, 2, dtype=torch.float64)
    for p in unit.parameters():  # random weights away from every clean value
        with torch.no_grad():
            p.add_(0.013)
    extraction = extract_formula(unit, tolerance=0.0)
    assert not extraction.snapped
    negative = unit.keeps_sign is not False
    x = nalm.Range.parse("-3,-0.5|0.5,3" if negative else "0.5,3").sample(
        (500, 3), dtype=torch.float64
    )
    with torch.no_grad():
        expected = unit.eval()(x).numpy()
    for k, output in enumerate(extraction.outputs):
        values = formula_function(output, ["x0", "x1", "x2"])(x.numpy())
        # weights enter the expression with 6 significant digits
        assert np.allclose(values, expected[:, k], rtol=1e-4, atol=1e-4), (name, k, output)


def test_names_and_errors():
    formula = to_formula(nau([[1.0, -1.0]]), names=["V", "R"])
    assert formula == sympy.Symbol("V") - sympy.Symbol("R")  # plain symbols, no assumptions
    with pytest.raises(NalmError, match="2 inputs but 3 names"):
        to_formula(nau([[1.0, 1.0]]), names=["a", "b", "c"])
    with pytest.raises(NalmError, match="MLP has no closed-form formula"):
        to_formula(MLP(2, 1))
    with pytest.raises(NalmError, match="cannot read a ReLU"):
        to_formula(nn.Sequential(NAU(2, 2), nn.ReLU(), NAU(2, 1)))


def test_verify_measures_the_relative_error():
    exact = nau([[1.0, 1.0]])
    assert verify(exact, "x0 + x1", ["1,2", "1e4,1e5"]) < 1e-6
    assert verify(exact, x0 + x1, "1,2") < 1e-6
    # W = 0.9 computes 0.9 (x0 + x1): 10 % off everywhere.
    assert verify(nau([[0.9, 0.9]]), "x0 + x1", ["1,2", "1e3,1e4"]) == pytest.approx(0.1, rel=1e-5)
    # An absolute offset (x0 + 0.001) is a relative error that fades far out.
    linear = Linear(1, 1, bias=True)
    set_(linear.W, [[1.0]])
    set_(linear.b, [0.001])
    near = verify(linear, "x0", "1,2")
    far = verify(linear, "x0", "1e3,2e3")
    assert near == pytest.approx(1e-3, rel=1e-4) and far == pytest.approx(1e-6, rel=0.1)


def test_verify_ranges_per_input_and_errors():
    divide = nmru([[1.0, 0.0, 0.0, 1.0]]).eval()
    assert verify(divide, "a / b", [{"a": "-5,5", "b": "1,2"}], names=["a", "b"]) < 1e-6
    with pytest.raises(NalmError, match="no range for b"):
        verify(divide, "a / b", [{"a": "1,2"}], names=["a", "b"])
    with pytest.raises(NalmError, match="unknown name 'y'"):
        verify(divide, "x0 / y", "1,2")
    with pytest.raises(NalmError, match="undefined on every sample"):
        verify(real_npu([[0.5]], [1.0]), "sqrt(x0)", "-2,-1")
    broken = nau([[math.nan, 1.0]])
    assert verify(broken, "x0 + x1", "1,2") == math.inf


def test_formula_function_and_relative_errors():
    f = formula_function("sqrt(V) / R", ["V", "R"])
    values = f([[4.0, 2.0], [-1.0, 1.0], [9.0, 0.0]])
    assert values[0] == 1.0 and math.isnan(values[1]) and math.isnan(values[2])
    errors = relative_errors([1.1, 5.0, math.inf], [1.0, math.nan, 2.0])
    assert errors[0] == pytest.approx(0.1) and math.isnan(errors[1]) and errors[2] == math.inf


def test_trained_nau_reads_as_x0_plus_x1():
    task = ExpressionTask("x0 + x1", "-2,2", "-6,6", eval_size=500)
    result = fit_seeds(
        lambda: NAU(2, 1),
        [task] * 5,
        seeds=range(5),
        steps=3000,
        lr=0.01,
        regularizer=Ramp(0.01, 500, 2000),
        progress=False,
    )
    successes = 0
    for run in result.runs:
        model = NAU(2, 1)
        model.load_state_dict(run.weights)
        successes += to_formula(model) == x0 + x1
    assert successes >= 4


@pytest.mark.slow
def test_trained_nau_nmu_reads_as_the_product_of_sums():
    def make():
        return nn.Sequential(NAU(4, 2), NMU(2, 1))

    task = ExpressionTask("(x0 + x1) * (x2 + x3)", "-2,2", "-6,6", eval_size=500)
    result = fit_seeds(
        make,
        [task] * 5,
        seeds=range(5),
        steps=6000,
        lr=0.05,
        regularizer=Ramp(1.0, 1500, 4500),
        progress=False,
    )
    formulas = []
    for run in result.runs:
        model = make()
        model.load_state_dict(run.weights)
        formulas.append(to_formula(model))
    successes = sum(sympy.simplify(f - (x0 + x1) * (x2 + x3)) == 0 for f in formulas)
    assert successes >= 4, formulas


def test_top_level_exports():
    assert nalm.to_formula is to_formula and nalm.verify is verify
    assert nalm.extract_formula is extract_formula


def test_hidden_values_are_not_assumed_positive():
    """x0 − x1 can be negative even when the inputs are positive: |x0 − x1| stays."""
    mul = NACMul(1, 1)
    set_(mul.W_hat, [[20.0]])
    set_(mul.M_hat, [[20.0]])
    model = nn.Sequential(nau([[1.0, -1.0]]), mul)
    p0, p1 = sympy.symbols("x0 x1")
    assert to_formula(model, positive=True) == sympy.Abs(p0 - p1)
    assert verify(model, to_formula(model, positive=True), "1,5") < 1e-2  # ε near x0 = x1
    assert verify(model, p0 - p1, "1,5") > 1  # what positive hidden symbols used to give


def test_infinite_constants_and_several_outputs():
    # The NAU row snaps to 0 and the NMRU divides by it: a formula with zoo in it.
    divide = nmru([[1.0, 0.0, 0.0, 1.0]])
    model = nn.Sequential(nau([[1.0, 1.0], [0.01, -0.01]]), divide)
    formula = to_formula(model)
    assert formula.has(sympy.zoo)
    with pytest.raises(NalmError, match="infinite or undefined constant"):
        verify(model, formula, "1,2")
    two = nau([[1.0, 1.0], [1.0, -1.0]])
    assert verify(two, to_formula(two), "1,2") < 1e-6
    assert verify(two, ["x0 + x1", "x0 - x1"], "1,2") < 1e-6
    with pytest.raises(NalmError, match="2 outputs but 1 formula"):
        verify(two, "x0 + x1", "1,2")
    constant = nmu([[0.01, 0.0]])
    assert to_formula(constant) == 1
    assert verify(constant, "1", "1,2") == pytest.approx(0.01, rel=0.05)


def test_input_gate_weights_are_reported_as_kept_and_unused_layers_are_not_read():
    nalu = NALU(2, 1)
    extraction = extract_formula(nalu)
    assert not extraction.exact
    assert {w.name for w in extraction.kept} >= {"G"}
    npu = real_npu([[1.0, 1.0], [1.0, 0.0]], [1.0, 1.0])
    model = nn.Sequential(npu, nmu([[0.0, 0.0]]))
    extraction = extract_formula(model)
    assert extraction.formula == 1
    assert all(w.layer == 1 for w in extraction.snapped + extraction.kept)
    assert "layer 0 outputs [0, 1] (unused)" in extraction.pruned
