#!/usr/bin/env bash
# Issue 13's battery of hostile input, row by row, under mpirun with 1 and 4 ranks: each case must
# end with its documented exit status (README "Exit codes": 1 runtime, 2 bad input), print its
# message exactly once and "ril: error:" at most once, without OpenMPI's abort noise, and leave
# every input file byte-identical. Also: --max-new-tokens against the model's positions (train,
# teach), resuming another command's or stage's checkpoint (refused naming it), --resume PATH to
# a checkpoint file or folder anywhere, the non-finite parameter guard (fault injection), the
# run-directory lock (a second job is refused, a dead holder's lock is taken over with a
# warning), temporaries of killed writers removed at start, and ril-data import skipping an image
# path that is a directory with its line number.
# Env (set by ctest): RIL_BIN, RIL_DATA_BIN, RIL_MPIRUN.
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
PY=/usr/bin/python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
background=
trap '[ -n "$background" ] && kill -9 $background 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
checked=0
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -20; failures=$((failures + 1)); }
ok() { echo "ok   $1"; }

# expect NP STATUS "message" ril-args...: exit STATUS, the message once, one "ril: error:", no
# MPI_Abort noise.
expect() {
  local np=$1 want=$2 message=$3
  shift 3
  local out=$work/out.txt start status count errors noise
  start=$(date +%s)
  timeout 120 $MPIRUN -np "$np" "$RIL_BIN" "$@" >"$out" 2>&1
  status=$?
  checked=$((checked + 1))
  count=$(grep -c -F -- "$message" "$out")
  errors=$(grep -c "ril: error:" "$out")
  noise=$(grep -c -E "ORTE_ERROR_LOG|MPI_ABORT was invoked|Out of resource" "$out")
  if [ "$status" -ne "$want" ] || [ "$count" -ne 1 ] || [ "$errors" -gt 1 ] || [ "$noise" -ne 0 ]; then
    fail "(np $np, exit $status, wanted $want; message seen $count times, 'ril: error:' $errors times, noise $noise): ril $*
  expected once: $message" "$out"
  else
    ok "(np $np, exit $status, $(($(date +%s) - start)) s): ril $* -> $message"
  fi
}

# ---- inputs --------------------------------------------------------------------------------------
"$RIL_DATA" synth --out d.h5 --seed 3 --train 12 --val 2 --test 2 >setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json --vocab-size 400 >>setup.log 2>&1 \
  || { fail "dataset and tokenizer" setup.log; exit 1; }
# A student (one update at lr 0: the seeded initial model) and its final checkpoint (of sft).
$MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --steps 1 --batch 2 --lr 0 \
  --lr-end 0 --max-response-tokens 16 --val-examples 0 --run-dir runs/sft --out runs/sft/model >>setup.log 2>&1 \
  || { fail "ril sft set-up" setup.log; exit 1; }
count=$($PY -c "import h5py; print(int(h5py.File('d.h5')['/'].attrs['count']))")
$PY - "$count" <<'PY' >responses.jsonl
import json, sys
for q in range(int(sys.argv[1])):
    print(json.dumps({"question_id": q, "response": f"It is {q}.\nAnswer: {q}"}))
PY
$MPIRUN -np 1 "$RIL_BIN" teach --dataset d.h5 --import-jsonl responses.jsonl --teacher-name t --responses 1 \
  --out cache.h5 >>setup.log 2>&1 || { fail "ril teach --import-jsonl set-up" setup.log; exit 1; }
$PY - <<'PY' || { fail "h5py (python3-h5py) is needed"; exit 1; }
import shutil, h5py, numpy as np
for name, change in [("float_ids.h5", "float"), ("far_ids.h5", "far")]:
    shutil.copy("cache.h5", name)
    with h5py.File(name, "r+") as f:
        ids = f["teachers/t/question_id"][...]
        del f["teachers/t/question_id"]
        if change == "float":   # what a pandas/h5py export writes
            f["teachers/t/question_id"] = ids.astype(np.float64)
        else:                   # ids of a bigger dataset
            f.create_dataset("teachers/t/question_id", data=ids + 180, maxshape=(None,), chunks=True)
PY
printf '[train]\nlr = 1e-3\n\x1b[31m\x01\xff garbage\n' >garbage.ini
mkdir -p config-dir
inputs=(d.h5 tok.json cache.h5 float_ids.h5 far_ids.h5 garbage.ini runs/sft/model/model.safetensors
        runs/sft/checkpoints/step-000001.h5)
