import ast
import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import nalm
from nalm.errors import NalmError
from nalm.persist import FORMAT, VERSION, describe, load, save
from nalm.units import MLP, Linear, registry
from nalm.units.recurrent import recurrent

PACKAGE = Path(nalm.__file__).parent


def every_model():
    torch.manual_seed(0)
    models = {name: registry.create(name, 3, 2) for name in registry.names()}
    models["nalu-separate-independent"] = registry.create(
        "nalu", 3, 2, shared_weights=False, gate="independent", eps=1e-6, init="seed"
    )
    models["nau-unclamped"] = registry.create("nau", 3, 2, clamp=False)
    models["linear-bias"] = Linear(3, 2, bias=True)
    models["mlp-options"] = MLP(
        3, 2, hidden=(5, 4), activation="leakyrelu", activation_kwargs={"negative_slope": 0.2}
    )
    models["stack"] = nn.Sequential(registry.create("nau", 3, 4), registry.create("nmu", 4, 2))
    models["float64"] = registry.create("real_npu", 3, 2, dtype=torch.float64)
    for kind in ("lstm", "gru", "rnn", "nac", "nau>nmu", "acc:nac", "acc:nau>nmu"):
        models[f"recurrent-{kind}"] = recurrent(kind, 3, 4, 2)
    return models


@pytest.mark.parametrize("name", list(every_model()))
def test_save_then_load_gives_identical_outputs(name, tmp_path):
    model = every_model()[name]
    for p in model.parameters():  # move away from the initialisation, so load must copy weights
        with torch.no_grad():
            p.add_(0.01 * torch.randn_like(p))
    path = save(model, tmp_path / "m.safetensors", note="hello")
    again = load(path)
    assert type(again) is type(model) and describe(again) == describe(model)
    shape = (7, 5, 3) if name.startswith("recurrent") else (7, 3)
    dtype = next(model.parameters()).dtype
    x = torch.randn(*shape, dtype=dtype) * 3
    model.eval(), again.eval()
    assert torch.equal(model(x), again(x))
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b)


def test_file_layout(tmp_path):
    path = save(registry.create("nau", 2, 1), tmp_path / "m.safetensors", formula="x0 + x1")
    metadata = nalm.persist.read_metadata(path)
    assert metadata["format"] == FORMAT and metadata["version"] == str(VERSION)
    assert json.loads(metadata["architecture"]) == {
        "kind": "unit",
        "unit": "nau",
        "in_features": 2,
        "out_features": 1,
        "options": {"clamp": True},
    }
    assert json.loads(metadata["info"]) == {"formula": "x0 + x1"}
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_and_corrupted_files_give_one_sentence(tmp_path):
    path = save(registry.create("nmu", 30, 20), tmp_path / "m.safetensors")
    data = path.read_bytes()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.safetensors").write_bytes(data[:cut])
        with pytest.raises(NalmError, match=r"^cannot load .*cut\.safetensors: .*truncated") as e:
            load(tmp_path / "cut.safetensors")
        assert "\n" not in str(e.value)
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(NalmError, match="truncated or not a safetensors file"):
        load(tmp_path / "junk.safetensors")
    with pytest.raises(NalmError, match="no such file"):
        load(tmp_path / "missing.safetensors")


def _rewrite(path, tmp_path, **changes):
    metadata = nalm.persist.read_metadata(path)
    metadata.update(changes)
    tensors = {"W": torch.zeros(1, 2)}
    out = tmp_path / "changed.safetensors"
    save_file(tensors, str(out), metadata=metadata)
    return out


