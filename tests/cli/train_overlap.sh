#!/usr/bin/env bash
# `ril train --max-staleness 0|1` (rollout/learn overlap) end to end on the tiny task, 2 ranks
# (rollout=1,teacher+discriminator+learner=1: the rollout rank holds no learner role):
# - refused, exit 2 on every rank before anything runs: a layout where a rank holds both the
#   rollout and the learner role (all=2), --stage disc, --max-staleness 2;
# - --max-staleness 0 is today's lockstep: student, D and metrics bitwise those of a run without
#   the option, and the same metrics columns;
# - --max-staleness 1: the overlap columns; step 1 is sampled in lockstep (lag 0, same responses
#   and rewards as lockstep), every later step uses responses one weight version old (lag 1),
#   none dropped; the weights differ from lockstep's (the responses were sampled by another policy);
# - resume after kill -9 with --max-staleness 1: the checkpoint holds no rollouts in flight, the
#   resumed job samples its first step in lockstep (lag 0) and is deterministic: bitwise equal to
#   a job resumed from the same checkpoint of an uninterrupted run.
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

make_tiny_student_and_cache
ok "set-up: dataset, tokenizer, student, teacher cache"

base=(train --layout rollout=1,teacher+discriminator+learner=1 --dataset d.h5 --student runs/student/model
      --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --lr 1e-3 --disc-lr 1e-4)
run() {  # run-dir steps [extra...]
  local dir=$1 steps=$2
  shift 2
  $MPIRUN -np 2 "$RIL_BIN" "${base[@]}" --steps "$steps" --run-dir "runs/$dir" "$@"
}

# ---- bad input: exit 2, a clear message, nothing run --------------------------------------------
refused() {  # name pattern command...
  local name=$1 pattern=$2
  shift 2
  timeout 120 "$@" >"bad-$name.log" 2>&1
  local status=$?
  if [ "$status" = 2 ] && grep -q -- "$pattern" "bad-$name.log" && [ ! -e "runs/$name/metrics.csv" ]; then
    ok "refused: $name (exit 2)"
  else
    fail "refused: $name (exit $status, wanted 2 and /$pattern/)" "bad-$name.log"
  fi
}
refused colocated "holds both the rollout and the learner role" \
  $MPIRUN -np 2 "$RIL_BIN" train --layout all=2 --dataset d.h5 --student runs/student/model --teacher-cache cache.h5 \
  --group 2 --steps 1 --max-staleness 1 --run-dir runs/colocated
refused disc-stage "needs --stage ril" \
  $MPIRUN -np 2 "$RIL_BIN" "${base[@]}" --steps 1 --stage disc --max-staleness 1 --run-dir runs/disc-stage
refused two "--max-staleness must be in \[0, 1\], got 2" \
  $MPIRUN -np 2 "$RIL_BIN" "${base[@]}" --steps 1 --max-staleness 2 --run-dir runs/two

# ---- --max-staleness 0: bitwise today's lockstep -----------------------------------------------
run lock 4 >lock.log 2>&1 || fail "lockstep run" lock.log
run lock0 4 --max-staleness 0 >lock0.log 2>&1 || fail "--max-staleness 0 run" lock0.log
if same lock lock0 >same0.log 2>&1 && [ "$(head -1 runs/lock/metrics.csv)" = "$(head -1 runs/lock0/metrics.csv)" ] \
   && ! head -1 runs/lock0/metrics.csv | grep -q staleness; then
  ok "--max-staleness 0: student, D and metrics bitwise those of a run without the option, same columns"
else
  fail "--max-staleness 0 differs from lockstep" same0.log
fi

# ---- --max-staleness 1 -------------------------------------------------------------------------
if run over 6 --max-staleness 1 --checkpoint-every 2 >over.log 2>&1 && [ -f runs/over/model/model.safetensors ]; then
  ok "--max-staleness 1: 6 steps"
else
  fail "--max-staleness 1 run" over.log
