#!/usr/bin/env bash
# `ril train --judge` (issue 16, items 1-3) end to end on a tiny synthetic task (CPU, real ranks):
# - the judge on a rank of its own (--answer-reward both) and colocated with the teacher
#   (teacher+rollout+judge, --answer-reward judge): the judge_* metrics columns exist, the
#   agreement is a number in [0, 1], unparsed verdicts are counted, the answer part of the reward
#   is the judge's verdict (reward = D part + judge accuracy), and both layouts give the same
#   verdicts;
# - teacher verdicts are cached in <run-dir>/judge_verdicts.h5: questions seen again are not
#   judged again (judge_cached), and a run SIGKILLed on the judge rank right after saving step 2's
#   verdicts (RIL_FAULT_KILL_AFTER_VERDICTS_STEPS=2) resumes from the step-1 checkpoint, takes step
#   2's teacher verdicts from the cache, and ends with the verdicts and metrics of the
#   uninterrupted run;
# - bad input, exit 2 on every rank before anything runs: --judge without a judge rank, a judge
#   rank without --judge, --answer-reward judge without --judge, --judge with --answer-reward rule,
#   a prompt file without the placeholders, a judge whose tokenizer has no chat tokens.
# The judge is a tiny Qwen2 after 2 SFT steps: it writes no closed <answer> tag in 8 tokens, so its
# verdicts are unparsed (0) -- which is what the counting and the reward arithmetic are checked on.
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

# ---- set-up ------------------------------------------------------------------------------------
"$RIL_DATA" synth --out d.h5 --seed 3 --train 16 --val 2 --test 2 >setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1 \
  || { fail "dataset and tokenizer" setup.log; exit 1; }
sft() {  # name steps preset
  $MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model "$3" --style terse \
    --steps "$2" --batch 8 --lr 1e-3 --lr-end 1e-4 --val-examples 0 --run-dir "runs/$1" --out "runs/$1/model"
}
sft student 4 tiny-llava >>setup.log 2>&1 && sft judge 2 tiny >>setup.log 2>&1 \
  || { fail "ril sft set-up" setup.log; exit 1; }
$MPIRUN -np 1 "$RIL_BIN" teach --dataset d.h5 --teacher a=runs/student/model --responses 2 --max-new-tokens 12 \
  --limit 4 --out cache.h5 >>setup.log 2>&1 || { fail "ril teach set-up" setup.log; exit 1; }
ok "set-up: dataset, tokenizer, student and judge by ril sft, a teacher cache by ril teach"

# 4 questions, 2 per step: steps 1 and 2 see different questions, step 3 sees step 1's again.
common=(--dataset d.h5 --student runs/student/model --teacher-cache cache.h5 --train-limit 4 --questions 2
        --group 2 --max-new-tokens 12 --lr 1e-3 --disc-lr 1e-4 --judge runs/judge/model --judge-max-new-tokens 8)
own=(--layout teacher+rollout=1,discriminator+learner=1,judge=1)

# ---- the judge on its own rank, --answer-reward both ---------------------------------------------
run_own() {  # run-dir [extra...]
  local dir=$1
  shift
  $MPIRUN -np 3 "$RIL_BIN" train "${common[@]}" "${own[@]}" --answer-reward both --steps 3 --checkpoint-every 1 \
    --run-dir "$dir" "$@"
}
cat >check_own.py <<'PYEOF'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 3, len(rows)
for r in rows:
    f = {k: float(v) for k, v in r.items()}
    assert 0 <= f["judge_agreement"] <= 1, f["judge_agreement"]
    assert f["judge_unparsed"] == int(f["judge_unparsed"]) and 0 <= f["judge_unparsed"] <= 8, f["judge_unparsed"]
    for side in ("student", "teacher"):
        # the answer part of the reward is the judge's verdict
        assert abs(f["reward_" + side] - (f["reward_disc_" + side] + f["judge_acc_" + side])) < 1e-6, (side, f)
    assert math.isfinite(f["time_judge"]) and f["judge_judged"] >= 1, f