def test_newer_versions_and_foreign_files_are_refused(tmp_path):
    path = save(registry.create("nau", 2, 1), tmp_path / "m.safetensors")
    newer = _rewrite(path, tmp_path, version=str(VERSION + 1))
    with pytest.raises(NalmError, match=rf"newer nalm \(format version {VERSION + 1}; this nalm "):
        load(newer)
    with pytest.raises(NalmError, match="not a nalm model file"):
        load(_rewrite(path, tmp_path, format="something-else"))
    bad_json = _rewrite(path, tmp_path, architecture="{not json")
    with pytest.raises(NalmError, match="architecture description is missing or not JSON"):
        load(bad_json)
    foreign = _rewrite(
        path,
        tmp_path,
        architecture=json.dumps(
            {
                "kind": "unit",
                "unit": "os.system",
                "in_features": 2,
                "out_features": 1,
                "options": {},
            }
        ),
    )
    with pytest.raises(NalmError, match=r"unknown unit 'os\.system'"):
        load(foreign)
    huge = _rewrite(
        path,
        tmp_path,
        architecture=json.dumps(
            {"kind": "unit", "unit": "nau", "in_features": 10**12, "out_features": 1, "options": {}}
        ),
    )
    with pytest.raises(NalmError, match="not a whole number from 1 to 1,000,000"):
        load(huge)
    wrong = _rewrite(
        path,
        tmp_path,
        architecture=json.dumps(
            {"kind": "unit", "unit": "nau", "in_features": 3, "out_features": 1, "options": {}}
        ),
    )
    with pytest.raises(NalmError, match=r"tensor W has shape \(1, 2\), the architecture needs"):
        load(wrong)


def test_unsupported_modules_are_named():
    with pytest.raises(NalmError, match="cannot describe a ReLU"):
        save(nn.Sequential(registry.create("nau", 2, 2), nn.ReLU()), "/nonexistent/x")


def test_run_directories_are_loadable(tmp_path):
    from nalm.cli import main

    out = tmp_path / "run"
    args = ["train", "--unit", "nau", "--target", "x0 - x1", "--steps", "50", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    model = load(out / "model.safetensors")
    baseline = load(out / "baseline.safetensors")
    assert type(model).__name__ == "NAU" and type(baseline).__name__ == "MLP"


def _python_files():
    return sorted(PACKAGE.rglob("*.py"))


PICKLING_MODULES = re.compile(r"(^|\.)(c?pickle|_pickle|cloudpickle|dill|joblib|shelve|marshal)$")


def unsafe_calls(path: Path) -> list[str]:
    """Pickle imports and unsafe loads in one module, following ``import torch as t`` aliases."""
    text = path.read_text()
    tree = ast.parse(text)
    torch_names = {"torch"}  # names bound to the torch module (or its submodules)
    load_names = set()  # names bound to torch.load and friends
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if PICKLING_MODULES.search(alias.name):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                if alias.name.split(".")[0] == "torch":
                    torch_names.add(alias.asname or "torch")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if PICKLING_MODULES.search(module):
                found.append(f"{path.name}:{node.lineno} imports from {module}")
            for alias in node.names:
                if PICKLING_MODULES.search(alias.name):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                if module.split(".")[0] == "torch" and alias.name == "load":
                    load_names.add(alias.asname or "load")
                if module == "torch" and alias.name in ("serialization", "jit"):
                    torch_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            root = name.partition(".")[0]
            loads_torch = (root in torch_names and name.endswith(".load")) or name in load_names
            safe = any(
                k.arg == "weights_only"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in node.keywords
            )
            if loads_torch and (not safe or ".jit." in name):
                found.append(f"{path.name}:{node.lineno} calls {name} without weights_only=True")
            if name.endswith("read_pickle") or any(
                k.arg == "allow_pickle"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            ):
                found.append(f"{path.name}:{node.lineno} calls {name} with pickle")
            if name == "getattr" and any(
                isinstance(a, ast.Constant) and a.value == "load" for a in node.args
            ):
                found.append(f"{path.name}:{node.lineno} looks up a load function by name")
    return found


def test_no_pickle_and_no_unsafe_torch_load_anywhere_in_the_package():
    offenders = [line for path in _python_files() for line in unsafe_calls(path)]
    assert not offenders, offenders


def test_the_pickle_check_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch as t\nimport _pickle\nfrom torch import load as tl\n"
        "import numpy as np\nimport cloudpickle\n"
        "t.load('a')\ntl('a')\nt.serialization.load('a')\nt.jit.load('a')\n"
        "np.load('a', allow_pickle=True)\ngetattr(t, 'load')('a')\n"
        "t.load('a', weights_only=True)\n# we pickle nothing here\n"
    )
    found = unsafe_calls(bad)
    assert len(found) == 8, found
    assert not any(":12 " in f or ":13 " in f for f in found)  # the safe call, the comment


