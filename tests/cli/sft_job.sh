#!/usr/bin/env bash
# `ril sft` end to end on a tiny synthetic dataset and the tiny-llava preset:
#   1. 1 learner rank, 20 updates: the logged loss falls (first vs last), a val loss is reported,
#      the model directory (config.json, model.safetensors, tokenizer.json) is written;
#   2. 2 learner ranks (--layout all=2), batch 2 each: the same global batches, so the same losses
#      as 1 rank x batch 4, up to float rounding of the gradient average;
#   2b. --accumulate K (1 rank x 4 in 3 micro-batches, 2 ranks x 2 in 2): the losses of 1 rank x 4;
#   2c. --checkpoint-activations: the model of section 1, byte for byte;
#   3. resume: 2K updates in one run == K updates, then --resume to 2K (model.safetensors cmp), with
#      2 ranks; constant lr (--lr-end = --lr) so that the K-update run's schedule is the same;
#   4. the written model loads: `ril sft --init DIR` (load_pretrained) trains on from it;
#   5. bad input: missing dataset, missing tokenizer, tokenizer vocabulary larger than the model's,
#      unknown rationale style (alone or in a --style list), --accumulate above --batch: exit 2 with one
#      clear message. Also: --style terse,steps (a mixture of styles) trains.
# Env (set by ctest): RIL_BIN, RIL_MPIRUN, RIL_BUILD_DIR, RIL_DATA_BIN (ril-data).
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
BUILD=${RIL_BUILD_DIR:-$(dirname "$RIL_BIN")}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { sed 's/^/  | /' "$1" | grep -v ' = ' | tail -${2:-25}; }

"$RIL_DATA" synth --out "$work/ds.h5" --train 128 --val 16 --test 4 >"$work/data.log" 2>&1 \
  && "$RIL_DATA" tokenizer --dataset "$work/ds.h5" --out "$work/tok.json" --vocab-size 512 >>"$work/data.log" 2>&1 \
  || { echo "FAIL: could not make the dataset and tokenizers"; show "$work/data.log"; exit 1; }

common=(--dataset "$work/ds.h5" --tokenizer "$work/tok.json" --model tiny-llava --max-response-tokens 48
        --val-examples 8 --log-every 5)
# loss_of LOG first|last -> the number after "loss first"/"last" in the summary line
loss_of() { grep -o "loss first [0-9.]* last [0-9.]*" "$1" | tail -1 | awk -v w="$2" '{ print (w == "first") ? $3 : $5 }'; }

# ---- 1. one rank ------------------------------------------------------------------------------
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft "${common[@]}" --run-dir "$work/one" --steps 20 --batch 4 \
  --lr 1e-3 --lr-end 1e-4 >"$work/one.log" 2>&1
status=$?
first=$(loss_of "$work/one.log" first); last=$(loss_of "$work/one.log" last)
if [ $status -ne 0 ] || [ -z "$first" ] || ! awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.5) }' \
   || ! grep -q "val loss" "$work/one.log" || [ ! -s "$work/one/model/model.safetensors" ] \
   || [ ! -s "$work/one/model/config.json" ] || ! cmp -s "$work/tok.json" "$work/one/model/tokenizer.json"; then
  fail "sft with 1 rank (exit $status, loss $first -> $last)"; show "$work/one.log"
else
  ok "sft with 1 rank, 20 updates: loss $first -> $last"
  grep -E "step 20/20|val loss" "$work/one.log" | sed 's/^.*INFO  /  /'
fi

# ---- 2. two ranks, same global batches ----------------------------------------------------------
timeout 300 $MPIRUN -np 2 "$RIL_BIN" sft "${common[@]}" --layout all=2 --run-dir "$work/two" --steps 20 \
  --batch 2 --lr 1e-3 --lr-end 1e-4 >"$work/two.log" 2>&1
status=$?
first2=$(loss_of "$work/two.log" first); last2=$(loss_of "$work/two.log" last)
if [ $status -ne 0 ] || [ -z "$first2" ] || [ "$(grep -c 'learner rank(s) x 2 = 4' "$work/two.log")" -ne 1 ] \
   || ! awk -v a="$first" -v b="$first2" -v c="$last" -v d="$last2" \
        'BEGIN { exit !((a - b) ^ 2 < 1e-6 && (c - d) ^ 2 < 1e-4) }'; then
  fail "sft with 2 ranks (exit $status, loss $first2 -> $last2; 1 rank x 4: $first -> $last)"; show "$work/two.log"
