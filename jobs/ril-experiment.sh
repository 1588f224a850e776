#!/usr/bin/env bash
# The paper's comparison on our synthetic tasks, from ONE student warm-up (made by
# jobs/ril-pipeline.sh in $BASE: data, teachers, student, teacher cache, pre-trained D):
#   drgrpo      Dr.GRPO, no discriminator, no teacher responses (answer reward only)
#   ril-one     RIL with teacher a only
#   ril-two     RIL with teachers a and b
#   frozen-d    RIL (two teachers) with the discriminator frozen
#   beta0       RIL (two teachers) without the KL term (beta = 0)
#   no-answer   RIL (two teachers) with the discriminator reward only
# each for the same number of steps and for every seed in SEEDS; then `ril eval` of every result
# on the test split, and a table of held-out accuracy per task family, mean +- std over seeds,
# written to $OUT_MD (with this command line). Finished runs are skipped when run again.
#   BASE=runs/default STEPS=30 SEEDS="1 2 3" jobs/ril-experiment.sh
set -euo pipefail

RIL=${RIL:-build/ril}
BASE=${BASE:-runs/default}                 # the pipeline's run directory (must be complete)
RUN=${RUN:-$BASE/experiment}
NP=${NP:-4}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
STEPS=${STEPS:-30}
SEEDS=${SEEDS:-1 2 3}
QUESTIONS=${QUESTIONS:-4}
GROUP=${GROUP:-4}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-32}
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-64}
LR=${LR:-2e-5}
BETA=${BETA:-0.04}                 # the pipeline's value; beta0 sets 0
DISC_LR=${DISC_LR:-3e-4}
CONFIGS=${CONFIGS:-drgrpo ril-one ril-two frozen-d beta0 no-answer}
OUT_MD=${OUT_MD:-bench/experiment.md}
PY=${PY:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

for need in "$BASE/data/synth.h5" "$BASE/student/model/config.json" "$BASE/teacher_cache.h5" \
            "$BASE/disc/discriminator/config.json"; do
  [ -e "$need" ] || { echo "ril-experiment: $need is missing: run jobs/ril-pipeline.sh (RUN=$BASE) first" >&2; exit 2; }
done

args_for() {
  case $1 in
    drgrpo) echo "--no-discriminator" ;;
    ril-one) echo "--teachers a --discriminator $BASE/disc/discriminator" ;;
    ril-two) echo "--discriminator $BASE/disc/discriminator" ;;
    frozen-d) echo "--frozen-discriminator --discriminator $BASE/disc/discriminator" ;;
    beta0) echo "--discriminator $BASE/disc/discriminator" ;;  # and --beta 0, below
    no-answer) echo "--no-answer-reward --discriminator $BASE/disc/discriminator" ;;
    *) echo "ril-experiment: unknown config '$1'" >&2; exit 2 ;;
  esac
}

mkdir -p "$RUN"
start=$(date +%s)
models=(--model "warm-up=$BASE/student/model")
for cfg in $CONFIGS; do
  for seed in $SEEDS; do
    dir=$RUN/$cfg-seed$seed
    models+=(--model "$cfg-seed$seed=$dir/model")
    if [ -f "$dir/model/config.json" ]; then
      echo "== $cfg seed $seed: finished earlier ($dir)"
      continue
    fi
    echo "== $cfg seed $seed ($(( ($(date +%s) - start) / 60 )) min elapsed)"
    # shellcheck disable=SC2046  # the config's options are words
    $MPIRUN -np "$NP" "$RIL" train --stage ril --layout "all=$NP" --dataset "$BASE/data/synth.h5" \
      --student "$BASE/student/model" --teacher-cache "$BASE/teacher_cache.h5" --questions "$QUESTIONS" \
      --group "$GROUP" --max-new-tokens "$MAX_NEW_TOKENS" --steps "$STEPS" --lr "$LR" --disc-lr "$DISC_LR" \
      --beta "$([ "$cfg" = beta0 ] && echo 0 || echo "$BETA")" \
      --seed "$seed" --log-every 10 --run-dir "$dir" $(args_for "$cfg") >"$dir.log" 2>&1 \
      || { echo "ril-experiment: $cfg seed $seed failed, see $dir.log" >&2; tail -20 "$dir.log" >&2; exit 1; }
    grep "step $STEPS/$STEPS" "$dir.log" | sed 's/^.*\[train\] INFO  /   /'
  done
done

echo "== evaluation of every run on the test split"
$MPIRUN -np "$NP" "$RIL" eval --layout "all=$NP" --dataset "$BASE/data/synth.h5" --split test \
  --max-new-tokens "$EVAL_MAX_NEW_TOKENS" "${models[@]}" --out "$RUN/eval.json" --run-dir "$RUN" >"$RUN/eval.log" 2>&1 \
  || { tail -20 "$RUN/eval.log" >&2; exit 1; }

"$PY" - "$RUN/eval.json" "$OUT_MD" "$0 (BASE=$BASE STEPS=$STEPS SEEDS='$SEEDS' LR=$LR BETA=$BETA DISC_LR=$DISC_LR NP=$NP)" \
  "$CONFIGS" <<'EOF'
import json, math, platform, sys, datetime
report = json.load(open(sys.argv[1]))
out, command, configs = sys.argv[2], sys.argv[3], sys.argv[4].split()
families = report["families"]
by_name = {m["name"]: m for m in report["models"]}
def stats(names, key):
    vals = [(by_name[n]["overall"] if key is None else by_name[n]["families"].get(key, {})).get("accuracy") for n in names]
    vals = [100.0 * v for v in vals if v is not None]
    if not vals:
        return "-"
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return f"{mean:.1f} ± {std:.1f}"
rows = [("warm-up (student before RIL)", ["warm-up"])]
for cfg in configs:
    names = sorted(n for n in by_name if n.startswith(cfg + "-seed"))
    rows.append((f"{cfg} ({len(names)} seeds)", names))
head = "| run | " + " | ".join(families) + " | overall |"
lines = [head, "|" + "---|" * (len(families) + 2)]
for label, names in rows:
    lines.append(f"| {label} | " + " | ".join(stats(names, f) for f in families) + f" | {stats(names, None)} |")
table = "\n".join(lines)
print(table)
with open(out, "w") as f:
    f.write(f"# RIL ablations on the synthetic tasks\n\nMachine: {platform.node()} ({platform.processor() or platform.machine()}), "
            f"date {datetime.date.today()}.\n\nCommand: `{command}`\n\n"
            f"Held-out accuracy (%) on {report['questions']} test questions, greedy decoding, mean ± std over seeds "
            f"(per task family and overall).\n\n{table}\n")
print(f"written to {out}")
EOF
echo "== done in $(( ($(date +%s) - start) / 60 )) min"