def test_crafted_descriptions_are_refused_before_anything_is_allocated(tmp_path):
    path = save(registry.create("nau", 2, 1), tmp_path / "m.safetensors")

    def architecture(**changes):
        base = {
            "kind": "unit",
            "unit": "nau",
            "in_features": 2,
            "out_features": 1,
            "options": {"clamp": True},
        }
        return json.dumps({**base, **changes})

    cases = {
        # 1e12 parameters described, 8 bytes of tensors in the file: refused by the size rule
        architecture(in_features=10**6, out_features=10**6): r"= 1e\+12 numbers in one tensor",
        architecture(unit="mlp", options={"hidden": [10**12]}): "not a whole number from 1 to",
        architecture(options={"device": "meta"}): "may not set 'device'",
        architecture(options={"clamp": [1, 2]}): "not a plain value",
        '{"kind": "sequential", "layers": [' * 5000 + "]}" * 5000: "not JSON",
        json.dumps(_nested(20)): "deeper than 16",
    }
    for text, message in cases.items():
        with pytest.raises(NalmError, match=message):
            load(_rewrite(path, tmp_path, architecture=text))
    with pytest.raises(NalmError, match="dtype 'float8_e4m3fn' is not one of"):
        load(_rewrite(path, tmp_path, dtype="float8_e4m3fn"))
    complex_file = tmp_path / "complex.safetensors"
    metadata = nalm.persist.read_metadata(path)
    save_file({"W": torch.zeros(1, 2, dtype=torch.complex64)}, str(complex_file), metadata=metadata)
    with pytest.raises(NalmError, match="tensor W is C64, not a float type"):
        load(complex_file)


def _nested(depth):
    d = {"kind": "unit", "unit": "nau", "in_features": 2, "out_features": 1, "options": {}}
    for _ in range(depth):
        d = {"kind": "sequential", "layers": [d]}
    return d


# -- models made by the grammar ------------------------------------------------------------------
def _grammar_file(tmp_path, text="nau>nmu", **build):
    from nalm.models import parse

    model = parse(text).build(4, 1, **(build or {"hidden": 3}))
    return model, save(model, tmp_path / "grammar.safetensors")


def _architecture(path):
    return json.loads(nalm.persist.read_metadata(path)["architecture"])


def test_a_model_made_by_the_grammar_is_saved_as_its_spec_and_rebuilt_from_it(tmp_path):
    from nalm.models import BUILT_FROM, parse

    model = parse("NALU").build(3, 1, hidden=2, options={"eps": 1e-3})
    path = save(model, tmp_path / "m.safetensors")
    architecture = _architecture(path)
    assert architecture["grammar"] == {
        "spec": "nalu>nalu",
        "kind": "feedforward",
        "call": "build",
        "arguments": {
            "in_features": 3,
            "out_features": 1,
            "hidden": 2,
            "options": {"eps": 1e-3},
            "preset": None,
        },
    }
    # the structure stays beside it: what nalm without the grammar key reads
    assert {k: v for k, v in architecture.items() if k != "grammar"} == describe(model)
    again = load(path)
    assert getattr(again, BUILT_FROM) == architecture["grammar"] and again[1].eps == 1e-3
    # a loaded model carries its spec, so saving it again keeps it
    assert _architecture(save(again, tmp_path / "again.safetensors")) == architecture


