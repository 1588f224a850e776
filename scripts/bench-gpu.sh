#!/usr/bin/env bash
# The GPU benchmarks of issue 7, for one H100/H200 (figures go to bench/RESULTS.md, GPU section).
# Run from the checkout root on the GPU machine, after the CUDA build (see
# /work/shared/device/README.md: `.gpu/` beside the checkout root, `source .gpu/gpu-env.sh`,
# `cmake -S . -B build-gpu $RIL_GPU_CMAKE_ARGS && cmake --build build-gpu -j16`); bench targets
# missing from build-gpu are built first (about a minute).
#   1. bench_decode bf16: tiny and qwen2-0.5b, batches 1,4,16,64, prompt 16, 64 new tokens (--dump)
#   2. bench_decode fp32: qwen2-0.5b, batch 64 (the strict token-identity case); bf16 tiny and
#      qwen2-0.5b again with --path generic (the cached step before issue 17's fused one-token
#      path, which on the GPU runs its ATen twins): before/after in the same run
#   3. hf_generate_baseline.py: HF transformers generate on the same weights and prompts, batch 64,
#      bf16 (tokens/s, ratio ours / HF: target >= 3) + fp32 with TF32 off (tokens must be identical)
#   4. bench_learner: qwen2-0.5b, T 1024, bf16 with fp32 master weights, batch 8 (4 if 8 fails),
#      MFU vs the measured bf16 matmul and vs the nominal 989 TFLOP/s (H100/H200 SXM dense bf16)
#   5. bench_weight_sync: 2 ranks sharing the GPU (MPI host-staged), qwen2-0.5b, bf16 and fp32
# About 3 minutes. Every step has a timeout and a failed step does not stop the others.
# Output (at exit, also after a failure): $OUT/bench/bench-gpu.log (console),
# $OUT/bench/gpu_results.json (every result file merged), $OUT/bench/bench-gpu-json.tar.gz (the
# individual JSON files, decode_case.json with the generated tokens included).
#
# Usage: OUT=/some/dir scripts/bench-gpu.sh      (BUILD=build-gpu by default)
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
OUT=${OUT:?set OUT to the folder that comes back}
build=${BUILD:-$repo/build-gpu}
dest="$OUT/bench"
work=${BENCH_WORK:-/tmp/ril-bench-gpu}
mkdir -p "$dest" "$work"
exec > >(tee "$dest/bench-gpu.log") 2>&1

finish() {
  # Bundle what exists, whatever happened (the device returns at most 8 files).
  (cd "$work" && find . -name '*.json' -not -path './*/model/*' | sort | tar czf "$dest/bench-gpu-json.tar.gz" -T -) || true
  python3 - "$work" "$dest/gpu_results.json" <<'EOF' || true
import glob, json, os, sys
work, dest = sys.argv[1], sys.argv[2]
merged = {}
for p in sorted(glob.glob(os.path.join(work, "*.json"))):
    try:
        merged[os.path.basename(p)] = json.load(open(p))
    except Exception as e:  # a half-written file: say so
        merged[os.path.basename(p)] = {"error": str(e)}
json.dump(merged, open(dest, "w"), indent=1)
print(f"merged {len(merged)} result file(s) into {dest}")
EOF
}
trap finish EXIT

[ -f .gpu/gpu-env.sh ] && source .gpu/gpu-env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
B="$build/bench"
failed=()
step() {  # step NAME TIMEOUT CMD...
  local name=$1 limit=$2; shift 2
  echo; echo "== $name ($(date -u +%H:%M:%S), limit ${limit}s)"; echo "\$ $*"
  local t0=$SECONDS
  timeout "$limit" "$@"
  local rc=$?
  echo "-- $name: exit $rc after $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || failed+=("$name")
  return $rc
}

echo "bench-gpu: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'

missing=()
for t in bench_decode bench_learner bench_weight_sync; do [ -x "$B/$t" ] || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "build ${missing[*]}" 300 cmake --build "$build" --target "${missing[@]}" -j16 || exit 1
fi

step "decode tiny bf16" 90 "$B/bench_decode" --device cuda --dtype bf16 --preset tiny --batches 1,4,16,64 \
    --prompt-len 16 --new-tokens 64 --repeats 3 --dump "$work/tiny_bf16" --json "$work/decode_tiny_bf16.json"
step "decode qwen2-0.5b bf16" 180 "$B/bench_decode" --device cuda --dtype bf16 --preset qwen2-0.5b \
    --batches 1,4,16,64 --prompt-len 16 --new-tokens 64 --repeats 3 --dump "$work/q05_bf16" \
    --json "$work/decode_05b_bf16.json"
step "decode qwen2-0.5b fp32" 120 "$B/bench_decode" --device cuda --dtype fp32 --preset qwen2-0.5b \
    --batches 64 --prompt-len 16 --new-tokens 64 --repeats 2 --dump "$work/q05_fp32" \
    --json "$work/decode_05b_fp32.json"