fi
[ "$(grep -c "sampled in lockstep" over.log)" = 1 ] && ok "only the first step is sampled in lockstep" \
  || fail "lockstep first step (log)" over.log
if "$PY" - runs/lock/metrics.csv runs/over/metrics.csv <<'EOF' >over-check.log 2>&1; then
import csv, math, sys
lock, over = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(over) == 6, len(over)
assert [float(r["staleness"]) for r in over] == [0, 1, 1, 1, 1, 1], [r["staleness"] for r in over]
assert all(float(r["stale_dropped"]) == 0 for r in over)
assert all(math.isfinite(float(r["time_wait_rollouts"])) and float(r["time_wait_rollouts"]) >= 0 for r in over)
# Step 1: the same responses from the same weights as lockstep, so the same rewards and D step.
for k in ("reward_student", "reward_teacher", "answer_acc_student", "response_len_student", "disc_loss", "disc_acc"):
    assert lock[0][k] == over[0][k], (k, lock[0][k], over[0][k])
# Step 2 on: responses of the weights before the last update, not lockstep's.
assert any(lock[i]["response_len_student"] != over[i]["response_len_student"]
           or lock[i]["reward_disc_student"] != over[i]["reward_disc_student"] for i in range(1, 4)), "no effect"
for r in over:
    for k in ("policy_loss", "kl", "reward_student"):
        assert math.isfinite(float(r[k])), (k, r[k])
EOF
  ok "--max-staleness 1 metrics: lag 0 then 1, none dropped, step 1 as lockstep, later steps not"
else
  fail "--max-staleness 1 metrics" over-check.log
fi
[ "$(sum runs/over/model/model.safetensors)" != "$(sum runs/lock/model/model.safetensors)" ] \
  && ok "--max-staleness 1 trains another student than lockstep (off-policy responses)" \
  || fail "--max-staleness 1 student equals lockstep's"

# ---- resume after kill -9 with --max-staleness 1 -----------------------------------------------
run kill 6 --max-staleness 1 --checkpoint-every 2 >kill1.log 2>&1 &
kill9_after_checkpoint runs/kill $! kill1.log
run kill 6 --max-staleness 1 --checkpoint-every 2 >kill2.log 2>&1
at=$(sed -n 's/.*resumed from .*step-0*\([0-9][0-9]*\)\.h5 at step.*/\1/p' kill2.log | head -1)
if [ -n "$at" ] && [ -f runs/kill/model/model.safetensors ] && grep -q "sampled in lockstep" kill2.log; then
  ok "resumed at step $at, first step sampled in lockstep, finished"
else
  fail "resume after kill -9 (--max-staleness 1)" kill2.log
fi
if [ -n "$at" ]; then
  ckpt="runs/over/checkpoints/$(printf 'step-%06d.h5' "$at")"
  run again 6 --max-staleness 1 --checkpoint-every 2 --resume "$ckpt" >again.log 2>&1 || fail "resume from $ckpt" again.log
  if same kill again >same1.log 2>&1; then
    ok "kill -9 + resume bitwise equal to a resume from the uninterrupted run's step-$at checkpoint (deterministic)"
  else
    fail "resumed runs differ" same1.log
  fi
  if "$PY" - runs/kill/metrics.csv "$at" <<'EOF' >lag.log 2>&1; then
import csv, sys
rows = {int(r["step"]): float(r["staleness"]) for r in csv.DictReader(open(sys.argv[1]))}
at = int(sys.argv[2])
assert rows[at + 1] == 0, rows  # in-flight rollouts discarded: regenerated in lockstep
assert all(rows[s] == 1 for s in rows if s > at + 1), rows
EOF
    ok "resumed run: lag 0 at step $((at + 1)) (regenerated), 1 after"
  else
    fail "resumed run lags" lag.log
  fi
fi

echo "train_overlap: $passed passed, $failures failed"
[ "$failures" = 0 ]
