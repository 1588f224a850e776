#!/usr/bin/env bash
# The smoke job with 1, 2 and 4 ranks: every exchange checked bitwise inside the job; here we
# check that it says so, wrote its HDF5 file, and finished.
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
for np in 1 2 4; do
  out="$work/np$np.log"
  timeout 300 $MPIRUN -np $np "$RIL_BIN" smoke --run-dir "$work/np$np" --iterations 2 >"$out" 2>&1
  status=$?
  if [ $status -ne 0 ] || ! grep -q "all checks passed" "$out" || [ ! -s "$work/np$np/smoke.h5" ] \
     || [ "$(grep -c 'role map (layout' "$out")" -ne 1 ]; then
    echo "FAIL: smoke with $np rank(s) (exit $status)"; sed 's/^/  | /' "$out" | tail -30
    failures=$((failures + 1))
  else
    echo "ok: smoke with $np rank(s)"; grep -A9 "all checks passed" "$out" | sed 's/^/  /'
  fi
done
"$RIL_BIN" info "$work/np4/smoke.h5" | grep -q "rollouts/" || { echo "FAIL: ril info of the smoke file"; failures=$((failures + 1)); }
echo "$((4 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
