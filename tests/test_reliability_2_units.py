"""Issue 33, groups 3 and 4: a user's own unit and odd numbers and options never give a
traceback; each is refused in one sentence (exit status 2) or, written the plain PyTorch way,
simply works."""

import csv
import itertools
import sqlite3
import textwrap
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import nalm
from nalm.cli import main
from nalm.errors import NalmError
from nalm.tasks import DatasetTask, ExpressionTask
from nalm.train import Policy, fit, fit_seeds
from nalm.units import NAU, NMRU, checker, registry

_counter = itertools.count()


def refuse(capsys, *argv) -> str:
    """Run the CLI in this process; return its one-line message, asserting exit status 2."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    captured = capsys.readouterr()
    assert code == 2, f"expected a refusal, got status {code}: {captured.err}"
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("nalm: error: ") or ": error: " in err, err
    return err


def succeed(capsys, *argv) -> str:
    """Run the CLI in this process; return what it printed, asserting exit status 0."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


# -- units written outside nalm ------------------------------------------------------------------

_HEADER = """
import torch
from torch import nn
import nalm.units as U
"""

_PLAIN = """
@U.register("{name}")
class Plain(U.Unit):
    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        super().__init__()  # as for any torch.nn.Module: the sizes are set here
        self.in_features = in_features
        self.out_features = out_features
        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.W, -0.5, 0.5)

    def forward(self, x):
        return x @ self.W.T
"""

# A unit that keeps the contract but for one method, which each case replaces.
_BASE = """
@U.register("{name}")
class Broken(U.Unit):
    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        super().__init__(in_features, out_features)
        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.W, 0.25, 0.75)

    def forward(self, x):
        return x @ self.W.T
{extra}
"""

BROKEN = {
    "no-gradient": (
        """
    def forward(self, x):
        return (x @ self.W.T).detach()
""",
        "fails the unit contract's 'gradients' check: forward returns a tensor that carries no "
        "gradient",
    ),
    "raising-reset": (
        """
    def reset_parameters(self):
        if hasattr(self, "built"):
            raise RuntimeError("reset exploded")
        self.built = True
        nn.init.uniform_(self.W, 0.25, 0.75)
""",
        "fails the unit contract's 'reset' check: reset_parameters() raised RuntimeError (reset "
        "exploded)",
    ),
    "raising-after-step": (
        """
    def after_step(self):
        raise RuntimeError("after_step exploded")
""",
        "fails the unit contract's 'after-step' check: after_step() raised RuntimeError "
        "(after_step exploded)",
    ),
    "non-scalar-regulariser": (
        """
    def regularization(self):
        return self.W.abs()
""",
        "fails the unit contract's 'regularization' check: regularization() returned (2, 3), "
        "not a scalar tensor",
    ),
}

_NEEDS_OPTION = """
@U.register("{name}")
class NeedsScale(U.Unit):
    def __init__(self, in_features, out_features, *, scale, device=None, dtype=None):
        super().__init__(in_features, out_features)
        self.scale = scale
        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.W, -0.5, 0.5)

    def forward(self, x):
        return self.scale * (x @ self.W.T)
"""


@pytest.fixture
def unit_file(tmp_path):
    """``write(body, **fields)`` → (path, name): a unit file under a fresh name, forgotten after."""
    names = []

    def write(body: str, **fields: str) -> tuple[str, str]:
        name = f"rel2_unit_{next(_counter)}"
        names.append(name)
        path = tmp_path / f"{name}.py"
        path.write_text(_HEADER + textwrap.dedent(body).format(name=name, **fields))
        return str(path), name

    yield write
    for name in names:
        registry._unregister(name)


@pytest.fixture
def table(tmp_path):
    """A CSV table of y = a + b."""
    path = tmp_path / "data.csv"
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 2, generator=g) + 1
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "y"])
        w.writerows([[float(a), float(b), float(a + b)] for a, b in x])
    return path


def _train(path, name, out, *extra):
    argv = f"train --import {path} --unit {name} --target x0+x1 --steps 300 --eval-every 150 "
    argv += f"--eval-size 64 --baseline none --out {out} --no-progress"
    return [*argv.split(), *extra]


