#!/usr/bin/env bash
# The whole RIL pipeline on one node, every stage under mpirun with NP ranks:
#   synthetic data -> tokenizer -> two teachers of different styles (SFT) -> weak student warm-up
#   (SFT) -> teacher cache -> discriminator pre-training -> RIL (with a val curve) -> evaluation
#   table (teachers, student before and after, the difference with its 95 % interval) -> curves.
# A finished stage is skipped when the script runs again (its output exists); an interrupted one
# continues from its own checkpoints (sft --resume, teach, train --resume auto). Every path and
# size is a variable below; override any of them from the environment, e.g.
#   NP=8 STEPS_RIL=400 RUN=runs/big jobs/ril-pipeline.sh
# The defaults are the CPU default job (README: its time and its table on a 2-core machine).
#
# Why these defaults (chosen on the val split; the test split is only read by the last stage):
# - Scenes are a 2x2 board of 24-px cells in a 48-px image and the models see 24-px patches, so
#   every object is exactly one image token (4 image tokens a prompt): a tiny vision tower trained
#   from scratch learns colour, shape and position in a few hundred updates. With free placement of
#   small objects, or 5 families on a 3x3 board, the tiny models stayed near chance within the
#   time budget (see the issue note). Two families: attribute and counting (spatial stayed at
#   chance on the board within the budget).
# - Teacher A answers tersely after many updates; teacher B starts from teacher A and learns the
#   explained style ("Let me look at the image. <A's sentence> So the answer is X."): the two differ
#   visibly in length (10.5 vs 40.5 tokens). The student gets few updates on both styles (weak on
#   purpose, and it writes both): SFT on the mixture of two teachers' answers taught a terse-only
#   student nothing, and one that writes both styles +14 points (bench/learning-diagnostics.md 6, 10).
# - RIL: the student's samples get the reward minus the mean of the student's own samples
#   (student-baseline: the teachers' higher rewards would push every student sample down with the
#   paper's 2G mean), and a teacher response's advantage is its correctness times 4 (correct teacher
#   answers are imitated whatever D says: once the student writes like the teachers D is at chance
#   and the paper's rule switches imitation off), at lr 3e-4 and temperature 0.7 (at 1.0 half of the
#   weak student's samples ran to the token limit). The paper's rules are a few variables away:
#   ADVANTAGE=group TEACHER_ADVANTAGE=reward IMITATION_WEIGHT=1 TEMPERATURE=1.0 RIL_LR=2e-5
#   (bench/learning-diagnostics.md 10: val +16 points with these defaults, +0 to +5 with the paper's).
# - One token budget (MAX_NEW_TOKENS) for everything RIL does with a response: student samples,
#   cached teacher responses (cut to it), the discriminator input, the policy gradient and the
#   answer reward all see the same text.
set -euo pipefail

