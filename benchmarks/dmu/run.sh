#!/usr/bin/env bash
# Issue 36: the DMU (Curry 2025) on the single-module suite (input 2, a = x0, b = x1; 9 range
# pairs × 25 seeds = 225 runs per operation), judged by nalm's criterion (the extrapolation MSE
# below the ε-perfect solution's, ε = 1e-5, at the step with the lowest interpolation MSE).
# One thread; each run resumes where it stopped. From the repository root:
#   bash benchmarks/dmu/run.sh
#   nalm bench report --import benchmarks/dmu/variants.py --db runs/dmu/*.sqlite \
#       --out benchmarks/results/dmu
set -u
N=${NALM:-.venv/bin/nalm}
mkdir -p runs/dmu
export OMP_NUM_THREADS=1
run() {
    name=$1
    shift
    echo "== $name $(date +%T)"
    /usr/bin/time -f "$name wall %e s" "$N" bench run single-module \
        --import benchmarks/dmu/variants.py --seeds 25 --db "runs/dmu/$name.sqlite" \
        --no-progress "$@"
}
# The author's settings (policy dmu: 3,000 steps, Adam lr 1e-2 on a cosine to 1e-4, batch 512,
# clip-norm 1), operands frozen at (1, 1) for + and ×, (1, −1) for − and ÷, gate temperature 1.
run frozen --models dmu_add --ops add mul --policy dmu --steps 3000
run frozen --models dmu_sub --ops sub div --policy dmu --steps 3000
# The same with the gate at temperature 0.01 (the code's --G-temperature; value ours).
run cold --models dmu_add_cold --ops add mul --policy dmu --steps 3000
run cold --models dmu_sub_cold --ops sub div --policy dmu --steps 3000
# The same start, the operands learned.
run free --models dmu_add_free --ops add mul --policy dmu --steps 3000
run free --models dmu_sub_free --ops sub div --policy dmu --steps 3000
# nalm's dmu (operands ½, learned, temperature 1) on every operation: no frozen choice at all.
run learned --models dmu --ops add sub mul div --policy dmu --steps 3000
# The benchmark's standard settings (the suite's 50,000 steps, batch 128 and lr 1e-3, plain
# Adam: policy none) for the cold frozen DMU, the best of the author's settings above.
run standard --models dmu_add_cold --ops add mul --policy none --steps 50000
run standard --models dmu_sub_cold --ops sub div --policy none --steps 50000
