"""Candidate policies for one configuration of all six operations (issue 36, docs/recipes.md
"One configuration for all six"), loaded with
``nalm bench run --import benchmarks/all-six/candidates.py --policy NAME``.

The model is a branch layer after a shared first layer,
``select_nau>(nau|nmu|snap_npu)``: an additive path (+, −), the NMU (×, z²) and a power unit
pulled to multiples of ½ (÷, √, z²). Its units, in the order of ``unit_lambda``: the
SelectNAU, the branch layer (its selection), the NAU, the NMU, the SnapNPU.
"""

from nalm.train.policies import POLICIES, Deadline

CANDIDATES = [
    # snap-div-retry (the ÷ recipe: preconditioned first layer, λ ramp 1e-3 over 3·10⁴–6·10⁴,
    # lr falling 1000× over 6·10⁴–1.5·10⁵, a new try for a seed above training MSE 1e-8 at
    # 1.4·10⁵ steps) with the first layer pulled to {0, 1} at λ = 10 as in snap-root, the
    # selection at λ = 1, the NAU and the NMU at 10 (nmu-fast's λ̂), the SnapNPU at 1e-3.
    POLICIES["snap-div-retry"].replace(
        name="six-branch", unit_lambda=(10_000.0, 1_000.0, 10_000.0, 10_000.0, 1.0)
    ),
    # the same with √'s shorter deadline (a new try 6·10⁴ steps after the last began)
    POLICIES["snap-div-retry"].replace(
        name="six-branch-60k",
        unit_lambda=(10_000.0, 1_000.0, 10_000.0, 10_000.0, 1.0),
        reinit=Deadline(60_000, 1e-8),
    ),
    # a branch for each valley: the IntSnapNPU (the ÷ recipe's unit) beside the SnapNPU, for
    # ``select_nau>(nau|nmu|int_snap_npu|snap_npu)``; its units: SelectNAU, branch layer, NAU,
    # NMU, IntSnapNPU, SnapNPU
    POLICIES["snap-div-retry"].replace(
        name="six-branch-4", unit_lambda=(10_000.0, 1_000.0, 10_000.0, 10_000.0, 1.0, 1.0)
    ),
    # one branch per try: the first try trains the NAU alone, each restart (a seed above training
    # MSE 1e-8 1.4·10⁵ steps into its try) the next branch, the NMU, the IntSnapNPU, the
    # SnapNPU, round again; the data decide which try solves. Same model as six-branch-4.
    POLICIES["snap-div-retry"].replace(
        name="six-tries",
        unit_lambda=(10_000.0, 1_000.0, 10_000.0, 10_000.0, 1.0, 1.0),
        branch_per_try=True,
    ),
]

for policy in CANDIDATES:
    POLICIES.setdefault(policy.name, policy)
