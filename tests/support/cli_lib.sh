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
