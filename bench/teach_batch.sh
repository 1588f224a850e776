#!/usr/bin/env bash
# Issue 17 item 2: `ril teach` throughput at --batch 1 (every response alone: the path before
# batching) against batched generation (default --batch 32), same teacher, questions and seed, in
# one run, one rank; the caches must hold the same texts (bench/RESULTS.md, section 7).
#
# The teacher is the pipeline's (jobs/ril-pipeline.sh): TEACHER (tiny-llava-48-p24) on 48x48
# images, after STEPS SFT updates on the terse rationales so that it has learnt to end its answers
# (responses stop at their own <|im_end|>, as the pipeline's teachers do). Reported per batch size,
# from the last progress line of `ril teach` (generation only: loading excluded): tokens/s and
# responses/s; and the whole process's wall and CPU seconds (/usr/bin/time). On a loaded machine
# read tokens per CPU-second too.
#
# ROUNDS rounds, each running every batch size back to back: the speed-up is per round (against
# the first batch size of the same round), so that a load change between rounds does not count.
#
# Usage: bench/teach_batch.sh [OUT_DIR]     (default $RIL_BUILD_DIR/bench-out/teach-<UTC date>)
# Environment: RIL_BUILD_DIR (build), QUESTIONS (128), RESPONSES (4), MAX_NEW (48), STEPS (200),
#   BATCHES ("1 32": the first is the baseline), ROUNDS (3), THREADS (1: OMP/OpenBLAS threads),
#   TEACHER.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${RIL_BUILD_DIR:-$repo/build}
out=${1:-$build/bench-out/teach-$(date -u +%Y%m%dT%H%M%SZ)}
questions=${QUESTIONS:-128}
responses=${RESPONSES:-4}
max_new=${MAX_NEW:-48}
steps=${STEPS:-200}
batches=${BATCHES:-1 32}
rounds=${ROUNDS:-3}
teacher=${TEACHER:-tiny-llava-48-p24}
threads=${THREADS:-1}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ril=$build/ril
mkdir -p "$out"
out=$(cd "$out" && pwd)

{
  echo "machine: $(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); uptime: $(uptime)"
  echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown); threads: $threads"
  echo "settings: teacher $teacher ($steps SFT steps), $questions questions x $responses responses, --max-new-tokens $max_new, batches: $batches"
} | tee "$out/machine.txt"

if [ ! -f "$out/teacher/model/config.json" ]; then
  "$build/ril-data" synth --out "$out/d.h5" --overwrite --seed 5 --train 512 --val 8 --test 8 --image-size 48 --grid 2 \
    --families attribute,counting --min-objects 2 --max-objects 4 --max-count 3 --colours 4 --shapes 3 >"$out/setup.log" 2>&1
  "$build/ril-data" tokenizer --dataset "$out/d.h5" --out "$out/tokenizer.json" >>"$out/setup.log" 2>&1
  "$ril" sft --dataset "$out/d.h5" --tokenizer "$out/tokenizer.json" --model "$teacher" --style terse --steps "$steps" \
    --batch 8 --lr 1e-3 --lr-end 3e-4 --val-examples 0 --log-every 50 --run-dir "$out/teacher" \
    --out "$out/teacher/model" >>"$out/setup.log" 2>&1
fi

table=$out/table.md
echo "| round | --batch | responses | tokens | tokens/s | responses/s | wall s | CPU s | tokens/CPU-s | speed-up tokens/s | speed-up tokens/CPU-s |" >"$table"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" >>"$table"
for r in $(seq 1 "$rounds"); do
  base=""; base_cpu=""
  for b in $batches; do
    tag=r$r-b$b
    rm -f "$out/$tag.h5"
    /usr/bin/time -f "%e %U %S" -o "$out/$tag.time" "$ril" teach --dataset "$out/d.h5" --teacher "t=$out/teacher/model" \
      --responses "$responses" --limit "$questions" --max-new-tokens "$max_new" --seed 11 --batch "$b" \
      --out "$out/$tag.h5" >"$out/$tag.log" 2>&1
    last=$(grep "responses/s, ETA" "$out/$tag.log" | tail -1)
    tps=$(sed -E 's/.* ([0-9.]+) tokens\/s.*/\1/' <<<"$last")
    rps=$(sed -E 's/.* ([0-9.]+) responses\/s.*/\1/' <<<"$last")
    tokens=$(sed -E 's/.*, ([0-9]+) tokens, .*/\1/' <<<"$last")
    read -r wall user sys <"$out/$tag.time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    per_cpu=$(awk -v t="$tokens" -v c="$cpu" 'BEGIN { printf "%.1f", t / c }')
    [ -z "$base" ] && base=$tps && base_cpu=$per_cpu
    speedup=$(awk -v a="$tps" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    speedup_cpu=$(awk -v a="$per_cpu" -v b="$base_cpu" 'BEGIN { printf "%.2f", a / b }')
    echo "| $r | $b | $(grep -o '[0-9]*/[0-9]* responses' <<<"$last" | head -1 | cut -d/ -f1) | $tokens | $tps | $rps | $wall | $cpu | $per_cpu | $speedup | $speedup_cpu |" >>"$table"
    echo "round $r, --batch $b: $last"
  done
done
echo "load after: $(uptime)" | tee -a "$out/machine.txt"

# The caches must hold the same (question, sample, text) rows.
dump() {
  /usr/bin/python3 - "$1" <<'EOF'
import sys, h5py
g = h5py.File(sys.argv[1], "r")["teachers/t"]
n = int(g.attrs["committed"])
q, s = g["question_id"][:n], g["sample_index"][:n]
off, b = g["response/offsets"][: n + 1], g["response/bytes"][:]
for r in sorted((int(q[i]), int(s[i]), bytes(b[off[i]:off[i + 1]]).hex()) for i in range(n)):
    print(*r)
EOF
}
first=""
for b in $batches; do
  dump "$out/r1-b$b.h5" >"$out/b$b.txt"
  if [ -z "$first" ]; then first=$b; continue; fi
  if cmp -s "$out/b$first.txt" "$out/b$b.txt"; then echo "caches at --batch $first and $b: identical ($(wc -l <"$out/b$b.txt") rows)"
  else echo "caches at --batch $first and $b DIFFER in $(diff "$out/b$first.txt" "$out/b$b.txt" | grep -c '^<') rows"; fi
done | tee "$out/compare.txt"
cat "$table"
