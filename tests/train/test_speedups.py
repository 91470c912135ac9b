"""The engine's speed-ups change no seed's arithmetic beyond float rounding.

Speed-ups: models of stackable units run on the stacked tensors without vmap; under vmap,
``linear`` and ``nmu_product`` have batching rules of their own; stopped seeds leave the
batched computation (compaction). Each is switched off in turn, and each seed is also trained
alone; every seed must end with the same weights, history and stop.
"""

import pytest
import torch
from torch import nn

from nalm.tasks import ArithmeticTask
from nalm.train import Ramp, fit_seeds
from nalm.train.policies import get_policy
from nalm.units import NAU, NMU, functional

SEEDS = [0, 1, 2, 3, 4, 5]
STOPS = {1: 200, 4: 300}  # seed → the evaluation at which it is stopped


def nau_nmu() -> nn.Module:
    return nn.Sequential(NAU(100, 2), NMU(2, 1))


def train(seeds, steps=500, **kwargs):
    tasks = [ArithmeticTask("mul", seed=s, eval_size=300) for s in seeds]
    policy = get_policy("madsen-nmu").replace(regularizer=Ramp(10.0, 100, 300))

    def early(i, history):
        return history[-1]["step"] >= STOPS.get(seeds[i], steps + 1)

    result = fit_seeds(
        nau_nmu,
        tasks,
        seeds,
        steps=steps,
        eval_every=100,
        lr=1e-2,
        policy=policy,
        early_stop=early,
        shared_inputs=True,
        progress=False,
        **kwargs,
    )
    return {run.seed: run for run in result.runs}


def assert_same(runs, reference, rel=1e-5):
    for seed, run in reference.items():
        other = runs[seed]
        assert other.stopped_at == run.stopped_at and other.steps == run.steps
        for name, w in run.weights.items():
            torch.testing.assert_close(other.weights[name], w, rtol=rel, atol=rel / 10)
        assert len(other.history) == len(run.history)
        for a, b in zip(run.history, other.history, strict=True):
            assert b.keys() == a.keys()
            for key, value in a.items():  # the first row's train_loss is NaN (no step yet)
                assert b[key] == pytest.approx(value, rel=rel, abs=rel / 1e4, nan_ok=True)


@pytest.fixture(scope="module")
def fast():
    return train(SEEDS)


def test_the_fast_path_stops_seeds_and_trains_the_rest(fast):
    assert [fast[s].stopped_at for s in SEEDS] == [None, 200, None, None, 300, None]
    assert fast[0].steps == 500 and fast[1].steps == 200
    assert fast[0].weights["0.W"].abs().sum() > 0
    # the regulariser moved the weights: seeds that stopped differ from those that went on
    assert not torch.equal(fast[0].weights["1.W"], fast[2].weights["1.W"])


def test_without_compaction(fast):
    assert_same(train(SEEDS, compact=False), fast)


def test_under_vmap_with_and_without_the_batching_rules(fast, monkeypatch):
    monkeypatch.setattr(NAU, "stackable", False)
    monkeypatch.setattr(NMU, "stackable", False)
    assert_same(train(SEEDS), fast)  # vmap with linear's and nmu_product's own rules
    monkeypatch.setattr(functional, "_batched", lambda t: False)
    assert_same(train(SEEDS), fast)  # vmap through the plain formulas


@pytest.mark.parametrize("seed", [1, 2])
def test_each_seed_alone(fast, seed):
    assert_same(train([seed]), {seed: fast[seed]})


def test_a_compacted_cohort_resumes_from_its_checkpoint_to_the_same_end(tmp_path, fast):
    checkpoint = tmp_path / "cohort.safetensors"
    interrupted = {"done": False}
    original = train.__globals__["fit_seeds"]

    def interrupting(*args, early_stop, **kwargs):
        def rule(i, history):
            if history[-1]["step"] == 400 and not interrupted["done"]:
                interrupted["done"] = True
                raise KeyboardInterrupt  # after the checkpoint of step 300, seed 1 compacted
            return early_stop(i, history)

        return original(*args, early_stop=rule, **kwargs)

    train.__globals__["fit_seeds"] = interrupting
    try:
        with pytest.raises(KeyboardInterrupt):
            train(SEEDS, checkpoint=checkpoint)
    finally:
        train.__globals__["fit_seeds"] = original
    assert_same(train(SEEDS, checkpoint=checkpoint), fast, rel=0)


