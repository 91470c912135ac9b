import math
import sys

import pytest
import torch
from safetensors.torch import load_file

from nalm import ExpressionTask, fit
from nalm.errors import NalmError
from nalm.units import INALU, MLP, NAU

from ..conftest import kill_when, run_to_end


class Interrupting(ExpressionTask):
    """Raises KeyboardInterrupt when asked for its ``stop_at``-th batch (like Ctrl-C)."""

    def __init__(self, *args, stop_at=None, poison_at=(), **kwargs):
        super().__init__(*args, **kwargs)
        poison = {poison_at} if isinstance(poison_at, int) else set(poison_at)
        self.calls, self.stop_at, self.poison_at = 0, stop_at, poison

    def sample(self, batch_size, generator):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        x, y = super().sample(batch_size, generator)
        if self.calls in self.poison_at:
            x = x.clone()
            x[0, 0] = float("inf")
        return x, y


def models():
    torch.manual_seed(0)
    return {"inalu": INALU(2, 1), "mlp": MLP(2, 1, hidden=(8,))}


SETTINGS = dict(steps=700, lr={"inalu": 0.05, "mlp": 1e-3}, eval_every=100, progress=False)


def same(a, b):
    assert [r["step"] for r in a.history] == [r["step"] for r in b.history]
    for ra, rb in zip(a.history, b.history, strict=True):
        assert repr(ra) == repr(rb)  # repr: NaN (step 0's train_loss) equals NaN
    assert a.train_loss == b.train_loss and a.reinitialized_at == b.reinitialized_at


def test_an_interrupted_fit_resumes_to_the_same_result(tmp_path):
    """iNALU's policy (alternating updates, clipping, the stall rule's global RNG) and an MLP."""
    whole = models()
    reference = fit(whole, ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=200), **SETTINGS)
    path = tmp_path / "ckpt.safetensors"
    cut = models()
    task = Interrupting("x0 * x1", "1,2", "2,6", eval_size=200, stop_at=437)
    with pytest.raises(KeyboardInterrupt):
        fit(cut, task, checkpoint=path, checkpoint_every=50, **SETTINGS)
    assert path.exists()
    again = models()  # fresh initial weights: everything must come from the checkpoint
    resumed = fit(
        again,
        ExpressionTask("x0 * x1", "1,2", "2,6", eval_size=200),
        checkpoint=path,
        checkpoint_every=50,
        **SETTINGS,
    )
    for name in whole:
        same(reference[name], resumed[name])
        for (k, a), (_, b) in zip(
            whole[name].state_dict().items(), again[name].state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), (name, k)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=100)
    fit(NAU(2, 1), task, steps=20, eval_every=10, progress=False, checkpoint=path)
    with pytest.raises(NalmError, match="checkpoint of a run with other settings"):
        fit(NAU(2, 1), task, steps=30, eval_every=10, progress=False, checkpoint=path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(NalmError, match="truncated or corrupted"):
        fit(NAU(2, 1), task, steps=20, eval_every=10, progress=False, checkpoint=path)


def test_a_nonfinite_loss_stops_the_model_or_is_recovered():
    def run(recover):
        torch.manual_seed(0)
        task = Interrupting("x0 + x1", "1,2", "2,6", eval_size=100, poison_at=57)
        model = NAU(2, 1)
        result = fit(
            model, task, steps=300, lr=0.05, eval_every=50, progress=False, recover=recover
        )
        return model, result

    _, stopped = run(0)
    assert stopped.diverged_at == 57 and stopped.steps == 56
    model, recovered = run(3)
    assert not recovered.diverged and recovered.recovered_at == [57] and recovered.steps == 300
    assert torch.isfinite(model.W).all()
    assert recovered.final["extrapolation_mse"] < 1e-3


def test_recoveries_are_counted_across_a_resume(tmp_path):
    """Poisoned batches at steps 15, 25 and 35 with recover=2: two recoveries, then diverged."""

    def run(path=None, stop_at=None, offset=0):
        torch.manual_seed(0)
        poison = [s - offset for s in (15, 25, 35) if s > offset]
        task = Interrupting(
            "x0 + x1", "1,2", "2,6", eval_size=100, poison_at=poison, stop_at=stop_at
        )
        model = NAU(2, 1)
        result = fit(
            model,
            task,
            steps=60,
            lr=0.05,
            eval_every=10,
            progress=False,
            recover=2,
            checkpoint=path,
        )
        return model, result

    model, whole = run()
    assert whole.recovered_at == [15, 25] and whole.diverged_at == 35
    path = tmp_path / "ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        run(path, stop_at=33)  # steps 1–32 done, the last checkpoint at 30
    again, resumed = run(path, offset=30)
    assert resumed.recovered_at == [15, 25] and resumed.diverged_at == 35
    assert torch.equal(model.W, again.W)
    assert repr(whole.history) == repr(resumed.history)
    assert len(whole.train_loss) == 34  # one entry per step, NaN at the recovered steps
    assert math.isnan(whole.train_loss[14]) and math.isnan(whole.train_loss[24])


def poisoner(weight, at):
    """An Adam that writes NaN into ``weight`` right after its ``at``-th step."""

    class Poisoner(torch.optim.Adam):
        def step(self, closure=None):
            super().step(closure)
            if self.state[weight]["step"] == at:
                with torch.no_grad():
                    weight[0, 0] = float("nan")

    return Poisoner


def test_nonfinite_parameters_after_the_last_step_are_caught():
    torch.manual_seed(0)
    model = NAU(2, 1)
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=100)

    Poisoner = poisoner(model.W, at=55)

    result = fit(model, task, steps=55, lr=0.05, eval_every=10, optimizer=Poisoner, progress=False)
    # the parameters went non-finite after step 55 was taken: 55 steps, 55 finite losses
    assert result.diverged_at == 55 and result.steps == 55
    assert len(result.train_loss) == 55 and math.isfinite(result.train_loss[-1])


