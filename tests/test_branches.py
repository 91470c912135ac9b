"""Branches in the model grammar, ``nau>(nau|nmu)``: parsing, the layer, its formula, save/load
and training on the engine."""

import pytest
import sympy
import torch

import nalm
from nalm.errors import NalmError
from nalm.models import branch_units, parse
from nalm.tasks import ExpressionTask
from nalm.train import fit_seeds
from nalm.units import NAU, NMU, regularization
from nalm.units.branches import Branches


def _product_model() -> torch.nn.Sequential:
    """(x0 + x1)·(x2 + x3) with the NMU branch chosen."""
    model = parse("nau>(nau|nmu)").build(4, 1, hidden=2)
    with torch.no_grad():
        model[0].W.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
        model[1].branches[0].W.fill_(1.0)
        model[1].branches[1].W.fill_(1.0)
        model[1].S.copy_(torch.tensor([[-30.0], [30.0]]))
    return model


def test_the_grammar_reads_branches_and_refuses_malformed_ones_in_one_sentence():
    spec = parse(" nau > ( nau | nmu ) ")
    assert str(spec) == "nau>(nau|nmu)" and spec.output_unit is None
    assert branch_units(spec.layers[1]) == ("nau", "nmu")
    model = spec.build(4, 1, hidden=2)
    assert isinstance(model[1], Branches) and len(model[1].branches) == 2
    for bad, message in [
        ("nau>(nmu)", "two units or more"),
        ("nau>(nau|mlp:relu)", "is not a registry unit"),
        ("nau>(nau|nope)", "unknown unit"),
        ("lstm>(nau|nmu)", "branches are for feed-forward models"),
        ("nau>nau|nmu", "two units or more"),
    ]:
        with pytest.raises(NalmError, match=message):
            parse(bad)


def test_the_selection_mixes_the_branches_and_its_penalty_vanishes_once_one_is_chosen():
    layer = Branches([NAU(2, 1), NMU(2, 1)])
    with torch.no_grad():
        layer.branches[0].W.fill_(1.0)
        layer.branches[1].W.fill_(1.0)
    x = torch.tensor([[3.0, 4.0]])
    assert layer(x).item() == pytest.approx((7 + 12) / 2)  # s = ½ each at the start
    assert layer.regularization().item() == pytest.approx(0.5)  # 1 − max s, NAU/NMU at 0
    with torch.no_grad():
        layer.S.copy_(torch.tensor([[30.0], [-30.0]]))
    assert layer(x).item() == pytest.approx(7.0)
    assert layer.regularization().item() == pytest.approx(0.0, abs=1e-12)
    with torch.no_grad():
        layer.branches[0].W.fill_(0.5)  # the NAU's own penalty is now > 0: not counted here
    assert layer.regularization().item() == pytest.approx(0.0, abs=1e-12)
    model = torch.nn.Sequential(NAU(2, 2), layer)
    inner = layer.branches[0].regularization() + layer.branches[1].regularization()
    total = regularization(model)
    assert total.item() == pytest.approx((model[0].regularization() + inner).item())
    with pytest.raises(NalmError, match="the same sizes"):
        Branches([NAU(2, 1), NMU(3, 1)])


def test_the_formula_reads_the_chosen_branch_and_survives_save_and_load(tmp_path):
    model = _product_model()
    x0, x1, x2, x3 = sympy.symbols("x0 x1 x2 x3")
    assert nalm.to_formula(model) == (x0 + x1) * (x2 + x3)
    loaded = nalm.load(nalm.save(model, tmp_path / "branches.pt"))
    x = torch.rand(16, 4) + 1
    assert torch.equal(loaded(x), model(x))
    assert nalm.to_formula(loaded) == (x0 + x1) * (x2 + x3)
    with torch.no_grad():
        model[1].S.zero_()  # undecided: the mixture, each branch read with its own weights
        model[1].branches[0].W.copy_(torch.tensor([[1.0, -1.0]]))
    mixed = nalm.to_formula(model)
    h0, h1 = x0 + x1, x2 + x3
    assert sympy.simplify(mixed - ((h0 - h1) + h0 * h1) / 2) == 0
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    value = float(mixed.subs({x0: 1.0, x1: 2.0, x2: 3.0, x3: 4.0}))
    assert value == pytest.approx(model(x).item())


def test_one_branch_model_and_policy_pick_the_sum_for_a_sum_and_the_product_for_a_product():
    tasks = [ExpressionTask("x0 + x1", "1,2", "2,6"), ExpressionTask("x0 * x1", "1,2", "2,6")]
    result = fit_seeds(
        lambda: parse("(nau|nmu)").build(2, 1),
        tasks,
        seeds=[0, 1],
        steps=1000,
        lr=0.05,
        policy="none",
        progress=False,
    )
    chosen = []
    for run in result.runs:
        assert not run.diverged
        share = torch.softmax(run.weights["S"], dim=0)[:, 0]
        chosen.append(int(share.argmax()))
        assert float(share.max()) > 0.9
        assert run.history[-1]["interpolation_mse"] < run.history[0]["interpolation_mse"] / 100
    assert chosen == [0, 1]  # the NAU for x0 + x1, the NMU for x0 · x1