# steps 1 and 2 see new questions; step 3 sees step 1's: their teacher verdicts come from the cache
assert [float(r["judge_cached"]) for r in rows[:2]] == [0, 0], rows
assert float(rows[2]["judge_cached"]) >= 1, rows[2]
print("agreement", [r["judge_agreement"] for r in rows], "unparsed", [r["judge_unparsed"] for r in rows],
      "cached", [r["judge_cached"] for r in rows])
PYEOF
if run_own runs/own >own.log 2>&1 && [ -f runs/own/judge_verdicts.h5 ] \
   && "$PY" check_own.py runs/own/metrics.csv >own.check 2>&1; then
  ok "judge on its own rank, --answer-reward both, 3 steps: $(tail -1 own.check)"
else
  fail "judge on its own rank" own.log; sed 's/^/  | /' own.check 2>/dev/null | tail -5
fi
if "$RIL_BIN" info runs/own/judge_verdicts.h5 >info.log 2>&1 && grep -q "judge verdicts on teacher responses: " info.log; then
  ok "ril info judge_verdicts.h5: $(grep "judge verdicts" info.log)"
else
  fail "ril info judge_verdicts.h5" info.log
fi

# ---- colocated with the teacher, --answer-reward judge ---------------------------------------------
cat >check_colo.py <<'PYEOF'
import csv, math, sys
own, colo = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(colo) == 2, len(colo)
for a, b in zip(own, colo):
    assert math.isnan(float(b["judge_agreement"])), b["judge_agreement"]  # logged with both only
    for side in ("student", "teacher"):
        assert abs(float(b["reward_" + side]) - float(b["reward_disc_" + side]) - float(b["judge_acc_" + side])) < 1e-6
    # the same rollouts and teacher picks on either layout, so the same verdicts
    for k in ("judge_acc_student", "judge_acc_teacher", "judge_unparsed", "answer_acc_student", "reward_student"):
        assert a[k] == b[k], (k, a[k], b[k])
print("colocated: unparsed", [r["judge_unparsed"] for r in colo])
PYEOF
if $MPIRUN -np 2 "$RIL_BIN" train "${common[@]}" --layout teacher+rollout+judge=1,discriminator+learner=1 \
     --answer-reward judge --steps 2 --run-dir runs/colo >colo.log 2>&1 \
   && grep -q "teacher+rollout+judge" colo.log \
   && "$PY" check_colo.py runs/own/metrics.csv runs/colo/metrics.csv >colo.check 2>&1; then
  ok "judge colocated with the teacher (teacher+rollout+judge), --answer-reward judge: the verdicts of the own-rank run"
else
  fail "judge colocated with the teacher" colo.log; sed 's/^/  | /' colo.check 2>/dev/null | tail -5
fi

# ---- kill -9 of the judge rank after step 2's verdicts, resume ----------------------------------------
RIL_FAULT_KILL_AFTER_VERDICTS_STEPS=2 run_own runs/kill >kill1.log 2>&1
status=$?
if [ "$status" != 0 ] && [ -f runs/kill/judge_verdicts.h5 ] && [ ! -f runs/kill/model/model.safetensors ] \
   && [ -f runs/kill/checkpoints/step-000001.h5 ] && [ ! -f runs/kill/checkpoints/step-000002.h5 ]; then
  ok "SIGKILL of the judge rank after saving step 2's verdicts: job ended (status $status) before the step-2 checkpoint"
else
  fail "the fault-injected kill (status $status)" kill1.log
fi
cat >check_kill.py <<'PYEOF'
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) == 3, (len(a), len(b))
for ra, rb in zip(a, b):
    for k in ra:
        if k.startswith("time_") or k in ("tokens_per_s", "judge_judged", "judge_cached"):
            continue
        assert ra[k] == rb[k], (k, ra[k], rb[k])