def test_a_model_changed_after_it_was_built_is_saved_by_its_structure(tmp_path):
    model, _ = _grammar_file(tmp_path)
    model[1] = registry.create("nau", 3, 1)
    path = save(model, tmp_path / "changed.safetensors")
    assert "grammar" not in _architecture(path)
    again = load(path)
    assert [type(m).__name__ for m in again] == ["NAU", "NAU"]
    x = torch.rand(5, 4)
    assert torch.equal(again(x), model(x))


def test_a_file_of_a_grammar_model_without_its_spec_still_loads(tmp_path):
    """Files written before the grammar key (same format version) load by their structure."""
    model, path = _grammar_file(tmp_path)
    architecture = _architecture(path)
    del architecture["grammar"]
    old = _rewrite_tensors(path, tmp_path, model, architecture=json.dumps(architecture))
    again = load(old)
    assert not hasattr(again, "nalm_built_from")
    x = torch.rand(5, 4)
    assert torch.equal(again(x), model(x))


def _rewrite_tensors(path, tmp_path, model, **changes):
    metadata = nalm.persist.read_metadata(path)
    metadata.update(changes)
    out = tmp_path / "rewritten.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out), metadata)
    return out


@pytest.mark.parametrize(
    "change,message",
    [
        ({"spec": "os.system"}, r"unknown unit 'os\.system'"),
        ({"spec": "nau>nau"}, "its grammar description and its architecture describe different"),
        ({"call": "eval"}, "names the call 'eval'; nalm builds models with build or cell_and_head"),
        ({"call": "x" * 10**5}, r"names the call 'xxx.*\.\.\.; nalm builds"),
        ({"spec": ["nau"]}, "has no spec string"),
        ({"arguments": [4, 1]}, "must be an object of in_features, out_features, hidden"),
        ({"arguments.extra": 1}, "must be an object of in_features, out_features, hidden"),
        ({"arguments.hidden": [3] * 2000}, "has 2,000 hidden sizes; nalm's limit is 1,000"),
        ({"arguments.hidden": 10**12}, "not a whole number from 1 to 1,000,000"),
        ({"arguments.options": {"device": "cuda"}}, "may not set 'device'"),
        ({"arguments.options": {"clamp": {"a": 1}}}, "not a plain value"),
        ({"arguments.preset": ["seed"]}, "the preset in the model's grammar description"),
        ({"arguments.preset": "fast"}, "unit 'nau' has no 'fast' preset"),
        ({"kind": "recurrent", "call": "cell_and_head", "part": "body"}, "must be an object of"),
    ],
)
def test_crafted_grammar_descriptions_are_refused_in_one_sentence(tmp_path, change, message):
    model, path = _grammar_file(tmp_path)
    architecture = _architecture(path)
    for key, value in change.items():
        where, _, field = key.rpartition(".")
        (architecture["grammar"][where] if where else architecture["grammar"])[field] = value
    crafted = _rewrite_tensors(path, tmp_path, model, architecture=json.dumps(architecture))
    with pytest.raises(NalmError, match=message) as refused:
        load(crafted)
    # one line, short even with the list of valid units (the file's path, whose length depends
    # on the machine's temporary folder, aside)
    text = str(refused.value)
    assert "\n" not in text and len(text.replace(str(crafted), "")) < 300


def test_a_cell_or_head_names_its_part(tmp_path):
    from nalm.models import parse

    cell, head = parse("lstm>nalu").cell_and_head(5, 1, 4)
    path = save(cell, tmp_path / "cell.safetensors")
    architecture = _architecture(path)
    assert architecture["grammar"]["part"] == "cell"
    architecture["grammar"]["part"] = "body"
    crafted = _rewrite_tensors(path, tmp_path, cell, architecture=json.dumps(architecture))
    with pytest.raises(NalmError, match="names the part 'body', not cell or head"):
        load(crafted)
    again = load(save(head, tmp_path / "head.safetensors"))
    assert type(again).__name__ == "NALU" and _architecture(tmp_path / "head.safetensors")[
        "grammar"
    ]["arguments"] == {"n_in": 5, "n_out": 1, "hidden": 4, "initial": 0.0}
