#!/usr/bin/env bash
# `ril train --shard none|optimizer|gradients` (dist/sharded_optimizer.h) and its checkpoints,
# which resume at another learner count (roles/optimizer_shards.h). Tiny setup as in
# rank_equivalence.sh; every run is `--layout all=N` (N ranks, each learner and discriminator:
# --shard shards both groups), --stage ril, 4 questions, G 2, 12 tokens.
#   - --shard optimizer on 2 ranks: student, discriminator and metrics bitwise equal to
#     --shard none (the same allreduce, clip and AdamW ops, on slices);
#   - --shard gradients on 3 learners: within the float tolerance of rank_equivalence.sh (the
#     gradient sum comes from MPI_Reduce_scatter_block, in another order than MPI_Allreduce,
#     and the clip norm is summed in float64; AdamW turns these ~1e-7 relative differences into
#     weight differences of up to a few % of lr where a gradient is tiny): max |weight
#     difference| <= 2% of lr x steps, metrics within 1e-4 relative;
#   - resharding: 4 ranks with --shard optimizer write a step-2 checkpoint (4 moment shards each
#     for the student and D);
#     resumed to step 4 on 4 learners it is bitwise the uninterrupted run; on 2 learners
#     (--shard optimizer) and on 3 (--shard none: shards reassembled into torch's AdamW) it equals
#     a run with that count from the start, within the tolerance above (the first 2 steps ran on
#     4 learners: another summation order); a --shard none checkpoint of 4 learners resumes on 2
#     with --shard gradients (moments cut into shards) within the same tolerance;
#   - bad input: --shard zero3 (exit 2, the message once); a checkpoint whose index lists shards
#     that its rank parts lack (parts of a --shard none run): exit 2 naming the file, no hang.
# shellcheck source=../support/cli_lib.sh
runs_close=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/runs_close.py  # the float-tolerance check
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

make_tiny_student_and_cache

train() {  # name learners steps shard [extra...]
  local name=$1 n=$2 steps=$3 shard=$4
  shift 4
  $MPIRUN -np "$n" "$RIL_BIN" train --layout "all=$n" --dataset d.h5 --student runs/student/model \
    --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --steps "$steps" --lr 1e-3 --disc-lr 1e-3 \
    --shard "$shard" --run-dir "runs/$name" "$@" >"$name.log" 2>&1 && [ -f "runs/$name/model/model.safetensors" ] \
    || { fail "ril train $name (all=$n, --shard $shard $*)" "$name.log"; return 1; }
}

close() {  # a b steps: within the float tolerance of the header
  "$PY" "$runs_close" "runs/$1" "runs/$2" runs/student/model/model.safetensors "$3"
}

# ---- the modes against --shard none ---------------------------------------------------------------
train n2 2 4 none && train o2 2 4 optimizer \
  && { same n2 o2 && ok "--shard optimizer, 2 learners: student, discriminator and metrics bitwise --shard none's" \
       || fail "--shard optimizer differs from --shard none" o2.log; }
train n3 3 4 none && train g3 3 4 gradients \
  && { close n3 g3 4 >close-g3.log 2>&1 && ok "--shard gradients, 3 learners: $(cat close-g3.log)" \
       || fail "--shard gradients beyond the float tolerance" close-g3.log; }

# ---- checkpoints that reshard ---------------------------------------------------------------------
ckpt=runs/o4/checkpoints/step-000002.h5
train o4 4 4 optimizer --checkpoint-every 2 || true
if [ -f "$ckpt" ]; then
  train r4 4 4 optimizer --resume "$ckpt" \
    && { grep -q "resumed from .*step-000002.h5 at step 2" r4.log && same o4 r4 \
         && ok "4 shards resumed on 4 learners: bitwise the uninterrupted run" \
         || fail "4 -> 4 resume differs from the uninterrupted run" r4.log; }
  train r2 2 4 optimizer --resume "$ckpt" \
    && { grep -q "written by 4 ranks, resumed on 2" r2.log && close o2 r2 4 >close-r2.log 2>&1 \
         && ok "4 shards resumed on 2 learners (--shard optimizer) = 2 learners from the start: $(cat close-r2.log)" \
         || fail "4 -> 2 resume" close-r2.log; }
  train r3 3 4 none --resume "$ckpt" \
    && { close n3 r3 4 >close-r3.log 2>&1 \
         && ok "4 shards resumed on 3 learners with --shard none = 3 learners from the start: $(cat close-r3.log)" \
         || fail "4 -> 3 resume (unsharded)" close-r3.log; }
else
  fail "no step-2 checkpoint of the 4-learner sharded run" o4.log
fi
train n4 4 2 none --checkpoint-every 2 || true
if [ -f runs/n4/checkpoints/step-000002.h5 ]; then
  train rn2 2 4 gradients --resume runs/n4/checkpoints/step-000002.h5 \
    && { close n2 rn2 4 >close-rn2.log 2>&1 \
         && ok "a --shard none checkpoint of 4 learners resumed on 2 with --shard gradients: $(cat close-rn2.log)" \
         || fail "none (4) -> gradients (2) resume" close-rn2.log; }
else
  fail "no step-2 checkpoint of the 4-learner --shard none run" n4.log
fi

# ---- bad input --------------------------------------------------------------------------------------
expect_exit2() {  # name pattern command...
  local name=$1 pattern=$2
  shift 2
  timeout 180 "$@" >"bad-$name.log" 2>&1
  local status=$?
  if [ "$status" = 2 ] && [ "$(grep -c -- "$pattern" "bad-$name.log")" -ge 1 ]; then
    ok "bad input: $name (exit 2: $(grep -m1 -o -- "$pattern.*" "bad-$name.log" | cut -c1-160))"
  else
    fail "bad input: $name (exit $status, wanted 2 and /$pattern/)" "bad-$name.log"
  fi
}
expect_exit2 shard-value "--shard must be none, optimizer or gradients, got 'zero3'" \
  $MPIRUN -np 2 "$RIL_BIN" train --layout all=2 --dataset d.h5 --student runs/student/model --teacher-cache cache.h5 \
  --steps 1 --shard zero3 --run-dir runs/bad1
[ "$(grep -c "got 'zero3'" bad-shard-value.log)" = 1 ] || fail "--shard zero3: the message more than once" bad-shard-value.log
if [ -f "$ckpt" ] && [ -f runs/n4/checkpoints/step-000002.h5 ]; then
  mkdir -p mixed && cp "$ckpt" mixed/ && cp runs/n4/checkpoints/step-000002.rank-*.h5 mixed/
  expect_exit2 missing-shard "optimizer shard '.*step-000002.rank-0000.h5' (rank 0 of 4) is missing" \
    $MPIRUN -np 2 "$RIL_BIN" train --layout all=2 --dataset d.h5 --student runs/student/model --teacher-cache cache.h5 \
    --questions 4 --group 2 --max-new-tokens 12 --steps 4 --shard optimizer --resume mixed/step-000002.h5 \
    --run-dir runs/bad2
fi

echo "shard_train: $passed passed, $failures failed"
[ "$failures" = 0 ]