def _fit(path, name, data, out):
    argv = f"fit {data} --target y --import {path} --unit {name} --steps 20 --seeds 1 "
    return (argv + f"--out {out} --no-progress").split()


def _bench(path, name, db):
    argv = f"bench run single-module --import {path} --models {name} --ops add --ranges 0 "
    argv += f"--seeds 1 --steps 20 --eval-every 10 --eval-size 64 --db {db} --no-progress"
    return argv.split()


def test_a_unit_written_the_plain_pytorch_way_trains_everywhere(capsys, unit_file, table, tmp_path):
    path, name = unit_file(_PLAIN)
    out = succeed(capsys, *_train(path, name, tmp_path / "train"))
    assert "0 of 1 model(s) diverged" in out
    with (tmp_path / "train" / "metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    assert last["step"] == "300"
    assert float(last["extrapolation_mse"]) < 1e-2  # a linear unit learns x0 + x1 exactly
    cls = registry.get(name)
    unit = cls(3, 2)
    assert (unit.in_features, unit.out_features) == (3, 2)
    assert nalm.units.check(cls).passed

    succeed(capsys, *_fit(path, name, table, tmp_path / "fit"))  # no formula reader: no formula
    with (tmp_path / "fit" / "metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    assert last["model"] == name and last["step"] == "20"
    assert float(last["interpolation_mse"]) < 0.1  # from about 7 at the start

    db = tmp_path / "b.sqlite"
    succeed(capsys, *_bench(path, name, db))
    with sqlite3.connect(db) as con:
        (mse,) = con.execute("SELECT interpolation_mse FROM results").fetchone()
    assert 0 <= mse < float("inf")


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("command", ["train", "fit", "bench"])
def test_a_broken_unit_is_refused_in_the_contract_s_sentence_before_training(
    capsys, unit_file, table, tmp_path, case, command
):
    extra, sentence = BROKEN[case]
    path, name = unit_file(_BASE, extra=extra)
    out = tmp_path / "out"
    argv = {
        "train": _train(path, name, out),
        "fit": _fit(path, name, table, out),
        "bench": _bench(path, name, out),
    }[command]
    err = refuse(capsys, *argv)
    assert f"unit {name!r} (Broken) {sentence}" in err
    assert err.endswith(f"('nalm units check {name}' runs every check)")
    assert not out.exists()  # refused before anything was written


def test_units_check_gives_the_same_sentence(capsys, unit_file):
    path, name = unit_file(_BASE, extra=BROKEN["no-gradient"][0])
    code = main(["units", "check", name, "--import", path])
    assert code == 1
    assert "FAIL  gradients       forward returns a tensor that carries no gradient" in (
        capsys.readouterr().out
    )


def test_a_unit_that_needs_an_option_is_named_as_such(capsys, unit_file, tmp_path):
    path, name = unit_file(_NEEDS_OPTION)
    need = (
        f"unit {name!r} needs the option scale (NeedsScale.__init__ gives no default): pass "
        "--option scale=VALUE to nalm train or nalm units check"
    )
    assert need in refuse(capsys, *_train(path, name, tmp_path / "a"))
    assert need in refuse(capsys, "units", "check", name, "--import", path)
    err = refuse(capsys, *f"units check {name} --import {path} --option scale=2".split(),
                 "--option", "bogus=1")  # fmt: skip
    assert f"unit {name!r} has no option 'bogus'; its options: scale" in err

    out = succeed(capsys, "units", "check", name, "--import", path, "--option", "scale=2")
    assert f"{name} passes the " in out and "FAIL" not in out
    succeed(capsys, *_train(path, name, tmp_path / "b", "--option", "scale=2"))

    listing = succeed(capsys, "units", "--import", path)
    row = next(line for line in listing.splitlines() if line.startswith(name))
    assert "needs --option scale=VALUE" in row
    assert any(line.startswith("nmu ") for line in listing.splitlines())  # the others still


def test_an_installed_unit_that_needs_an_option_or_cannot_be_built_spoils_no_listing(
    capsys, monkeypatch
):
    namespace: dict = {}
    exec(_HEADER + _NEEDS_OPTION.format(name="rel2_installed"), namespace)
    needs = namespace["NeedsScale"]
    registry._unregister("rel2_installed")

    class Unbuildable(NAU):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("no")

    points = [
        SimpleNamespace(name="rel2_installed", value="p:N", dist=None, load=lambda: needs),
        SimpleNamespace(name="rel2_unbuildable", value="p:U", dist=None, load=lambda: Unbuildable),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    try:
        listing = succeed(capsys, "units").splitlines()
    finally:
        registry._unregister("rel2_installed")
        registry._unregister("rel2_unbuildable")
    rows = {line.split()[0]: line for line in listing if line and not line.startswith(" ")}
    assert "needs --option scale=VALUE" in rows["rel2_installed"]
    unbuildable = rows["rel2_unbuildable"]
    assert "cannot be built (RuntimeError): see nalm units check rel2_unbuildable" in unbuildable
    assert "W (out, in)" in rows["nau"]


def test_the_contract_is_checked_once_per_class_and_options():
    class Counted(NAU):
        built = 0

        def __init__(self, *args, **kwargs):
            type(self).built += 1
            super().__init__(*args, **kwargs)

    checker.require(Counted, "counted")
    first = Counted.built
    assert first > 0  # the quick checks built it
    checker.require(Counted, "counted")
    assert Counted.built == first
    checker.require(NAU, "nau")  # nalm's own units are checked by its tests, not here


# -- numbers and options -------------------------------------------------------------------------


_MAX = "3.4e+38 (float32's largest value)"
_TINY = "1.2e-38 (float32's smallest normal number)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--lr", "1e39"], f"--lr must be at most {_MAX}; got 1e+39"),
        (["train", "--baseline-lr", "1e300"], f"--baseline-lr must be at most {_MAX}; got 1e+300"),
        (["train", "--lr", "1e-300"], f"--lr must be at least {_TINY}; got 1e-300"),
        (["fit", "d.csv", "--target", "y", "--lr", "1e39"], "--lr must be at most 3.4e+38"),
        (["bench", "run", "madsen", "--lr", "1e39"], "--lr must be at most 3.4e+38"),
    ],
)
def test_learning_rates_beyond_float32_are_refused_on_the_command_line(
    capsys, tmp_path, argv, message
):
    assert message in refuse(
        capsys, *argv, "--out" if argv[0] != "bench" else "--db", tmp_path / "x"
    )
    assert not (tmp_path / "x").exists()


