#!/usr/bin/env bash
# Training a judge by SFT (issue 16 item 4), end to end on a tiny synthetic task (CPU):
# - `ril-data judge-set` writes judge examples: train examples only from train questions (val and
#   test alike), both rule labels well represented (targets and labels: unit.algo, JudgeExamples);
# - `ril sft --style judge --model tiny` on it trains a text-only judge whose greedy verdicts parse
#   (`ril eval --judge`: judge unparsed share below 50 %) and whose agreement, false-positive and
#   false-negative figures are in eval.json;
# - bad input: --per-question 0, a teacher cache of another dataset, a missing dataset (exit 2).
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"
PROMPT=${RIL_SOURCE_DIR:?set by ctest}/jobs/judge-prompt-tiny.txt

"$RIL_DATA" synth --out d.h5 --seed 7 --train 48 --val 4 --test 8 >setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1 \
  || { fail "dataset and tokenizer" setup.log; exit 1; }

# ---- judge-set ---------------------------------------------------------------------------------
if "$RIL_DATA" judge-set --dataset d.h5 --judge-prompt "$PROMPT" --per-question 4 --out judge.h5 >set.log 2>&1 \
    && "$RIL_DATA" info judge.h5 >info.txt 2>&1; then
  ok "judge-set writes a dataset"
else
  fail "judge-set" set.log
fi
# info's table: "rule-correct  train val test total" and "rule-wrong ..." rows
if "$PY" - info.txt <<'PYEOF'
import sys
rows = {}
for l in open(sys.argv[1]):  # the first table (later ones: answers per family)
    w = l.split()
    if w and w[0] in ("rule-correct", "rule-wrong", "all") and w[0] not in rows:
        rows[w[0]] = [int(x) for x in w[1:5]]
right, wrong, total = rows["rule-correct"], rows["rule-wrong"], rows["all"]
# 48 / 4 / 8 questions, at most 4 examples each, split kept
assert 0 < total[0] <= 4 * 48 and 0 < total[1] <= 4 * 4 and 0 < total[2] <= 4 * 8, total
assert total[0] >= 3 * 48, total  # nearly every question gives 4 distinct responses
for split in range(3):  # both labels well represented in every split
    assert min(right[split], wrong[split]) >= 0.35 * total[split], (split, right, wrong)
PYEOF
then ok "judge-set: splits kept, both labels in every split"; else fail "judge-set counts" info.txt; fi

# ---- bad input -----------------------------------------------------------------------------------
expect_exit2() {  # name expected-message args...
  local name=$1 msg=$2
  shift 2
  "$RIL_DATA" judge-set "$@" >bad.log 2>&1
  local rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$msg" bad.log; then ok "bad input: $name (exit 2)"; else
    fail "bad input: $name: exit $rc, expected 2 and '$msg'" bad.log; fi
}
expect_exit2 per-question "per-question must be >= 1" --dataset d.h5 --per-question 0 --out x.h5
expect_exit2 no-dataset "does not exist" --dataset missing.h5 --out x.h5
"$RIL_DATA" synth --out other.h5 --seed 8 --train 4 --val 1 --test 1 >>setup.log 2>&1
make_cache() {
  $MPIRUN -np 1 "$RIL_BIN" sft --dataset other.h5 --tokenizer tok.json --model tiny-llava --style terse --steps 1 \
    --batch 2 --lr 1e-3 --val-examples 0 --run-dir runs/o --out runs/o/model \
    && $MPIRUN -np 1 "$RIL_BIN" teach --dataset other.h5 --teacher a=runs/o/model --responses 1 --max-new-tokens 4 \
         --limit 2 --out other_cache.h5
}
if make_cache >>setup.log 2>&1; then
  expect_exit2 other-cache "was built for another dataset" --dataset d.h5 --teacher-cache other_cache.h5 --out x.h5
else
  fail "teacher cache set-up" setup.log
fi
[ ! -e x.h5 ] && ok "bad input writes no file" || fail "a bad judge-set left x.h5"

# ---- ril sft --style judge -> ril eval --judge -------------------------------------------------------
if $MPIRUN -np 1 "$RIL_BIN" sft --dataset judge.h5 --tokenizer tok.json --model tiny --style judge --steps 150 \
    --batch 8 --lr 3e-3 --lr-end 1e-3 --warmup-steps 5 --max-response-tokens 64 --val-examples 0 --log-every 20 \
    --run-dir runs/judge --out runs/judge/model >sft.log 2>&1; then
  ok "ril sft --style judge trains a text-only judge"
else
  fail "ril sft --style judge" sft.log
fi
# The judge reads the answers of a model: here the rationales of the test split are not
# available to eval, so the judge judges itself answering the questions -- any responses do;
# what is checked is that its verdicts parse and that the figures are written.
if $MPIRUN -np 1 "$RIL_BIN" eval --dataset d.h5 --split test --model self=runs/judge/model --tokenizer tok.json \
    --max-new-tokens 24 --judge runs/judge/model --judge-prompt "$PROMPT" --judge-max-new-tokens 64 \
    --out eval.json --run-dir runs/eval >eval.log 2>&1; then
  ok "ril eval --judge with the trained judge"
else
  fail "ril eval --judge" eval.log
fi
if "$PY" - eval.json <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
o = j["models"][0]["overall"]["judge"]
assert o["judged"] == 8, o
assert o["unparsed_share"] < 0.5, o  # the trained judge writes verdicts that parse
for k in ("agreement", "false_positive_rate", "false_negative_rate"):
    assert 0 <= o[k] <= 1, (k, o)
assert o["false_positive"] + o["false_negative"] + o["agree_with_rule"] == o["judged"], o
assert j["judge"]["tokens_rank0"] > 0, j["judge"]
PYEOF
then ok "eval.json: the judge's verdicts parse; agreement, FP and FN figures"; else fail "eval.json judge figures" eval.log; fi

echo "judge_sft: $passed passed, $failures failed"
[ "$failures" = 0 ]