@pytest.mark.parametrize("seconds,tick,writes", [(0.0, 0.0, 5), (5.0, 10.0, 5), (1e9, 0.0, 2)])
def test_checkpoint_seconds_spaces_the_writes(tmp_path, monkeypatch, seconds, tick, writes):
    """Every 100 steps is due; a write happens when ``seconds`` have passed since the last one
    (here a clock that moves ``tick`` seconds each time it is read), and always at the end."""
    from nalm.train import checkpoint as checkpoints
    from nalm.train import engine

    clock = {"now": 0.0}

    def perf_counter():
        clock["now"] += tick
        return clock["now"]

    written = []
    save = checkpoints.save_engines
    monkeypatch.setattr(engine.time, "perf_counter", perf_counter)
    monkeypatch.setattr(checkpoints, "save_engines", lambda *a: written.append(1) or save(*a))
    tasks = [ArithmeticTask("add", input_size=4, subset=0.25, overlap=0, seed=s) for s in (0, 1)]
    fit_seeds(lambda: NAU(4, 1), tasks, [0, 1], steps=500, eval_every=100, progress=False,
              checkpoint=tmp_path / "c.safetensors", checkpoint_seconds=seconds)  # fmt: skip
    assert len(written) == writes


def test_a_hook_or_an_unstackable_unit_sends_the_model_through_vmap():
    from nalm.train.stack import Stack
    from nalm.units import NAC

    models = [nn.Sequential(NAU(3, 2), NMU(2, 1)) for _ in range(4)]
    assert Stack.of(models, torch.device("cpu")).stacked
    assert not Stack.of([nn.Sequential(NAC(3, 2), NMU(2, 1)) for _ in range(4)], "cpu").stacked
    hooked = [nn.Sequential(NAU(3, 2), NMU(2, 1)) for _ in range(4)]
    hooked[0][0].register_forward_hook(lambda module, inputs, output: output * 2)
    stack = Stack.of(hooked, torch.device("cpu"))
    assert not stack.stacked  # the hook would see (S, B, out): vmap shows it one seed at a time
    x, template = torch.rand(5, 3), hooked[0]  # the template's hook doubles every seed
    expected = torch.stack(
        [torch.func.functional_call(template, dict(m.state_dict()), (x,)) for m in hooked]
    )
    assert torch.equal(expected[0], hooked[0](x)) and not torch.equal(expected[1], hooked[1](x))
    torch.testing.assert_close(stack.call("output", x, True).detach(), expected.detach())


def test_the_unit_functions_under_grad_of_vmap_and_nested_vmap():
    from torch.func import functional_call, grad, vmap

    unit, xs = NMU(3, 2), torch.rand(4, 3)
    params = {k: v.detach() for k, v in unit.named_parameters()}
    got = grad(lambda p: vmap(lambda x: functional_call(unit, p, (x,)))(xs).sum())(params)
    unit(xs).sum().backward()
    torch.testing.assert_close(got["W"], unit.W.grad)
    W, xs = torch.rand(5, 2, 4), torch.rand(3, 6, 4)
    nested = vmap(lambda xk: vmap(functional.linear, in_dims=(None, 0))(xk, W))(xs)
    torch.testing.assert_close(nested, torch.einsum("kbi,soi->ksbo", xs, W))
    nested = vmap(lambda xk: vmap(functional.nmu_product, in_dims=(None, 0))(xk, W))(xs)
    expected = (xs[:, None, :, None, :] * W[None, :, None] + (1 - W[None, :, None])).prod(-1)
    torch.testing.assert_close(nested, expected)


@pytest.mark.parametrize(
    ("unit", "policy", "op"),
    [
        ("NMRU", "nmru", "div"),
        ("RealNPU", "npu", "root"),
        ("NPU", "npu", "div"),
        ("RealNaiveNPU", "npu", "root"),
        ("NaiveNPU", "npu", "div"),
        ("SnapNPU", "snap-div", "root"),
        ("IntSnapNPU", "snap-div", "div"),
        ("IntNAU", "madsen-nau", "add"),
        ("SelectNAU", "madsen-nau", "add"),
    ],
)
def test_units_on_stacked_parameters_match_vmap(monkeypatch, unit, policy, op):
    import nalm.units
    from nalm.train.stack import Stack

    cls = getattr(nalm.units, unit)

    def run():
        tasks = [ArithmeticTask(op, input_size=12, seed=s, eval_size=200) for s in range(3)]
        result = fit_seeds(
            lambda: nn.Sequential(NAU(12, 2), cls(2, 1)), tasks, [0, 1, 2], steps=200,
            eval_every=50, lr=1e-2, policy=get_policy(policy).replace(
                regularizer=Ramp(1.0, 50, 150)), shared_inputs=True, progress=False,
        )  # fmt: skip
        return {run.seed: run for run in result.runs}

    models = [nn.Sequential(NAU(12, 2), cls(2, 1)) for _ in range(3)]
    assert Stack.of(models, torch.device("cpu")).stacked
    stacked = run()
    monkeypatch.setattr(cls, "stackable", False)
    assert not Stack.of(models, torch.device("cpu")).stacked
    assert_same(run(), stacked)
