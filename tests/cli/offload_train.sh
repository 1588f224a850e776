#!/usr/bin/env bash
# `ril train --offload none|optimizer|optimizer+model` (common/offload_mode.h,
# roles/state_offload.h): between its phases the idle learner / discriminator puts its AdamW
# moments (and with optimizer+model D's weights and the learner's frozen reference) into a
# scratch file in the run directory and frees them; they come back bit for bit before its next
# phase. Tiny setup as in shard_train.sh; --stage ril, 4 questions, G 2, 12 tokens, 4 steps.
#   - all=1 (learner, D, rollout, teacher on one rank): --offload optimizer and optimizer+model
#     give a student, discriminator and metrics bitwise equal to --offload none;
#   - a step-2 checkpoint written with --offload optimizer+model resumes (with offload on) to
#     bitwise the uninterrupted --offload none run;
#   - all=2 with --shard optimizer and with --shard gradients: --offload optimizer+model is
#     bitwise the same --shard mode without offload (ShardedAdamW's moment shard is put away);
#   - teacher+rollout, discriminator and learner on 3 ranks: the same, each on its own rank;
#   - --stage disc (only D trains) and --frozen-discriminator: bitwise --offload none;
#   - the log names what was put away; no scratch file is left behind after the run;
#   - bad input: --offload gpu (exit 2, the message once, before anything runs).
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

make_tiny_student_and_cache

train() {  # name ranks offload [extra...]
  local name=$1 n=$2 offload=$3
  shift 3
  $MPIRUN -np "$n" "$RIL_BIN" train --layout "all=$n" --dataset d.h5 --student runs/student/model \
    --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --steps 4 --lr 1e-3 --disc-lr 1e-3 \
    --offload "$offload" --run-dir "runs/$name" "$@" >"$name.log" 2>&1 && [ -f "runs/$name/model/model.safetensors" ] \
    || { fail "ril train $name (all=$n, --offload $offload $*)" "$name.log"; return 1; }
}

no_scratch_left() {  # name: the run's offload scratch files are gone
  [ -z "$(find "runs/$1" -name 'rank-*.bin' 2>/dev/null)" ]
}

# ---- one rank, all roles: the modes against --offload none --------------------------------------
train n1 1 none --checkpoint-every 2
for mode in optimizer optimizer+model; do
  name=m1-${mode/+/-}
  extra=()
  [ "$mode" = optimizer+model ] && extra=(--checkpoint-every 2)
  train "$name" 1 "$mode" "${extra[@]}" \
    && { same n1 "$name" >"same-$name.log" 2>&1 \
         && ok "--offload $mode, all=1: student, discriminator and metrics bitwise --offload none's" \
         || fail "--offload $mode differs from --offload none" "same-$name.log"; }
  if [ -f "$name.log" ]; then
    grep -q -- "--offload $mode: the learner (group rank 0) puts away" "$name.log" \
      && grep -q -- "--offload $mode: the discriminator (group rank 0) puts away" "$name.log" \
      && ok "--offload $mode: the log says what the learner and D put away ($(grep -o 'learner (group rank 0) puts away [0-9]* MiB' "$name.log" | head -1))" \
      || fail "--offload $mode: no 'puts away' line for the learner and D" "$name.log"
    no_scratch_left "$name" && ok "--offload $mode: no scratch file left in the run directory" \
      || fail "--offload $mode: scratch files left: $(find "runs/$name" -name 'rank-*.bin')"
  fi
done

# ---- resume with offload on --------------------------------------------------------------------------
ckpt=runs/m1-optimizer-model/checkpoints/step-000002.h5
if [ -f "$ckpt" ]; then
  train r1 1 optimizer+model --resume "$ckpt" \
    && { grep -q "resumed from .*step-000002.h5 at step 2" r1.log && same n1 r1 >same-r1.log 2>&1 \
         && ok "a step-2 checkpoint written with --offload optimizer+model, resumed with it: bitwise the uninterrupted --offload none run" \
         || fail "resume with --offload optimizer+model differs from the uninterrupted run" same-r1.log; }