def test_nonfinite_parameters_count_as_divergence():
    torch.manual_seed(0)
    model = NAU(2, 1)
    task = ExpressionTask("x0 + x1", "1,2", "2,6", eval_size=100)

    Poisoner = poisoner(model.W, at=30)

    result = fit(
        model,
        task,
        steps=100,
        lr=0.05,
        eval_every=10,
        optimizer=Poisoner,
        progress=False,
        checkpoint_every=10,
    )
    # found at the parameter check after step 30 (checkpoint_every=10), before step 31's loss
    assert result.diverged_at == 30 and result.steps == 30 and len(result.train_loss) == 30


TRAIN = [
    sys.executable,
    "-m",
    "nalm.cli",
    "train",
    "--unit",
    "nau",
    "--target",
    "x0 + x1",
    "--steps",
    "3000",
    "--eval-every",
    "100",
    "--checkpoint-every",
    "100",
    "--eval-size",
    "200",
    "--baseline-hidden",
    "16",
    "--no-progress",
]


def test_train_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_to_end([*TRAIN, "--out", str(whole)])
    checkpoint = cut / "checkpoint.safetensors"
    kill_when(
        [*TRAIN, "--out", str(cut)],
        lambda: checkpoint.exists() and checkpoint.stat().st_size and _step(checkpoint) >= 500,
        poll=0.05,
    )
    assert 500 <= _step(checkpoint) < 3000, "the run must be killed mid-way"
    done = run_to_end([*TRAIN, "--out", str(cut)])
    assert "resuming from" in done.stdout
    for name in ("model.safetensors", "baseline.safetensors"):
        a, b = load_file(str(whole / name)), load_file(str(cut / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (whole / "metrics.csv").read_text() == (cut / "metrics.csv").read_text()


def _step(path):
    from nalm.train.checkpoint import read

    try:
        return read(path)[1]["step"]
    except NalmError:
        return -1
