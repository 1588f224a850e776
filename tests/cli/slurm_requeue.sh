#!/usr/bin/env bash
# Stop, requeue and resume under a real single-node Slurm (tests/support/slurm_cluster.sh):
#   1. submit jobs/ril-cpu.sbatch running `ril sft` on a tiny dataset (3 ranks: one rank with the
#      other roles, which only waits, and 2 learners), many steps, no periodic checkpoints;
#   2. once training is under way, `scancel --signal=USR1 --batch JOBID` (what Slurm's
#      `--signal=B:USR1@T` does before the time limit): the batch shell passes USR1 through mpirun
#      to the ranks, the learners agree on a step S, write a checkpoint at S, log "stopped by
#      signal 10 at step S" and exit 3 (resumable), and the shell requeues the job;
#   3. the requeued job (same id, restart 1) resumes from step S (--resume), trains the remaining
#      steps and writes the final model; Slurm reports COMPLETED with one restart.
# Nothing is left running afterwards (slurm_stop in the EXIT trap).
# Env (set by ctest): RIL_BIN, RIL_SOURCE_DIR, RIL_BUILD_DIR, RIL_DATA_BIN (ril-data).
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
BUILD=${RIL_BUILD_DIR:-$(dirname "$RIL_BIN")}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
command -v slurmctld >/dev/null || { echo "FAIL: slurm-wlm is not installed (scripts/install-deps.sh installs it)"; exit 1; }
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
steps=60

"$RIL_DATA" synth --out "$work/ds.h5" --train 64 --val 8 --test 4 >"$work/data.log" 2>&1 \
  && "$RIL_DATA" tokenizer --dataset "$work/ds.h5" --out "$work/tok.json" --vocab-size 512 >>"$work/data.log" 2>&1 \
  || { echo "FAIL: could not make the dataset and tokenizer"; show "$work/data.log"; exit 1; }
slurm_start "$work/slurm" || { echo "FAIL: could not start Slurm"; exit 1; }

# ---- 1. submit -----------------------------------------------------------------------------------
cd "$work" || exit 1
run=$work/run
layout=teacher+rollout+discriminator=1,learner=2
# 3 tasks on a 2-core node: --overcommit lets Slurm place them, as mpirun --oversubscribe does.
# The variables travel in the environment (sbatch's default --export=ALL): --export=...,NAME=VALUE
# would split the layout at its commas.
job=$(RIL_BIN=$RIL_BIN RIL_COMMAND=sft RIL_RUN_DIR=$run RIL_LAYOUT=$layout \
  sbatch --parsable --overcommit --ntasks=3 --output="$work/job-%j.out" "$repo/jobs/ril-cpu.sbatch" --dataset "$work/ds.h5" --tokenizer "$work/tok.json" --model tiny-llava \
  --max-response-tokens 32 --val-examples 4 --batch 2 --lr 1e-3 --steps $steps --checkpoint-every 0 \
  --log-every 1 2>"$work/sbatch.err")
[ -n "$job" ] || { echo "FAIL: sbatch"; cat "$work/sbatch.err"; exit 1; }
out=$work/job-$job.out
first=$run/logs/sft-$job-0.log
second=$run/logs/sft-$job-1.log

# ---- 2. USR1 once training is under way ------------------------------------------------------------
for _ in $(seq 600); do
  grep -q "step 2/$steps" "$first" 2>/dev/null && break
  grep -q "ranks exited" "$out" 2>/dev/null && break  # ended early: reported below
  sleep 0.2
done
if ! grep -q "step 2/$steps" "$first" 2>/dev/null; then
  fail "training did not start within 120 s (job $job)"; show "$out"; exit 1
fi
scancel --signal=USR1 --batch "$job"
sent_at=$(grep -o "step [0-9]*/$steps" "$first" | tail -1)
for _ in $(seq 300); do grep -q "stopped by signal\|ranks exited" "$first" "$out" 2>/dev/null && break; sleep 0.2; done
line=$(grep -o "stopped by signal .*" "$first" | head -1)
stop_step=$(echo "$line" | sed -n 's/^stopped by signal 10 at step \([0-9]*\);.*/\1/p')
ckpt=$(printf "%s/checkpoints/step-%06d.h5" "$run" "${stop_step:-0}")
if [ -z "$stop_step" ] || [ "$stop_step" -ge $steps ] || ! echo "$line" | grep -q "checkpoint written: $ckpt; resume with the same command$"; then
  fail "USR1 at $sent_at: expected 'stopped by signal 10 at step S; checkpoint written: ...' with S < $steps"
  show "$first"; show "$out" 10
else
  ok "USR1 sent at $sent_at: $line"
fi

# ---- 3. requeued, resumed, finished ----------------------------------------------------------------
state=
for _ in $(seq 900); do
  state=$(scontrol -o show job "$job" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
  sleep 0.2
done
info=$(scontrol -o show job "$job" 2>/dev/null)
restarts=$(echo "$info" | grep -o "Restarts=[0-9]*" | cut -d= -f2)
if [ "$state" != COMPLETED ] || [ "${restarts:-0}" -ne 1 ] || ! echo "$info" | grep -q "ExitCode=0:0"; then
  fail "job $job: state '$state', restarts '${restarts:-?}' (expected COMPLETED after 1 requeue, exit 0)"
  show "$out" 40
else
  ok "job $job: COMPLETED, Restarts=1, ExitCode=0:0"
fi
grep -q "ril-cpu: requeueing job $job" "$out" && ok "the batch shell requeued it: $(grep -o "requeueing job $job.*" "$out")" \
  || { fail "no 'requeueing job $job' in the job output"; show "$out" 20; }

resumed=$(grep -o "resumed from .*" "$second" 2>/dev/null | head -1)
if [ -z "$stop_step" ] || [ "$resumed" != "resumed from $ckpt at step $stop_step" ] \
   || ! grep -q "step $steps/$steps" "$second" || ! grep -q "model written to $run/model" "$second" \
   || [ ! -s "$run/model/model.safetensors" ] || [ ! -s "$run/checkpoints/step-$(printf %06d $steps).h5" ]; then
  fail "the requeued run did not resume from step ${stop_step:-?} and finish $steps steps"; show "$second"
else
  ok "the requeued run $resumed, trained to step $steps/$steps and wrote $run/model"
  grep -E "trained [0-9]+ updates|val loss" "$second" | sed 's/^.*INFO  /  /'
fi

# ---- nothing left running ----------------------------------------------------------------------------
slurm_stop
sleep 0.5
left=$(pgrep -f -- "$work/" | tr '\n' ' ')
[ -z "$left" ] && ok "nothing left running" || fail "processes left running: $left"

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
