#!/usr/bin/env bash
# The CPU benchmarks of issue 7 in one go (figures recorded in bench/RESULTS.md):
#   1. bench_decode, tiny: batches 1,4,16,64, 64 new tokens; then the Python baseline
#      (bench/python/decode_baseline.py, Debian's python3-torch) on the same weights and prompts:
#      tokens must be identical; ratio ours / Python per batch (target >= 1.5 on tiny)
#   2. bench_decode, qwen2-0.5b: batches 1,4, 16 new tokens; Python baseline likewise
#   3. bench_learner, qwen2-0.5b at T = 1024 (LEARNER_LAYERS layers; 24 = the full model)
#   4. bench_weight_sync, qwen2-0.5b parameter set (fp32, 1.98 GB), 2 MPI ranks
#   5. bench_h5, teacher cache vs dd, in H5_DIR
# Both decode programs run with the same threads (THREADS: at::set_num_threads /
# torch.set_num_threads, OMP_NUM_THREADS) and the same environment.
#
# Usage: scripts/bench-cpu.sh [OUT_DIR]    (default $RIL_BUILD_DIR/bench-out/cpu-<UTC date>)
# Environment: RIL_BUILD_DIR (default build; benches built there if missing), THREADS (1),
#   QUICK=1 (every bench with --quick: a minute), LEARNER_LAYERS (24), SKIP="learner sync ..."
#   (steps to skip: decode_tiny decode_05b learner sync h5), H5_DIR (OUT_DIR).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${RIL_BUILD_DIR:-$repo/build}
out=${1:-$build/bench-out/cpu-$(date -u +%Y%m%dT%H%M%SZ)}
threads=${THREADS:-1}
quick=${QUICK:-0}
learner_layers=${LEARNER_LAYERS:-24}
skip=" ${SKIP:-} "
py=/usr/bin/python3
mkdir -p "$out"
out=$(cd "$out" && pwd)
h5_dir=${H5_DIR:-$out}

bench_targets="bench_decode bench_learner bench_weight_sync bench_h5"
missing=0
for t in $bench_targets; do [ -x "$build/bench/$t" ] || missing=1; done
if [ $missing -eq 1 ]; then
  echo "== building the benchmarks in $build"
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" --target $bench_targets -- -j2
fi
"$py" -c "import torch, numpy" || { echo "need Debian's python3-torch at $py (apt-get install python3-torch)"; exit 1; }

export OMP_NUM_THREADS=$threads
mpirun_cmd=${RIL_MPIRUN:-mpirun --oversubscribe}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
q=""; [ "$quick" = 1 ] && q="--quick"
B="$build/bench"
log() { echo; echo "== $*"; }
wants() { [[ "$skip" != *" $1 "* ]]; }

{
  echo "machine: $(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load: $(cut -d' ' -f1-3 /proc/loadavg); threads: $threads"
  echo "env: OMP_NUM_THREADS=$OMP_NUM_THREADS OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-unset}" \
       "MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-unset} MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-unset}"
  echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

if wants decode_tiny; then
  log "1. decode, tiny: ours, then Python on the same weights and prompts"
  if [ "$quick" = 1 ]; then
    "$B/bench_decode" --quick --threads "$threads" --dump "$out/tiny" --json "$out/decode_tiny.json"
    "$py" "$repo/bench/python/decode_baseline.py" --case "$out/tiny" --repeats 1 --json "$out/baseline_tiny.json"
  else
    "$B/bench_decode" --preset tiny --batches 1,4,16,64 --new-tokens 64 --prompt-len 16 --repeats 5 \
        --threads "$threads" --dump "$out/tiny" --json "$out/decode_tiny.json"
    "$py" "$repo/bench/python/decode_baseline.py" --case "$out/tiny" --repeats 5 --json "$out/baseline_tiny.json"
  fi
fi

if wants decode_05b && [ "$quick" != 1 ]; then
  log "2. decode, qwen2-0.5b (random weights): ours, then Python"
  "$B/bench_decode" --preset qwen2-0.5b --batches 1,4 --new-tokens 16 --prompt-len 16 --repeats 3 \
      --threads "$threads" --dump "$out/q05" --json "$out/decode_05b.json"
  "$py" "$repo/bench/python/decode_baseline.py" --case "$out/q05" --repeats 3 --json "$out/baseline_05b.json"
  rm -rf "$out/q05/model"  # 2 GB of random weights
fi

if wants learner; then
  log "3. learner step, qwen2-0.5b, T 1024, $learner_layers layers"
  if [ "$quick" = 1 ]; then
    "$B/bench_learner" --quick --threads "$threads" --json "$out/learner.json"
  else
    "$B/bench_learner" --preset qwen2-0.5b --layers "$learner_layers" --seq 1024 --batch 1 --steps 2 --warmup 1 \
        --threads "$threads" --json "$out/learner.json"
  fi
fi

if wants sync; then
  log "4. weight sync, qwen2-0.5b parameter set, 2 ranks"
  if [ "$quick" = 1 ]; then
    OMP_NUM_THREADS=1 $mpirun_cmd -np 2 "$B/bench_weight_sync" --quick --json "$out/weight_sync.json"
  else
    OMP_NUM_THREADS=1 $mpirun_cmd -np 2 "$B/bench_weight_sync" --preset qwen2-0.5b --dtype fp32 \
        --buckets 1,4,16,32,64,256 --repeats 3 --json "$out/weight_sync.json"
  fi
fi

if wants h5; then
  log "5. HDF5 teacher cache vs dd in $h5_dir"
  "$B/bench_h5" $q --dir "$h5_dir" --json "$out/h5.json"
fi

log "summary: decode ours vs Python (target: ours >= 1.5x on tiny)"
"$py" - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
for name in ("tiny", "05b"):
    p = os.path.join(out, f"baseline_{name}.json")
    if not os.path.exists(p):
        continue
    j = json.load(open(p))
    s = j["settings"]
    print(f"{s['preset']} ({s['layers']} layers), {s['new_tokens']} new tokens, {j['threads']} thread(s):")
    print(f"  {'batch':>5}  {'identical':>9}  {'ours tok/s':>10}  {'python tok/s':>12}  {'ratio':>5}  {'target':>6}")
    for r in j["results"]:
        target = "1.5" if s["preset"] == "tiny" else "-"
        met = "" if target == "-" else ("  met" if r["ratio_e2e"] >= 1.5 else "  MISSED")
        print(f"  {r['batch']:>5}  {'yes' if r['identical'] else 'NO':>9}  {r['ours_e2e_tokens_per_s']:>10.0f}  "
              f"{r['python_e2e_tokens_per_s']:>12.0f}  {r['ratio_e2e']:>5.2f}  {target:>6}{met}")
EOF
echo
echo "results: $out"
