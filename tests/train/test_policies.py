import pytest
import torch

from nalm import INALU, NAU, DatasetTask, ExpressionTask, Linear, NalmError, fit
from nalm.train import POLICIES, Geometric, Policy, Ramp, Stall, get_policy, recommended_policy
from nalm.units import build


def task():
    return ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=100)


def test_fit_applies_the_recommended_policy_unless_told_otherwise():
    assert fit(NAU(2, 1), task(), steps=2, progress=False).policy == "madsen-nau"
    assert fit(NAU(2, 1), task(), steps=2, policy=None, progress=False).policy == "none"
    results = fit(
        {"a": NAU(2, 1), "b": NAU(2, 1)}, task(), steps=2, policy={"b": "npu"}, progress=False
    )
    assert (results["a"].policy, results["b"].policy) == ("madsen-nau", "npu")
    assert recommended_policy(build("nau", 4, 1, layers=2)).name == "madsen-nau"
    assert recommended_policy(torch.nn.Sequential(NAU(4, 2), build("nmu", 2, 1))).name == (
        "madsen-nmu"
    )


def test_unknown_policy_is_one_clear_sentence():
    with pytest.raises(
        NalmError, match="unknown training policy 'adam'; valid policies: auto, none"
    ):
        fit(NAU(2, 1), task(), steps=1, policy="adam", progress=False)


def test_the_regulariser_waits_for_the_loss_to_fall_below_regularize_below():
    def weights(policy):
        torch.manual_seed(0)
        model, half = NAU(2, 1), ExpressionTask("x0 + x1 / 2", "1,2", "2,6", eval_size=100)
        fit(model, half, steps=30, lr=0.1, policy=policy, progress=False)  # λ pulls W to 0 or 1
        return model.weight().detach()

    free = weights(None)
    never = weights(Policy("t", regularizer=5.0, regularize_below=1e-30))  # loss never that low
    always = weights(Policy("t", regularizer=5.0, regularize_below=1e30))
    assert torch.equal(never, free) and not torch.equal(always, free)
    rule = Ramp(2.0, 10, 20)
    assert (rule(5), rule(15), rule(30)) == (0.0, 1.0, 2.0)
    assert POLICIES["npu"].regularizer(25_000) == pytest.approx(1e-4)


def test_geometric_schedule_grows_and_shrinks():
    grow = Geometric(start=1e-7, end=1e-5, factor=10, every=10)
    assert [grow(t) for t in (0, 10, 25, 99)] == [1e-7, 1e-6, 1e-5, 1e-5]
    shrink = Geometric(start=1e-5, end=1e-7, factor=10, every=10)
    assert [shrink(t) for t in (0, 10, 25)] == [1e-5, 1e-6, 1e-7]
    with pytest.raises(NalmError, match="factor must be > 1"):
        Geometric(1e-5, 1e-4, factor=1.0)


def test_alternating_updates_move_weights_then_only_the_gate():
    def run(steps):
        torch.manual_seed(0)
        unit = INALU(2, 1)
        rule = Policy("alt", alternate=(8, 2))
        fit(unit, task(), steps=steps, lr=0.01, policy=rule, progress=False, eval_every=steps)
        return {n: p.detach().clone() for n, p in unit.named_parameters()}

    torch.manual_seed(0)
    start = {n: p.detach().clone() for n, p in INALU(2, 1).named_parameters()}
    after8, after10, after11 = run(8), run(10), run(11)
    assert torch.equal(after8["G"], start["G"])  # steps 1–8: weights only
    assert not torch.equal(after8["W_hat"], start["W_hat"])
    assert torch.equal(after10["W_hat"], after8["W_hat"])  # steps 9–10: the gate only
    assert not torch.equal(after10["G"], after8["G"])
    assert not torch.equal(after11["W_hat"], after10["W_hat"])  # step 11: weights again


def test_clipping_by_value_and_by_norm_bounds_an_sgd_step():
    big = ExpressionTask("1000 * x0", "100,200", "200,300", n_inputs=2, eval_size=10)
    for rule, check in (
        (Policy("v", clip_value=0.1), lambda d: d.abs().max().item() == pytest.approx(0.1)),
        (Policy("n", clip_norm=0.5), lambda d: d.norm().item() == pytest.approx(0.5, rel=1e-4)),
    ):
        unit = Linear(2, 1)
        before = unit.W.detach().clone()
        fit(unit, big, steps=1, lr=1.0, optimizer="sgd", policy=rule, progress=False)
        assert check(unit.W.detach() - before)


def test_stall_rule_restarts_a_model_that_cannot_learn():
    # Full batch and SGD with lr 1e-30: the loss of x0·x1 by a NAU stays exactly flat and far
    # above 1, so every window of 4 chunks of 10 steps counts as a stall.
    x = torch.rand(64, 2) * 10 + 10
    y = x.prod(dim=1)
    target = DatasetTask((x, y), {"interpolation": (x, y)})
    rule = Policy("restart", reinit=Stall(chunk=10, half=2, threshold=1.0))
    torch.manual_seed(0)
    unit = NAU(2, 1)
    result = fit(
        unit,
        target,
        steps=130,
        lr=1e-30,
        optimizer="sgd",
        batch_size=None,
        policy=rule,
        progress=False,
        eval_every=130,
    )
    assert result.reinitialized_at == [40, 80, 120]
    torch.manual_seed(0)
    first = NAU(2, 1).W.detach()
    assert not torch.allclose(unit.W.detach(), first, atol=1e-3)  # fresh values, not the init


def test_policy_fields_are_validated():
    with pytest.raises(NalmError, match="clip_norm must be > 0 or None; got -1"):
        Policy("bad", clip_norm=-1)
    with pytest.raises(NalmError, match="alternate must be two positive step counts"):
        Policy("bad", alternate=(8, 0))
    assert get_policy(None).name == "none"


def test_one_ramp_grammar_and_one_place_for_overrides():
    from nalm.errors import NalmError
    from nalm.train.policies import with_overrides
    from nalm.train.schedule import parse_ramp

    assert parse_ramp("10,1e6,2e6") == (10.0, 1_000_000, 2_000_000)
    assert parse_ramp(" 4e4, 8e4 ") == (None, 40_000, 80_000)
    for bad, message in [("5", "is not START,END or LAMBDA,START,END"),
                         ("1,2.5,3", "whole-number steps"),
                         ("1,10,5", "the ramp must end after it starts")]:  # fmt: skip
        with pytest.raises(NalmError, match=message):
            parse_ramp(bad)
    nmu = get_policy("madsen-nmu")  # λ̂ 10 over 1e6–2e6
    moved = with_overrides(nmu, ramp=(10, 20))
    assert (moved.regularizer.lambda_hat, moved.regularizer.start, moved.regularizer.end) == (
        10.0,
        10,
        20,
    )
    assert with_overrides(nmu, lambda_hat=3.0).regularizer.start == nmu.regularizer.start
    assert with_overrides(nmu, lambda_hat=0.0).regularizer is None
    assert with_overrides(nmu) is nmu
    assert with_overrides(nmu, clip_norm=1.0).clip_norm == 1.0
    with pytest.raises(NalmError, match=r"'NALU' has no regulariser ramp to move.*give --lambda"):
        with_overrides(get_policy("none"), ramp=(10, 20), model="'NALU'")
    assert with_overrides(get_policy("none"), lambda_hat=2.0).regularizer.end == 1
