#!/usr/bin/env bash
# The paper's model families through the real commands (issue 15): a tiny Qwen2.5-VL student
# learns from a tiny InternVL3 teacher of another tokenizer, on 72x72 images, the native size of
# neither (Qwen2.5-VL resizes them to 64x64 = 16 merged patches, InternVL to one 64-px tile = 16
# tokens). Real MPI ranks, real HDF5 files:
# - ril sft makes both from the presets tiny-internvl3 and tiny-qwen2.5-vl (2 steps each, the
#   student on 2 data-parallel ranks); the directories say their architectures;
# - ril teach fills a cache with the InternVL3 teacher's responses (text: the student re-tokenizes);
# - ril train --stage disc (2 steps), then --stage ril (2 steps) with 1 rank and with 4 ranks (one
#   role each, so the student's weights cross ranks): student, discriminator and metrics bitwise
#   equal, and the student moved;
# - ril eval scores the teacher, the trained student and its RIL checkpoint; the checkpoint
#   answers exactly like the saved model;
# - ril info --model prints sizes of the real shapes (qwen2.5-vl-3b, internvl3-1b) and of a
#   model directory;
# - bad input: a student whose max_pixels leaves the dataset's images no merged patch is refused,
#   naming the size, before anything is trained; a model directory whose model_type ril does not
#   know is refused naming the file and key.
# shellcheck source=../support/cli_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_lib.sh"

# ---- set-up: data, two tokenizers, a teacher and a student by ril sft ---------------------------
"$RIL_DATA" synth --out d.h5 --seed 7 --image-size 72 --train 8 --val 2 --test 4 >setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok.json >>setup.log 2>&1 \
  && "$RIL_DATA" tokenizer --dataset d.h5 --out tok-teacher.json --vocab-size 320 >>setup.log 2>&1 \
  || { fail "datasets and tokenizers" setup.log; exit 1; }
sft() {  # np name preset tokenizer
  $MPIRUN -np "$1" "$RIL_BIN" sft --layout "all=$1" --dataset d.h5 --tokenizer "$4" --model "$3" --style terse \
    --steps 2 --batch 2 --lr 1e-3 --lr-end 1e-3 --val-examples 2 --run-dir "runs/$2" --out "runs/$2/model"
}
if sft 1 teacher tiny-internvl3 tok-teacher.json >teacher.log 2>&1 && sft 2 student tiny-qwen2.5-vl tok.json >student.log 2>&1 \
   && grep -q '"InternVLForConditionalGeneration"' runs/teacher/model/config.json \
   && grep -q '"Qwen2_5_VLForConditionalGeneration"' runs/student/model/config.json \
   && [ -f runs/student/model/preprocessor_config.json ] && grep -q "16 image tokens per prompt" student.log \
   && grep -q "val loss" student.log; then
  ok "ril sft: an InternVL3 teacher (1 rank) and a Qwen2.5-VL student (2 ranks), 16 image tokens per 72x72 image"
else
  fail "ril sft of the two families" teacher.log; sed 's/^/  | /' student.log | tail -15; exit 1
fi

# ---- ril teach: the InternVL3 teacher's responses ------------------------------------------------
if $MPIRUN -np 2 "$RIL_BIN" teach --layout all=2 --dataset d.h5 --teacher internvl=runs/teacher/model --responses 2 \
     --max-new-tokens 12 --out cache.h5 >teach.log 2>&1 && grep -q "coverage 8/8" teach.log; then
  ok "ril teach: InternVL3 teacher, 2 ranks, every train question answered twice"
else
  fail "ril teach with the InternVL3 teacher" teach.log; exit 1
fi

# ---- ril train: --stage disc, then --stage ril with 1 and 4 ranks --------------------------------
data=(--dataset d.h5 --teacher-cache cache.h5 --questions 4 --group 2 --max-new-tokens 12 --steps 2)
common=("${data[@]}" --student runs/student/model)
if $MPIRUN -np 1 "$RIL_BIN" train --stage disc "${common[@]}" --pretrain-lr 1e-3 --pretrain-lr-end 1e-3 \
     --run-dir runs/disc >disc.log 2>&1 && [ -f runs/disc/discriminator/config.json ] && grep -q "step 2/2" disc.log; then
  ok "ril train --stage disc: 2 steps on student (Qwen2.5-VL) vs teacher (InternVL3) responses"
else
  fail "ril train --stage disc" disc.log; exit 1
fi
ril() {  # name np
  $MPIRUN -np "$2" "$RIL_BIN" train "${common[@]}" --discriminator runs/disc/discriminator --lr 1e-3 --disc-lr 1e-3 \
    --run-dir "runs/$1" >"$1.log" 2>&1 && [ -f "runs/$1/model/model.safetensors" ] \
    && grep -q '"Qwen2_5_VLForConditionalGeneration"' "runs/$1/model/config.json"
}
if ril ril1 1 && ril ril4 4; then
  ok "ril train --stage ril: 2 steps with 1 rank and with 4 ranks (one role each)"
else
  fail "ril train --stage ril" ril1.log; sed 's/^/  | /' ril4.log | tail -15; exit 1
fi
same=1
for f in model/model.safetensors discriminator/model.safetensors; do
  [ "$(sum "runs/ril1/$f")" = "$(sum "runs/ril4/$f")" ] || same=0