else
  fail "no step-2 checkpoint of the --offload optimizer+model run" m1-optimizer-model.log
fi

# ---- two ranks, sharded optimizer state: the moment shard goes away too -------------------------
for shard in optimizer gradients; do
  train "s2-$shard" 2 none --shard "$shard" && train "s2-$shard-off" 2 optimizer+model --shard "$shard" \
    && { same "s2-$shard" "s2-$shard-off" >"same-s2-$shard.log" 2>&1 \
         && ok "--shard $shard, all=2: --offload optimizer+model bitwise --offload none" \
         || fail "--shard $shard: --offload optimizer+model differs" "same-s2-$shard.log"; }
done

# ---- one rank per role: D and the learner put away on their own ranks ---------------------------
layout3() {  # name offload
  $MPIRUN -np 3 "$RIL_BIN" train --layout teacher+rollout=1,discriminator=1,learner=1 --dataset d.h5 \
    --student runs/student/model --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --steps 4 \
    --lr 1e-3 --disc-lr 1e-3 --offload "$2" --run-dir "runs/$1" >"$1.log" 2>&1 && [ -f "runs/$1/model/model.safetensors" ] \
    || { fail "ril train $1 (3 ranks, one per role, --offload $2)" "$1.log"; return 1; }
}
layout3 l3 none && layout3 l3-off optimizer+model \
  && { same l3 l3-off >same-l3.log 2>&1 \
       && ok "teacher+rollout, discriminator, learner on 3 ranks: --offload optimizer+model bitwise --offload none" \
       || fail "3 ranks, one per role: --offload optimizer+model differs" same-l3.log; }

# ---- D alone trains (--stage disc), D frozen (its weights still go away between its steps) --------
for variant in disc frozen; do
  for o in none optimizer+model; do
    if [ "$variant" = disc ]; then extra=(--stage disc); else extra=(--frozen-discriminator); fi
    $MPIRUN -np 1 "$RIL_BIN" train --layout all=1 "${extra[@]}" --dataset d.h5 --student runs/student/model \
      --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --steps 2 --lr 1e-3 --disc-lr 1e-3 \
      --offload "$o" --run-dir "runs/$variant-${o/+/-}" >"$variant-${o/+/-}.log" 2>&1 \
      || fail "ril train ${extra[*]} --offload $o" "$variant-${o/+/-}.log"
  done
  f=$([ "$variant" = disc ] && echo discriminator/model.safetensors || echo model/model.safetensors)
  if [ -f "runs/$variant-none/$f" ] && [ "$(sum "runs/$variant-none/$f")" = "$(sum "runs/$variant-optimizer-model/$f")" ] \
     && grep -q "discriminator (group rank 0) puts away" "$variant-optimizer-model.log"; then
    ok "${variant}: --offload optimizer+model gives the same $f, bitwise"
  else
    fail "${variant}: --offload optimizer+model differs or put nothing away" "$variant-optimizer-model.log"
  fi
done

# ---- bad input --------------------------------------------------------------------------------------
timeout 180 $MPIRUN -np 1 "$RIL_BIN" train --layout all=1 --dataset d.h5 --student runs/student/model \
  --teacher-cache cache.h5 --steps 1 --offload gpu --run-dir runs/bad1 >bad-offload.log 2>&1
status=$?
if [ "$status" = 2 ] && [ "$(grep -c -- "--offload must be none, optimizer or optimizer+model, got 'gpu'" bad-offload.log)" = 1 ] \
   && [ ! -e runs/bad1/metrics.csv ]; then
  ok "bad input: --offload gpu (exit 2, once: $(grep -m1 -o -- "--offload must.*" bad-offload.log))"
else
  fail "bad input: --offload gpu (exit $status, wanted 2 and the message once, no metrics)" bad-offload.log
fi

echo "offload_train: $passed passed, $failures failed"
[ "$failures" = 0 ]