step "decode tiny bf16, generic step" 60 "$B/bench_decode" --device cuda --dtype bf16 --preset tiny --batches 1,64 \
    --prompt-len 16 --new-tokens 64 --repeats 3 --path generic --json "$work/decode_tiny_bf16_generic.json"
step "decode qwen2-0.5b bf16, generic step" 120 "$B/bench_decode" --device cuda --dtype bf16 --preset qwen2-0.5b \
    --batches 1,64 --prompt-len 16 --new-tokens 64 --repeats 3 --path generic --json "$work/decode_05b_bf16_generic.json"
cases=()
for c in tiny_bf16 q05_bf16; do [ -f "$work/$c/decode_case.json" ] && cases+=(--case "$work/$c"); done
strict=()
[ -f "$work/q05_fp32/decode_case.json" ] && strict=(--fp32-case "$work/q05_fp32")
if [ ${#cases[@]} -gt 0 ]; then
  step "HF generate baseline" 240 python3 bench/python/hf_generate_baseline.py "${cases[@]}" "${strict[@]}" \
      --batch 64 --repeats 3 --json "$work/hf_generate_baseline.json"
fi
rm -rf "$work"/*/model  # 2 GB each

step "learner qwen2-0.5b bf16 B8 T1024" 180 "$B/bench_learner" --device cuda --dtype bf16 --preset qwen2-0.5b \
    --seq 1024 --batch 8 --steps 5 --warmup 2 --peak-tflops 989 --json "$work/learner_bf16.json" \
  || step "learner qwen2-0.5b bf16 B4 T1024" 120 "$B/bench_learner" --device cuda --dtype bf16 \
    --preset qwen2-0.5b --seq 1024 --batch 4 --steps 5 --warmup 2 --peak-tflops 989 --json "$work/learner_bf16.json"

for dt in bf16 fp32; do
  step "weight sync qwen2-0.5b $dt, 2 ranks on one GPU" 120 mpirun --oversubscribe -np 2 "$B/bench_weight_sync" \
      --device cuda --dtype $dt --preset qwen2-0.5b --buckets 4,32,256 --repeats 3 --json "$work/weight_sync_$dt.json"
done

echo
echo "== summary"
python3 - "$work" <<'EOF'
import json, os, sys
w = sys.argv[1]
def load(n):
    p = os.path.join(w, n)
    return json.load(open(p)) if os.path.exists(p) else None
for n in ("decode_tiny_bf16.json", "decode_05b_bf16.json", "decode_05b_fp32.json"):
    j = load(n)
    if j:
        s = j["settings"]
        for r in j["results"]:
            frac = r["fraction_of_bound"]
            print(f"decode {s['preset']:>10} {s['dtype']} B{r['batch']:>3}: {r['e2e_tokens_per_s']:9.0f} tok/s e2e, "
                  f"{(r['decode_tokens_per_s'] or 0):9.0f} decode, bound {r['bound_tokens_per_s']:9.0f}, "
                  f"{'n/a' if frac is None else f'{100*frac:.1f}%'} of bound (target: within 2x = >= 50% at B64)")
j = load("hf_generate_baseline.json")
if j:
    for r in j["results"]:
        print(f"HF {r['preset']} {r['dtype']} B{r['batch']}: ours {r['ours_tokens_per_s']:.0f} vs HF {r['hf_tokens_per_s']:.0f} "
              f"tok/s = {r['ratio']:.2f}x (target 3x); rows identical {r['rows_identical']}/{r['batch']}")
    if j.get("strict_fp32"):
        s = j["strict_fp32"]
        print(f"strict fp32 token identity vs HF: {'IDENTICAL' if s['identical'] else 'DIFFERENT'} ({s['rows_identical']}/{s['batch']} rows)")
j = load("learner_bf16.json")
if j:
    r = j["results"][0]
    print(f"learner {j['settings']['preset']} bf16 B{j['settings']['batch']} T{j['settings']['seq']}: {r['tokens_per_s']:.0f} tok/s, "
          f"MFU {100*r.get('mfu_6n_vs_nominal', 0):.1f}% of 989 (6N), {100*r['mfu_6n_vs_measured_matmul']:.1f}% of measured "
          f"{j['peak_matmul']['tflops']:.0f} TFLOP/s (target 35%)")
for dt in ("bf16", "fp32"):
    j = load(f"weight_sync_{dt}.json")
    if j:
        for r in j["results"]:
            print(f"weight sync {dt} bucket {r['bucket_mib']:>3} MiB: {r['sync_seconds']:.3f} s, {r['sync_gbs']:.2f} GB/s "
                  f"(raw {r['raw_gbs']:.2f} GB/s), backend {j['settings']['backend']}")
EOF
echo
if [ ${#failed[@]} -gt 0 ]; then echo "failed steps: ${failed[*]}"; exit 1; fi
echo "all steps passed"
