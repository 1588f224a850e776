#!/usr/bin/env bash
# Peak RSS of the rank that holds the learner and the discriminator under
# `ril train --offload none|optimizer|optimizer+model` (issue 18 item 4), CPU. Sets up a tiny
# synthetic dataset, a student of preset $PRESET (one SFT step from its random init) and a teacher
# cache, then runs `ril train --stage ril` $STEPS steps per mode with LAYOUT (default all=1: one
# rank is teacher, rollout, discriminator and learner) under /usr/bin/time, one file per rank.
# Prints a markdown table: per mode, what the learner and D put away (from the log) and each
# rank's peak RSS (VmHWM of the whole process, set-up included).
#   RIL=build/ril RIL_DATA=build/ril-data PRESET=tiny-llava-large STEPS=4 bench/offload_rss.sh
set -euo pipefail
RIL=${RIL:-build/ril}
RIL_DATA=${RIL_DATA:-build/ril-data}
PRESET=${PRESET:-tiny-llava-large}
STEPS=${STEPS:-4}
LAYOUT=${LAYOUT:-all=1}
NP=${NP:-1}
MODES=${MODES:-"none optimizer optimizer+model"}
OUT=${OUT:-/tmp/ril-offload-rss}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RIL=$(realpath "$RIL")
RIL_DATA=$(realpath "$RIL_DATA")
mkdir -p "$OUT"
cd "$OUT"
if [ ! -f cache.h5 ]; then
  "$RIL_DATA" synth --out d.h5 --seed 5 --train 32 --val 4 --test 4 >setup.log 2>&1
  "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1
  $MPIRUN -np 1 "$RIL" sft --dataset d.h5 --tokenizer tok.json --model "$PRESET" --style terse --steps 1 --batch 2 \
    --lr 1e-4 --lr-end 1e-4 --val-examples 0 --run-dir student --out student/model >>setup.log 2>&1
  $MPIRUN -np 1 "$RIL" teach --dataset d.h5 --teacher a=student/model --responses 2 --max-new-tokens 16 \
    --out cache.h5 >>setup.log 2>&1
fi
echo "| --offload | learner puts away MiB | D puts away MiB | peak RSS MiB per rank | wall s |"
echo "| --- | ---: | ---: | --- | ---: |"
for mode in $MODES; do
  name=run-${mode/+/-}
  rm -rf "$name" "$name".rss.*
  start=$(date +%s)
  # shellcheck disable=SC2016  # $OMPI_COMM_WORLD_RANK is the rank's, expanded by its shell
  $MPIRUN -np "$NP" sh -c '/usr/bin/time -f %M -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$name" \
    "$RIL" train --layout "$LAYOUT" --dataset d.h5 --student student/model --teacher-cache cache.h5 \
    --questions 4 --group 2 --max-new-tokens 16 --steps "$STEPS" --lr 1e-5 --disc-lr 1e-5 --offload "$mode" \
    --run-dir "$name" >"$name.log" 2>&1 || { tail -20 "$name.log" >&2; exit 1; }
  wall=$(( $(date +%s) - start ))
  lmib=$(grep -o 'learner (group rank 0) puts away [0-9]* MiB' "$name.log" | grep -o '[0-9]* MiB' | head -1 || true)
  dmib=$(grep -o 'discriminator (group rank 0) puts away [0-9]* MiB' "$name.log" | grep -o '[0-9]* MiB' | head -1 || true)
  rss=""
  for r in $(seq 0 $((NP - 1))); do
    rss="$rss rank $r: $(( $(tail -1 "$name.rss.$r") / 1024 ))"
  done
  echo "| $mode | ${lmib% MiB} | ${dmib% MiB} |$rss | $wall |"
done
