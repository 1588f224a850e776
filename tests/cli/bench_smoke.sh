#!/usr/bin/env bash
# Every benchmark (bench/) with --quick: it must exit 0, print its table (the header line of
# dashes after a known column name) and write a JSON file that parses and names the benchmark,
# the machine and its results. When Debian's python3-torch is there, the Python decode baseline
# also reruns bench_decode's quick case and must produce identical tokens.
set -u
BUILD=${RIL_BUILD_DIR:?set RIL_BUILD_DIR to the build directory}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
SRC=${RIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BENCH="$BUILD/bench"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ ! -x "$BENCH/bench_decode" ]; then
  echo "SKIP: $BENCH/bench_decode not built (configure with -DRIL_BUILD_BENCH=ON)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 passed=0

# check NAME COLUMN JSON LOG: the table's column and the JSON's fields
check() {
  local name=$1 column=$2 json=$3 log=$4 status=$5
  if [ "$status" -ne 0 ] || ! grep -q -- "$column" "$log" || ! grep -q -- "--" "$log" \
     || ! python3 - "$json" "$name" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["bench"] == sys.argv[2], j["bench"]
for key in ("machine", "date", "command", "results"):
    assert key in j, key
assert j["machine"]["cores"] >= 1 and j["machine"]["hostname"]
assert len(j["results"]) >= 1
EOF
  then
    echo "FAIL: $name (exit $status)"; sed 's/^/  | /' "$log" | tail -30
    failures=$((failures + 1))
  else
    echo "ok: $name"; sed 's/^/  /' "$log"
    passed=$((passed + 1))
  fi
}

timeout 120 "$BENCH/bench_decode" --quick --json "$work/decode.json" --dump "$work/case" >"$work/decode.log" 2>&1
check bench_decode "bound tok/s" "$work/decode.json" "$work/decode.log" $?

timeout 120 "$BENCH/bench_learner" --quick --json "$work/learner.json" >"$work/learner.log" 2>&1
check bench_learner "MFU %" "$work/learner.json" "$work/learner.log" $?

timeout 120 $MPIRUN -np 2 "$BENCH/bench_weight_sync" --quick --json "$work/sync.json" >"$work/sync.log" 2>&1
check bench_weight_sync "raw GB/s" "$work/sync.json" "$work/sync.log" $?

timeout 120 $MPIRUN -np 2 "$BENCH/bench_shard" --quick --shard gradients --json "$work/shard.json" >"$work/shard.log" 2>&1
check bench_shard "moments MiB" "$work/shard.json" "$work/shard.log" $?

timeout 120 "$BENCH/bench_h5" --quick --dir "$work" --json "$work/h5.json" >"$work/h5.log" 2>&1
check bench_h5 "dd MB/s" "$work/h5.json" "$work/h5.log" $?

if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  timeout 120 /usr/bin/python3 "$SRC/bench/python/decode_baseline.py" --case "$work/case" --repeats 1 \
      --json "$work/baseline.json" >"$work/baseline.log" 2>&1
  status=$?
  if [ $status -ne 0 ] || ! grep -q "ratio e2e" "$work/baseline.log" \
     || ! python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['all_identical']" "$work/baseline.json"; then
    echo "FAIL: decode_baseline.py (exit $status; tokens must be identical)"; sed 's/^/  | /' "$work/baseline.log" | tail -30
    failures=$((failures + 1))
  else
    echo "ok: decode_baseline.py (tokens identical)"; sed 's/^/  /' "$work/baseline.log"
    passed=$((passed + 1))
  fi
else
  echo "skip: decode_baseline.py (no /usr/bin/python3 with torch: apt-get install python3-torch)"
fi

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
