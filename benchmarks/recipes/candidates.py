"""Candidate policies tried while looking for the recipes (docs/recipes.md), loaded with
``nalm bench run --import benchmarks/recipes/candidates.py --policy NAME``. The winners are
registered in ``nalm.train.policies``; these stay here so that every tried setting can be
run again (each row's key holds the policy's fields in full)."""

from nalm.train.policies import POLICIES, Policy, Stall
from nalm.train.precondition import Precondition
from nalm.train.schedule import Decay, Ramp

PRECONDITION = POLICIES["nmu-fast"].precondition

# RealNPU-like units for ÷ and √: no regulariser at all (an L1 penalty biases the exponents away
# from 1, −1 and ½, and the ε-thresholds leave no room for a bias); the first layer's gradient
# preconditioned, and the learning rate falling so the weights settle to float precision.
# npu-exact-long lets it fall over twice the steps, for the √ seeds that end within a few times
# the threshold at 1.5·10⁵.
NPU_EXACT = Policy(
    "npu-exact", lr=1e-3, precondition=PRECONDITION, lr_decay=Decay(40_000, 150_000, 1e-3)
)

# With nau>snap_npu: the exponents pulled to multiples of ½ (the NAU unregularised), which
# closes the valley where an exponent off by η is offset by the first layer's scale. The
# registered recipe snap-div is this policy at batch 512.
NPU_SNAP = POLICIES["snap-div"].replace(name="npu-snap", batch_size=None)
LONG_DECAY = Decay(150_000, 300_000, 1e-3)  # the learning rate's fall, twice as late and long

CANDIDATES = [
    # nmu-fast's levers with the learning rate falling to 1e-5 of its start: the ε-threshold
    # of ÷ (about 6e-12 on U[2, 6]) needs unused NAU weights within ~1e-6 of 0.
    Policy(
        "exact-1e-3",
        regularizer=Ramp(10.0, 60_000, 100_000),
        lr=1e-3,
        precondition=Precondition(damping=0.01, start=10_000),
        lr_decay=Decay(start=40_000, end=150_000, factor=1e-5),
    ),
    Policy(
        "exact-1e-2",
        regularizer=Ramp(10.0, 60_000, 100_000),
        lr=1e-2,
        clip_norm=1.0,
        precondition=Precondition(damping=0.01, start=10_000),
        lr_decay=Decay(start=40_000, end=150_000, factor=1e-6),
    ),
    NPU_EXACT,
    NPU_EXACT.replace(name="npu-exact-long", lr_decay=Decay(40_000, 300_000, 1e-3)),
    # npu-exact with the NAU's sparsity regulariser (and none on the RealNPU, unit_lambda): the
    # first layer pushed to weights in {0, ±1}, which rules out the near-solutions that fit
    # U[1, 2] with other weights and exponents.
    NPU_EXACT.replace(
        name="npu-sparse",
        regularizer=Ramp(10.0, 30_000, 50_000),
        unit_lambda=(1.0, 0.0),
        lr_decay=Decay(60_000, 150_000, 1e-3),
    ),
    NPU_SNAP,
    # npu-snap, restarting a seed whose training loss stalls above 1e-5 (checked over 2·10⁴
    # steps): most failed seeds sit in a wrong valley from the first 3·10⁴ steps on.
    NPU_SNAP.replace(name="npu-snap-restart", reinit=Stall(chunk=1000, half=10, threshold=1e-5)),
    # npu-snap with the first layer's sparsity regulariser as well (select_nau>snap_npu): the
    # shared items' weights, which lag at 0.4–0.9 in the seeds that fail, pulled to 1.
    NPU_SNAP.replace(name="npu-snap-both", unit_lambda=(1.0, 1.0)),
    # snap-div with the learning rate held at 1e-3 until 1.5·10⁵ and falling over 1.5–3·10⁵:
    # most √ seeds that fail under snap-div are still improving (interpolation MSE falling
    # about tenfold per 5·10⁴ steps) when its learning rate falls from 6·10⁴ on.
    POLICIES["snap-div"].replace(name="snap-long", lr_decay=LONG_DECAY),
    # snap-div with the first layer pulled to {0, 1} too, at λ̂ = 1, 10 and 100 (the SelectNAU's
    # regulariser is a mean over its weights, the SnapNPU's a sum): √ seeds stall with the right
    # items at 0.99, others at 0.05 and an exponent at 0.9 in place of 1 (npu-snap-both, at
    # factor 1, did not reach the first layer). snap-both-10 is registered as snap-root.
    *(
        POLICIES["snap-div"].replace(name=f"snap-both{suffix}", unit_lambda=(factor, 1.0))
        for suffix, factor in (("", 1e3), ("-10", 1e4), ("-100", 1e5))
    ),
    # snap-root with snap-long's schedule: at 100 seeds every √ success under snap-root came by
    # step 79,000, before its learning rate had fallen far.
    POLICIES["snap-root"].replace(name="snap-root-long", lr_decay=LONG_DECAY),
    # snap-root-long restarting a seed whose training loss stalls above 1e-6 (over 2·10⁴ steps):
    # the same five seeds fail under every √ policy above, so a seed's fate is set early, and
    # the successes come within 8·10⁴ steps of the start, inside the long schedule's flat part.
    # Its successor, restarting on a deadline with the schedules replayed, is registered as
    # snap-root-retry (and, with the deadline near the end of snap-div's decay, snap-div-retry).
    POLICIES["snap-root"].replace(
        name="snap-root-restart",
        lr_decay=LONG_DECAY,
        reinit=Stall(chunk=1000, half=10, threshold=1e-6),
    ),
    # snap-root with the first layer's gradient preconditioned from step 1,000 in place of
    # 10,000: under snap-root-retry the first tries solved 37 of 100 seeds, the later tries 63
    # of 82, and a later try is preconditioned (with a settled moment) from its first step.
    POLICIES["snap-root"].replace(
        name="snap-root-early", precondition=Precondition(damping=0.01, start=1_000)
    ),
]

for policy in CANDIDATES:
    POLICIES.setdefault(policy.name, policy)
