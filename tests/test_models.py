"""One model grammar: every entry point that takes a model spec builds the same model from it."""

import copy
import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import nalm
from nalm.app.reproduce.identity import IdentitySettings, identity_models
from nalm.app.reproduce.sequences import build_model, settings_for
from nalm.app.reproduce.table1 import Table1Settings, _builder
from nalm.cli import build_parser, prepare_train
from nalm.errors import NalmError
from nalm.fitting import parse_specs
from nalm.models import BUILT_FROM, TORCH_CELLS, ModelSpec, parse
from nalm.persist import read_metadata
from nalm.units import recurrent

# text, what it parses to, the module types its build gives (a stack: one per layer)
FEEDFORWARD = [
    ("nau", "nau", ["NAU"]),
    ("nau>nmu", "nau>nmu", ["NAU", "NMU"]),
    ("nac>nau>nmu", "nac>nau>nmu", ["NAC", "NAU", "NMU"]),
    ("NMU", "nau>nmu", ["NAU", "NMU"]),
    ("NAC•", "nac>nac_mul", ["NAC", "NACMul"]),
    ("Linear", "linear>linear", ["Linear", "Linear"]),
    ("mlp:relu", "mlp:relu", ["MLP"]),
    ("ReLU6", "mlp:relu6", ["MLP"]),
    (" real_npu ", "real_npu", ["RealNPU"]),
]
RECURRENT = [
    ("lstm", "lstm", "LSTMCell", "Linear"),
    ("gru", "gru", "GRUCell", "Linear"),
    ("lstm>nalu", "lstm>nalu", "LSTMCell", "NALU"),
    ("acc:nau", "acc:nau", "AccumulatorCell", "NAU"),
    ("acc:nac>nmu", "acc:nac>nmu", "AccumulatorCell", "NMU"),
]


def _kinds(model: nn.Module) -> list[str]:
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    return [type(m).__name__ for m in layers]


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _saved_and_loaded(model: nn.Module, path) -> nn.Module:
    """``nalm.load(nalm.save(model))``, checking that the file holds the model's grammar
    description and that the loaded model was built from it (it carries the same note)."""
    nalm.save(model, path)
    grammar = json.loads(read_metadata(path)["architecture"])["grammar"]
    assert grammar == getattr(model, BUILT_FROM)
    loaded = nalm.load(path)
    assert getattr(loaded, BUILT_FROM) == grammar and _same_weights(loaded, model)
    return loaded


