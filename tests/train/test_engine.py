"""The two doors onto the one engine agree, and the engine's state survives a checkpoint."""

import math

import pytest
import torch
from torch import nn

from nalm.errors import NalmError
from nalm.tasks import ArithmeticTask, DatasetTask
from nalm.train import Deadline, Policy, Ramp, Stall, fit, fit_seeds, get_policy
from nalm.train.checkpoint import read
from nalm.train.schedule import Decay
from nalm.units import INALU, NAC, NAU, NMRU, NMU, NPU

SEED = 5
TASK = ArithmeticTask("mul", input_size=4, subset=0.5, overlap=0, eval_size=50)
ADD = ArithmeticTask("add", input_size=4, subset=0.5, overlap=0, eval_size=50)


def _nau_nmu() -> nn.Module:
    return nn.Sequential(NAU(4, 2), NMU(2, 1))


def _inalu_forced_restarts() -> Policy:
    """iNALU's policy (alternation, clipping, gated regulariser) with a stall rule that fires
    every 40 steps on a flat loss."""
    return get_policy("inalu").replace(
        regularizer=Ramp(1.0, 20, 21), reinit=Stall(chunk=10, half=2, threshold=0.0)
    )


CASES = {
    "none": (lambda: NAC(4, 1), ADD, "none", 0.05),
    "madsen-nau": (lambda: NAU(4, 1), ADD, get_policy("madsen-nau"), 0.05),
    # the named ramps start late; the same policies with their ramps inside the 300 steps too
    "madsen-nau-early": (
        lambda: NAU(4, 1),
        ADD,
        get_policy("madsen-nau").replace(regularizer=Ramp(0.01, 50, 150)),
        0.05,
    ),
    "madsen-nmu": (_nau_nmu, TASK, get_policy("madsen-nmu"), 1e-2),
    "madsen-nmu-early": (
        _nau_nmu,
        TASK,
        get_policy("madsen-nmu").replace(regularizer=Ramp(10.0, 100, 200)),
        1e-2,
    ),
    "inalu": (lambda: INALU(4, 1), TASK, _inalu_forced_restarts(), 1e-9),
    "npu": (lambda: NPU(4, 1), TASK, get_policy("npu"), 5e-3),
    "nmru": (
        lambda: NMRU(4, 1),
        TASK,
        get_policy("nmru").replace(regularizer=Ramp(10.0, 100, 200)),
        1e-2,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fit_and_fit_seeds_of_one_seed_give_the_same_run(case):
    make, task, policy, lr = CASES[case]
    torch.manual_seed(SEED)
    model = make()
    one = fit(
        model, task, steps=300, lr=lr, policy=policy, eval_every=50, seed=SEED, progress=False
    )
    cohort = fit_seeds(
        make, [task], [SEED], steps=300, lr=lr, policy=policy, eval_every=50, progress=False
    )
    run = cohort[SEED]
    assert one.steps == run.steps == 300 and one.diverged_at is run.diverged_at is None
    assert one.reinitialized_at == run.reinitialized_at
    if case == "inalu":
        assert one.reinitialized_at[:2] == [40, 80] and len(one.reinitialized_at) >= 4
    assert [r["step"] for r in one.history] == [r["step"] for r in run.history]
    for a, b in zip(one.history, run.history, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-12, nan_ok=True), key
    for name, p in model.state_dict().items():
        torch.testing.assert_close(run.weights[name], p, rtol=1e-5, atol=1e-7)


def test_a_restarted_seed_gets_the_same_weights_alone_and_in_a_cohort():
    """Restarts draw from the seed's own derived seed, not from a shared generator."""
    policy = _inalu_forced_restarts()
    tasks = [TASK] * 3
    alone = fit_seeds(lambda: INALU(4, 1), [TASK], [2], steps=45, lr=1e-9, policy=policy,
                      progress=False)  # fmt: skip
    cohort = fit_seeds(lambda: INALU(4, 1), tasks, [0, 1, 2], steps=45, lr=1e-9, policy=policy,
                       progress=False)  # fmt: skip
    assert alone[2].reinitialized_at == cohort[2].reinitialized_at == [40]
    for name, w in alone[2].weights.items():
        torch.testing.assert_close(cohort[2].weights[name], w, rtol=1e-5, atol=1e-6)
    assert not torch.equal(cohort[0].weights["G"], cohort[2].weights["G"])


class _StopError(Exception):
    pass


@pytest.mark.parametrize("shared, replay", [(False, False), (True, False), (False, True)])
def test_fit_seeds_resumes_from_its_checkpoint_to_the_uninterrupted_result(
    tmp_path, shared, replay
):
    """Weights, Adam moments, generators, history, restarts: a run interrupted at step 200 and
    run again with the same checkpoint ends exactly as one run straight through (``replay``:
    deadline restarts at 100 and 200, not at 300, the run's end; each seed's decay and λ
    replayed from its own)."""
    path = tmp_path / "seeds.safetensors"
    settings = dict(steps=300, lr=1e-2, eval_every=50, checkpoint_every=100, progress=False)
    tasks = [ArithmeticTask("mul", input_size=4, subset=0.5, overlap=0, seed=s, eval_size=50)
             for s in range(3)]  # fmt: skip
    policy = get_policy("nmru").replace(regularizer=Ramp(10.0, 100, 200))
    if replay:
        policy = policy.replace(reinit=Deadline(100, 0.0, chunk=50), lr_decay=Decay(50, 150, 0.1))
    whole = fit_seeds(lambda: NMRU(4, 1), tasks, [0, 1, 2], policy=policy, shared_inputs=shared,
                      **settings)  # fmt: skip

    def interrupt(_i, history):
        if history[-1]["step"] == 250:
            raise _StopError
        return False

    with pytest.raises(_StopError):
        fit_seeds(lambda: NMRU(4, 1), tasks, [0, 1, 2], policy=policy, shared_inputs=shared,
                  checkpoint=path, early_stop=interrupt, **settings)  # fmt: skip
    assert read(path)[1]["step"] == 200
    resumed = fit_seeds(lambda: NMRU(4, 1), tasks, [0, 1, 2], policy=policy,
                        shared_inputs=shared, checkpoint=path, **settings)  # fmt: skip
    assert resumed.resumed_from == 200 and whole.resumed_from == 0
    restarts = [[100, 200]] * 3 if replay else [[]] * 3  # a try of 100 from 300 cannot end
    assert [r.reinitialized_at for r in resumed.runs] == restarts
    for a, b in zip(whole.runs, resumed.runs, strict=True):
        assert repr(a.history) == repr(b.history)
        assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_recovery_and_divergence_are_per_seed_in_a_cohort():
    """A seed whose targets are infinite recovers twice (restored, lower learning rate), then
    is frozen as diverged; its neighbour trains as if alone."""
    x = torch.rand(64, 2) + 1
    good = DatasetTask((x, x.sum(1)), {"interpolation": (x, x.sum(1))})
    poisoned = DatasetTask((x, torch.full((64,), math.inf)), {"interpolation": (x, x.sum(1))})
    both = fit_seeds(lambda: NAU(2, 1), [good, poisoned], [0, 1], steps=40, lr=0.05,
                     recover=2, eval_every=10, progress=False)  # fmt: skip
    alone = fit_seeds(lambda: NAU(2, 1), [good], [0], steps=40, lr=0.05, eval_every=10,
                      progress=False)  # fmt: skip
    assert both[1].recovered_at == [1, 2] and both[1].diverged_at == 3
    assert both[0].diverged_at is None and both[0].recovered_at == []
    torch.testing.assert_close(both[0].weights["W"], alone[0].weights["W"], rtol=1e-5, atol=1e-7)


def test_an_old_checkpoint_is_refused_in_one_sentence(tmp_path):
    from nalm.train.checkpoint import write

    path = tmp_path / "old.safetensors"
    write(path, {"x": torch.zeros(1)}, {"fingerprint": "x", "step": 3})
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"format": "nalm-checkpoint", "version": "1",
                                            "meta": "{}"})  # fmt: skip
    with pytest.raises(NalmError, match=r"earlier nalm's trainer.*delete it"):
        fit(NAU(2, 1), ADD.__class__("add", input_size=2, subset=0.5, overlap=0, eval_size=5),
            steps=5, checkpoint=path, progress=False)  # fmt: skip


