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
