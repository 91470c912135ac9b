"""Issue 33, group 7: ``nalm.load`` refuses inconsistent files in one sentence naming the file.

Each bad file is made from a good one (``nalm.persist.save``) by rewriting its metadata or
tensors with the ``safetensors`` library.
"""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from nalm.errors import NalmError
from nalm.models import parse
from nalm.persist import load, save
from nalm.units import NAU, NMU
from nalm.units.recurrent import recurrent


def unit(name, n_in, n_out):
    return {"kind": "unit", "unit": name, "in_features": n_in, "out_features": n_out, "options": {}}


def rewrite(path, out, *, metadata=None, architecture=None, tensors=None):
    """``path`` written again to ``out`` with some metadata, architecture or tensors changed."""
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
    values = load_file(str(path))
    if architecture is not None:
        meta["architecture"] = (
            architecture if isinstance(architecture, str) else json.dumps(architecture)
        )
    meta |= metadata or {}
    save_file(values if tensors is None else tensors(values), str(out), metadata=meta)
    return out


def refused(path):
    with pytest.raises(NalmError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    assert message.startswith(f"cannot load {path}: "), message
    return message.removeprefix(f"cannot load {path}: ")


@pytest.fixture
def stack(tmp_path):
    return save(nn.Sequential(NAU(3, 2), NMU(2, 1)), tmp_path / "stack.safetensors")


def test_layers_whose_sizes_do_not_chain_are_refused(tmp_path, stack):
    chain = {"kind": "sequential", "layers": [unit("nau", 3, 2), unit("nmu", 5, 1)]}
    tensors = {"0.W": torch.zeros(2, 3), "1.W": torch.zeros(1, 5)}
    bad = rewrite(
        stack, tmp_path / "chain.safetensors", architecture=chain, tensors=lambda _: tensors
    )
    assert refused(bad) == (
        "the architecture description chains layer 0 (NAU, 2 outputs) into layer 1 (NMU, 5 inputs)"
    )
    # the same inside a nested stack, and between a stack and the next layer
    nested = {
        "kind": "sequential",
        "layers": [{"kind": "sequential", "layers": [unit("nau", 3, 2)]}, unit("nmu", 5, 1)],
    }
    tensors = {"0.0.W": torch.zeros(2, 3), "1.W": torch.zeros(1, 5)}
    bad = rewrite(
        stack, tmp_path / "nested.safetensors", architecture=nested, tensors=lambda _: tensors
    )
    assert "chains layer 0 (Sequential, 2 outputs) into layer 1 (NMU, 5 inputs)" in refused(bad)


def test_a_recurrent_head_that_does_not_take_the_hidden_state_is_refused(tmp_path):
    path = save(recurrent("nau", 3, 2), tmp_path / "rnn.safetensors")
    with safe_open(str(path), "pt") as f:
        architecture = json.loads(f.metadata()["architecture"])
    architecture.pop("grammar", None)
    architecture["head"] = unit("nau", 4, 1)
    bad = rewrite(
        path,
        tmp_path / "head.safetensors",
        architecture=architecture,
        tensors=lambda t: {**t, "head.W": torch.zeros(1, 4)},
    )
    assert refused(bad) == (
        "the architecture description's recurrent cell keeps 2 hidden values but its head (NAU) "
        "takes 4 inputs"
    )


def test_an_empty_stack_is_refused(tmp_path, stack):
    bad = rewrite(
        stack,
        tmp_path / "empty.safetensors",
        architecture={"kind": "sequential", "layers": []},
        tensors=lambda _: {},
    )
    assert refused(bad) == "the architecture description has a stack with no layers"


@pytest.mark.parametrize(
    ("value", "count"), [(float("nan"), 6), (float("inf"), 1), (-float("inf"), 6)]
)
def test_weights_that_are_not_finite_are_refused(tmp_path, stack, value, count):
    def poisoned(tensors):
        W = tensors["0.W"].clone()
        if count == 1:
            W[1, 2] = value
        else:
            W.fill_(value)
        return {**tensors, "0.W": W}

    bad = rewrite(stack, tmp_path / "bad.safetensors", tensors=poisoned)
    plural = "s" if count > 1 else ""
    assert refused(bad) == f"weight 0.W holds {count} NaN or infinite value{plural}"


def test_a_grammar_file_with_nan_weights_is_refused(tmp_path):
    path = save(parse("nau>nmu").build(3, 1, hidden=2), tmp_path / "grammar.safetensors")
    bad = rewrite(
        path,
        tmp_path / "bad.safetensors",
        tensors=lambda t: {**t, "1.W": torch.full_like(t["1.W"], float("nan"))},
    )
    assert refused(bad) == "weight 1.W holds 2 NaN or infinite values"


@pytest.mark.parametrize("version", ["0", "-1", "00", "1.0", "one", " 1", "١", "9" * 5000, ""])
def test_unknown_format_versions_are_refused(tmp_path, stack, version):
    bad = rewrite(stack, tmp_path / "v.safetensors", metadata={"version": version})
    message = refused(bad)
    if version == "9" * 5000:
        assert (
            message.startswith("it was written by a newer nalm")
            or "is not one nalm writes" in message
        )
    else:
        assert f"its format version {version!r} is not one nalm writes" in message
        assert "(versions are whole numbers from 1; this nalm reads 1 to 1)" in message


def test_absurd_sizes_are_refused_in_one_sentence(tmp_path, stack):
    with safe_open(str(stack), "pt") as f:
        text = f.metadata()["architecture"]
    digits = text.replace('"in_features": 3', '"in_features": ' + "9" * 5000, 1)
    message = refused(rewrite(stack, tmp_path / "digits.safetensors", architecture=digits))
    assert message == (
        "its architecture description holds a number of more than 4,300 digits, far beyond any size"
    )
    long = text.replace('"in_features": 3', '"in_features": ' + "9" * 300, 1)
    message = refused(rewrite(stack, tmp_path / "long.safetensors", architecture=long))
    assert message.startswith(
        "a size in the architecture description is not a whole number from 1 to"
    )
    assert message.endswith("...")


def test_good_files_still_load(tmp_path, stack):
    x = torch.rand(4, 3)
    model = nn.Sequential(NAU(3, 2), NMU(2, 1))
    again = load(save(model, tmp_path / "good.safetensors"))
    assert torch.equal(model(x), again(x))
    assert isinstance(load(stack), nn.Sequential)
