#!/usr/bin/env bash
# The paper's ablation table on our synthetic tasks, from ONE student warm-up (made by
# jobs/ril-pipeline.sh in $BASE: data, teachers, student, teacher cache, pre-trained D):
#   drgrpo      Dr.GRPO only: no discriminator, no teacher responses (answer reward only)
#   ril-one     RIL with one teacher (a)
#   ril-two     RIL with both teachers (a and b)
#   frozen-d    RIL (two teachers) with the pre-trained discriminator never updated
#   beta0       RIL (two teachers) without the KL term (beta = 0)
#   no-answer   RIL (two teachers) with the discriminator reward only
# Every configuration runs the same steps with every seed of SEEDS (the seed drives sampling,
# question order and the teacher picks); then one `ril eval` of every result and of the warm-up
# on the test split, and bench/experiment.md: mean +- std over seeds per family and overall,
# 95 % paired bootstrap intervals against Dr.GRPO (questions resampled, seeds averaged), the
# training signals from each run's metrics, a bar chart, the command and the wall time.
# Finished runs are skipped when the script runs again.
#   BASE=runs/default jobs/ril-experiment.sh
set -euo pipefail

RIL=${RIL:-build/ril}
BASE=${BASE:-runs/default}                 # the pipeline's run directory (must be complete)
RUN=${RUN:-$BASE/experiment}
NP=${NP:-2}
MPIRUN=${MPIRUN:-mpirun --oversubscribe$([ "$(id -u)" -ne 0 ] || echo " --allow-run-as-root")}  # as root: allowed
# The pipeline's RIL settings (jobs/ril-pipeline.sh), so that ril-two here is the main job's RIL,
# but half its steps: one 300-step RIL run takes ~6.5 min on 2 cores, and 15 of them would not fit
# the hour the whole table may take there (STEPS=300 for the main job's length).
STEPS=${STEPS:-150}
SEEDS=${SEEDS:-1 2 3}
QUESTIONS=${QUESTIONS:-8}
GROUP=${GROUP:-4}
RIL_QUESTIONS=${RIL_QUESTIONS:-1000}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-48}
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-64}
LR=${LR:-3e-4}
BETA=${BETA:-0.01}                 # beta0 sets 0
DISC_LR=${DISC_LR:-1e-4}
ADVANTAGE=${ADVANTAGE:-student-baseline}  # the pipeline's (group: the paper's)
TEACHER_ADVANTAGE=${TEACHER_ADVANTAGE:-answer}  # the pipeline's (reward: the paper's); no-answer always uses reward
IMITATION_WEIGHT=${IMITATION_WEIGHT:-4}  # the pipeline's (1: the paper's)
TEMPERATURE=${TEMPERATURE:-0.7}    # the pipeline's student sampling temperature
CONFIGS=${CONFIGS:-drgrpo ril-one ril-two frozen-d beta0 no-answer}
OUT_MD=${OUT_MD:-bench/experiment.md}
OUT_PNG=${OUT_PNG:-bench/experiment.png}
PY=${PY:-/usr/bin/python3}                # the Debian python: python3-matplotlib and -numpy come from apt (install-deps.sh)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

for need in "$BASE/data/synth.h5" "$BASE/student/model/config.json" "$BASE/teacher_cache.h5" \
            "$BASE/disc/discriminator/config.json"; do
  [ -e "$need" ] || { echo "ril-experiment: $need is missing: run jobs/ril-pipeline.sh (RUN=$BASE) first" >&2; exit 2; }
done

