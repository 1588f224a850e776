#!/usr/bin/env bash
# `ril eval` and `ril plot` end to end:
#   1. a tiny LLaVA and a tiny text-only Qwen2 written by `ril sft` (at their random init, so that
#      their answers vary) are evaluated on 1 rank and on 4 ranks: the table is printed, eval.json
#      holds every model's per-family numbers and responses, identical for 1 and 4 ranks;
#   2. a `ril train`-style checkpoint file (student tensors + student_config + student_tokenizer,
#      made here with h5py from the LLaVA's safetensors) evaluates exactly like its model directory;
#   3. `ril plot` of a metrics table (metrics.h5 + metrics.csv in the writer's layout, made with
#      h5py; with NaNs): a PNG of the expected size, from the run dir, the .h5, and the CSV alone;
#      `ril info metrics.h5` summarises it;
#   4. bad input: a missing model, a file that is not a checkpoint, an empty split, a tokenizer
#      larger than the model's vocabulary, a missing run, an unknown metric, a judge prompt file
#      without a placeholder, --judge-prompt without --judge, a judge that is not a model
#      directory: exit 2, one message;
#   5. --judge: the tiny Qwen2 (random init) judges every answer on 1 and 2 ranks (its verdicts do
#      not parse: each is counted as unparsed, with its reason, never a crash); the counts in the
#      JSON match the per-question verdicts; 1 and 2 ranks agree; a prompt file is honoured.
# Env (set by ctest): RIL_BIN, RIL_MPIRUN, RIL_BUILD_DIR, RIL_DATA_BIN (ril-data).
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
BUILD=${RIL_BUILD_DIR:-$(dirname "$RIL_BIN")}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
PYTHON=${RIL_PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { sed 's/^/  | /' "$1" | grep -v ' = ' | tail -${2:-25}; }

"$RIL_DATA" synth --out "$work/ds.h5" --train 48 --val 0 --test 10 >"$work/data.log" 2>&1 \
  && "$RIL_DATA" tokenizer --dataset "$work/ds.h5" --styles terse,steps --out "$work/tok.json" --vocab-size 400 \
    >>"$work/data.log" 2>&1 \
  || { echo "FAIL: could not make the dataset and tokenizer"; show "$work/data.log"; exit 1; }

# ---- tiny models -------------------------------------------------------------------------------
# Left at their seeded random init (one update with lr 0; seeds picked so that the greedy answers
# differ between questions, which a few SFT updates of these tiny models undo), so comparing
# 1 and 4 ranks compares varied token streams. The seeds were picked with the token ids of a
# tokenizer trained on these two styles (with every style's text one model answered "\n" x 12 to every question).
for preset_seed in tiny-llava:7 tiny:1234; do
  preset=${preset_seed%:*}
  timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --model $preset \
    --seed ${preset_seed#*:} --run-dir "$work/sft-$preset" --steps 1 --batch 2 --lr 0 --lr-end 0 \
    --max-response-tokens 32 --val-examples 0 \
    >"$work/sft-$preset.log" 2>&1 \
    || { echo "FAIL: ril sft --model $preset"; show "$work/sft-$preset.log"; exit 1; }
done
llava=$work/sft-tiny-llava/model
qwen=$work/sft-tiny/model

# ---- 1. eval on 1 and 4 ranks ----------------------------------------------------------------------
eval_args=(eval --dataset "$work/ds.h5" --model "llava=$llava" --model "qwen=$qwen" --batch 3 --max-new-tokens 12)
timeout 300 $MPIRUN -np 1 "$RIL_BIN" "${eval_args[@]}" --run-dir "$work/e1" >"$work/e1.log" 2>&1
s1=$?
timeout 300 $MPIRUN -np 4 "$RIL_BIN" "${eval_args[@]}" --run-dir "$work/e4" --out "$work/e4/results.json" \
  >"$work/e4.log" 2>&1
s4=$?
# models_of FILE -> the "models" part of the JSON (every number and response), canonical
models_of() { "$PYTHON" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["models"], sort_keys=True))' "$1"; }
if [ $s1 -ne 0 ] || [ $s4 -ne 0 ] || [ ! -s "$work/e1/eval.json" ] || [ ! -s "$work/e4/results.json" ]; then
  fail "eval on 1 and 4 ranks (exits $s1 $s4)"; show "$work/e1.log"; show "$work/e4.log"
elif ! "$PYTHON" - "$work/e1/eval.json" "$work/ds.h5" <<'EOF' >"$work/check.log" 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dataset"] == sys.argv[2] and j["split"] == "test" and j["questions"] == 10, j
assert [m["name"] for m in j["models"]] == ["llava", "qwen"]
assert j["models"][0]["model_type"] == "llava" and j["models"][1]["model_type"] == "qwen2"
assert j["config"]["batch"] == "3" and "eval" in j["command_line"], (j["config"], j["command_line"])
for m in j["models"]:
    assert m["overall"]["total"] == 10 and len(m["questions"]) == 10
    assert sum(f["total"] for f in m["families"].values()) == 10
    assert sum(f["correct"] for f in m["families"].values()) == m["overall"]["correct"]
    assert all(1 <= q["tokens"] <= 12 for q in m["questions"])
    assert sum(j["family_questions"].values()) == 10
    assert len(set(q["response"] for q in m["questions"])) >= 2, [q["response"] for q in m["questions"]]
print("json ok:", [(m["name"], m["overall"]) for m in j["models"]])
EOF
then
  fail "eval.json content"; show "$work/check.log"
elif [ "$(models_of "$work/e1/eval.json")" != "$(models_of "$work/e4/results.json")" ]; then
  fail "eval results differ between 1 and 4 ranks"
  diff <(models_of "$work/e1/eval.json" | tr ',' '\n') <(models_of "$work/e4/results.json" | tr ',' '\n') | head -20
elif ! grep -q "^accuracy (%) .* llava  *qwen" "$work/e1.log" || ! grep -q "^overall  *10 " "$work/e4.log" \
     || ! diff <(grep -E "^(accuracy|mean tokens|unparsed|counting|attribute|spatial|comparison|arithmetic|overall) " "$work/e1.log") \
               <(grep -E "^(accuracy|mean tokens|unparsed|counting|attribute|spatial|comparison|arithmetic|overall) " "$work/e4.log") >/dev/null; then
  fail "eval table (1 vs 4 ranks)"; show "$work/e1.log" 8; show "$work/e4.log" 8
else
  ok "eval of 2 models on 1 and 4 ranks: identical results"
  grep -A4 "^ril eval:" "$work/e1.log" | sed 's/^/  /'
fi

# ---- 2. a train checkpoint evaluates like its model directory -----------------------------------
"$PYTHON" - "$llava" "$work/ckpt.h5" "$work/tok.json" <<'EOF' >"$work/ckpt.log" 2>&1
import json, struct, sys
import h5py, numpy as np
model, out, tok = sys.argv[1:4]
fixed = lambda text: np.bytes_(text.encode())  # fixed-length strings, as ril writes them
raw = open(model + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
with h5py.File(out, "w") as f:
    f.attrs["format_version"] = np.int64(1)
    f.attrs["kind"] = fixed("checkpoint")
    f.attrs["student_config"] = fixed(open(model + "/config.json").read())
    f.attrs["student_tokenizer"] = fixed(tok)
    g = f.create_group("student")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        b, e = info["data_offsets"]
        g[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
    f["step"] = np.int64(6)
    f.attrs["complete"] = np.int64(1)
print("checkpoint with", len(g), "tensors")
EOF
timeout 300 $MPIRUN -np 2 "$RIL_BIN" eval --dataset "$work/ds.h5" --model "ckpt=$work/ckpt.h5" --batch 3 \
  --max-new-tokens 12 --run-dir "$work/ec" >"$work/ec.log" 2>&1
status=$?
same=$("$PYTHON" -c '
import json, sys
a = json.load(open(sys.argv[1]))["models"][0]; b = json.load(open(sys.argv[2]))["models"][0]
print(int(a["questions"] == b["questions"] and a["families"] == b["families"] and b["source"] == "checkpoint"
          and b["checkpoint_step"] == 6))' "$work/e1/eval.json" "$work/ec/eval.json" 2>&1)
if [ $status -ne 0 ] || [ "$same" != 1 ]; then
  fail "checkpoint eval (exit $status, same as the model dir: $same)"; show "$work/ckpt.log" 5; show "$work/ec.log"
else
  ok "a train checkpoint (h5py-made, student group + config attribute) evaluates exactly like its model dir"
fi

# ---- 3. plot -------------------------------------------------------------------------------------
mkdir -p "$work/run"
"$PYTHON" - "$work/run" <<'EOF' >"$work/metrics.log" 2>&1
import math, sys
import h5py, numpy as np
run = sys.argv[1]
cols = ["reward_student", "reward_teacher", "kl", "policy_loss", "lr"]
steps = np.arange(1, 101, dtype=np.int64)
vals = [0.5 + 0.3 * np.tanh(steps / 30.0) + 0.05 * np.sin(steps), 0.8 + 0.0 * steps, 0.01 * steps,
        np.cos(steps / 10.0), np.full(100, 1e-6)]
vals[2][40:43] = np.nan
with h5py.File(run + "/metrics.h5", "w") as f:
    f.attrs["format_version"] = np.int64(1)
    f.attrs["kind"] = np.bytes_(b"metrics")  # fixed-length strings, as ril writes them
    f.attrs["metrics_version"] = np.int64(1)
    f.attrs["columns"] = np.bytes_(",".join(cols).encode())
    g = f.create_group("metrics")
    g.attrs["rows"] = np.int64(len(steps))
    g.create_dataset("step", data=steps, maxshape=(None,), chunks=(1024,))
    for c, v in zip(cols, vals):
        g.create_dataset(c, data=np.asarray(v, dtype=np.float64), maxshape=(None,), chunks=(1024,))
with open(run + "/metrics.csv", "w") as f:
    f.write(",".join(["step"] + cols) + "\n")
    for i, s in enumerate(steps):
        f.write(",".join([str(s)] + [("nan" if math.isnan(v[i]) else repr(float(v[i]))) for v in vals]) + "\n")
EOF
png_size() { "$PYTHON" -c 'import struct, sys; d = open(sys.argv[1], "rb").read(24); assert d[:8] == b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1" 2>/dev/null; }
timeout 120 $MPIRUN -np 1 "$RIL_BIN" plot "$work/run" --out "$work/plots/curves.png" >"$work/plot.log" 2>&1
status=$?
size=$(png_size "$work/plots/curves.png")
# Default set: reward_student, reward_teacher, kl, policy_loss (lr is not in it) -> 2x2 panels of 400x250.
if [ $status -ne 0 ] || [ "$size" != "800x522" ] || ! grep -q "4 panel(s) \[reward_student, reward_teacher, kl, policy_loss\]" "$work/plot.log"; then
  fail "plot of a run dir (exit $status, size '$size')"; show "$work/plot.log"
else
  ok "ril plot RUN: $size PNG, default panels"
fi
timeout 120 $MPIRUN -np 2 "$RIL_BIN" plot "$work/run/metrics.h5" --metrics kl,lr --metrics reward_student \
  --out "$work/three.png" >"$work/plot3.log" 2>&1
status=$?
size=$(png_size "$work/three.png")
if [ $status -ne 0 ] || [ "$size" != "1200x272" ]; then
  fail "plot --metrics on 2 ranks (exit $status, size '$size')"; show "$work/plot3.log"
else
  ok "ril plot metrics.h5 --metrics kl,lr --metrics reward_student on 2 ranks: $size"
fi
"$RIL_BIN" info "$work/run/metrics.h5" >"$work/info.log" 2>&1
if grep -q "metrics table: 100 row(s), steps 1..100, 5 column(s)" "$work/info.log" && grep -q "kl *= 1" "$work/info.log"; then
  ok "ril info metrics.h5"
else
  fail "ril info metrics.h5"; show "$work/info.log"
fi
mkdir -p "$work/csvrun" && cp "$work/run/metrics.csv" "$work/csvrun/"
timeout 120 $MPIRUN -np 1 "$RIL_BIN" plot "$work/csvrun" --metrics all --out "$work/csv.png" >"$work/plotc.log" 2>&1
status=$?
size=$(png_size "$work/csv.png")
if [ $status -ne 0 ] || [ "$size" != "1200x522" ]; then
  fail "plot from metrics.csv alone (exit $status, size '$size')"; show "$work/plotc.log"
else
  ok "ril plot of a run with only metrics.csv, --metrics all: $size"
fi

# ---- 4. bad input ------------------------------------------------------------------------------------
expect_error() {
  local np=$1 message=$2; shift 2
  timeout 120 $MPIRUN -np $np "$RIL_BIN" "$@" >"$work/bad.log" 2>&1
  local status=$?
  if [ $status -ne 2 ] || [ "$(grep -c -F -- "$message" "$work/bad.log")" -ne 1 ]; then
    fail "expected exit 2 and once '$message' (exit $status)"; show "$work/bad.log" 10
  else
    ok "bad input -> $message"
  fi
}
bad_eval=(eval --dataset "$work/ds.h5" --run-dir "$work/bad")
expect_error 2 "--model gone: '$work/none' does not exist" "${bad_eval[@]}" --model "gone=$work/none"
expect_error 2 "is a ril 'dataset' file, not a \`ril train\` checkpoint" "${bad_eval[@]}" --model "d=$work/ds.h5"
expect_error 2 "the val split of $work/ds.h5 is empty" "${bad_eval[@]}" --model "q=$qwen" --split val
mkdir -p "$work/small" && sed 's/"vocab_size": *1024/"vocab_size": 300/' "$qwen/config.json" >"$work/small/config.json" \
  && cp "$qwen/tokenizer.json" "$work/small/"
expect_error 2 "is larger than the model's (300" "${bad_eval[@]}" --model "small=$work/small"
expect_error 1 "'$work/nothing' does not exist" plot "$work/nothing" --out "$work/x.png"
expect_error 2 "--metrics 'entropy' is not a column of" plot "$work/run" --metrics entropy --out "$work/x.png"

printf 'Judge {question} against {ground_truth}.\n' >"$work/two_fields.txt"
expect_error 2 "placeholder {response} is missing" "${bad_eval[@]}" --model "q=$qwen" --judge "$qwen" --judge-prompt "$work/two_fields.txt"
expect_error 2 "--judge-prompt needs --judge" "${bad_eval[@]}" --model "q=$qwen" --judge-prompt "$work/two_fields.txt"
expect_error 2 "--judge: '$work/ds.h5' is not a directory" "${bad_eval[@]}" --model "q=$qwen" --judge "$work/ds.h5"

# ---- 5. --judge ------------------------------------------------------------------------------------
printf 'Question: {question}\nTruth: {ground_truth}\nResponse: {response}\nVerdict in <answer></answer>.\n' \
  >"$work/judge_prompt.txt"
judge_args=(eval --dataset "$work/ds.h5" --model "llava=$llava" --batch 4 --max-new-tokens 12 --judge "$qwen"
            --judge-max-new-tokens 6)
timeout 300 $MPIRUN -np 1 "$RIL_BIN" "${judge_args[@]}" --run-dir "$work/j1" >"$work/j1.log" 2>&1; sj1=$?
timeout 300 $MPIRUN -np 2 "$RIL_BIN" "${judge_args[@]}" --run-dir "$work/j2" >"$work/j2.log" 2>&1; sj2=$?
timeout 300 $MPIRUN -np 1 "$RIL_BIN" "${judge_args[@]}" --judge-prompt "$work/judge_prompt.txt" --run-dir "$work/jp" \
  >"$work/jp.log" 2>&1; sjp=$?
if [ $sj1 -ne 0 ] || [ $sj2 -ne 0 ] || [ $sjp -ne 0 ]; then
  fail "eval --judge (exits $sj1 $sj2 $sjp)"; show "$work/j1.log"; show "$work/j2.log"; show "$work/jp.log"
elif ! "$PYTHON" - "$work/j1/eval.json" "$work/jp/eval.json" "$qwen" "$work/judge_prompt.txt" <<'EOF' >"$work/jcheck.log" 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
assert j["judge"]["model"] == sys.argv[3] and j["judge"]["prompt"] == "built-in" and j["judge"]["max_new_tokens"] == 6, j["judge"]
assert j["judge"]["tokens_rank0"] > 0, j["judge"]
m = j["models"][0]
qs = m["questions"]
assert len(qs) == 10 and all(q["judge"] in ("correct", "wrong", "unparsed") and q["judge_reason"] for q in qs), qs
jo = m["overall"]["judge"]
assert jo["judged"] == 10, jo
assert jo["correct"] == sum(q["judge"] == "correct" for q in qs), jo
assert jo["unparsed"] == sum(q["judge"] == "unparsed" for q in qs), jo
assert jo["agree_with_rule"] == sum((q["judge"] == "correct") == q["correct"] for q in qs), jo
assert sum(f["judge"]["judged"] for f in m["families"].values()) == 10
# A random judge with 6 tokens cannot write a closed <answer> tag: every verdict is unparsed, with its reason.
assert jo["unparsed"] == 10 and jo["correct"] == 0, jo
assert all(q["judge_reason"] != "parsed" for q in qs), qs
p = json.load(open(sys.argv[2]))
assert p["judge"]["prompt"] == sys.argv[4], p["judge"]
print("judge json ok:", jo, sorted(set(q["judge_reason"] for q in qs)))
EOF
then
  fail "eval --judge: eval.json"; show "$work/jcheck.log"
elif [ "$(models_of "$work/j1/eval.json")" != "$(models_of "$work/j2/eval.json")" ]; then
  fail "eval --judge: results differ between 1 and 2 ranks"
elif ! grep -q "^judge accuracy (%)" "$work/j1.log" || ! grep -q "^judge = rule (%)" "$work/j1.log" \
     || ! grep -q "^judge unparsed (%)" "$work/j1.log" || ! grep -q -F "judge: $qwen (prompt built-in" "$work/j1.log"; then
  fail "eval --judge: the table lacks the judge's blocks"; show "$work/j1.log"
else
  ok "eval --judge on 1 and 2 ranks: $(tail -1 "$work/jcheck.log")"
fi

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
