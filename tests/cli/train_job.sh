#!/usr/bin/env bash
# `ril train` end to end on a tiny synthetic task (CPU, real MPI ranks, real HDF5 files):
# - set-up: dataset + tokenizer, a teacher and a student by `ril sft`, a teacher cache by `ril teach`;
# - --stage disc writes a discriminator; --stage ril with 4 ranks (one per role) writes a student,
#   a discriminator, checkpoints and a metrics table (HDF5 + CSV) with finite rewards;
# - --accumulate 2 --checkpoint-activations: step 1's losses, KL and rewards equal the plain run's;
# - restart: 6 uninterrupted steps vs 3 steps, kill -9 of one rank, automatic resume to 6:
#   student and discriminator weights bitwise identical, metrics rows identical (times aside);
# - SIGUSR1 to mpirun: every rank stops at the same step with a checkpoint, exit 3, and the same
#   command finishes the run; a damaged newest checkpoint is reported, skipped, never overwritten;
# - ablations show their effect: --no-discriminator (no teacher responses in the loss),
#   --frozen-discriminator (D bitwise unchanged), --no-answer-reward (reward = D part), --teachers;
# - ril sft --teacher-cache trains on cached teacher responses;
# - bad input: cache of another dataset, missing teacher, checkpoint of another model config,
#   empty train split, --resume no on a run dir with checkpoints, NaN losses (skipped and
#   counted; beyond --max-bad-steps the job aborts): clear message, non-zero exit, nothing changed.
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

# ---- set-up ------------------------------------------------------------------------------------
"$RIL_DATA" synth --out d.h5 --seed 3 --train 48 --val 4 --test 8 >setup.log 2>&1 \
  && "$RIL_DATA" synth --out other.h5 --seed 4 --train 48 --val 4 --test 8 >>setup.log 2>&1 \
  && "$RIL_DATA" synth --out empty.h5 --seed 5 --train 0 --val 4 --test 4 >>setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1 \
  || { fail "datasets and tokenizer" setup.log; exit 1; }
sft() {  # name style steps [preset]
  $MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model "${4:-tiny-llava}" --style "$2" \
    --steps "$3" --batch 8 --lr 1e-3 --lr-end 1e-4 --val-examples 0 --run-dir "runs/$1" --out "runs/$1/model"
}
sft teacher steps 25 >>setup.log 2>&1 && sft student terse 8 >>setup.log 2>&1 \
  && sft text-student terse 2 tiny >>setup.log 2>&1 || { fail "ril sft set-up" setup.log; exit 1; }
$MPIRUN -np 2 "$RIL_BIN" teach --layout all=2 --dataset d.h5 --teacher a=runs/teacher/model \
  --teacher b=runs/student/model --responses 2 --max-new-tokens 24 --out cache.h5 >>setup.log 2>&1 \
  || { fail "ril teach set-up" setup.log; exit 1; }
ok "set-up: dataset, tokenizer, teacher and student by ril sft, a two-teacher cache by ril teach"

common=(--dataset d.h5 --student runs/student/model --teacher-cache cache.h5 --questions 4 --group 4
        --max-new-tokens 24)

# ---- stage 1 -----------------------------------------------------------------------------------
if $MPIRUN -np 2 "$RIL_BIN" train --stage disc "${common[@]}" --steps 2 --pretrain-lr 1e-3 --pretrain-lr-end 1e-4 \
     --run-dir runs/disc >disc.log 2>&1 && [ -f runs/disc/discriminator/config.json ] \
     && grep -q "step 2/2" disc.log; then
  ok "--stage disc: 2 steps, discriminator written"
else
  fail "--stage disc" disc.log
fi

ril_run() {  # run-dir steps [extra...]
  local dir=$1 steps=$2
  shift 2
  $MPIRUN -np 4 "$RIL_BIN" train "${common[@]}" --discriminator runs/disc/discriminator --lr 1e-3 --disc-lr 1e-4 \
    --steps "$steps" --checkpoint-every 3 --run-dir "$dir" "$@"
}

