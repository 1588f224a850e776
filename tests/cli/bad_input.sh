#!/usr/bin/env bash
# Bad input to the `ril` executable, under mpirun with 1 and 4 ranks: each case must exit
# non-zero within the time limit (no rank left hanging), print the problem once, and leave the
# files it was given byte-identical.
# Env (set by ctest): RIL_BIN, RIL_MPIRUN ("mpirun --oversubscribe [--allow-run-as-root]").
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checked=0

# expect_fail NP "expected message" ril-args...
expect_fail() {
  local np=$1 message=$2
  shift 2
  local out="$work/out.txt" start end status count
  start=$(date +%s)
  timeout 60 $MPIRUN -np "$np" "$RIL_BIN" "$@" >"$out" 2>&1
  status=$?
  end=$(date +%s)
  checked=$((checked + 1))
  count=$(grep -c -F -- "$message" "$out")
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$count" -ne 1 ]; then
    echo "FAIL (np $np, exit $status, message seen $count times, $((end - start)) s): ril $*"
    echo "  expected once: $message"
    sed 's/^/  | /' "$out" | head -20
    failures=$((failures + 1))
  else
    echo "ok   (np $np, exit $status, $((end - start)) s): ril $* -> $message"
  fi
}

# Input files, and their checksums to prove nothing was damaged.
"$RIL_BIN" smoke --iterations 1 --layers 1 --hidden 32 --vocab 64 --run-dir "$work/run" >/dev/null 2>&1 \
  || { echo "FAIL: could not make a ril file for the tests"; exit 1; }
good="$work/run/smoke.h5"
echo "this is not HDF5" >"$work/notes.h5"
head -c $(( $(stat -c %s "$good") / 2 )) "$good" >"$work/truncated.h5"
/usr/bin/python3 - "$work" <<'PY' || { echo "FAIL: python3-h5py is needed (scripts/install-deps.sh installs it)"; exit 1; }
import shutil, sys, h5py
work = sys.argv[1]
with h5py.File(f"{work}/plain.h5", "w") as f:      # HDF5, but not written by ril
    f["x"] = [1, 2, 3]
shutil.copy(f"{work}/run/smoke.h5", f"{work}/future.h5")
with h5py.File(f"{work}/future.h5", "r+") as f:     # a ril file from a newer format
    f.attrs["format_version"] = 99
PY
printf 'seed = 3\nthis line is not ini\n' >"$work/malformed.ini"
printf '[smoke]\nbogus-key = 1\n' >"$work/unknown.ini"
sums_before=$(cd "$work" && sha256sum notes.h5 truncated.h5 plain.h5 future.h5 run/smoke.h5 malformed.ini unknown.ini)

for np in 1 4; do
  expect_fail $np "ril: error: unknown command 'smok'" smok
  expect_fail $np "unrecognised option '--frobnicate'" smoke --frobnicate 3
  expect_fail $np "line 2: expected 'name = value'" smoke --config "$work/malformed.ini"
  expect_fail $np "bogus-key" smoke --config "$work/unknown.ini"
  expect_fail $np "unknown role 'critic'" smoke --layout teacher=1,rollout=1,critic=1,learner=1
  expect_fail $np "needs 5 ranks but the job has $np" smoke --layout teacher=2,rollout=1,discriminator=1,learner=1
  no_learner=$([ $np -eq 1 ] && echo "teacher+rollout+discriminator=1" || echo "teacher=1,rollout=1,discriminator=$((np - 2))")
  expect_fail $np "has no learner rank" smoke --layout "$no_learner"
  expect_fail $np "file not found: '$work/missing.h5'" info "$work/missing.h5"
  expect_fail $np "is not an HDF5 file" info "$work/notes.h5"
  expect_fail $np "damaged or truncated" info "$work/truncated.h5"
  expect_fail $np "not a ril file" info "$work/plain.h5"
  expect_fail $np "format_version 99" info "$work/future.h5"
  expect_fail $np "--device cuda asked for a GPU" smoke --device cuda
  expect_fail $np "--accumulate (8) must be at most --questions (4)" train --dataset "$work/none.h5" \
    --student "$work/none" --teacher-cache "$work/none.h5" --questions 4 --accumulate 8
done

sums_after=$(cd "$work" && sha256sum notes.h5 truncated.h5 plain.h5 future.h5 run/smoke.h5 malformed.ini unknown.ini)
if [ "$sums_before" != "$sums_after" ]; then
  echo "FAIL: an input file changed"; diff <(echo "$sums_before") <(echo "$sums_after"); failures=$((failures + 1))
fi
# A good file still reads.
"$RIL_BIN" info "$good" | grep -q "ril smoke file, format_version 1" || { echo "FAIL: ril info on a good file"; failures=$((failures + 1)); }
echo "$((checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
