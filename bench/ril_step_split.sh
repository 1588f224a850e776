#!/usr/bin/env bash
# One RIL step's time split per rank group, and how it grows with G and the questions per step.
# Uses the default pipeline's run (jobs/ril-pipeline.sh: data, student, teacher cache, D) and
# runs `ril train` for a few steps per setting with one rank per role (teacher, rollout,
# discriminator, learner); the per-group seconds come from the run's metrics.csv (slowest rank of
# each group, median over the steps after the first). Prints a markdown table.
#   BASE=runs/default STEPS=4 bench/ril_step_split.sh
set -euo pipefail
RIL=${RIL:-build/ril}
BASE=${BASE:-runs/default}
OUT=${OUT:-/tmp/ril-step-split}
STEPS=${STEPS:-4}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
SETTINGS=${SETTINGS:-"2:4 4:4 8:4 4:2 4:8"}   # G:questions
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# shellcheck source=pipeline_inputs.sh
source "$(dirname "${BASH_SOURCE[0]}")/pipeline_inputs.sh"
require_pipeline_run ril_step_split "$BASE"
rm -rf "$OUT"
mkdir -p "$OUT"
echo "| G | questions | responses/step | teacher s | rollout s | discriminator s | learner s | step s | tokens/s |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for setting in $SETTINGS; do
  g=${setting%%:*}
  q=${setting##*:}
  dir=$OUT/g$g-q$q
  $MPIRUN -np 4 "$RIL" train --layout teacher=1,rollout=1,discriminator=1,learner=1 --dataset "$BASE/data/synth.h5" \
    --student "$BASE/student/model" --teacher-cache "$BASE/teacher_cache.h5" --discriminator "$BASE/disc/discriminator" \
    --group "$g" --questions "$q" --max-new-tokens 32 --steps "$STEPS" --lr 2e-5 --beta 0.04 --disc-lr 3e-4 \
    --run-dir "$dir" >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; exit 1; }
  python3 - "$dir/metrics.csv" "$g" "$q" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))[1:]  # the first step pays one-time costs
g, q = int(sys.argv[2]), int(sys.argv[3])
med = lambda k: statistics.median(float(r[k]) for r in rows)
print(f"| {g} | {q} | {2 * g * q} | {med('time_teacher'):.3f} | {med('time_rollout'):.2f} | {med('time_disc'):.2f} | "
      f"{med('time_learner'):.2f} | {med('time_step'):.2f} | {med('tokens_per_s'):.0f} |")
EOF
done
