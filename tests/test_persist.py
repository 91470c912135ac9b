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
from nalm.units import MLP, Linear, recurrent, registry

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
    for kind in ("lstm", "rnn", "nac", "nau>nmu"):
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
    with pytest.raises(NalmError, match="not a sensible integer"):
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


def test_no_pickle_and_no_unsafe_torch_load_anywhere_in_the_package():
    offenders = []
    for path in _python_files():
        text = path.read_text()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    re.search(r"(^|\.)(c?pickle|dill|joblib|shelve|marshal)$", n) for n in names
                ):
                    offenders.append(f"{path.name}:{node.lineno} imports {names}")
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name.endswith("torch.load") or (
                    name == "load" and "from torch import load" in text
                ):
                    safe = any(
                        k.arg == "weights_only"
                        and isinstance(k.value, ast.Constant)
                        and k.value.value is True
                        for k in node.keywords
                    )
                    if not safe:
                        offenders.append(
                            f"{path.name}:{node.lineno} calls {name} without weights_only=True"
                        )
        if re.search(r"\bpickle\b", text.replace("never pickle", "").replace("no pickle", "")):
            for i, line in enumerate(text.splitlines(), 1):
                if re.search(r"\bpickle\b", line) and not re.search(
                    r"(never|no|without|nor) (un)?pickl", line
                ):
                    offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert not offenders, offenders