RIL=${RIL:-build/ril}                          # the ril executable
RIL_DATA=${RIL_DATA:-build/ril-data}           # the data tool
RUN=${RUN:-runs/default}                       # everything goes below this directory
NP=${NP:-2}                                    # MPI ranks of every stage
MPIRUN=${MPIRUN:-mpirun --oversubscribe$([ "$(id -u)" -ne 0 ] || echo " --allow-run-as-root")}       # launcher (srun works too: MPIRUN="srun")
SEED=${SEED:-1234}
# Data: ril-data synth (README "Data tools").
TRAIN=${TRAIN:-8000}                           # train, val and test questions
VAL=${VAL:-300}
TEST=${TEST:-600}
IMAGE_SIZE=${IMAGE_SIZE:-48}
GRID=${GRID:-2}
FAMILIES=${FAMILIES:-attribute,counting}
DATA_ARGS=${DATA_ARGS:---min-objects 2 --max-objects 4 --max-count 3 --colours 4 --shapes 3 --colour-jitter 10 --noise 4}
# The tokenizer's merges (and so every token id) come from the text of these styles. With the
# explained style's frame in it the ids change, and teacher A then stayed near chance on the
# attribute questions (val 49-55 % after 2000 and 4000 updates, 3 runs) where with these ids it
# reaches 100 %: a tiny model trained from scratch is that sensitive (bench/learning-diagnostics.md 9).
TOKENIZER_STYLES=${TOKENIZER_STYLES:-terse,steps,scan}
# Models (presets: ril sft --help).
TEACHER_A=${TEACHER_A:-tiny-llava-48-p24}      # teacher A: terse answers (a preset)
TEACHER_A_STYLE=${TEACHER_A_STYLE:-terse}
TEACHER_A_STEPS=${TEACHER_A_STEPS:-2000}
TEACHER_B=${TEACHER_B:-teacher-a}              # teacher B: explained answers (a preset, or teacher-a: start from A)
TEACHER_B_STYLE=${TEACHER_B_STYLE:-explained}
TEACHER_B_STEPS=${TEACHER_B_STEPS:-750}
STUDENT=${STUDENT:-tiny-llava-48-p24}          # the student: weak warm-up (a preset)
STUDENT_STYLE=${STUDENT_STYLE:-terse,explained}  # a list: each example in one of the styles
STUDENT_STEPS=${STUDENT_STEPS:-250}
SFT_BATCH=${SFT_BATCH:-8}                      # examples per rank and update
SFT_LR=${SFT_LR:-3e-4}
SFT_LR_END=${SFT_LR_END:-3e-4}                 # constant: decay did not help on val
# RIL.
RIL_QUESTIONS=${RIL_QUESTIONS:-1000}           # train questions RIL draws from (and the teacher cache holds)
RESPONSES=${RESPONSES:-2}                      # cached responses per question and teacher
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-48}           # the one budget of a response in D pre-training and RIL
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-64}
GROUP=${GROUP:-4}                              # G: student and teacher responses per question
QUESTIONS=${QUESTIONS:-8}                      # questions per step
STEPS_DISC=${STEPS_DISC:-30}
STEPS_RIL=${STEPS_RIL:-300}
RIL_LR=${RIL_LR:-3e-4}                         # the paper: 1e-6 at 7B; tiny models from scratch need more
BETA=${BETA:-0.01}                             # the paper's
DISC_LR=${DISC_LR:-1e-4}
DISC_PRETRAIN_LR=${DISC_PRETRAIN_LR:-3e-4}
# D's system message: the paper's last sentence only. The paper's full message is ~100 tokens of
# this tiny tokenizer, constant, and most of D's input for 10-30-token answers; this one halves
# D's time per step with the same D accuracy (0.75 after pre-training, measured on the default job).
DISC_SYSTEM=${DISC_SYSTEM:-Return 0 if teacher, 1 if student.}
ADVANTAGE=${ADVANTAGE:-student-baseline}       # student-baseline | group (the paper)
TEACHER_ADVANTAGE=${TEACHER_ADVANTAGE:-answer}  # answer: a teacher response's advantage is its correctness | reward (the paper)
IMITATION_WEIGHT=${IMITATION_WEIGHT:-4}        # teacher responses' advantages times this (1: the paper's)
TEMPERATURE=${TEMPERATURE:-0.7}                # the student's sampling temperature in D pre-training and RIL (paper: 1.0)
VAL_EVERY=${VAL_EVERY:-50}                     # the val curve: accuracy on VAL_QUESTIONS every VAL_EVERY RIL steps
VAL_QUESTIONS=${VAL_QUESTIONS:-100}
TRAIN_LAYOUT=${TRAIN_LAYOUT:-all=$NP}          # every rank does every role: no idle ranks on few cores
EXTRA_TRAIN_ARGS=${EXTRA_TRAIN_ARGS:-}         # e.g. --frozen-discriminator

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}  # ranks share the cores
stages=9
start=$(date +%s)
stage_no=0
elapsed() { local s=$(($(date +%s) - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
stage() {  # title
  stage_no=$((stage_no + 1))
  printf '\n==== [%d/%d] %s  (%s elapsed)\n' "$stage_no" "$stages" "$1" "$(elapsed)"
}
skip() { echo "     finished earlier: $1 (delete it to redo this stage)"; }
for tool in "$RIL" "$RIL_DATA"; do
  [ -x "$tool" ] || { echo "ril-pipeline: $tool is not an executable; build first (scripts/build.sh) or set RIL / RIL_DATA" >&2; exit 2; }
done
mkdir -p "$RUN"
D=$RUN/data

stage "synthetic dataset ($TRAIN/$VAL/$TEST questions, families $FAMILIES, ${IMAGE_SIZE}-px ${GRID}x${GRID} boards) and tokenizer"
if [ -f "$D/synth.h5" ] && [ -f "$D/tokenizer.json" ]; then
  skip "$D/synth.h5"
else
  mkdir -p "$D"
  # shellcheck disable=SC2086  # DATA_ARGS is a list of options
  "$RIL_DATA" synth --out "$D/synth.h5.tmp" --overwrite --seed "$SEED" --train "$TRAIN" --val "$VAL" --test "$TEST" \
    --image-size "$IMAGE_SIZE" --grid "$GRID" --families "$FAMILIES" $DATA_ARGS
  mv "$D/synth.h5.tmp" "$D/synth.h5"
  "$RIL_DATA" tokenizer --dataset "$D/synth.h5" --styles "$TOKENIZER_STYLES" --out "$D/tokenizer.json"
fi

sft() {  # title name model style steps; model: a preset, or the name of an earlier stage to start from
  stage "$1"
  if [ -f "$RUN/$2/model/config.json" ]; then
    skip "$RUN/$2/model"
    return
  fi
  local model=(--model "$3")
  [ -f "$RUN/$3/model/config.json" ] && model=(--init "$RUN/$3/model")
  $MPIRUN -np "$NP" "$RIL" sft --layout "all=$NP" --dataset "$D/synth.h5" --tokenizer "$D/tokenizer.json" \
    "${model[@]}" --style "$4" --steps "$5" --batch "$SFT_BATCH" --lr "$SFT_LR" --lr-end "$SFT_LR_END" --seed "$SEED" \
    --checkpoint-every 250 --resume --log-every 250 --val-examples 0 --run-dir "$RUN/$2" --out "$RUN/$2/model"
}
sft "teacher A: $TEACHER_A, '$TEACHER_A_STYLE' style, $TEACHER_A_STEPS SFT steps" teacher-a \
  "$TEACHER_A" "$TEACHER_A_STYLE" "$TEACHER_A_STEPS"
sft "teacher B: $TEACHER_B, '$TEACHER_B_STYLE' style, $TEACHER_B_STEPS SFT steps" teacher-b \
  "$TEACHER_B" "$TEACHER_B_STYLE" "$TEACHER_B_STEPS"
sft "student warm-up: $STUDENT, $STUDENT_STEPS SFT steps (weak on purpose)" student \
  "$STUDENT" "$STUDENT_STYLE" "$STUDENT_STEPS"

stage "teacher cache: $RESPONSES responses per question from each teacher, first $RIL_QUESTIONS train questions"
# ril teach resumes by itself and adds nothing when the cache is complete.
$MPIRUN -np "$NP" "$RIL" teach --layout "all=$NP" --dataset "$D/synth.h5" --seed "$SEED" --limit "$RIL_QUESTIONS" \
  --teacher a="$RUN/teacher-a/model" --teacher b="$RUN/teacher-b/model" --responses "$RESPONSES" \
  --max-new-tokens "$MAX_NEW_TOKENS" --out "$RUN/teacher_cache.h5"

train_common=(--layout "$TRAIN_LAYOUT" --dataset "$D/synth.h5" --student "$RUN/student/model"
              --teacher-cache "$RUN/teacher_cache.h5" --train-limit "$RIL_QUESTIONS" --questions "$QUESTIONS"
              --group "$GROUP" --max-new-tokens "$MAX_NEW_TOKENS" --temperature "$TEMPERATURE" --seed "$SEED"
              --checkpoint-every 25 --log-every 10)

stage "discriminator pre-training: $STEPS_DISC steps (student = 1, teacher = 0)"
if [ -f "$RUN/disc/discriminator/config.json" ]; then
  skip "$RUN/disc/discriminator"
else
  $MPIRUN -np "$NP" "$RIL" train --stage disc "${train_common[@]}" --steps "$STEPS_DISC" \
    --pretrain-lr "$DISC_PRETRAIN_LR" --pretrain-lr-end "$DISC_PRETRAIN_LR" --disc-system "$DISC_SYSTEM" --run-dir "$RUN/disc"
fi

stage "RIL: $STEPS_RIL steps of $QUESTIONS questions, G = $GROUP, two teachers, discriminator + answer reward"
if [ -f "$RUN/ril/model/config.json" ]; then
  skip "$RUN/ril/model"
else
  # shellcheck disable=SC2086  # EXTRA_TRAIN_ARGS is a list of options
  $MPIRUN -np "$NP" "$RIL" train --stage ril "${train_common[@]}" --discriminator "$RUN/disc/discriminator" \
    --steps "$STEPS_RIL" --lr "$RIL_LR" --beta "$BETA" --disc-lr "$DISC_LR" --advantage "$ADVANTAGE" --teacher-advantage "$TEACHER_ADVANTAGE" --imitation-weight "$IMITATION_WEIGHT" --val-every "$VAL_EVERY" \
    --val-questions "$VAL_QUESTIONS" --val-max-new-tokens "$EVAL_MAX_NEW_TOKENS" --run-dir "$RUN/ril" $EXTRA_TRAIN_ARGS
fi

stage "evaluation on the $TEST test questions (greedy)"
if [ -f "$RUN/eval.json" ] && [ -f "$RUN/eval.txt" ] && [ "$RUN/eval.json" -nt "$RUN/ril/model/config.json" ]; then
  skip "$RUN/eval.json"
  cat "$RUN/eval.txt"
else
  $MPIRUN -np "$NP" "$RIL" eval --layout "all=$NP" --dataset "$D/synth.h5" --split test \
    --model teacher-a="$RUN/teacher-a/model" --model teacher-b="$RUN/teacher-b/model" \
    --model student-before="$RUN/student/model" --model student-after="$RUN/ril/model" \
    --compare student-after:student-before \
    --max-new-tokens "$EVAL_MAX_NEW_TOKENS" --out "$RUN/eval.json" --run-dir "$RUN" | tee "$RUN/eval.txt.tmp"
  mv "$RUN/eval.txt.tmp" "$RUN/eval.txt"
fi

stage "RIL curves"
"$RIL" plot "$RUN/ril" --out "$RUN/curves.png"
printf '\n==== done in %s: table %s/eval.txt (per question: %s/eval.json), curves %s/curves.png\n' \
  "$(elapsed)" "$RUN" "$RUN" "$RUN"
