#!/usr/bin/env bash
# Under a real single-node Slurm started here (tests/support/slurm_cluster.sh): submit the CPU
# job script with `sbatch --wait` and check what it wrote. Nothing is left running afterwards.
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
command -v slurmctld >/dev/null || { echo "FAIL: slurm-wlm is not installed (scripts/install-deps.sh installs it)"; exit 1; }
work=$(mktemp -d)
source "$repo/tests/support/slurm_cluster.sh"
trap 'slurm_stop; rm -rf "$work"' EXIT
trap 'exit 1' TERM INT  # ctest's timeout: still stop Slurm (the EXIT trap)
slurm_start "$work/slurm" || { echo "FAIL: could not start Slurm"; exit 1; }
failures=0
cd "$work" || exit 1
# 4 tasks on a 2-core node: --overcommit lets Slurm place them, as mpirun --oversubscribe does.
sbatch --wait --overcommit --ntasks=4 --output="$work/job-%j.out" \
  --export=ALL,RIL_BIN="$RIL_BIN",RIL_RUN_DIR="$work/run",RIL_EXTRA_ARGS="--iterations 2" \
  "$repo/jobs/ril-cpu.sbatch" >"$work/sbatch.out" 2>&1
status=$?
out=$(ls "$work"/job-*.out 2>/dev/null | head -1)
if [ $status -ne 0 ] || [ -z "$out" ] || ! grep -q "all checks passed" "$out" || [ ! -s "$work/run/smoke.h5" ]; then
  echo "FAIL: sbatch --wait jobs/ril-cpu.sbatch (exit $status)"
  cat "$work/sbatch.out"; [ -n "$out" ] && tail -30 "$out"
  failures=$((failures + 1))
else
  echo "ok: $(head -1 "$out")"
  grep -A9 "all checks passed" "$out" | sed 's/^.*INFO  //; s/^/  /'
fi
echo "$((1 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
