#!/usr/bin/env bash
# Issue 36: one configuration for all six operations on Madsen's task, 16 seeds per operation
# first (the candidates in benchmarks/all-six/candidates.py). One thread; each cell resumes
# where it stopped. From the repository root:
#   [MODEL=...] [OPS="div sub ..."] [DB=...] bash benchmarks/all-six/run.sh POLICY [STEPS]
#   nalm bench report --import benchmarks/all-six/candidates.py \
#       --db runs/all-six/POLICY.sqlite --out benchmarks/results/all-six/POLICY
set -u
N=${NALM:-.venv/bin/nalm}
POLICY=${1:-six-branch}
STEPS=${2:-420000}
MODEL=${MODEL:-select_nau>(nau|nmu|snap_npu)}
OPS=${OPS:-add sub mul div squared root}
SEEDS=${SEEDS:-16}
DB=${DB:-runs/all-six/$POLICY.sqlite}
mkdir -p runs/all-six
export OMP_NUM_THREADS=1
/usr/bin/time -f "$POLICY wall %e s" "$N" bench run madsen \
    --import benchmarks/all-six/candidates.py --models "$MODEL" \
    --ops $OPS --policy "$POLICY" --seeds "$SEEDS" --steps "$STEPS" \
    --early-stop --db "$DB" --no-progress