def test_branch_models_train_on_stacked_tensors_with_the_same_arithmetic_as_under_vmap(
    monkeypatch,
):
    from nalm.train.stack import Stack

    def build():
        return parse("nau>(nau|nmu)").build(4, 1, hidden=2)

    assert Stack.of([build() for _ in range(3)], torch.device("cpu")).stacked

    def train():
        task = ExpressionTask("(x0 + x1) * (x2 + x3)", "1,2", "2,6")
        result = fit_seeds(
            build,
            [task] * 3,
            seeds=[0, 1, 2],
            steps=200,
            lr=0.02,
            policy="madsen-nau",
            progress=False,
        )
        return [run.weights for run in result.runs]

    stacked = train()
    monkeypatch.setattr(Branches, "stackable", False)
    mapped = train()
    for a, b in zip(stacked, mapped, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert any(float((a["1.S"] - 0).abs().max()) > 1e-3 for a in stacked)  # S was trained


def _tries(steps: int, deadline: int, target: str = "x0 * x1"):
    from nalm.train import Deadline, Policy

    policy = Policy("tries", reinit=Deadline(deadline, 1e-8), branch_per_try=True)
    tasks = [ExpressionTask(target, "1,2", "2,6") for _ in range(2)]
    return fit_seeds(
        lambda: parse("(nau|nmu)").build(2, 1), tasks, seeds=[0, 1], steps=steps, lr=0.05,
        policy=policy, progress=False,
    )  # fmt: skip


def test_branch_per_try_trains_the_first_branch_alone_first():
    result = _tries(steps=300, deadline=10_000)
    for run in result.runs:
        assert run.reinitialized_at == []
        assert run.weights["S"].flatten().tolist() == [0.0, -40.0]
        assert float(run.weights["branches.1.W"].abs().sum()) > 0  # untrained NMU: its init


def test_branch_per_try_moves_to_the_next_branch_at_each_restart():
    # × on the NAU fails its try; the second try trains the NMU, which is exact
    result = _tries(steps=6000, deadline=2000)
    for run in result.runs:
        assert run.reinitialized_at == [2000]
        assert run.weights["S"].flatten().tolist() == [-40.0, 0.0]
        assert run.weights["branches.1.W"].flatten().tolist() == pytest.approx([1.0, 1.0])
        assert run.history[-1]["extrapolation_mse"] < 1e-8


def test_branch_per_try_comes_round_again_after_the_last_branch():
    # x0 / x1 is neither branch's: the third try is the first branch again
    result = _tries(steps=3500, deadline=1000, target="x0 / x1")
    for run in result.runs:
        assert run.reinitialized_at == [1000, 2000]
        assert run.weights["S"].flatten().tolist() == [0.0, -40.0]


def test_branch_per_try_is_checked_and_keeps_old_keys():
    from nalm.bench.rows import policy_fields
    from nalm.train import Policy, get_policy

    with pytest.raises(NalmError, match="branch_per_try must be True or None"):
        Policy("p", branch_per_try=False)
    assert "branch_per_try" not in policy_fields(get_policy("nmu-fast"))
    assert policy_fields(Policy("p", branch_per_try=True))["branch_per_try"] is True
    assert "one branch per try" in Policy("p", branch_per_try=True).describe()


def test_all_six_is_a_model_name_and_a_policy_with_its_steps():
    from nalm.bench.cells import Settings, resolve_settings
    from nalm.bench.suites import SUITES
    from nalm.train import get_policy

    spec = parse("all-six")
    assert str(spec) == "select_nau>(nau|nmu|int_snap_npu|snap_npu)"
    policy = get_policy("all-six")
    assert policy.branch_per_try and policy.steps == 1_000_000
    assert len(policy.unit_lambda) == 6  # one factor per unit of the model
    madsen = SUITES["madsen"]
    assert resolve_settings(madsen, spec, Settings(), policy)["steps"] == 1_000_000
    assert resolve_settings(madsen, spec, Settings(steps=1000), policy)["steps"] == 1000
    assert resolve_settings(madsen, spec, Settings(), get_policy("snap-div"))["steps"] == 5_000_000
    with pytest.raises(NalmError, match="steps must be a positive integer"):
        policy.replace(steps=0)


def test_nalm_units_lists_the_model_names(capsys):
    from nalm.cli import main

    assert main(["units"]) == 0
    out = capsys.readouterr().out
    assert "  all-six     select_nau>(nau|nmu|int_snap_npu|snap_npu)" in out
    assert "  all-six     regulariser" in out and "one branch per try" in out
