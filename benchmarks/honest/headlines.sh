#!/usr/bin/env bash
# Issue 34: the headline cells under the stop rule that never reads the test set (plateau-5) and
# per-try judging, 100 seeds each, one thread. Run from the repository root:
#   bash benchmarks/honest/headlines.sh          # about 45 min on this 2-core machine
# Each run resumes where it stopped (finished seeds are skipped, the cell in progress resumes from
# its checkpoint beside the database). Then:
#   nalm bench report --db runs/honest/*.sqlite --out benchmarks/results/honest
set -u
N=${NALM:-.venv/bin/nalm}
mkdir -p runs/honest
export OMP_NUM_THREADS=1
run() {
    name=$1
    shift
    echo "== $name $(date +%T)"
    /usr/bin/time -f "$name wall %e s" "$N" bench run madsen "$@" --seeds 100 --early-stop \
        --db "runs/honest/$name.sqlite" --no-progress
}
run nau-addsub --models NAU --ops add sub --steps 100000
run nmu-fast --models NMU --ops mul --policy nmu-fast --steps 200000
run root-retry --models 'select_nau>snap_npu' --ops root --policy snap-root-retry --steps 400000
run div-retry --models 'select_nau>int_snap_npu' --ops div --policy snap-div-retry --steps 420000