def _perturbed(model: nn.Module) -> nn.Module:
    """Move the weights off their initialisation, so a load must copy them to match."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("text,canonical,kinds", FEEDFORWARD)
def test_a_feedforward_spec_builds_the_same_model_through_every_entry_point(
    text, canonical, kinds, tmp_path
):
    spec = parse(text)
    assert str(spec) == canonical and not spec.recurrent
    torch.manual_seed(0)
    model = spec.build(4, 1, hidden=3)
    assert _kinds(model) == kinds
    assert model(torch.rand(5, 4) + 1).shape == (5, 1)
    # the JSON form reads back to the same spec
    assert ModelSpec.from_json(spec.to_json()) == spec
    # the bench: in a two-layer suite a single unit stands for two of it
    single = len(kinds) == 1 and not canonical.startswith("mlp:")
    assert str(parse(text, layers=2)) == (f"{canonical}>{canonical}" if single else canonical)
    # nalm fit --unit / --try-units (where a paper name stands for its output unit alone)
    if ">" in text or "mlp:" in text:
        assert str(parse_specs([text])[0]) == canonical
    # nalm train --unit: the same model under the same seed
    args = build_parser().parse_args(
        ["train", "--unit", text, "--target", "x0 + x1 + x2 + x3", "--hidden", "3", "--seed", "0"]
    )
    assert _same_weights(prepare_train(args).model, model)
    # nalm reproduce table1 --static-models (a two-layer table, like the madsen suite)
    args = build_parser().parse_args(["reproduce", "table1", "--static-models", text])
    settings = Table1Settings(static_models=args.static_models)
    torch.manual_seed(0)
    row = _builder("static", settings.models("static")[text.strip()], settings)()
    torch.manual_seed(0)
    assert _same_weights(row, parse(text, layers=2).build(100, 1, settings.hidden))
    # nalm.save / nalm.load go through the grammar and give the same outputs
    loaded = _saved_and_loaded(_perturbed(model), tmp_path / "model.safetensors")
    x = torch.rand(6, 4) + 1
    assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("text,canonical,cell,head", RECURRENT)
def test_a_recurrent_spec_builds_the_same_model_through_every_entry_point(
    text, canonical, cell, head, tmp_path
):
    spec = parse(text)
    assert str(spec) == canonical and spec.recurrent
    assert ModelSpec.from_json(spec.to_json()) == spec
    torch.manual_seed(0)
    model = spec.build(3, 1, hidden=4)
    assert (type(model.cell).__name__, type(model.head).__name__) == (cell, head)
    assert model(torch.rand(2, 5, 3)).shape == (2, 1)
    torch.manual_seed(0)
    assert _same_weights(recurrent(text, 3, 4), model)
    loaded = _saved_and_loaded(_perturbed(model), tmp_path / "model.safetensors")
    x = torch.rand(2, 5, 3)
    assert torch.equal(loaded(x), model(x))
    # nalm reproduce table1 --recurrent-models
    args = build_parser().parse_args(["reproduce", "table1", "--recurrent-models", text])
    settings = Table1Settings(recurrent_models=args.recurrent_models)
    hidden = settings.rnn_hidden if spec.cell in TORCH_CELLS else settings.hidden
    torch.manual_seed(0)
    row = _builder("recurrent", settings.models("recurrent")[text], settings)()
    torch.manual_seed(0)
    assert _same_weights(row, spec.build(100, 1, hidden))


@pytest.mark.parametrize("text", [t for t, *_ in RECURRENT])
def test_a_recurrent_spec_names_the_cell_of_the_sequence_experiments_that_take_it(text, tmp_path):
    """``nalm reproduce words/digits --models``: the cell and head come from ``cell_and_head``,
    and each saves and loads through the grammar to the same outputs."""
    spec = parse(text, recurrent=True)
    if spec.cell in TORCH_CELLS:  # words and programs read tokens with a torch cell
        experiment, kind, task = "words", None, SimpleNamespace(vocabulary=range(30))
        x = torch.stack([torch.randint(0, 30, (2, 6)).float(), torch.rand(2, 6)], dim=-1)
    elif not spec.layers:  # digits and product take one cell
        experiment, kind, task = "digits", "sum", SimpleNamespace(in_features=64)
        x = torch.rand(2, 6, 64)
    else:  # a cell with a head of units: no sequence experiment takes it, and each says so
        with pytest.raises(NalmError, match="models are one cell"):
            settings_for("digits", models=(text,))
        with pytest.raises(NalmError, match="read tokens with lstm, gru or rnn"):
            settings_for("words", models=(text,))
        return
    args = build_parser().parse_args(["reproduce", experiment, "--models", text, "--hidden", "5"])
    settings = settings_for(experiment, models=args.models, hidden=args.hidden)
    model = build_model(settings, kind, text, task)
    cell, head = spec.cell_and_head(model.cell.input_size, 1, 5)
    assert (type(model.cell), type(model.head)) == (type(cell), type(head))
    assert model.cell.hidden_size == cell.hidden_size
    again = copy.deepcopy(model)
    _perturbed(model)
    again.cell = _saved_and_loaded(model.cell, tmp_path / "cell.safetensors")
    again.encoder.load_state_dict(model.encoder.state_dict())
    if type(model.head) is not nn.Identity:
        again.head = _saved_and_loaded(model.head, tmp_path / "head.safetensors")
    assert torch.equal(again(x), model(x))


def test_in_a_sequence_task_a_unit_name_is_a_unit_cell():
    spec = parse("nau>nmu", recurrent=True)
    assert spec.cell == "nau" and spec.layers == ("nmu",)
    model = spec.build(2, 1, hidden=3)
    assert (type(model.cell).__name__, type(model.head).__name__) == ("UnitCell", "NMU")
    # Table 1's recurrent rows go through the same grammar
    settings = Table1Settings()
    torch.manual_seed(1)
    table = _builder("recurrent", "nau>nmu", settings)()
    torch.manual_seed(1)
    assert _same_weights(table, parse("nau>nmu", recurrent=True).build(100, 1, settings.hidden))


def test_depth_comes_from_the_context_where_a_single_unit_is_named():
    assert str(parse("nau", layers=3)) == "nau>nau>nau"
    assert str(parse("nac>nau>nmu", layers=2)) == "nac>nau>nmu"  # a stack names its own depth
    assert str(parse("NMU", layers=1)) == "nmu"  # the single-module suite: the output unit
    assert str(parse("mlp:relu", layers=2)) == "mlp:relu"
    settings = IdentitySettings(hidden=(5, 6), units=("nac",), activations=("tanh",))
    models = identity_models(settings)
    assert _kinds(models["NAC"]()) == ["NAC", "NAC", "NAC"]
    assert [m.out_features for m in models["NAC"]()] == [5, 6, 1]
    assert models["tanh"]().hidden == (5, 6)


def test_widths_between_layers_may_differ():
    model = parse("nau>nau>nmu").build(10, 1, hidden=(4, 2))
    assert [(m.in_features, m.out_features) for m in model] == [(10, 4), (4, 2), (2, 1)]
    model = parse("mlp:tanh").build(10, 1, hidden=(7, 5))
    assert model.hidden == (7, 5)


@pytest.mark.parametrize(
    "text,kwargs,message",
    [
        ("nau>nmux", {}, "unknown unit 'nmux'"),
        ("mlp:swishy", {}, "unknown activation 'swishy'"),
        ("nau>>nmu", {}, "is not UNIT, FIRST>SECOND"),
        ("", {}, "must be a non-empty string"),
        ("nau>lstm", {}, "a recurrent cell must come first"),
        ("lstm>gru", {}, "only its first part may be a recurrent cell"),
        ("acc:lstm", {}, "'lstm' cannot be a recurrent cell"),
        ("nau>nmu", {"layers": 1}, "this model is one unit; 'nau>nmu' names 2"),
    ],
)
def test_a_bad_spec_is_refused_in_one_sentence(text, kwargs, message):
    with pytest.raises(NalmError, match=message):
        parse(text, **kwargs)


def test_bad_sizes_and_descriptions_are_refused():
    with pytest.raises(NalmError, match=r"a stack of 3 layers has 2 widths between them"):
        parse("nau>nau>nmu").build(4, 1, hidden=(3,))
    with pytest.raises(NalmError, match=r"the stack has .* weights, above nalm's limit"):
        parse("nau>nmu").build(100_000, 1, hidden=100_000)
    with pytest.raises(NalmError, match=r"hidden size is one number"):
        parse("lstm").build(4, 1, hidden=(3, 3))
    with pytest.raises(NalmError, match=r"an object with a 'spec' string"):
        ModelSpec.from_json({"model": "nau"})
    with pytest.raises(NalmError, match=r"unknown unit 'os.system'"):
        ModelSpec.from_json({"spec": "os.system"})


def test_the_spec_knows_its_output_unit_and_paper_name():
    assert parse("nau>nmru").output_unit == "nmru"
    assert parse("mlp:relu").output_unit is None and parse("lstm").output_unit is None
    assert parse("acc:nau").output_unit == "nau"
    assert parse("nac>nac_mul").paper_name == "NAC•" and parse("nau>nmru").paper_name is None


def test_the_sequence_experiments_take_cell_and_head_from_the_same_specs():
    """Their unit cells are the whole model (state = output); torch cells get a head."""
    cell, head = parse("lstm>nalu").cell_and_head(17, 1, 8)
    assert (type(cell).__name__, cell.hidden_size, type(head).__name__) == ("LSTMCell", 8, "NALU")
    cell, head = parse("gru>linear").cell_and_head(17, 1, 8)
    assert type(head) is nn.Linear and head.in_features == 8
    cell, head = parse("acc:nac").cell_and_head(10, 10, 32)
    assert (type(cell).__name__, cell.hidden_size, type(head)) == (
        "AccumulatorCell",
        10,
        nn.Identity,
    )
    cell, head = parse("nmu", recurrent=True).cell_and_head(1, 1, 32, initial=1.0)
    assert (type(cell).__name__, cell.initial_value, type(head)) == ("UnitCell", 1.0, nn.Identity)


def test_a_unit_class_holds_the_learning_rate_its_paper_used():
    assert parse("nau>nmru").default_lr(1e-3) == 1e-2  # Mistry et al.: NMRU and NRU at 1e-2
    assert parse("nru", layers=1).default_lr(1e-3) == 1e-2
    assert parse("nau>nmu").default_lr(1e-3) == 1e-3 and parse("mlp:relu").default_lr(5e-3) == 5e-3


def test_the_sequence_experiments_check_their_models_with_the_grammar():
    from nalm.app.reproduce.sequences import settings_for

    # (tests/reproduce/test_sequences.py checks the refusals of unknown units and token readers)
    assert settings_for("words", models=("lstm>nalu", "gru")).models == ("lstm>nalu", "gru")
    assert settings_for("digits", models=("acc:nau", "nmu")).models == ("acc:nau", "nmu")
    with pytest.raises(NalmError, match="digits models are one cell"):
        settings_for("digits", models=("lstm>nalu",))