else
  ok "sft with 2 ranks x batch 2: loss $first2 -> $last2 (1 rank x batch 4: $first -> $last)"
  grep -E "step 20/20" "$work/two.log" | sed 's/^.*INFO  /  /'
fi

# ---- 2b. gradient accumulation: the same global batches in micro-batches, the same losses ----------
# 1 rank x batch 4 in 3 micro-batches (2, 1, 1 examples) and 2 ranks x batch 2 in 2 micro-batches
# (1 example each) against section 1 (1 rank x batch 4, one batch): the updates differ only by
# float rounding of the gradient sums, so the first loss agrees to the printed 4 decimals and the
# last (after 20 updates) to 1e-2, as in section 2.
acc_ok=1
for spec in "1 4 3" "2 2 2"; do
  read -r np batch k <<<"$spec"
  log="$work/acc-$np-$k.log"
  timeout 300 $MPIRUN -np "$np" "$RIL_BIN" sft "${common[@]}" --layout "all=$np" --run-dir "$work/acc-$np-$k" \
    --steps 20 --batch "$batch" --accumulate "$k" --lr 1e-3 --lr-end 1e-4 >"$log" 2>&1
  status=$?
  fa=$(loss_of "$log" first); la=$(loss_of "$log" last)
  if [ $status -ne 0 ] || [ -z "$fa" ] || ! grep -q "= 4 examples per update ($k micro-batches" "$log" \
     || ! awk -v a="$first" -v b="$fa" -v c="$last" -v d="$la" 'BEGIN { exit !((a - b) ^ 2 < 2e-8 && (c - d) ^ 2 < 1e-4) }'; then
    fail "sft $np rank(s) x batch $batch --accumulate $k (exit $status, loss $fa -> $la; batch 4: $first -> $last)"; show "$log"
    acc_ok=0
  fi
done
[ $acc_ok -eq 1 ] && ok "sft --accumulate: 1 rank x 4 in 3 micro-batches and 2 ranks x 2 in 2 give the losses of 1 rank x batch 4 ($first -> $last)"

# ---- 2c. activation checkpointing: the same computation, so the same model ---------------------------
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft "${common[@]}" --run-dir "$work/ckpt" --steps 20 --batch 4 \
  --lr 1e-3 --lr-end 1e-4 --checkpoint-activations >"$work/ckpt.log" 2>&1
status=$?
if [ $status -ne 0 ] || ! cmp -s "$work/one/model/model.safetensors" "$work/ckpt/model/model.safetensors"; then
  fail "sft --checkpoint-activations (exit $status): model.safetensors differs from section 1's"; show "$work/ckpt.log"
else
  ok "sft --checkpoint-activations: 20 updates give section 1's model.safetensors byte for byte"
fi

# ---- 3. resume is bitwise --------------------------------------------------------------------------
resume=("${common[@]}" --layout all=2 --batch 2 --lr 1e-3 --lr-end 1e-3 --checkpoint-every 3)
timeout 300 $MPIRUN -np 2 "$RIL_BIN" sft "${resume[@]}" --run-dir "$work/full" --steps 12 >"$work/full.log" 2>&1
s1=$?
timeout 300 $MPIRUN -np 2 "$RIL_BIN" sft "${resume[@]}" --run-dir "$work/half" --steps 6 >"$work/half1.log" 2>&1
s2=$?
timeout 300 $MPIRUN -np 2 "$RIL_BIN" sft "${resume[@]}" --run-dir "$work/half" --steps 12 --resume >"$work/half2.log" 2>&1
s3=$?
if [ $s1 -ne 0 ] || [ $s2 -ne 0 ] || [ $s3 -ne 0 ] || ! grep -q "resumed from .*step-000006.h5 at step 6" "$work/half2.log" \
   || ! cmp "$work/full/model/model.safetensors" "$work/half/model/model.safetensors"; then
  fail "12 updates != 6 + resume 6 (exits $s1 $s2 $s3)"; show "$work/half2.log" 15
else
  ok "12 updates == 6 updates + --resume to 12 (model.safetensors identical, 2 ranks)"
fi

# ---- 4. the written model loads ------------------------------------------------------------------
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft "${common[@]}" --init "$work/one/model" --run-dir "$work/again" --steps 2 \
  --batch 2 --lr 1e-4 >"$work/again.log" 2>&1
status=$?
if [ $status -ne 0 ] || ! grep -q "model $work/one/model (llava" "$work/again.log" || [ ! -s "$work/again/model/model.safetensors" ]; then
  fail "sft --init from the written model (exit $status)"; show "$work/again.log"