def _task():
    return ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=8)


def test_learning_rates_beyond_float32_are_refused_in_python():
    with pytest.raises(
        NalmError, match=r"^lr must be at most 3.4e\+38 \(float32's largest value\); got 1e\+300$"
    ):
        fit(NAU(2, 1), _task(), steps=2, lr=1e300, progress=False)
    with pytest.raises(NalmError, match=r"^lr of 'b' must be at most 3.4e\+38"):
        fit(
            {"a": NAU(2, 1), "b": NAU(2, 1)},
            _task(),
            steps=2,
            lr={"a": 0.1, "b": 1e39},
            progress=False,
        )


@pytest.mark.parametrize("value", ["-1", "abc", "0", "6"])
def test_the_internal_columns_option_is_not_a_unit_option(capsys, tmp_path, value):
    for unit, options in (("nau", "clamp"), ("nmu", "clamp"), ("nmru", "eps, clamp")):
        err = refuse(
            capsys, "train", "--unit", unit, "--option", f"columns={value}", "--out", tmp_path / "r"
        )
        assert err.endswith(f"unit {unit!r} has no option 'columns'; its options: {options}")
    assert "columns" not in registry.options("nau")
    assert NMRU(3, 2).W.shape == (2, 6)  # the NMRU still has a column per input and reciprocal