# ---- stage 2, uninterrupted --------------------------------------------------------------------
if ril_run runs/a 6 >a.log 2>&1 && [ -f runs/a/model/model.safetensors ] && [ -f runs/a/discriminator/config.json ]; then
  ok "--stage ril, 4 ranks (one per role), 6 steps"
else
  fail "--stage ril uninterrupted" a.log
fi
rows=$(($(wc -l <runs/a/metrics.csv) - 1))
if [ "$rows" = 6 ] && "$PY" - runs/a/metrics.csv <<'EOF'; then
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    for k in ("reward_student", "reward_teacher", "disc_acc", "kl", "policy_loss", "response_len_student", "time_step"):
        v = float(r[k])
        assert math.isfinite(v), (k, v)
    assert 0 <= float(r["reward_student"]) <= 2 and 0 <= float(r["disc_acc"]) <= 1
    assert float(r["kl"]) >= 0
EOF
  ok "metrics.csv: 6 rows, finite rewards, D accuracy, KL, losses, lengths, times"
else
  fail "metrics table ($rows rows)" runs/a/metrics.csv
fi
"$RIL_BIN" info runs/a/metrics.h5 >info.log 2>&1 && ok "ril info metrics.h5" || fail "ril info metrics.h5" info.log

# ---- --accumulate 2 --checkpoint-activations: step 1 as in the run above ------------------------
# Step 1 samples from the same initial weights; the learner and D compute the same losses in two
# micro-batches with recomputed activations (float rounding apart: 1e-4 relative, see
# tests/unit/roles/learner_accumulate_test.cpp and tests/unit/model/test_activation_checkpoint.cpp).
if ril_run runs/acc 1 --accumulate 2 --checkpoint-activations >acc.log 2>&1 \
   && "$PY" - runs/a/metrics.csv runs/acc/metrics.csv <<'EOF'; then
import csv, sys
a, b = (list(csv.DictReader(open(p)))[0] for p in sys.argv[1:3])
for k in ("policy_loss", "kl", "disc_loss", "disc_acc", "reward_student", "reward_teacher"):
    x, y = float(a[k]), float(b[k])
    assert abs(x - y) <= 1e-4 * max(abs(x), 1e-3), (k, x, y)
EOF
  ok "--accumulate 2 --checkpoint-activations (4 ranks): step 1's losses, KL and rewards equal the plain run's"
else
  fail "--accumulate 2 --checkpoint-activations" acc.log
fi

# ---- restart: kill -9 a rank after the step-3 checkpoint, resume ------------------------------
ril_run runs/b 6 >b1.log 2>&1 &
kill9_after_checkpoint runs/b $! b1.log
if ril_run runs/b 6 >b2.log 2>&1 && grep -q "resumed from .*step-000003.h5 at step 3" b2.log; then
  ok "the same command resumed at step 3 and finished"
else
  fail "resume after kill -9" b2.log
fi
same=1
for f in model/model.safetensors discriminator/model.safetensors; do
  if [ ! -f "runs/a/$f" ] || [ "$(sum "runs/a/$f")" != "$(sum "runs/b/$f")" ]; then same=0; fi
done
[ "$same" = 1 ] && ok "resumed run bitwise identical to the uninterrupted one (student and discriminator safetensors)" \
  || fail "resumed weights differ from the uninterrupted run"
if "$PY" - runs/a/metrics.csv runs/b/metrics.csv <<'EOF'; then
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) == 6, (len(a), len(b))
for ra, rb in zip(a, b):
    for k in ra:
        if k.startswith("time_") or k == "tokens_per_s":
            continue
        assert ra[k] == rb[k], (k, ra[k], rb[k])
EOF
  ok "metrics rows of the resumed run equal the uninterrupted run's (times aside), no duplicate rows"
else
  fail "metrics after resume differ"
fi

# ---- SIGUSR1: checkpoint at the same step on every rank, exit 3 (resumable), then finish --------
$MPIRUN -np 4 "$RIL_BIN" train "${common[@]}" --lr 1e-3 --disc-lr 1e-4 --steps 40 --run-dir runs/sig >sig1.log 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  grep -q "step 1/40" sig1.log 2>/dev/null && break
  sleep 0.1
