#!/usr/bin/env bash
# The whole RIL pipeline on one node, every stage under mpirun with NP ranks:
#   synthetic data -> tokenizer -> two teachers of different sizes and styles (SFT)
#   -> weak student warm-up (SFT) -> teacher cache -> discriminator pre-training -> RIL
#   -> evaluation table (teachers, student before, student after).
# A finished stage is skipped when the script runs again (its output exists); an interrupted one
# continues from its own checkpoints (sft --resume, teach, train --resume auto). Every path and
# size is a variable below; override any of them from the environment, e.g.
#   NP=8 STEPS_RIL=200 RUN=runs/big jobs/ril-pipeline.sh
# The defaults are the CPU default job: about 15 minutes on 2 cores with 4 ranks.
set -euo pipefail

RIL=${RIL:-build/ril}                          # the ril executable
RIL_DATA=${RIL_DATA:-build/data_prep/ril-data} # the data tool
RUN=${RUN:-runs/default}                       # everything goes below this directory
NP=${NP:-4}                                    # MPI ranks of every stage
MPIRUN=${MPIRUN:-mpirun --oversubscribe}       # launcher (srun works too: MPIRUN="srun")
SEED=${SEED:-1234}
TRAIN=${TRAIN:-192}                            # synthetic train, val and test questions
VAL=${VAL:-32}
TEST=${TEST:-100}
TEACHER_A=${TEACHER_A:-tiny-llava-large}       # teacher A: larger model, terse answers
TEACHER_A_STYLE=${TEACHER_A_STYLE:-terse}
TEACHER_A_STEPS=${TEACHER_A_STEPS:-60}
TEACHER_B=${TEACHER_B:-tiny-llava}             # teacher B: small model, step-by-step rationales
TEACHER_B_STYLE=${TEACHER_B_STYLE:-steps}
TEACHER_B_STEPS=${TEACHER_B_STEPS:-150}
STUDENT=${STUDENT:-tiny-llava}                 # the student: weak warm-up
STUDENT_STYLE=${STUDENT_STYLE:-terse}
STUDENT_STEPS=${STUDENT_STEPS:-60}
SFT_LR=${SFT_LR:-1e-3}
SFT_LR_END=${SFT_LR_END:-1e-4}
RESPONSES=${RESPONSES:-2}                      # cached responses per question and teacher
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-32}              # student responses (rollouts) and the D input
TEACHER_MAX_NEW_TOKENS=${TEACHER_MAX_NEW_TOKENS:-48}  # cached teacher responses (step-by-step ones are longer)
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-64}
GROUP=${GROUP:-4}                              # G: student and teacher responses per question
QUESTIONS=${QUESTIONS:-4}                      # questions per RIL step
STEPS_DISC=${STEPS_DISC:-20}
STEPS_RIL=${STEPS_RIL:-30}
RIL_LR=${RIL_LR:-2e-5}                         # tiny models take more than the paper's 1e-6 (5e-5 and 2e-4 collapsed, KL > 1)
BETA=${BETA:-0.04}                             # paper 0.01; with tiny models 0.01 let the KL run away
DISC_LR=${DISC_LR:-3e-4}
DISC_PRETRAIN_LR=${DISC_PRETRAIN_LR:-3e-4}     # 1e-3 oscillated (every score moved together)
TRAIN_LAYOUT=${TRAIN_LAYOUT:-all=$NP}          # every rank does every role: no idle ranks on few cores
EXTRA_TRAIN_ARGS=${EXTRA_TRAIN_ARGS:-}         # e.g. --frozen-discriminator

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
stage_no=0
stage() {  # title
  stage_no=$((stage_no + 1))
  printf '\n==== [%d/8] %s  (%s elapsed)\n' "$stage_no" "$1" "$(elapsed)"
}
elapsed() { local s=$(($(date +%s) - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
skip() { echo "     finished earlier: $1 (delete it to redo this stage)"; }
mkdir -p "$RUN"
D=$RUN/data

stage "synthetic dataset ($TRAIN/$VAL/$TEST questions, 5 task families) and tokenizer"
if [ -f "$D/synth.h5" ] && [ -f "$D/tokenizer.json" ]; then
  skip "$D/synth.h5"
else
  mkdir -p "$D"
  "$RIL_DATA" synth --out "$D/synth.h5.tmp" --seed "$SEED" --train "$TRAIN" --val "$VAL" --test "$TEST"
  mv "$D/synth.h5.tmp" "$D/synth.h5"
  "$RIL_DATA" tokenizer --dataset "$D/synth.h5" --out "$D/tokenizer.json"
fi

sft() {  # title name preset style steps
  stage "$1"
  if [ -f "$RUN/$2/model/config.json" ]; then
    skip "$RUN/$2/model"
    return
  fi
  $MPIRUN -np "$NP" "$RIL" sft --layout "all=$NP" --dataset "$D/synth.h5" --tokenizer "$D/tokenizer.json" \
    --model "$3" --style "$4" --steps "$5" --batch 4 --lr "$SFT_LR" --lr-end "$SFT_LR_END" --seed "$SEED" \
    --checkpoint-every 50 --resume --log-every 25 --run-dir "$RUN/$2" --out "$RUN/$2/model"
}
sft "teacher A: $TEACHER_A, '$TEACHER_A_STYLE' style, $TEACHER_A_STEPS SFT steps" teacher-a \
  "$TEACHER_A" "$TEACHER_A_STYLE" "$TEACHER_A_STEPS"
sft "teacher B: $TEACHER_B, '$TEACHER_B_STYLE' style, $TEACHER_B_STEPS SFT steps" teacher-b \
  "$TEACHER_B" "$TEACHER_B_STYLE" "$TEACHER_B_STEPS"
sft "student warm-up: $STUDENT, $STUDENT_STEPS SFT steps (weak on purpose)" student \
  "$STUDENT" "$STUDENT_STYLE" "$STUDENT_STEPS"

stage "teacher cache: $RESPONSES responses per question from each teacher"
# ril teach resumes by itself and adds nothing when the cache is complete.
$MPIRUN -np "$NP" "$RIL" teach --layout "all=$NP" --dataset "$D/synth.h5" --seed "$SEED" \
  --teacher a="$RUN/teacher-a/model" --teacher b="$RUN/teacher-b/model" --responses "$RESPONSES" \
  --max-new-tokens "$TEACHER_MAX_NEW_TOKENS" --out "$RUN/teacher_cache.h5"

train_common=(--layout "$TRAIN_LAYOUT" --dataset "$D/synth.h5" --student "$RUN/student/model"
              --teacher-cache "$RUN/teacher_cache.h5" --questions "$QUESTIONS" --group "$GROUP"
              --max-new-tokens "$MAX_NEW_TOKENS" --seed "$SEED" --checkpoint-every 10 --log-every 5)

stage "discriminator pre-training: $STEPS_DISC steps (student = 1, teacher = 0)"
if [ -f "$RUN/disc/discriminator/config.json" ]; then
  skip "$RUN/disc/discriminator"
else
  $MPIRUN -np "$NP" "$RIL" train --stage disc "${train_common[@]}" --steps "$STEPS_DISC" \
    --pretrain-lr "$DISC_PRETRAIN_LR" --pretrain-lr-end "$DISC_PRETRAIN_LR" --run-dir "$RUN/disc"
fi

stage "RIL: $STEPS_RIL steps, G = $GROUP, two teachers, discriminator + answer reward"
if [ -f "$RUN/ril/model/config.json" ]; then
  skip "$RUN/ril/model"
else
  # shellcheck disable=SC2086  # EXTRA_TRAIN_ARGS is a list of options
  $MPIRUN -np "$NP" "$RIL" train --stage ril "${train_common[@]}" --discriminator "$RUN/disc/discriminator" \
    --steps "$STEPS_RIL" --lr "$RIL_LR" --beta "$BETA" --disc-lr "$DISC_LR" --run-dir "$RUN/ril" $EXTRA_TRAIN_ARGS
fi

stage "evaluation on the $TEST test questions (greedy)"
if [ -f "$RUN/eval.json" ] && [ -f "$RUN/eval.txt" ] && [ "$RUN/eval.json" -nt "$RUN/ril/model/config.json" ]; then
  skip "$RUN/eval.json"
  cat "$RUN/eval.txt"
else
  $MPIRUN -np "$NP" "$RIL" eval --layout "all=$NP" --dataset "$D/synth.h5" --split test \
    --model teacher-a="$RUN/teacher-a/model" --model teacher-b="$RUN/teacher-b/model" \
    --model student-before="$RUN/student/model" --model student-after="$RUN/ril/model" \
    --max-new-tokens "$EVAL_MAX_NEW_TOKENS" --out "$RUN/eval.json" --run-dir "$RUN" | tee "$RUN/eval.txt.tmp"
  mv "$RUN/eval.txt.tmp" "$RUN/eval.txt"
fi
printf '\n==== done in %s: %s/eval.json, curves: %s plot %s/ril --out %s/curves.png\n' "$(elapsed)" "$RUN" "$RIL" "$RUN" "$RUN"
