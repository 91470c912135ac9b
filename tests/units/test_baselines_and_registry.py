import pytest
import torch
from torch import nn

from nalm import MLP, NAC, NALU, Linear, NalmError, units


def test_registry_maps_names_to_classes():
    assert units.get("nalu") is NALU
    assert units.get("nac") is NAC
    assert {"nac", "nac_mul", "nalu", "linear", "mlp"} <= set(units.names())


def test_unknown_unit_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown unit .nalx.; valid units: .*nalu"):
        units.get("nalx")


def test_build_stacks_units():
    model = units.build("nalu", 4, 1, layers=3, hidden=5, preset="seed")
    assert isinstance(model, nn.Sequential) and len(model) == 3
    assert [(m.in_features, m.out_features) for m in model] == [(4, 5), (5, 5), (5, 1)]
    assert all(m.init == "seed" for m in model)
    assert model(torch.rand(2, 4)).shape == (2, 1)


def test_unknown_option_and_preset_are_clear():
    with pytest.raises(NalmError, match="unit 'nac' has no option 'eps'; its options: init"):
        units.create("nac", 2, 1, eps=1e-3)
    with pytest.raises(NalmError, match="unit 'mlp' has no 'seed' preset"):
        units.create("mlp", 2, 1, preset="seed")


def test_linear_is_x_times_W_transposed():
    layer = Linear(3, 2, bias=True)
    x = torch.randn(4, 3)
    torch.testing.assert_close(layer(x), x @ layer.W.T + layer.b)
    assert Linear(3, 2).b is None


@pytest.mark.parametrize(
    "name,cls",
    [
        ("relu6", nn.ReLU6),
        ("LeakyReLU", nn.LeakyReLU),
        ("tanh_shrink", nn.Tanhshrink),
        ("threshold", nn.Threshold),
    ],
)
def test_mlp_takes_any_torch_activation_by_name(name, cls):
    mlp = MLP(2, 1, hidden=(8, 8), activation=name)
    assert sum(isinstance(m, cls) for m in mlp.modules()) == 2
    assert mlp(torch.randn(5, 2)).shape == (5, 1)


def test_mlp_unknown_activation():
    with pytest.raises(NalmError, match=r"unknown activation .relu7.; valid activations: .*ReLU6"):
        MLP(2, 1, activation="relu7")


def test_regularization_is_zero_for_units_without_one():
    assert units.regularization(units.build("nac", 2, 1, layers=2)).item() == 0.0


def test_linear_takes_stacked_seeds():
    """``Linear.stackable``: S seeds' W ``(S, out, in)`` and b ``(S, out)``, with a shared
    ``(B, in)`` or a per-seed ``(S, B, in)`` batch, give each seed's own ``(B, out)``, and a
    zero penalty per seed."""
    seeds = [Linear(3, 2, bias=True) for _ in range(4)]
    stacked = Linear(3, 2, bias=True)
    stacked.W = nn.Parameter(torch.stack([m.W.detach() for m in seeds]))
    stacked.b = nn.Parameter(torch.stack([m.b.detach() for m in seeds]))
    shared, own = torch.randn(5, 3), torch.randn(4, 5, 3)
    for x, xs in ((shared, [shared] * 4), (own, list(own))):
        expected = torch.stack([m(xi) for m, xi in zip(seeds, xs, strict=True)])
        torch.testing.assert_close(stacked(x), expected)
    assert torch.equal(stacked.regularization(), torch.zeros(4))
    assert torch.equal(seeds[0].regularization(), torch.zeros(()))


def _linear_sub(bias: bool, seeds: list[int]) -> dict:
    from nalm.tasks import ArithmeticTask
    from nalm.train import fit_seeds

    tasks = [ArithmeticTask("sub", input_size=12, seed=s, eval_size=200) for s in seeds]

    def early(i: int, history: list[dict]) -> bool:  # seed 1 stops, so compaction runs too
        return seeds[i] == 1 and history[-1]["step"] >= 200

    result = fit_seeds(
        lambda: nn.Sequential(Linear(12, 2, bias=bias), Linear(2, 1, bias=bias)), tasks, seeds,
        steps=400, eval_every=100, lr=1e-2, policy="none", shared_inputs=True, early_stop=early,
        progress=False,
    )  # fmt: skip
    return {run.seed: run for run in result.runs}


def _assert_same_runs(runs: dict, reference: dict, rel: float = 1e-5) -> None:
    for seed, run in reference.items():
        other = runs[seed]
        assert (other.stopped_at, other.steps) == (run.stopped_at, run.steps)
        for name, w in run.weights.items():
            torch.testing.assert_close(other.weights[name], w, rtol=rel, atol=rel / 10)
        assert len(other.history) == len(run.history)
        for a, b in zip(run.history, other.history, strict=True):
            for key, value in a.items():  # the first row's train_loss is NaN (no step yet)
                assert b[key] == pytest.approx(value, rel=rel, abs=rel / 1e4, nan_ok=True)


@pytest.mark.parametrize("bias", [False, True])
def test_linear_seeds_train_stacked_as_under_vmap_and_alone(monkeypatch, bias):
    from nalm.train.stack import Stack

    seeds = [0, 1, 2, 3]
    models = [nn.Sequential(Linear(12, 2, bias=bias), Linear(2, 1, bias=bias)) for _ in seeds]
    assert Stack.of(models, torch.device("cpu")).stacked
    stacked = _linear_sub(bias, seeds)
    assert stacked[1].stopped_at == 200 and stacked[0].steps == 400
    for seed in (0, 2):
        _assert_same_runs(_linear_sub(bias, [seed]), {seed: stacked[seed]})
    monkeypatch.setattr(Linear, "stackable", False)
    assert not Stack.of(models, torch.device("cpu")).stacked
    _assert_same_runs(_linear_sub(bias, seeds), stacked)