sums_before=$(sha256sum "${inputs[@]}")
# (Single-valued options may be given once: `core` leaves out the ones the cases vary.)
core=(train --dataset d.h5 --student runs/sft/model --teacher-cache cache.h5 --questions 2 --group 2)
train=("${core[@]}" --steps 1 --max-new-tokens 8)
at_steps() { echo "${core[@]}" --steps "$1" --max-new-tokens 8; }

# ---- option validation (exit 2) ------------------------------------------------------------------
for np in 1 4; do
  expect $np 2 "--lr must be a finite number in (0, 1], got inf" "${train[@]}" --lr inf --run-dir runs/x
  expect $np 2 "--beta must be a finite number in [0, 100], got inf" "${train[@]}" --beta inf --run-dir runs/x
  expect $np 2 "--seed must be >= 0 (a negative value is not wrapped around), got -1" "${train[@]}" --seed -1 --run-dir runs/x
  expect $np 2 "--max-new-tokens must be in [1, 1048576], got 100000000" "${core[@]}" --steps 1 --max-new-tokens 100000000 --run-dir runs/x
  expect $np 2 "config file 'config-dir' is not a file (it is a directory)" "${train[@]}" --config config-dir --run-dir runs/x
  expect $np 2 "expected 'name = value', got '\\x1B[31m\\x01\\xFF garbage'" "${train[@]}" --config garbage.ini --run-dir runs/x
done
if LC_ALL=C grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' "$work/out.txt"; then
  fail "a control byte of garbage.ini reached the terminal" "$work/out.txt"
else
  ok "garbage.ini's bytes printed escaped"
fi
[ -e runs/x ] && fail "a refused run created its run dir" || ok "refused runs created nothing"

# ---- teacher cache checks (exit 2, before any work) ----------------------------------------------
for np in 1 4; do
  expect $np 2 "dataset 'teachers/t/question_id' has type float64, expected int64" \
    "${train[@]/cache.h5/float_ids.h5}" --run-dir runs/y
  expect $np 2 "question ids up to $((count - 1 + 180)), the dataset has $count questions" \
    "${train[@]/cache.h5/far_ids.h5}" --run-dir runs/y
done

# ---- the generation budget against the model's positions (tiny-llava: 2048) ----------------------
for np in 1 4; do
  expect $np 2 "ril train: --max-new-tokens 1000000 does not fit the student runs/sft/model: it takes at most 2048 positions" \
    "${core[@]}" --steps 1 --max-new-tokens 1000000 --run-dir runs/x
done
for np in 1 2; do
  expect $np 2 "ril teach: --max-new-tokens 1000000 does not fit teacher 'a' (runs/sft/model): it takes at most 2048 positions" \
    teach --layout all=$np --dataset d.h5 --teacher a=runs/sft/model --max-new-tokens 1000000 --out budget-cache.h5
done
[ -e runs/x ] || [ -e budget-cache.h5 ] && fail "a refused run created its run dir or cache" \
  || ok "refused budgets created nothing"

# ---- checkpoints of another command or stage: refused naming it (exit 2), once -------------------
# A --stage disc run and a --stage ril run of one step each, checkpoints as they leave them.
$MPIRUN -np 1 "$RIL_BIN" "${train[@]}" --stage disc --pretrain-lr 1e-4 --pretrain-lr-end 1e-5 --run-dir runs/disc \
  >disc.log 2>&1 || { fail "ril train --stage disc set-up" disc.log; exit 1; }
$MPIRUN -np 1 "$RIL_BIN" "${train[@]}" --lr 1e-4 --run-dir runs/r1 >r1.log 2>&1 || { fail "ril train set-up" r1.log; exit 1; }
checkpoints=(runs/disc/checkpoints/step-000001.h5 runs/r1/checkpoints/step-000001.h5)
sums_ckpt=$(sha256sum "${checkpoints[@]}")
for np in 1 4; do
  expect $np 2 "--resume runs/sft/checkpoints/step-000001.h5 is a checkpoint of \`ril sft\`; \`ril train --stage ril\` resumes only its own checkpoints. Continue that SFT run with \`ril sft --resume\`" \
    "${train[@]}" --resume runs/sft/checkpoints/step-000001.h5 --run-dir runs/z$np
