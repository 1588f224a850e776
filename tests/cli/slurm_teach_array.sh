#!/usr/bin/env bash
# The teacher-cache job scripts under a real single-node Slurm (tests/support/slurm_cluster.sh):
#   1. jobs/ril-teach-array.sbatch as a 2-task array, one teacher each (2 ranks per task), into
#      per-teacher shards; then jobs/ril-teach-merge.sbatch with --dependency=afterok on the array;
#   2. the merged cache has both teachers with full coverage (`ril info`), and each teacher's
#      group is identical (h5diff) to the one a single `ril teach` run with both teachers writes
#      (responses are seeded per teacher, question and sample, not per rank or job);
#   3. jobs/ril-multiprog.sbatch runs `ril smoke` through `srun --multi-prog` with a multi-prog
#      file generated from the layout (teacher ranks with 2 threads, the others 1).
# Nothing is left running afterwards (slurm_stop in the EXIT trap).
# Env (set by ctest): RIL_BIN, RIL_SOURCE_DIR, RIL_BUILD_DIR, RIL_MPIRUN.
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
BUILD=${RIL_BUILD_DIR:-$(dirname "$RIL_BIN")}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
command -v slurmctld >/dev/null || { echo "FAIL: slurm-wlm is not installed (scripts/install-deps.sh installs it)"; exit 1; }
command -v h5copy >/dev/null || { echo "FAIL: h5copy is not installed (hdf5-tools)"; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
source "$repo/tests/support/slurm_cluster.sh"
trap 'slurm_stop; rm -rf "$work"' EXIT
trap 'exit 1' TERM INT  # ctest's timeout: still stop Slurm (the EXIT trap)
failures=0
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { [ -f "$1" ] && sed 's/^/  | /' "$1" | grep -v ' = ' | tail -"${2:-25}"; }
# wait_job ID: until Slurm reports a final state for it (every task of an array); prints the states
wait_job() {
  local states
  for _ in $(seq 1500); do
    states=$(scontrol -o show job "$1" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2 | sort -u | tr '\n' ' ')
    case $states in *PENDING* | *RUNNING* | *COMPLETING* | *REQUEUED* | *CONFIGURING* | "") ;; *) break ;; esac
    sleep 0.2
  done
  echo "${states% }"
}

# A dataset, a tokenizer and a teacher: a text-only Qwen2 model from one `ril sft` update (HF layout
# with tokenizer.json), used under two names.
"$RIL_DATA" synth --out "$work/ds.h5" --train 12 --val 2 --test 2 >"$work/prep.log" 2>&1 \
  && "$RIL_DATA" tokenizer --dataset "$work/ds.h5" --out "$work/tok.json" --vocab-size 400 >>"$work/prep.log" 2>&1 \
  && $MPIRUN -np 1 "$RIL_BIN" sft --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --model tiny-llava \
       --steps 1 --batch 2 --max-response-tokens 16 --val-examples 0 --run-dir "$work/sft" --out "$work/teacher" \
       >>"$work/prep.log" 2>&1 \
  || { echo "FAIL: could not make the dataset, tokenizer and teacher"; show "$work/prep.log"; exit 1; }
slurm_start "$work/slurm" || { echo "FAIL: could not start Slurm"; exit 1; }
cd "$work" || exit 1

# ---- 1. array + merge ------------------------------------------------------------------------------
export RIL_BIN RIL_TEACHERS="a=$work/teacher b=$work/teacher" RIL_DATASET="$work/ds.h5" \
  RIL_CACHE="$work/cache.h5" RIL_RUN_DIR="$work/teach" RIL_RESPONSES=2 RIL_LIMIT=6 \
  RIL_EXTRA_ARGS="--max-new-tokens 8 --batch 2"
array=$(sbatch --parsable --array=0-1 --ntasks=2 --overcommit --output="$work/teach-%A_%a.out" \
  "$repo/jobs/ril-teach-array.sbatch" 2>"$work/sbatch.err")
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes --output="$work/merge-%j.out" \
  "$repo/jobs/ril-teach-merge.sbatch" 2>>"$work/sbatch.err")
[ -n "$array" ] && [ -n "$merge" ] || { echo "FAIL: sbatch"; cat "$work/sbatch.err"; exit 1; }
array_states=$(wait_job "$array")
merge_state=$(wait_job "$merge")
info=$("$RIL_BIN" info "$work/cache.h5" 2>&1)
if [ "$array_states" != COMPLETED ] || [ "$merge_state" != COMPLETED ] \
   || [ "$(echo "$info" | grep -c "coverage 6/6 questions with 2 responses (100")" -ne 2 ]; then
  fail "array $array ($array_states) + merge $merge ($merge_state): expected both teachers with coverage 6/6"
  for f in "$work"/teach-*.out "$work"/merge-*.out; do echo "  $f:"; show "$f" 15; done
  echo "$info" | sed 's/^/  | /'
else
  ok "array job $array (2 tasks, one teacher each) then merge job $merge (afterok): both COMPLETED"
  echo "$info" | grep -E "^ *teacher [a-z]+:|coverage" | sed "s/^/  /"
fi

# ---- 2. the same as one run with both teachers ------------------------------------------------------
$MPIRUN -np 2 "$RIL_BIN" teach --layout all=1,teacher=1 --run-dir "$work/one" --dataset "$work/ds.h5" \
  --teacher "a=$work/teacher" --teacher "b=$work/teacher" --out "$work/one.h5" --responses 2 --limit 6 \
  --max-new-tokens 8 --batch 2 >"$work/one.log" 2>&1
status=$?
same=1
for t in a b; do
  h5diff "$work/cache.h5" "$work/one.h5" "/teachers/$t" "/teachers/$t" >"$work/diff-$t.log" 2>&1 || same=0
done
if [ $status -ne 0 ] || [ $same -ne 1 ]; then
  fail "merged shards != one ril teach run with both teachers (exit $status)"; show "$work/one.log" 10
  show "$work/diff-a.log" 10
else
  ok "the merged cache's /teachers/a and /teachers/b are identical (h5diff) to one run with both teachers"
fi

# ---- 3. srun --multi-prog ---------------------------------------------------------------------------
mp=$(RIL_COMMAND=smoke RIL_RUN_DIR="$work/mp" RIL_LAYOUT=teacher=1,rollout=1,discriminator=1,learner=1 \
  RIL_THREADS_TEACHER=2 RIL_RESUME_ARGS="" RIL_EXTRA_ARGS="--iterations 1" \
  sbatch --parsable --ntasks=4 --overcommit --output="$work/mp-%j.out" "$repo/jobs/ril-multiprog.sbatch" 2>&1)
mp_state=$(wait_job "$mp")
if [ "$mp_state" != COMPLETED ] || ! grep -q "all checks passed" "$work/mp-$mp.out" \
   || ! grep -q "^  0-0 env OMP_NUM_THREADS=2 " "$work/mp-$mp.out" || [ ! -s "$work/mp/smoke.h5" ]; then
  fail "ril-multiprog.sbatch with ril smoke (job $mp: $mp_state)"; show "$work/mp-$mp.out" 30
else
  ok "srun --multi-prog job $mp: COMPLETED, smoke passed; its multi-prog file:"
  grep "^  [0-9]-[0-9] " "$work/mp-$mp.out" | cut -c1-110 | sed 's/$/ .../'
fi

slurm_stop
sleep 0.5
left=$(pgrep -f -- "$work/" | tr '\n' ' ')
[ -z "$left" ] && ok "nothing left running" || fail "processes left running: $left"
echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