else
  ok "the written model loads (sft --init $work/one/model, 2 more updates)"
fi
# --loss-mean response (each response's token mean, averaged over the global batch): the loss
# falls, and 2 ranks x 2 give the losses of 1 rank x 4 (the normaliser is the global example count).
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft "${common[@]}" --run-dir "$work/resp1" --steps 20 --batch 4 \
  --lr 1e-3 --lr-end 1e-4 --loss-mean response >"$work/resp1.log" 2>&1
s1=$?
timeout 300 $MPIRUN -np 2 "$RIL_BIN" sft "${common[@]}" --layout all=2 --run-dir "$work/resp2" --steps 20 --batch 2 \
  --lr 1e-3 --lr-end 1e-4 --loss-mean response >"$work/resp2.log" 2>&1
s2=$?
rf1=$(loss_of "$work/resp1.log" first); rl1=$(loss_of "$work/resp1.log" last)
rf2=$(loss_of "$work/resp2.log" first); rl2=$(loss_of "$work/resp2.log" last)
if [ $s1 -ne 0 ] || [ $s2 -ne 0 ] || [ -z "$rf1" ] || [ -z "$rf2" ] || [ "$rf1" = "$first" ] \
   || ! awk -v a="$rf1" -v b="$rf2" -v c="$rl1" -v d="$rl2" \
        'BEGIN { exit !(c < a - 0.5 && (a - b) ^ 2 < 1e-6 && (c - d) ^ 2 < 1e-4) }'; then
  fail "sft --loss-mean response (exits $s1 $s2, loss $rf1 -> $rl1, 2 ranks $rf2 -> $rl2; token mean $first)"
  show "$work/resp2.log"
else
  ok "sft --loss-mean response: loss $rf1 -> $rl1, the same on 2 ranks x 2 ($rf2 -> $rl2); token mean starts at $first"
fi
# --style a,b: a fixed mixture of the dataset's styles (each example in one of them); it trains and says so.
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft "${common[@]}" --run-dir "$work/mix" --steps 20 --batch 4 \
  --lr 1e-3 --lr-end 1e-4 --style terse,steps >"$work/mix.log" 2>&1
s1=$?
mf=$(loss_of "$work/mix.log" first); ml=$(loss_of "$work/mix.log" last)
if [ $s1 -ne 0 ] || [ -z "$mf" ] || ! grep -q "style 'terse,steps'" "$work/mix.log" \
   || ! awk -v a="$mf" -v c="$ml" 'BEGIN { exit !(c < a - 0.5) }'; then
  fail "sft --style terse,steps (exit $s1, loss $mf -> $ml)"; show "$work/mix.log"
else
  ok "sft --style terse,steps: loss $mf -> $ml"
fi
"$RIL_BIN" info "$work/one/checkpoints/step-000020.h5" | grep -q "optimizer/" \
  && ok "ril info reads the final checkpoint" || fail "ril info of the final checkpoint"

# ---- 5. bad input -------------------------------------------------------------------------------
expect_error() {
  local message=$1; shift
  timeout 120 $MPIRUN -np 2 "$RIL_BIN" sft --layout all=2 --run-dir "$work/bad" --steps 1 "$@" >"$work/bad.log" 2>&1
  local status=$?
  if [ $status -ne 2 ] || [ "$(grep -c -F -- "$message" "$work/bad.log")" -ne 1 ]; then
    fail "expected exit 2 and once '$message' (exit $status)"; show "$work/bad.log" 10
  else
    ok "bad input -> $message"
  fi
}
expect_error "does not exist" --dataset "$work/none.h5" --tokenizer "$work/tok.json"
expect_error "--tokenizer '$work/none.json' does not exist" --dataset "$work/ds.h5" --tokenizer "$work/none.json"
# A model whose vocabulary (300) is smaller than the tokenizer's (512): config.json of the written model, edited.
mkdir -p "$work/small" && sed 's/"vocab_size": *1024/"vocab_size": 300/' "$work/one/model/config.json" >"$work/small/config.json"
expect_error "is larger than the model's (300" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --init "$work/small"
expect_error "--accumulate (3) must be at most --batch (2)" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --batch 2 --accumulate 3
expect_error "--loss-mean must be token or response, got 'sequence'" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --loss-mean sequence
expect_error "--style 'poetry' is not in" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --style poetry
expect_error "--style 'poetry' is not in" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --style terse,poetry

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