done
if [ $same = 1 ] && [ "$(sum runs/ril1/model/model.safetensors)" != "$(sum runs/student/model/model.safetensors)" ] \
   && "$PY" - runs/ril1/metrics.csv runs/ril4/metrics.csv <<'EOF'; then
import csv, math, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) == 2, (len(a), len(b))
for ra, rb in zip(a, b):
    for k in ra:
        if not (k.startswith("time_") or k == "tokens_per_s"):
            assert ra[k] == rb[k], (k, ra[k], rb[k])
    assert math.isfinite(float(ra["reward_teacher"])) and math.isfinite(float(ra["policy_loss"])), ra
EOF
  ok "-np 4 gives the -np 1 student, discriminator and metrics bitwise; the student moved"
else
  fail "-np 4 differs from -np 1 (or the student did not move)" ril4.log
fi

# ---- ril eval: teacher, student, checkpoint ------------------------------------------------------
ckpt=$(ls runs/ril1/checkpoints/step-*.h5 2>/dev/null | grep -v rank | tail -1)
if $MPIRUN -np 2 "$RIL_BIN" eval --dataset d.h5 --model teacher=runs/teacher/model --model student=runs/ril1/model \
     --model "ckpt=$ckpt" --batch 2 --max-new-tokens 12 --run-dir runs/eval >eval.log 2>&1 \
   && "$PY" - runs/eval/eval.json <<'EOF'; then
import json, sys
m = {x["name"]: x for x in json.load(open(sys.argv[1]))["models"]}
assert m["teacher"]["model_type"] == "internvl" and m["student"]["model_type"] == "qwen2_5_vl", m.keys()
assert m["ckpt"]["source"] == "checkpoint" and m["ckpt"]["checkpoint_step"] == 2, m["ckpt"]["source"]
assert m["ckpt"]["questions"] == m["student"]["questions"], "the checkpoint answers differently from its model"
assert all(len(x["questions"]) == 4 for x in m.values())
EOF
  ok "ril eval: InternVL3 teacher, Qwen2.5-VL student, and its checkpoint (same answers as the saved model)"
else
  fail "ril eval of the two families" eval.log
fi

# ---- ril info --model ----------------------------------------------------------------------------
if "$RIL_BIN" info --model qwen2.5-vl-3b >info-q.txt 2>&1 && "$RIL_BIN" info --model internvl3-1b >info-i.txt 2>&1 \
   && "$RIL_BIN" info --model runs/student/model >info-s.txt 2>&1 \
   && "$PY" - info-q.txt info-i.txt info-s.txt <<'EOF'; then
import re, sys
def total(path, kind):
    text = open(path).read()
    assert "(" + kind + ")" in text and "vision forward" in text and "training (AdamW)" in text, text
    return int(re.search(r"total parameters: (\d+)", text).group(1))
q, i, s = total(sys.argv[1], "qwen2_5_vl"), total(sys.argv[2], "internvl"), total(sys.argv[3], "qwen2_5_vl")
# The released checkpoints hold 3.75e9 (Qwen2.5-VL-3B) and 0.94e9 (InternVL3-1B) parameters.
assert 3.6e9 < q < 3.9e9 and 0.9e9 < i < 1.0e9 and s < 5e6, (q, i, s)
print(q, i, s)
EOF
  ok "ril info --model: qwen2.5-vl-3b $(grep -o 'total parameters: [0-9]*' info-q.txt), internvl3-1b $(grep -o 'total parameters: [0-9]*' info-i.txt)"
else
  fail "ril info --model" info-q.txt; sed 's/^/  | /' info-i.txt info-s.txt | tail -10
fi

# ---- bad input -------------------------------------------------------------------------------------
mkdir -p tiny-pixels && cp runs/student/model/* tiny-pixels/ && "$PY" - tiny-pixels/preprocessor_config.json <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["min_pixels"] = p["max_pixels"] = 100  # under one 16x16 merged patch
p["size"] = {"shortest_edge": 100, "longest_edge": 100}
json.dump(p, open(sys.argv[1], "w"))
EOF
$MPIRUN -np 1 "$RIL_BIN" train "${data[@]}" --student tiny-pixels --discriminator runs/disc/discriminator \
  --run-dir runs/tiny-pixels >tiny-pixels.log 2>&1
status=$?
if [ $status = 2 ] && grep -q "72x72 image leaves no merged patch on a side within max_pixels 100" tiny-pixels.log \
   && [ ! -e runs/tiny-pixels/checkpoints ]; then
  ok "a student whose max_pixels leaves no merged patch of the 72x72 images: exit 2, the size named, nothing written"
else
  fail "max_pixels below one merged patch (exit $status)" tiny-pixels.log
fi
mkdir -p bad && cp runs/student/model/* bad/ && sed -i 's/"model_type": "qwen2_5_vl"/"model_type": "qwen2_5_omni"/' bad/config.json
$MPIRUN -np 1 "$RIL_BIN" train "${data[@]}" --student bad --discriminator runs/disc/discriminator \
  --run-dir runs/bad >bad.log 2>&1
status=$?
if [ $status = 2 ] && grep -q "bad/config.json" bad.log && grep -q "model_type" bad.log && [ ! -e runs/bad/checkpoints ]; then
  ok "an unknown model_type: exit 2, naming the file and the key"
else
  fail "unknown model_type (exit $status)" bad.log
fi

echo "model_families: $passed passed, $failures failed"
[ "$failures" = 0 ]