def test_a_constant_regulariser_in_a_policy_works_as_documented():
    policy = Policy(regularizer=0.5)
    assert policy.regularizer(1) == 0.5 == policy.regularizer(10**6)
    assert policy.describe() == "regulariser λ = 0.5"
    assert Policy(regularizer=0).regularizer is None
    torch.manual_seed(0)
    with_policy = fit(
        NAU(2, 1), _task(), steps=20, eval_every=10, lr=0.1, policy=policy, progress=False
    )
    torch.manual_seed(0)
    as_argument = fit(
        NAU(2, 1),
        _task(),
        steps=20,
        eval_every=10,
        lr=0.1,
        policy=None,
        regularizer=0.5,
        progress=False,
    )
    torch.manual_seed(0)
    without = fit(NAU(2, 1), _task(), steps=20, eval_every=10, lr=0.1, policy=None, progress=False)
    assert with_policy.history == as_argument.history  # λ = 0.5 either way
    assert with_policy.history != without.history  # and λ did act
    with pytest.raises(
        NalmError,
        match=r"^policy 'none': regularizer must be a finite number of at least 0; got -1$",
    ):
        Policy(regularizer=-1)
    with pytest.raises(NalmError, match="regularizer must be a number, a schedule"):
        Policy(regularizer="0.5")


def test_a_negative_learning_rate_decay_is_refused():
    with pytest.raises(
        NalmError, match=r"^policy 'none': lr_decay must be a finite number above 0; got -0.5$"
    ):
        Policy(lr_decay=-0.5)
    model = NAU(2, 1)
    before = model.W.detach().clone()
    with pytest.raises(NalmError) as caught:
        fit(
            model,
            _task(),
            steps=5,
            policy=Policy(lr_decay=lambda t: 1.0 if t < 3 else -1.0),
            progress=False,
        )
    assert str(caught.value) == (
        "the policy's lr_decay gave -1.0 at step 3; it must give a finite number of at least 0 "
        "(a negative one trains by gradient ascent)"
    )
    assert not torch.equal(model.W, before)  # two steps were taken, then it stopped
    with pytest.raises(NalmError, match="the policy's regularizer gave nan at step 1"):
        fit(
            NAU(2, 1),
            _task(),
            steps=5,
            policy=Policy(regularizer=lambda t: float("nan")),
            progress=False,
        )


def test_a_constant_learning_rate_multiplier_scales_the_learning_rate():
    torch.manual_seed(0)
    halved = fit(
        NAU(2, 1),
        _task(),
        steps=20,
        eval_every=10,
        lr=0.2,
        policy=Policy(lr_decay=0.5),
        progress=False,
    )
    torch.manual_seed(0)
    plain = fit(NAU(2, 1), _task(), steps=20, eval_every=10, lr=0.1, policy=None, progress=False)
    for a, b in zip(halved.history, plain.history, strict=True):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9, nan_ok=True)


def test_one_module_under_two_names_is_refused():
    model = NAU(2, 1)
    before = model.W.detach().clone()
    for models in ({"a": model, "b": model}, {"a": model, "b": nn.Sequential(model)}):
        with pytest.raises(NalmError) as caught:
            fit(models, _task(), steps=2, progress=False)
        assert str(caught.value).startswith(
            "model 'a' and model 'b' share parameters (the same module, or one inside the "
            "other), so each step would update them twice"
        )
    assert torch.equal(model.W, before)  # nothing trained


def test_learning_rates_for_models_not_given_are_refused():
    with pytest.raises(NalmError) as caught:
        fit({"a": NAU(2, 1)}, _task(), steps=2, lr={"a": 0.1, "zz": 0.2, "yy": 1.0}, progress=False)
    assert (
        str(caught.value) == "lr has a learning rate for 'zz', 'yy', not a model given to fit ('a')"
    )


def test_a_float64_model_is_told_it_is_the_dtype():
    with pytest.raises(NalmError) as caught:
        fit(NAU(2, 1, dtype=torch.float64), _task(), steps=2, progress=False)
    assert str(caught.value) == (
        "model has torch.float64 parameters but the task's inputs are torch.float32: build it "
        "with dtype=torch.float32 (or call .to(torch.float32))"
    )
    with pytest.raises(NalmError, match=r"^the model make_model builds has torch.float64"):
        fit_seeds(lambda: NAU(2, 1).double(), [_task()], [0], steps=2, progress=False)
    # the rule is that they agree: a float64 model trains on float64 data
    x = torch.rand(32, 2, dtype=torch.float64) + 1
    task = DatasetTask((x, x.sum(1, keepdim=True)), {"test": (x, x.sum(1, keepdim=True))})
    result = fit(NAU(2, 1, dtype=torch.float64), task, steps=5, batch_size=8, progress=False)
    assert result.steps == 5 and not result.diverged
