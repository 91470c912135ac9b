"""``nalm.units.check`` and ``nalm units check`` find deliberately broken units, each with the
check that fails and the sentence that says what to fix."""

import pytest
import torch
from torch import nn

from nalm import units
from nalm.cli import main
from nalm.errors import NalmError
from nalm.units import Unit, registry


class _Linear(Unit):
    """A working unit, ``x @ W.T``, that the broken ones below vary."""

    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        super().__init__(in_features, out_features)
        self.W = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.W, -1.0, 1.0)

    def forward(self, x):
        return x @ self.W.T


class CachedWeights(_Linear):
    """Computes its weight once, in ``__init__``."""

    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        super().__init__(in_features, out_features, device=device, dtype=dtype)
        self.weight = torch.tanh(self.W)

    def forward(self, x):
        return x @ self.weight.T


class UnusedParameter(_Linear):
    """Has a bias that forward never uses."""

    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        self.b = None
        super().__init__(in_features, out_features, device=device, dtype=dtype)
        self.b = nn.Parameter(torch.zeros(out_features, device=device, dtype=dtype))

    def reset_parameters(self):
        super().reset_parameters()
        if self.b is not None:
            nn.init.zeros_(self.b)


class NaNAtZero(_Linear):
    """Normalises its input without an ε: 0 / 0 on an all-zero row."""

    def forward(self, x):
        return (x / x.norm(dim=-1, keepdim=True)) @ self.W.T


class InPlaceOutput(_Linear):
    """Adds into a tensor made in forward: fine alone, refused under vmap."""

    def forward(self, x):
        out = torch.zeros(*x.shape[:-1], self.out_features, dtype=x.dtype)
        out += x @ self.W.T
        return out


class NotAProjection(_Linear):
    """Its after_step shrinks W every time it is called."""

    def after_step(self):
        with torch.no_grad():
            self.W.mul_(0.5)


class Undrawn(_Linear):
    """Its reset_parameters leaves W as it was."""

    def reset_parameters(self):
        pass

    def __init__(self, in_features, out_features, *, device=None, dtype=None):
        super().__init__(in_features, out_features, device=device, dtype=dtype)
        nn.init.uniform_(self.W, -1.0, 1.0)


class ProjectsAcrossSeeds(_Linear):
    """Its after_step divides W by its largest entry: over every seed's W in the engine."""

    def reset_parameters(self):
        nn.init.uniform_(self.W, -3.0, 3.0)

    def after_step(self):
        with torch.no_grad():
            self.W.div_(self.W.abs().max().clamp(min=1.0))


BROKEN = {
    # class: (the required checks that fail, how the first one's sentence starts[, its fix])
    CachedWeights: (
        ["fresh-weights", "engine", "save-load"],
        "changing parameter 'W' in place did not change the output: compute the weights from "
        "the parameters inside forward, never once in __init__",
    ),
    UnusedParameter: (
        ["gradients"],
        "parameter 'b' gets no gradient from the output: use every parameter in forward",
    ),
    NaNAtZero: (
        ["finite"],
        "at initialisation the output is nan on inputs with zeros and negatives: guard "
        "divisions, logarithms and powers",
    ),
    InPlaceOutput: (
        ["engine"],
        "training 3 seeds as one batched computation raised RuntimeError (",
        "make forward work under torch.func.vmap, without in-place changes to tensors made in "
        "forward",
    ),
    NotAProjection: (
        ["after-step"],
        "a second after_step() changed parameter 'W' again: make it a projection",
    ),
    Undrawn: (
        ["reset"],
        "two calls of reset_parameters() under torch.manual_seed(1) left parameter 'W' with "
        "different values",
    ),
    ProjectsAcrossSeeds: (
        ["engine"],
        "seed ",
        "away from the same seed trained alone: keep each seed to its own parameters (after_step "
        "acts on every seed's at once, so it must work elementwise",
    ),
}


@pytest.fixture
def registered():
    """Register the broken units under unique names for one test, then forget them."""
    names = {cls: f"check_test_{cls.__name__.lower()}" for cls in [*BROKEN, _Linear]}
    for cls, name in names.items():
        registry.register(name, cls)
    yield names
    for name in names.values():
        registry._REGISTRY.pop(name, None)


@pytest.mark.parametrize("cls", list(BROKEN), ids=lambda c: c.__name__)
def test_a_broken_unit_fails_the_right_check_with_its_sentence(registered, cls):
    failing, sentence, *fix = BROKEN[cls]
    report = units.check(cls)
    assert not report.passed
    assert [r.name for r in report.failures if r.required] == failing
    first = report[failing[0]]
    assert first.status == "FAIL" and first.message.startswith(sentence), first.message
    assert all(part in first.message for part in fix), first.message
    assert "\n" not in first.message


def test_the_working_unit_passes_and_warns_only_of_its_formula(registered):
    report = units.check(_Linear)
    assert report.passed, str(report)
    assert [(r.name, r.status) for r in report.failures] == [("formula", "WARN")]
    assert "nalm.symbolic.register_reader(_Linear, read)" in report["formula"].message


def test_an_unregistered_unit_cannot_be_saved_and_says_how_to_register():
    report = units.check(_Linear)
    assert [r.name for r in report.failures if r.required] == ["save-load"]
    assert report["save-load"].message.startswith(
        "_Linear is not registered, so nalm.save cannot name it: register it with "
        '@nalm.units.register("name")'
    )


def test_a_unit_that_cannot_be_built_stops_at_the_first_check():
    class NeedsOption(_Linear):
        def __init__(self, in_features, out_features, *, scale):
            super().__init__(in_features, out_features)

    report = units.check(NeedsOption)
    assert [(r.name, r.status) for r in report.results] == [("builds", "FAIL")]
    assert "raised TypeError" in report["builds"].message


def test_the_check_leaves_the_global_generator_as_it_was():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    units.check(units.NAU)
    assert torch.equal(torch.rand(3), expected)


def test_check_refuses_what_is_not_a_unit_class():
    with pytest.raises(
        NalmError, match=r"takes a subclass of nalm\.units\.Unit; got <class 'torch"
    ):
        units.check(nn.Linear)
    with pytest.raises(NalmError, match="in_features must be at least 1; got 0"):
        units.check(units.NAU, in_features=0)


def test_the_report_prints_one_line_per_check():
    report = units.check(units.NMU, in_features=4, out_features=1)
    lines = str(report).splitlines()
    assert len(lines) == len(report.results) == 12
    assert lines[3] == ("PASS  gradients       the gradient of the output reaches every parameter")
    with pytest.raises(NalmError, match="no check named 'nope' ran on NMU"):
        report["nope"]


def test_cli_exit_status_is_0_for_a_sound_unit_and_1_for_a_broken_one(registered, capsys):
    assert main(["units", "check", "nau"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS  ") == 12 and "nau passes the 11 required checks" in out
    assert main(["units", "check", registered[UnusedParameter]]) == 1
    out = capsys.readouterr().out
    assert "FAIL  gradients       parameter 'b' gets no gradient from the output" in out
    assert "fails 1 of the 11 required checks; 1 warning" in out
    assert main(["units", "check", "mlp", "--in-features", "2", "--out-features", "1"]) == 0
    assert "WARN  formula" in capsys.readouterr().out


def test_cli_refuses_an_unknown_unit_and_a_bad_size(capsys):
    assert main(["units", "check", "nalx"]) == 2
    assert "unknown unit 'nalx'" in capsys.readouterr().err
    assert main(["units", "check", "nau", "--in-features", "0"]) == 2
    assert "--in-features must be at least 1; got 0" in capsys.readouterr().err