done
kill -USR1 "$launcher"
wait "$launcher"
status=$?
stop_step=$(sed -n 's/.*stopped by signal [0-9]* at step \([0-9]*\).*/\1/p' sig1.log | head -1)
if [ "$status" = 3 ] && [ -n "$stop_step" ] && [ "$stop_step" -lt 40 ] \
   && [ -f "runs/sig/checkpoints/$(printf 'step-%06d.h5' "$stop_step")" ]; then
  ok "SIGUSR1 to mpirun: stopped at step $stop_step with a checkpoint, exit 3"
else
  fail "SIGUSR1 stop (status $status, step '$stop_step')" sig1.log
fi
# Damage the newest checkpoint: the resume reports it, falls back, and never overwrites it.
if [ -n "$stop_step" ]; then
  newest="runs/sig/checkpoints/$(printf 'step-%06d.h5' "$stop_step")"
  head -c 2000 "$newest" >"$newest.part" && mv "$newest.part" "$newest"
  damaged_sum=$(sum "$newest")
  $MPIRUN -np 4 "$RIL_BIN" train "${common[@]}" --lr 1e-3 --disc-lr 1e-4 --steps "$stop_step" \
    --run-dir runs/sig >sig2.log 2>&1
  status=$?
  kept=$(ls runs/sig/checkpoints/*.damaged.* 2>/dev/null | head -1)
  if grep -q "$(basename "$newest")" sig2.log && grep -qi "damaged\|not complete\|falling back\|fall back" sig2.log \
     && [ "$status" = 0 ] && { [ "$(sum "$newest")" = "$damaged_sum" ] || { [ -n "$kept" ] && [ "$(sum "$kept")" = "$damaged_sum" ]; }; }; then
    ok "damaged newest checkpoint reported and skipped; its bytes kept (status $status)"
  else
    fail "damaged checkpoint handling (status $status)" sig2.log
  fi
fi

# ---- ablations: each must show its effect, not just run ---------------------------------------
abl() {  # name extra...
  local name=$1
  shift
  if $MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --lr 1e-3 --steps 2 --run-dir "runs/abl-$name" "$@" \
       >"abl-$name.log" 2>&1 && grep -q "step 2/2" "abl-$name.log"; then
    ok "ablation $name runs"
  else
    fail "ablation $name" "abl-$name.log"
  fi
}
abl no-disc --no-discriminator
abl frozen --frozen-discriminator --discriminator runs/disc/discriminator
abl no-answer --no-answer-reward --discriminator runs/disc/discriminator
abl one-teacher --teachers a
abl student-baseline --advantage student-baseline
# Collapse warnings: a tiny --warn-kl trips at once (the KL is > 0 from step 2); the sign warns
# when it crosses and then only on progress-line steps (--log-every 3 over 6 steps: steps 3, 6).
$MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --lr 1e-3 --steps 6 --log-every 3 --warn-kl 1e-12 --run-dir runs/abl-warn \
  >abl-warn.log 2>&1
nwarn=$(grep -c "KL to the reference on student tokens is" abl-warn.log)
if [ "$nwarn" -ge 2 ] && [ "$nwarn" -le 3 ]; then
  ok "collapse warning: --warn-kl crossed, warned $nwarn times in 6 steps (crossing + progress steps)"
else
  fail "collapse warning (warned $nwarn times)" abl-warn.log
fi
grep -q "student-baseline advantages" abl-student-baseline.log && ok "--advantage student-baseline: the run says so" \
  || fail "--advantage student-baseline banner" abl-student-baseline.log
# Teacher-advantage variants: the same step 1 (same seed, samples and rewards) as a reference run,
# only the teacher rows' advantages differ: the run says so in its banner and only the policy
# terms differ.
same_rewards_other_policy() {  # name reference-run banner-text option...
  local name=$1 ref=$2 banner=$3
  shift 3
  abl "$name" "$@"
  if grep -q "$banner" "abl-$name.log" && "$PY" - "runs/abl-$name/metrics.csv" \
       "runs/abl-$ref/metrics.csv" <<'EOF'; then
import csv, sys
a, b = (list(csv.DictReader(open(p)))[0] for p in sys.argv[1:3])
same = all(a[k] == b[k] for k in ("reward_student", "reward_teacher", "answer_acc_student"))
sys.exit(0 if same and a["pg_term"] != b["pg_term"] else 1)
EOF
    ok "$*: same rewards at step 1, a different policy term"
  else
    fail "$*" "abl-$name.log"
  fi
}
same_rewards_other_policy imitation student-baseline "teacher advantages x 4 per response" \
  --advantage student-baseline --imitation-weight 4 --imitation-per-response
# Against the paper's group advantage: the tiny test teachers answer wrongly, so under
# student-baseline (teacher advantages clipped at 0) both rules could give teacher rows 0 alike.
abl paper
same_rewards_other_policy teacher-answer paper "teacher advantages = their answer reward" --teacher-advantage answer
# D's system message is stored beside it (the paper's by default) and a different one is refused below.
grep -q "You are a discriminator assistant" runs/disc/discriminator/discriminator_prompt.json \
  && ok "the pre-trained D keeps its system message (discriminator_prompt.json)" \
  || fail "discriminator_prompt.json" runs/disc/discriminator/discriminator_prompt.json
grep -q "no discriminator" abl-no-disc.log && ok "no-discriminator run says so" || fail "no-discriminator banner" abl-no-disc.log
# --no-discriminator: no teacher response reaches the loss (no teacher tokens: kl_teacher, the
# teacher reward and length are NaN), while the full run's loss has teacher tokens.
if "$PY" - runs/abl-no-disc/metrics.csv runs/a/metrics.csv <<'EOF'; then
import csv, math, sys
abl, full = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
for r in abl:
    for k in ("kl_teacher", "reward_teacher", "response_len_teacher", "disc_acc", "reward_disc_student"):
        assert math.isnan(float(r[k])), (k, r[k])
    assert math.isfinite(float(r["kl_student"])) and math.isfinite(float(r["policy_loss"])), r
assert all(math.isfinite(float(r["kl_teacher"])) for r in full), "the full run has no teacher tokens in its loss"
EOF
  ok "--no-discriminator: no teacher responses in the loss (kl_teacher NaN; the full run's is finite)"
else
  fail "--no-discriminator effect" runs/abl-no-disc/metrics.csv
fi
# --frozen-discriminator: D's weights bitwise those it started from; an updated D moves.
if [ "$(sum runs/abl-frozen/discriminator/model.safetensors)" = "$(sum runs/disc/discriminator/model.safetensors)" ] \
   && [ "$(sum runs/a/discriminator/model.safetensors)" != "$(sum runs/disc/discriminator/model.safetensors)" ]; then
  ok "--frozen-discriminator: D bitwise unchanged (the updated run's D changed)"
else
  fail "--frozen-discriminator effect" abl-frozen.log
fi
# --no-answer-reward: the reward is the D part alone (total == D part for students and
# teachers), while answers were checked (answer accuracy measured) and count in the full run.
if "$PY" - runs/abl-no-answer/metrics.csv runs/a/metrics.csv <<'EOF'; then
import csv, math, sys
abl, full = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
for r in abl:
    for who in ("student", "teacher"):
        assert float(r["reward_" + who]) == float(r["reward_disc_" + who]), (who, r)
        assert math.isfinite(float(r["answer_acc_" + who])), r
# The check can fail: some answers were right, so a reward with its answer part would differ.
assert any(float(r["answer_acc_teacher"]) > 0 for r in abl), "no correct answer: the check cannot fail"
assert any(float(r["reward_teacher"]) > float(r["reward_disc_teacher"]) for r in full), "the full run has no answer part"
EOF
  ok "--no-answer-reward: the answer part of the reward is 0 (reward = D part) though answers were right"
else
  fail "--no-answer-reward effect" runs/abl-no-answer/metrics.csv
fi
grep -q "teachers a," abl-one-teacher.log && ok "--teachers a: the run uses teacher a only" \
  || fail "--teachers a banner" abl-one-teacher.log

# ---- ril sft on cached teacher responses (Stage 0 from teachers instead of rationales) ---------
if $MPIRUN -np 2 "$RIL_BIN" sft --layout all=2 --dataset d.h5 --tokenizer tok.json --model tiny-llava \
     --teacher-cache cache.h5 --teachers b --steps 2 --batch 4 --val-examples 0 --run-dir runs/sft-cache \
     --out runs/sft-cache/model >sft-cache.log 2>&1 && grep -q "96 cached teacher responses" sft-cache.log \
     && [ -f runs/sft-cache/model/model.safetensors ]; then
  ok "ril sft --teacher-cache: trains on teacher b's 96 cached responses"
else
  fail "ril sft --teacher-cache" sft-cache.log
fi

# ---- bad input ----------------------------------------------------------------------------------
expect_error() {  # name pattern command...
  local name=$1 pattern=$2
  shift 2
  local before
  before=$(cat d.h5 cache.h5 | sha256sum)
  timeout 120 "$@" >"bad-$name.log" 2>&1
  local status=$?
  if [ "$status" != 0 ] && [ "$status" != 124 ] && grep -q -- "$pattern" "bad-$name.log" \
     && [ "$(cat d.h5 cache.h5 | sha256sum)" = "$before" ]; then
    ok "bad input: $name (exit $status)"
  else
    fail "bad input: $name (exit $status, wanted /$pattern/)" "bad-$name.log"
  fi
}
expect_error other-dataset "built for another dataset" \
  $MPIRUN -np 2 "$RIL_BIN" train --dataset other.h5 --student runs/student/model --teacher-cache cache.h5 --steps 1 --run-dir runs/x1
expect_error missing-teacher "teacher 'zed' is not in" \
  $MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --teachers zed --steps 1 --run-dir runs/x2
expect_error disc-system "differs from the system message" \
  $MPIRUN -np 2 "$RIL_BIN" train "${common[@]}" --discriminator runs/disc/discriminator --disc-system "Teacher or student?" \
  --steps 1 --run-dir runs/x4
expect_error teacher-answer-no-teachers "teacher-advantage answer needs" \
  $MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --no-discriminator --teacher-advantage answer --steps 1 --run-dir runs/x5
expect_error empty-split "empty train split" \
  $MPIRUN -np 1 "$RIL_BIN" train --dataset empty.h5 --student runs/student/model --teacher-cache cache.h5 --steps 1 --run-dir runs/x3
before_ckpt=$(cat runs/a/checkpoints/* | sha256sum)
expect_error other-model "another student model config" \
  $MPIRUN -np 4 "$RIL_BIN" train --dataset d.h5 --student runs/text-student/model --teacher-cache cache.h5 \
  --questions 4 --group 4 --max-new-tokens 24 --steps 7 --run-dir runs/a
expect_error resume-no "already holds checkpoints" \
  $MPIRUN -np 4 "$RIL_BIN" train "${common[@]}" --steps 7 --resume no --run-dir runs/a
[ "$(cat runs/a/checkpoints/* | sha256sum)" = "$before_ckpt" ] && ok "refused resumes left runs/a/checkpoints unchanged" \
  || fail "runs/a/checkpoints changed by a refused run"
expect_error nan-abort "non-finite loss" env RIL_FAULT_NAN_STEPS=1,2 \
  $MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --steps 3 --max-bad-steps 1 --run-dir runs/nan1
if RIL_FAULT_NAN_STEPS=2 $MPIRUN -np 1 "$RIL_BIN" train "${common[@]}" --steps 3 --max-bad-steps 1 --run-dir runs/nan2 \
     >nan2.log 2>&1 && grep -q "update skipped" nan2.log \
     && [ "$("$PY" -c 'import csv, sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]["bad_steps"])' \
             runs/nan2/metrics.csv)" = 1 ]; then
  ok "one NaN step: skipped, counted (bad_steps = 1), run finished"
else
  fail "NaN step skipped and counted" nan2.log
fi

echo "train_job: $passed passed, $failures failed"
[ "$failures" = 0 ]