done
for np in 1; do  # (the other stage's checkpoints: the same path through the code as above)
  expect $np 2 "--resume runs/disc/checkpoints/step-000001.h5 is a checkpoint of \`ril train --stage disc\`; \`ril train --stage ril\` resumes only its own" \
    "${train[@]}" --resume runs/disc/checkpoints/step-000001.h5 --run-dir runs/z$np
  expect $np 2 "(runs/disc/checkpoints/step-000001.h5) is a checkpoint of \`ril train --stage disc\`" \
    "${train[@]}" --run-dir runs/disc
  expect $np 2 "--resume runs/r1 (runs/r1/checkpoints/step-000001.h5) is a checkpoint of \`ril train --stage ril\`; \`ril train --stage disc\`" \
    "${train[@]}" --stage disc --resume runs/r1 --run-dir runs/z$np
done
expect 1 2 "ril sft: cannot resume: the newest checkpoint in runs/r1/checkpoints (runs/r1/checkpoints/step-000001.h5) is a checkpoint of \`ril train --stage ril\`" \
  sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --steps 2 --batch 2 --max-response-tokens 16 \
  --val-examples 0 --resume --run-dir runs/r1
[ "$(sha256sum "${checkpoints[@]}")" = "$sums_ckpt" ] && ok "refused resumes left the checkpoints unchanged" \
  || fail "a refused resume changed a checkpoint"

# ---- --resume PATH: a checkpoint file or folder anywhere -------------------------------------------
# The step-1 checkpoint copied out of any checkpoints/ folder resumes, to the same student as the
# run that continues from its own folder (bitwise, on CPU).
mkdir -p saved && cp runs/r1/checkpoints/step-000001.h5 saved/
cp -r runs/r1 runs/r1-auto
$MPIRUN -np 1 "$RIL_BIN" $(at_steps 2) --lr 1e-4 --run-dir runs/r1-auto >auto.log 2>&1
status_auto=$?
for from in saved/step-000001.h5 saved; do
  rm -rf runs/r2
  $MPIRUN -np 1 "$RIL_BIN" $(at_steps 2) --lr 1e-4 --resume "$from" --run-dir runs/r2 >r2.log 2>&1
  status=$?
  if [ $status -eq 0 ] && [ $status_auto -eq 0 ] && grep -q "resumed from saved/step-000001.h5 at step 1" r2.log \
     && cmp -s runs/r2/model/model.safetensors runs/r1-auto/model/model.safetensors; then
    ok "--resume $from: resumed at step 1, the same student as resuming in place"
  else
    fail "--resume $from (exit $status; in place: exit $status_auto)" r2.log
    tail -5 auto.log
  fi
done
expect 1 2 "checkpoint 'saved/nothing.h5' does not exist" "${train[@]}" --resume saved/nothing.h5 --run-dir runs/z

# ---- non-finite parameters after an update (fault injection): never checkpointed, never sent ------
# RIL_FAULT_INF_PARAM_STEPS=2 sets a student weight to inf right after update 2, past the loss
# and gradient checks; the guard must end the job (exit 1, once) before that step's weight sync
# and checkpoint, the step-1 checkpoint intact and finite.
export RIL_FAULT_INF_PARAM_STEPS=2
for np in 1 4; do
  rm -rf runs/inf
  expect $np 1 "ril train: step 2: the student's parameter " $(at_steps 3) --checkpoint-every 1 --lr 1e-4 \
    --run-dir runs/inf
  if [ -e runs/inf/checkpoints/step-000001.h5 ] && [ -z "$(ls runs/inf/checkpoints | grep -v '^step-000001\.' | grep -v '^latest$')" ] \
     && [ ! -e runs/inf/model ] && $PY - runs/inf/checkpoints/step-000001.h5 <<'PY'
import sys, h5py, numpy as np
bad = []
with h5py.File(sys.argv[1], "r") as f:
    f["student"].visititems(lambda n, o: bad.append(n) if isinstance(o, h5py.Dataset) and not np.isfinite(o[...]).all() else None)
sys.exit(1 if bad else 0)
PY
  then
    ok "(np $np) only the step-1 checkpoint exists, its student finite; no model written"
  else
    fail "(np $np) after the non-finite update: $(ls runs/inf/checkpoints 2>&1 | tr '\n' ' ') model: $(ls runs/inf 2>&1 | tr '\n' ' ')"
  fi
done
RIL_FAULT_INF_PARAM_STEPS=1
expect 1 1 "ril sft: step 1: parameter " sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --steps 2 --batch 2 \
  --lr 1e-4 --max-response-tokens 16 --val-examples 0 --checkpoint-every 1 --run-dir runs/sft-inf
[ -z "$(ls runs/sft-inf/checkpoints 2>/dev/null | grep step-)" ] && [ ! -e runs/sft-inf/model ] \
  && ok "ril sft: no checkpoint and no model after the non-finite update" \
  || fail "ril sft wrote after the non-finite update: $(ls -R runs/sft-inf | tr '\n' ' ')"