def test_a_mapping_of_models_resumes_each_model_by_its_name(tmp_path):
    """The checkpoint of ``{"fast": …, "slow": …}`` restores each model's own state even when the
    mapping comes back in another order (the settings' fingerprint does not see the order)."""
    path = tmp_path / "pair.safetensors"
    task = ArithmeticTask("add", input_size=4, subset=0.5, overlap=0, eval_size=20)
    rates = {"fast": 0.05, "slow": 1e-4}

    def pair(order):
        torch.manual_seed(0)
        built = {"fast": NAU(4, 1), "slow": NAU(4, 1)}
        return {name: built[name] for name in order}

    first = pair(["fast", "slow"])
    done = fit(first, task, steps=60, lr=rates, eval_every=20, checkpoint=path, progress=False)
    assert read(path)[1]["names"] == ["fast", "slow"]
    again = pair(["slow", "fast"])
    resumed = fit(again, task, steps=60, lr=rates, eval_every=20, checkpoint=path, progress=False)
    for name in rates:
        assert repr(resumed[name].history) == repr(done[name].history)
        assert torch.equal(again[name].W, first[name].W)
    assert not torch.equal(again["fast"].W, again["slow"].W)


class _Interrupting(ArithmeticTask):
    """Raises KeyboardInterrupt at its ``stop_at``-th training batch (like Ctrl-C)."""

    def __init__(self, *args, stop_at=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.stop_at = 0, stop_at

    def inputs(self, batch_size, generator):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().inputs(batch_size, generator)


def test_a_model_that_draws_from_torch_s_generator_resumes_to_the_same_weights(tmp_path):
    """Dropout draws from torch's global generator: the checkpoint keeps its state, so a resumed
    run draws the same masks as an uninterrupted one."""

    def model():
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))

    settings = dict(steps=120, lr=1e-2, eval_every=40, checkpoint_every=20, progress=False)
    args = ("add",)
    kwargs = dict(input_size=4, subset=0.5, overlap=0, eval_size=20)
    whole = model()
    reference = fit(whole, ArithmeticTask(*args, **kwargs), **settings)
    path = tmp_path / "dropout.safetensors"
    with pytest.raises(KeyboardInterrupt):
        fit(model(), _Interrupting(*args, stop_at=75, **kwargs), checkpoint=path, **settings)
    assert read(path)[1]["step"] == 60
    torch.manual_seed(12345)  # whatever the generator holds now, the checkpoint's state wins
    again = model()
    resumed = fit(again, ArithmeticTask(*args, **kwargs), checkpoint=path, **settings)
    assert resumed.train_loss == reference.train_loss
    for name, p in whole.state_dict().items():
        assert torch.equal(again.state_dict()[name], p), name


def test_seeds_sharing_inputs_may_have_tasks_of_different_kinds():
    """A shared batch of inputs, each seed's targets from its own task's kind."""
    from nalm.tasks import ExpressionTask
    from nalm.train.batches import Batches

    product = ExpressionTask("x0 * x1", "1,2", "2,6")
    total = ArithmeticTask("add", input_size=2, subset=0.5, overlap=0)
    assert product.input_source() == total.input_source()
    x, y, shared = Batches([product, total], 7, 16).next()
    assert shared and x.shape == (16, 2) and y.shape == (2, 16, 1)
    torch.testing.assert_close(y[0], x[:, :1] * x[:, 1:])
    torch.testing.assert_close(y[1], total.targets(x))


def test_fit_seeds_on_generated_tasks_needs_a_batch_size():
    with pytest.raises(NalmError, match=r"^batch_size=None .* ArithmeticTask draws fresh batches"):
        fit_seeds(lambda: NAU(4, 1), [ADD, ADD], [0, 1], steps=5, batch_size=None,
                  progress=False)  # fmt: skip