# step 2's teacher verdicts were saved before the kill: the resumed run did not judge them again
assert float(a[1]["judge_cached"]) == 0 and float(b[1]["judge_cached"]) >= 1, (a[1]["judge_cached"], b[1]["judge_cached"])
assert float(b[1]["judge_judged"]) < float(a[1]["judge_judged"]), (a[1]["judge_judged"], b[1]["judge_judged"])
print("step 2 judged", a[1]["judge_judged"], "->", b[1]["judge_judged"], "texts, cached", b[1]["judge_cached"])
PYEOF
if run_own runs/kill >kill2.log 2>&1 && grep -q "resumed from .*step-000001.h5 at step 1" kill2.log \
   && grep -q "verdicts on teacher responses read from" kill2.log \
   && "$PY" check_kill.py runs/own/metrics.csv runs/kill/metrics.csv >kill.check 2>&1; then
  ok "resumed at step 1, $(tail -1 kill.check); metrics equal the uninterrupted run's"
else
  fail "resume after the kill" kill2.log; sed 's/^/  | /' kill.check 2>/dev/null | tail -5
fi
"$RIL_BIN" info runs/kill/judge_verdicts.h5 >info2.log 2>&1
if grep -q "judge verdicts on teacher responses: " info2.log \
   && [ "$(grep "judge verdicts" info.log)" = "$(grep "judge verdicts" info2.log)" ] \
   && [ "$(sum runs/own/judge_verdicts.h5)" = "$(sum runs/kill/judge_verdicts.h5)" ]; then
  ok "the resumed run's verdict cache is byte for byte the uninterrupted run's ($(grep "judge verdicts" info2.log))"
else
  fail "verdict caches differ" info2.log
fi

# ---- bad input: exit 2 on every rank before anything runs ------------------------------------------
expect_bad() {  # name pattern ranks args...
  local name=$1 pattern=$2 np=$3
  shift 3
  timeout 120 $MPIRUN -np "$np" "$RIL_BIN" train "$@" --steps 1 --run-dir "runs/bad-$name" >"bad-$name.log" 2>&1
  local status=$?
  if [ "$status" = 2 ] && grep -q -- "$pattern" "bad-$name.log" && [ ! -f "runs/bad-$name/metrics.csv" ]; then
    ok "bad input: $name (exit 2)"
  else
    fail "bad input: $name (exit $status, wanted 2 and /$pattern/)" "bad-$name.log"
  fi
}
base=(--dataset d.h5 --student runs/student/model --teacher-cache cache.h5 --train-limit 4 --questions 2 --group 2
      --max-new-tokens 12)
expect_bad no-judge-rank "has no judge rank" 2 "${base[@]}" --layout teacher+rollout=1,discriminator+learner=1 \
  --judge runs/judge/model --answer-reward judge
expect_bad judge-rank-unused "has judge ranks but no --judge" 3 "${base[@]}" "${own[@]}"
expect_bad reward-needs-judge "--answer-reward judge needs --judge" 1 "${base[@]}" --answer-reward judge
expect_bad judge-unused "the judge would run unused" 1 "${base[@]}" --judge runs/judge/model
printf 'Question: {question}\nResponse: {response}\n' >two_fields.txt
expect_bad prompt-placeholders "placeholder {ground_truth} is missing" 2 "${base[@]}" --judge runs/judge/model \
  --answer-reward both --judge-prompt two_fields.txt
cat >strip_chat.py <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
chat = ("<|im_start|>", "<|im_end|>")
t["added_tokens"] = [a for a in t["added_tokens"] if a["content"] not in chat]
for name in chat:
    t["model"]["vocab"].pop(name, None)
json.dump(t, open(sys.argv[2], "w"))
PYEOF
mkdir -p nochat && cp runs/judge/model/config.json nochat/ \
  && "$PY" strip_chat.py runs/judge/model/tokenizer.json nochat/tokenizer.json
expect_bad no-chat-tokens "im_start" 2 "${base[@]}" --judge nochat --answer-reward judge

echo "train_judge: $passed passed, $failures failed"
[ "$failures" = 0 ]
