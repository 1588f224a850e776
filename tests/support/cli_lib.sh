# Sourced by the end-to-end scripts in tests/cli/: the executables ctest names, one thread per
# rank, a work directory removed at exit (the script runs inside it), and the ok/fail tally.
# The script ends with: echo "NAME: $passed passed, $failures failed"; [ "$failures" = 0 ]
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
PY=/usr/bin/python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
passed=0
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -25; failures=$((failures + 1)); }
ok() { echo "ok: $1"; passed=$((passed + 1)); }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# The tiny world of the training tests, in the work directory: d.h5 (16 train questions),
# tok.json, a 4-step SFT student in runs/student/model, and its 2 responses per question as the
# teacher cache cache.h5. Exits the script (a failure) when any part fails.
make_tiny_student_and_cache() {
  "$RIL_DATA" synth --out d.h5 --seed 5 --train 16 --val 4 --test 4 >setup.log 2>&1 \
    && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1 \
    && $MPIRUN -np 1 "$RIL_BIN" sft --dataset d.h5 --tokenizer tok.json --model tiny-llava --style terse --steps 4 \
         --batch 4 --lr 1e-3 --lr-end 1e-3 --val-examples 0 --run-dir runs/student --out runs/student/model >>setup.log 2>&1 \
    && $MPIRUN -np 1 "$RIL_BIN" teach --dataset d.h5 --teacher a=runs/student/model --responses 2 --max-new-tokens 12 \
         --out cache.h5 >>setup.log 2>&1 \
    || { fail "set-up: dataset, tokenizer, student, teacher cache" setup.log; exit 1; }
}

# Runs runs/$1 and runs/$2 bitwise equal: student, discriminator and metrics (times aside).
same() {
  for f in model/model.safetensors discriminator/model.safetensors; do
    [ "$(sum "runs/$1/$f")" = "$(sum "runs/$2/$f")" ] || { echo "$f differs"; return 1; }
  done
  "$PY" - "runs/$1/metrics.csv" "runs/$2/metrics.csv" <<'PYEOF'
import csv, sys
# A run resumed into a new run directory has the rows of its own steps only: compare by step.
a, b = ({r["step"]: r for r in csv.DictReader(open(p))} for p in sys.argv[1:3])
assert b and set(b) <= set(a), (sorted(a), sorted(b))
for ra, rb in ((a[s], b[s]) for s in b):
    for k in ra:
        if not (k.startswith("time_") or k == "tokens_per_s"):
            assert ra[k] == rb[k], (k, ra[k], rb[k])
PYEOF
}

# kill9_after_checkpoint RUN_DIR LAUNCHER_PID LOG: wait (up to 2 min) for RUN_DIR's first checkpoint,
# SIGKILL one `ril train` rank of that run, and check that the job then ends without a final model
# (LAUNCHER_PID: the background mpirun; LOG: its output, shown on failure).
kill9_after_checkpoint() {
  local dir=$1 launcher=$2 log=$3 victim status
  for _ in $(seq 1 1200); do
    [ -f "$dir/checkpoints/latest" ] && break
    sleep 0.1
  done
  victim=$(pgrep -f "ril train .*--run-dir $dir" | tail -1)
  if [ -n "$victim" ] && [ -f "$dir/checkpoints/latest" ]; then
    kill -9 "$victim"
    wait "$launcher"
    status=$?
    if [ "$status" != 0 ] && [ ! -f "$dir/model/model.safetensors" ]; then
      ok "kill -9 of rank pid $victim after a checkpoint of $dir: job ended (status $status), no final model"
    else
      fail "the killed run of $dir finished anyway (status $status): the kill came too late" "$log"
    fi
  else
    wait "$launcher"
    fail "no checkpoint of $dir appeared before the run ended" "$log"
  fi
}
