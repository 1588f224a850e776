#!/usr/bin/env bash
# RIL step time, overlap (--max-staleness 1) vs lockstep (0), same settings, on a layout where the
# rollout rank has a core of its own (rollout=1,teacher+discriminator+learner=1, 2 ranks).
# Runs alternate lockstep / overlap ROUNDS times (so both see the same machine load); per run the
# medians over steps 2..STEPS (step 1 pays one-time costs and, with overlap, samples two steps) of
# the step time and of each part (metrics.csv: time_rollout, time_disc, time_learner), the ideal
# max(rollout, D + learner) from the same run, the students' answer accuracy on the training
# questions over the last quarter of the steps, and the greedy val accuracy after STEPS steps.
#   BASE=runs/default STEPS=8 ROUNDS=2 bench/overlap_step.sh
set -euo pipefail
RIL=${RIL:-build/ril}
BASE=${BASE:-runs/default}
OUT=${OUT:-/tmp/ril-overlap}
STEPS=${STEPS:-8}
ROUNDS=${ROUNDS:-2}
G=${G:-4}
LR=${LR:-2e-5}
Q=${Q:-4}
VAL=${VAL:-64}
LIMIT=${LIMIT:-1000}   # the default pipeline caches teacher responses for the first 1000 train questions
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# shellcheck source=pipeline_inputs.sh
source "$(dirname "${BASH_SOURCE[0]}")/pipeline_inputs.sh"
require_pipeline_run overlap_step "$BASE"
rm -rf "$OUT"
mkdir -p "$OUT"
echo "load before: $(uptime)"
echo "| run | max-staleness | rollout s | D s | learner s | D + learner s | ideal max s | step s | step / ideal | lockstep sum s | lag | wait s | answer acc S, last quarter | val acc |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq 1 "$ROUNDS"); do
  for s in 0 1; do
    dir=$OUT/r$round-s$s
    $MPIRUN -np 2 "$RIL" train --layout rollout=1,teacher+discriminator+learner=1 --dataset "$BASE/data/synth.h5" \
      --student "$BASE/student/model" --teacher-cache "$BASE/teacher_cache.h5" --discriminator "$BASE/disc/discriminator" \
      --group "$G" --questions "$Q" --max-new-tokens 32 --steps "$STEPS" --lr "$LR" --beta 0.04 --disc-lr 3e-4 \
      --train-limit "$LIMIT" --val-every "$STEPS" --val-questions "$VAL" --max-staleness "$s" --run-dir "$dir" >"$dir.log" 2>&1 \
      || { tail -20 "$dir.log" >&2; exit 1; }
    python3 - "$dir/metrics.csv" "$round" "$s" <<'EOF'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
val = float(rows[-1]["val_acc"])
last = rows[-max(1, len(rows) // 4):]
answer = sum(float(r["answer_acc_student"]) for r in last) / len(last)
rows = rows[1:]
med = lambda k: statistics.median(float(r[k]) for r in rows)
roll, d, learn, step = med("time_rollout"), med("time_disc"), med("time_learner"), med("time_step")
ideal = max(roll, d + learn)
lag = med("staleness") if "staleness" in rows[0] else 0.0
wait = med("time_wait_rollouts") if "time_wait_rollouts" in rows[0] else float("nan")
print(f"| {sys.argv[2]} | {sys.argv[3]} | {roll:.2f} | {d:.2f} | {learn:.2f} | {d + learn:.2f} | {ideal:.2f} | {step:.2f} | "
      f"{step / ideal:.2f} | {roll + d + learn:.2f} | {lag:.0f} | {wait:.2f} | {answer:.3f} | {val:.3f} |")
EOF
  done
done
echo "load after: $(uptime)"