args_for() {
  local d="--discriminator $BASE/disc/discriminator"
  case $1 in
    drgrpo) echo "--no-discriminator" ;;
    ril-one) echo "--teachers a $d --teacher-advantage $TEACHER_ADVANTAGE" ;;
    ril-two) echo "$d --teacher-advantage $TEACHER_ADVANTAGE" ;;
    frozen-d) echo "--frozen-discriminator $d --teacher-advantage $TEACHER_ADVANTAGE" ;;
    beta0) echo "$d --teacher-advantage $TEACHER_ADVANTAGE" ;;  # and --beta 0, below
    # Without the answer reward a teacher's correctness is not a reward either: the paper's rule.
    no-answer) echo "--no-answer-reward $d --teacher-advantage reward" ;;
    *) echo "ril-experiment: unknown config '$1'" >&2; exit 2 ;;
  esac
}

mkdir -p "$RUN"
start=$(date +%s)
models=(--model "warm-up=$BASE/student/model")
commands=$RUN/commands.txt
: >"$commands"
for cfg in $CONFIGS; do
  for seed in $SEEDS; do
    dir=$RUN/$cfg-seed$seed
    models+=(--model "$cfg-seed$seed=$dir/model")
    # shellcheck disable=SC2046  # the config's options are words
    cmd=("$RIL" train --stage ril --layout "all=$NP" --dataset "$BASE/data/synth.h5" --student "$BASE/student/model"
         --teacher-cache "$BASE/teacher_cache.h5" --train-limit "$RIL_QUESTIONS" --questions "$QUESTIONS"
         --group "$GROUP" --max-new-tokens "$MAX_NEW_TOKENS" --steps "$STEPS" --lr "$LR" --disc-lr "$DISC_LR"
         --beta "$([ "$cfg" = beta0 ] && echo 0 || echo "$BETA")" --advantage "$ADVANTAGE" --imitation-weight "$IMITATION_WEIGHT" --temperature "$TEMPERATURE" --seed "$seed" --log-every 25 --run-dir "$dir"
         $(args_for "$cfg"))
    echo "$MPIRUN -np $NP ${cmd[*]}" >>"$commands"
    if [ -f "$dir/model/config.json" ]; then
      echo "== $cfg seed $seed: finished earlier ($dir)"
      continue
    fi
    echo "== $cfg seed $seed ($(( ($(date +%s) - start) / 60 )) min elapsed)"
    $MPIRUN -np "$NP" "${cmd[@]}" >"$dir.log" 2>&1 \
      || { echo "ril-experiment: $cfg seed $seed failed, see $dir.log" >&2; tail -20 "$dir.log" >&2; exit 1; }
    grep "step $STEPS/$STEPS" "$dir.log" | sed 's/^.*\[train\] INFO  /   /'
  done
done

echo "== evaluation of every run on the test split"
eval_cmd=("$RIL" eval --layout "all=$NP" --dataset "$BASE/data/synth.h5" --split test
          --max-new-tokens "$EVAL_MAX_NEW_TOKENS" "${models[@]}" --out "$RUN/eval.json" --run-dir "$RUN")
echo "$MPIRUN -np $NP ${eval_cmd[*]}" >>"$commands"
$MPIRUN -np "$NP" "${eval_cmd[@]}" >"$RUN/eval.log" 2>&1 || { tail -20 "$RUN/eval.log" >&2; exit 1; }
wall=$(( $(date +%s) - start ))

"$PY" "$(dirname "$0")/ril-experiment-report.py" --eval "$RUN/eval.json" --runs "$RUN" --configs "$CONFIGS" \
  --baseline drgrpo --out-md "$OUT_MD" --out-png "$OUT_PNG" --commands "$commands" --wall-seconds "$wall" \
  --settings "BASE=$BASE STEPS=$STEPS SEEDS='$SEEDS' QUESTIONS=$QUESTIONS GROUP=$GROUP LR=$LR BETA=$BETA DISC_LR=$DISC_LR ADVANTAGE=$ADVANTAGE TEACHER_ADVANTAGE=$TEACHER_ADVANTAGE IMITATION_WEIGHT=$IMITATION_WEIGHT TEMPERATURE=$TEMPERATURE NP=$NP"
echo "== done in $((wall / 60)) min $((wall % 60)) s: $OUT_MD, $OUT_PNG"
