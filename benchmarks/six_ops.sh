#!/usr/bin/env bash
# The six-operation table: the best recipe of each of + − × ÷ z² √ on the `madsen` task
# (docs/recipes.md), 100 seeds each, in two lanes of one thread (one per core), each cell with
# --early-stop; then one report. Resumable: run it again with the same OUT to finish a cut-off
# table (each cell keeps its checkpoint beside its database); a table begun by an earlier
# version of this script (other cells, other lanes) needs an OUT of its own.
#
#   bash benchmarks/six_ops.sh [OUT] [EXTRA FLAGS...]     e.g. bash benchmarks/six_ops.sh runs/six-ops
#
# Every cell has 50,000 steps or more, so `nalm bench run` trains it with the compiled step;
# --no-compile runs the eager step instead.
#
# Lane A: ÷ (select_nau>int_snap_npu, snap-div-retry), × (NMU, nmu-fast), − and + (NAU, its
# paper's policy). Lane B: √ (select_nau>snap_npu, snap-root-retry), z² (select_nau>nmu,
# snap-div-retry). The lanes are balanced by the cells' wall times: √ alone is about as long as
# the four cells of lane A.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/six-ops}
shift || true
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
NALM=(.venv/bin/nalm bench run madsen --seeds 100 --early-stop --no-progress "$@")

lane_a() {
    "${NALM[@]}" --models 'select_nau>int_snap_npu' --ops div --policy snap-div-retry \
        --steps 420000 --db "$OUT/a.sqlite"
    "${NALM[@]}" --models NMU --ops mul --policy nmu-fast --steps 200000 --db "$OUT/a.sqlite"
    "${NALM[@]}" --models NAU --ops sub --steps 200000 --db "$OUT/a.sqlite"
    "${NALM[@]}" --models NAU --ops add --steps 200000 --db "$OUT/a.sqlite"
}

lane_b() {
    "${NALM[@]}" --models 'select_nau>snap_npu' --ops root --policy snap-root-retry \
        --steps 400000 --db "$OUT/b.sqlite"
    "${NALM[@]}" --models 'select_nau>nmu' --ops squared --policy snap-div-retry \
        --steps 140000 --db "$OUT/b.sqlite"
}

started=$(date +%s)
lane_a > "$OUT/a.log" 2>&1 &
a=$!
lane_b > "$OUT/b.log" 2>&1 &
b=$!
wait "$a"
wait "$b"
echo "the six cells: $(( $(date +%s) - started )) s wall"
grep -h "solved (" "$OUT/a.log" "$OUT/b.log"
rm -rf "$OUT/report"
.venv/bin/nalm bench report --db "$OUT/a.sqlite" "$OUT/b.sqlite" --out "$OUT/report" | grep '^| madsen'
