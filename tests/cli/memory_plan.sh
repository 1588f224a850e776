#!/usr/bin/env bash
# `ril info --model PRESET_OR_DIR --learners N --shard MODE` (model/memory_plan.h), under mpirun
# with 1 and 2 ranks:
#   - the plan of qwen2.5-vl-7b on 8 learners: one row per mode, the bytes of the unit test's
#     formulas (weights 15.45 GiB in bfloat16; AdamW + master 92.67 GiB unsharded, / 8 sharded;
#     gradients / 8 with --shard gradients), fits 80 GiB only when sharded, and the note that
#     ril train --shard runs these modes;
#   - --shard gradients prints that row alone; --checkpoint-activations lowers the activations;
#   - bad input: unknown preset, --learners 0, an unknown --shard, an unknown --dtype: exit 2
#     and the message once.
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

for np in 1 2; do
  if $MPIRUN -np $np "$RIL_BIN" info --model qwen2.5-vl-7b --learners 8 >plan.txt 2>&1 \
     && grep -Eq "^ +none +15\.45 +15\.45 +92\.67 +[0-9.]+ +[0-9.]+  no$" plan.txt \
     && grep -Eq "^ +optimizer +15\.45 +15\.45 +11\.58 +[0-9.]+ +[0-9.]+  yes$" plan.txt \
     && grep -Eq "^ +gradients +15\.45 +1\.93 +11\.58 +[0-9.]+ +[0-9.]+  yes$" plan.txt \
     && grep -q "8 learner rank(s)" plan.txt && grep -q "ril train --shard none|optimizer|gradients runs these modes" plan.txt \
     && [ "$(grep -c "memory plan:" plan.txt)" -eq 1 ]; then
    ok "np $np: qwen2.5-vl-7b on 8 learners: none / optimizer / gradients rows, fits 80 GiB only sharded"
  else
    fail "np $np: ril info --model qwen2.5-vl-7b --learners 8" plan.txt
  fi
done

"$RIL_BIN" info --model qwen2-0.5b --learners 2 --shard gradients --batch 4 --seq-len 2048 >one.txt 2>&1 \
  && "$RIL_BIN" info --model qwen2-0.5b --learners 2 --shard gradients --batch 4 --seq-len 2048 \
       --checkpoint-activations >ckpt.txt 2>&1
act() { awk '$1 == "gradients" && NF == 7 { print $5 }' "$1"; }
if [ "$(grep -cE "^ +(none|optimizer|gradients) " one.txt)" -eq 1 ] && [ -n "$(act one.txt)" ] \
   && awk -v a="$(act one.txt)" -v b="$(act ckpt.txt)" 'BEGIN { exit !(b < a) }' \
   && grep -q "4 x 2048 tokens per micro-batch" one.txt && grep -q -- "--checkpoint-activations (an estimate)" ckpt.txt; then
  ok "--shard gradients prints one row; --checkpoint-activations: activations $(act one.txt) -> $(act ckpt.txt) GiB"
else
  fail "--shard gradients / --checkpoint-activations" one.txt; sed 's/^/  | /' ckpt.txt | tail -8
fi

expect_bad() {  # message args...
  local message=$1 status count
  shift
  for np in 1 2; do
    timeout 60 $MPIRUN -np $np "$RIL_BIN" info "$@" >bad.txt 2>&1
    status=$?
    count=$(grep -c -F -- "$message" bad.txt)
    if [ $status -eq 2 ] && [ "$count" -eq 1 ]; then
      ok "np $np: ril info $* -> exit 2, $message"
    else
      fail "np $np: ril info $* (exit $status, message seen $count times; expected exit 2 and once: $message)" bad.txt
    fi
  done
}
expect_bad "unknown model preset 'qwen-9000'" --model qwen-9000 --learners 2
expect_bad "--learners must be in [1, 1000000], got 0" --model qwen2-0.5b --learners 0
expect_bad "--learners must be in [1, 1000000], got -3" --model qwen2-0.5b --learners -3
expect_bad "--shard must be none, optimizer, gradients or all, got 'zero3'" --model qwen2-0.5b --shard zero3
expect_bad "unknown dtype 'int4'" --model qwen2-0.5b --dtype int4

echo "memory_plan: $passed passed, $failures failed"
[ "$failures" = 0 ]
