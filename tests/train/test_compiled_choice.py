"""Which step a run trains with: the compiled one by default only for long runs, never where
it was turned off, and a resumed run on the step its checkpoint trained on (so that it resumes
bit for bit)."""

import shutil

import pytest
import torch

from nalm.cli import build_parser
from nalm.models import parse
from nalm.tasks import ArithmeticTask
from nalm.train import compiled, fit, fit_seeds, get_policy
from nalm.train.checkpoint import read
from nalm.train.schedule import Ramp
from nalm.units import NAU

SEEDS = [0, 1, 2]
needs_compiler = pytest.mark.skipif(
    shutil.which("c++") is None and shutil.which("g++") is None,
    reason="torch.compile's CPU code needs a C++ compiler, and this machine has none",
)


def _tasks():
    return [
        ArithmeticTask("mul", input_size=8, subset=0.25, overlap=0.5, eval_size=64) for _ in SEEDS
    ]


class _StopError(Exception):
    pass


def _stop_at_150(_i, history):
    if history[-1]["step"] == 150:
        raise _StopError
    return False


def _train(path, compile, **more):
    make = lambda: parse("nau>nmu", layers=2).build(8, 1, 2)  # noqa: E731
    policy = get_policy("madsen-nmu").replace(regularizer=Ramp(1.0, 50, 150))
    settings = dict(steps=300, lr=1e-2, batch_size=32, eval_every=50, checkpoint_every=100)
    settings |= {"policy": policy, "shared_inputs": True, "progress": False, **more}
    return fit_seeds(make, _tasks(), SEEDS, checkpoint=path, compile=compile, **settings)


def _same(a, b):
    for x, y in zip(a.runs, b.runs, strict=True):
        assert repr(x.history) == repr(y.history)
        assert all(torch.equal(x.weights[k], y.weights[k]) for k in x.weights)


def test_an_eager_run_resumed_with_compile_goes_on_eagerly_bit_for_bit(tmp_path, capsys):
    """A run that began eager resumes eager even where the compiled step is asked for: the
    same weights and history as the eager run straight through."""
    whole = _train(tmp_path / "straight.safetensors", False)
    path = tmp_path / "cut.safetensors"
    with pytest.raises(_StopError):
        _train(path, False, early_stop=_stop_at_150)
    assert read(path)[1]["engines"][0]["compiled"] is False
    capsys.readouterr()
    resumed = _train(path, True)
    assert resumed.resumed_from == 100
    assert "eager step: the run it resumes trained on the eager step" in capsys.readouterr().err
    _same(whole, resumed)


@needs_compiler
def test_a_compiled_run_resumes_compiled_though_too_few_steps_are_left(tmp_path, monkeypatch):
    """Begun compiled, cut at step 150: its 200 steps left are under the floor for a fresh
    choice, yet it goes on compiled, and ends as the compiled run straight through."""
    monkeypatch.setattr(compiled, "MIN_STEPS", 0)
    whole = _train(tmp_path / "straight.safetensors", True)
    path = tmp_path / "cut.safetensors"
    with pytest.raises(_StopError):
        _train(path, True, early_stop=_stop_at_150)
    assert read(path)[1]["engines"][0]["compiled"] is True
    monkeypatch.setattr(compiled, "MIN_STEPS", 10_000)
    resumed = _train(path, True)
    assert resumed.resumed_from == 100
    _same(whole, resumed)


def test_by_default_a_run_compiles_only_from_auto_steps_and_says_so_only_then(monkeypatch, capsys):
    """``compile=None`` (``nalm bench run``'s default): eager and silent under
    :data:`~nalm.train.compiled.AUTO_STEPS` steps, compiled from there (a stand-in for the
    compiled step, which steps eagerly, notes the choice); ``False``: eager and silent."""
    task = ArithmeticTask("add", input_size=4, subset=0.5, overlap=0, eval_size=32)
    chosen = []

    def stand_in(engine):
        chosen.append(engine)
        return lambda t: engine.train_step(t, engine.batches.next())

    monkeypatch.setattr(compiled, "CompiledStep", stand_in)
    for auto in (50_000, 300):
        monkeypatch.setattr(compiled, "AUTO_STEPS", auto)
        fit(NAU(4, 1), task, steps=300, eval_every=100, progress=False, compile=None)
    assert len(chosen) == 1  # only under the lower floor
    err = capsys.readouterr().err
    assert err.count("training: compiled step (torch.compile)") == 1 and "eager" not in err
    fit(NAU(4, 1), task, steps=300, eval_every=100, progress=False, compile=False)
    assert len(chosen) == 1 and capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("flags", "compile"), [([], None), (["--compile"], True), (["--no-compile"], False)]
)
def test_bench_run_compiles_by_default_and_no_compile_turns_it_off(flags, compile):
    args = build_parser().parse_args(["bench", "run", "madsen", *flags])
    assert args.compile is compile


def _stop_first(i, history):
    return history[-1]["step"] >= 100 and i == 0


def _cut_after_compaction(i, history):
    if history[-1]["step"] == 150:
        raise _StopError
    return _stop_first(i, history)


@needs_compiler
def test_a_compiled_run_resumed_after_a_compaction_ends_as_the_run_straight_through(
    tmp_path, monkeypatch
):
    """One of three seeds stops at step 100 and leaves the computation; the checkpoint there
    holds two rows. Straight through, the graph of three seeds gives way to one for the rows
    left (the seed dimension dynamic); the resumed run starts on the rows left: the same history
    and weights, bit for bit."""
    monkeypatch.setattr(compiled, "MIN_STEPS", 0)
    whole = _train(tmp_path / "straight.safetensors", True, early_stop=_stop_first)
    path = tmp_path / "cut.safetensors"
    with pytest.raises(_StopError):
        _train(path, True, early_stop=_cut_after_compaction)
    assert read(path)[1]["engines"][0]["rows"] == [1, 2]
    resumed = _train(path, True, early_stop=_stop_first)
    assert resumed.resumed_from == 100
    assert [r.history[-1]["step"] for r in resumed.runs] == [100, 300, 300]
    _same(whole, resumed)