unset RIL_FAULT_INF_PARAM_STEPS

# ---- run-directory lock ----------------------------------------------------------------------------
timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --steps 100000 \
  --batch 2 --max-response-tokens 16 --val-examples 0 --log-every 1000 --run-dir runs/busy >busy.log 2>&1 &
background=$!
for _ in $(seq 600); do grep -q "^pid=" runs/busy/ril.lock 2>/dev/null && break; sleep 0.2; done
holder=$(sed -n 's/^pid=//p' runs/busy/ril.lock 2>/dev/null)
if [ -z "$holder" ]; then
  fail "the first ril sft did not take runs/busy/ril.lock" busy.log
else
  lock_before=$(sha256sum runs/busy/ril.lock)
  for np in 1 4; do
    expect $np 2 "run dir runs/busy in use by PID $holder on $(hostname) since" "${train[@]}" --run-dir runs/busy
  done
  [ "$(sha256sum runs/busy/ril.lock)" = "$lock_before" ] && kill -0 "$holder" 2>/dev/null \
    && ok "the refused jobs left the holder running and its lock unchanged" \
    || fail "the lock or its holder changed"
  # The holder dies without releasing (kill -9), leaving its lock and a half-written temporary.
  kill -9 "$holder"
  wait $background 2>/dev/null
  background=
  touch "runs/busy/metrics.h5.tmp.$holder" "runs/busy/checkpoints/step-000009.h5.tmp.$holder" 2>/dev/null \
    || { mkdir -p runs/busy/checkpoints && touch "runs/busy/checkpoints/step-000009.h5.tmp.$holder"; }
  if timeout 300 $MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --steps 1 --batch 2 \
       --max-response-tokens 16 --val-examples 0 --run-dir runs/busy >takeover.log 2>&1 \
     && grep -q "took over the lock of PID $holder on $(hostname) since .*: process $holder is not running" takeover.log \
     && [ -z "$(find runs/busy -name "*.tmp.$holder")" ] && [ ! -e runs/busy/ril.lock ]; then
    ok "a killed holder's lock was taken over with a warning, its temporaries removed, the lock released at the end"
  else
    fail "stale lock take-over (PID $holder)" takeover.log
    find runs/busy -name "*.tmp.*" -o -name ril.lock | sed 's/^/  left: /'
  fi
fi

# ---- ril-data import: an image path that is a directory ------------------------------------------
mkdir -p import/img/a_dir.png
$PY - <<'PY'
import json, zlib, struct
def png(path):  # an 8x8 red PNG
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png("import/img/red.png")
conv = [{"from": "human", "value": "<image>\nWhat colour?"}, {"from": "gpt", "value": "Answer: red"}]
with open("import/records.jsonl", "w") as f:
    for image in ["img/red.png", "img/a_dir.png", "img/red.png"]:
        f.write(json.dumps({"image": image, "conversations": conv}) + "\n")
PY
"$RIL_DATA" import --input import/records.jsonl --out import/skip.h5 --on-error skip >import-skip.log 2>&1
status=$?
if [ $status -eq 0 ] && grep -q "line 2: .*a_dir.png is not a file (it is a directory)" import-skip.log \
   && grep -q "1 skipped" import-skip.log && [ -s import/skip.h5 ]; then
  ok "ril-data import --on-error skip: the directory image skipped with its line number (exit 0)"
else
  fail "ril-data import --on-error skip with a directory image (exit $status)" import-skip.log
fi
"$RIL_DATA" import --input import/records.jsonl --out import/fail.h5 --on-error fail >import-fail.log 2>&1
status=$?
if [ $status -eq 1 ] && grep -q "records.jsonl:2: image .*a_dir.png is not a file" import-fail.log \
   && [ ! -e import/fail.h5 ]; then
  ok "ril-data import --on-error fail: exit 1 naming line 2, nothing written"
else
  fail "ril-data import --on-error fail with a directory image (exit $status)" import-fail.log
fi

# ---- nothing given was changed -----------------------------------------------------------------------
sums_after=$(sha256sum "${inputs[@]}")
if [ "$sums_before" != "$sums_after" ]; then
  fail "an input file changed"; diff <(echo "$sums_before") <(echo "$sums_after")
else
  ok "every input file unchanged"
fi
echo "bad_input_reliability: $((checked - failures)) of $checked cases passed, $failures failure(s)"
[ "$failures" -eq 0 ]
