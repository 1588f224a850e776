#!/usr/bin/env bash
# `ril teach` end to end: a tiny synthetic dataset and tokenizer, a random-weight teacher made
# from the committed ref_qwen2 fixture (vocabulary widened to the tokenizer's, new embeddings),
# then: --batch 1, 7 (a question's samples split over commits) and the default (32) on 1 rank,
# 2 ranks (both teachers) at the default and 4 ranks (2 teacher ranks) at --batch 2 all give the
# same cache, text for text; a run killed with SIGKILL midway and resumed (at other batch sizes)
# gives the same cache as an uninterrupted one; a rerun does nothing new; `ril info` shows full
# coverage; JSONL import; a cache of another dataset is refused.
set -u
RIL_BIN=${RIL_BIN:?set RIL_BIN to the ril executable}
BUILD=${RIL_BUILD_DIR:-$(dirname "$RIL_BIN")}
RIL_DATA=${RIL_DATA_BIN:?set by ctest: the ril-data executable}
MPIRUN=${RIL_MPIRUN:-mpirun --oversubscribe}
SRC=${RIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -25; failures=$((failures + 1)); }
ok() { echo "ok: $1"; passed=$((passed + 1)); }

# Data, tokenizer, teacher.
"$RIL_DATA" synth --out "$work/d.h5" --seed 5 --train 24 --val 2 --test 2 >"$work/synth.log" 2>&1 \
  || { fail "ril-data synth" "$work/synth.log"; exit 1; }
"$RIL_DATA" synth --out "$work/other.h5" --seed 6 --train 24 --val 2 --test 2 >>"$work/synth.log" 2>&1 \
  || { fail "ril-data synth (other)" "$work/synth.log"; exit 1; }
"$RIL_DATA" tokenizer --dataset "$work/d.h5" --out "$work/tokenizer.json" --vocab-size 400 >"$work/tok.log" 2>&1 \
  || { fail "ril-data tokenizer" "$work/tok.log"; exit 1; }
mkdir -p "$work/teacher"
"$PY" - "$SRC/tests/fixtures/model/ref_qwen2" "$work/tokenizer.json" "$work/teacher" <<'EOF' || { fail "teacher checkpoint"; exit 1; }
import json, struct, sys, shutil
import numpy as np
src, tok_path, dst = sys.argv[1:4]
tok = json.load(open(tok_path))
ids = list(tok["model"]["vocab"].values()) + [t["id"] for t in tok.get("added_tokens", [])]
vocab = max(ids) + 1
cfg = json.load(open(src + "/config.json"))
cfg["vocab_size"] = vocab
names = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
eos = names.get("<|im_end|>", names.get("<|endoftext|>"))
if eos is not None:
    cfg["eos_token_id"] = eos
cfg.pop("bos_token_id", None)
json.dump(cfg, open(dst + "/config.json", "w"), indent=2)
f = open(src + "/model.safetensors", "rb")
n = struct.unpack("<Q", f.read(8))[0]
header = json.loads(f.read(n))
data = f.read()
tensors = {}
for k, v in header.items():
    if k == "__metadata__":
        continue
    a, b = v["data_offsets"]
    tensors[k] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"])
rng = np.random.default_rng(3)
tensors["model.embed_tokens.weight"] = (rng.standard_normal((vocab, cfg["hidden_size"])) * 0.5).astype(np.float32)
out_header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for k in sorted(tensors):
    raw = np.ascontiguousarray(tensors[k]).tobytes()
    out_header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
h = json.dumps(out_header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(dst + "/model.safetensors", "wb") as o:
    o.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
shutil.copy(tok_path, dst + "/tokenizer.json")
EOF

# Sorted dump of the committed rows of every teacher: "teacher q s text".
dump() {
  "$PY" - "$1" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = []
for name, g in f["teachers"].items():
    n = int(g.attrs["committed"])
    q = g["question_id"][:n]; s = g["sample_index"][:n]
    off = g["response/offsets"][: n + 1]; b = g["response/bytes"][:]
    for i in range(n):
        rows.append((name, int(q[i]), int(s[i]), bytes(b[off[i]:off[i + 1]]).hex()))
rows.sort()
for r in rows:
    print(*r)
EOF
}

common=(--dataset "$work/d.h5" --teacher "small=$work/teacher" --responses 3 --seed 11)
small=(--batch 2 --max-new-tokens 12)
teach() {  # teach LOG NP ARGS...
  local log=$1 np=$2; shift 2
  if [ "$np" = 1 ]; then timeout 300 $MPIRUN -np 1 "$RIL_BIN" teach "${common[@]}" "$@" >"$log" 2>&1
  elif [ "$np" = 2 ]; then timeout 300 $MPIRUN -np 2 "$RIL_BIN" teach --layout all=2 "${common[@]}" "$@" >"$log" 2>&1
  else timeout 300 $MPIRUN -np "$np" "$RIL_BIN" teach --layout teacher=2,rollout=1,discriminator+learner=1 \
         "${common[@]}" "$@" >"$log" 2>&1; fi
}

# Batch sizes and rank counts: the same rows. np1 (--batch 1) is each response alone.
teach "$work/np1.log" 1 --batch 1 --max-new-tokens 12 --out "$work/np1.h5"; s1=$?
if [ $s1 -ne 0 ]; then fail "teach with 1 rank, --batch 1 (exit $s1)" "$work/np1.log"
else
  dump "$work/np1.h5" >"$work/np1.txt"
  rows=$(wc -l <"$work/np1.txt")
  if [ "$rows" -ne $((24 * 3)) ]; then fail "1 rank: expected 72 rows, got $rows" "$work/np1.log"
  else ok "1 rank, --batch 1: $rows committed rows"; fi
fi
same_as_np1() {  # same_as_np1 TAG WHAT NP ARGS...: teach into TAG.h5, compare with np1
  local tag=$1 what=$2 np=$3; shift 3
  teach "$work/$tag.log" "$np" "$@" --out "$work/$tag.h5"; local st=$?
  dump "$work/$tag.h5" >"$work/$tag.txt"
  if [ $st -ne 0 ]; then fail "teach, $what (exit $st)" "$work/$tag.log"
  elif ! cmp -s "$work/np1.txt" "$work/$tag.txt"; then
    fail "$what differs from 1 rank at --batch 1"; diff "$work/np1.txt" "$work/$tag.txt" | head -5
  elif ! grep -q "tokens/s, [0-9.]* responses/s, ETA" "$work/$tag.log"; then fail "$what: no progress lines" "$work/$tag.log"
  else ok "$what: the same $(wc -l <"$work/$tag.txt") committed rows as 1 rank at --batch 1"; fi
}
same_as_np1 b7 "1 rank, --batch 7" 1 --batch 7 --max-new-tokens 12
same_as_np1 b32 "1 rank, default --batch (32)" 1 --max-new-tokens 12
if grep -q ": 10/24 questions, 32/72 responses" "$work/b32.log" && grep -q "24/24 questions, 72/72 responses" "$work/b32.log"; then
  ok "progress counts questions and responses"; else fail "progress lines at --batch 32" "$work/b32.log"; fi
same_as_np1 np2 "2 ranks (layout all=2), default --batch" 2 --max-new-tokens 12
same_as_np1 np4 "4 ranks (2 teacher ranks), --batch 2" 4 "${small[@]}"
if [ "$(awk '{print $4}' "$work/np1.txt" | sort -u | wc -l)" -lt 10 ]; then fail "responses are not varied"; fi

# A rerun finds everything done and adds nothing.
teach "$work/rerun.log" 1 "${small[@]}" --out "$work/np1.h5"
dump "$work/np1.h5" >"$work/rerun.txt"
if cmp -s "$work/np1.txt" "$work/rerun.txt" && grep -q "24/24 questions already complete" "$work/rerun.log"; then
  ok "rerun adds nothing"; else fail "rerun" "$work/rerun.log"; fi

# Killed midway (SIGKILL after a few commits), then resumed: same rows as uninterrupted. The killed
# run commits 2 rows at a time (a question's 3 samples span commits), the resumed one 5.
"$RIL_BIN" teach "${common[@]}" --batch 2 --max-new-tokens 48 --out "$work/killed.h5" >"$work/killed.log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(grep -c 'responses/s' "$work/killed.log")" -ge 3 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; ks=$?
before=$(grep -c 'responses/s' "$work/killed.log")
teach "$work/resume.log" 1 --batch 5 --max-new-tokens 48 --out "$work/killed.h5"; rs=$?
teach "$work/full.log" 1 --batch 1 --max-new-tokens 48 --out "$work/full.h5"
dump "$work/killed.h5" >"$work/killed.txt"; dump "$work/full.h5" >"$work/full.txt"
if [ $ks -ne 137 ]; then fail "the writer was not killed midway (status $ks, $before commits)" "$work/killed.log"
elif [ $rs -ne 0 ]; then fail "resume after SIGKILL (exit $rs)" "$work/resume.log"
elif ! cmp -s "$work/killed.txt" "$work/full.txt" || [ "$(wc -l <"$work/full.txt")" -ne 72 ]; then
  fail "killed+resumed differs from uninterrupted"; diff "$work/killed.txt" "$work/full.txt" | head -5
else ok "SIGKILL after $before commit(s), resumed: identical to an uninterrupted run"; fi

# ril info: full coverage.
"$RIL_BIN" info "$work/np4.h5" >"$work/info.txt" 2>&1
if grep -q "coverage 24/24 questions with 3 responses" "$work/info.txt"; then ok "ril info shows full coverage"
else fail "ril info coverage" "$work/info.txt"; fi

# JSONL import with a bad line.
printf '%s\n' '{"question_id": 0, "teacher": "ext", "response": "A"}' 'oops' '{"index": 1, "response": "B"}' >"$work/r.jsonl"
timeout 120 $MPIRUN -np 1 "$RIL_BIN" teach --dataset "$work/d.h5" --import-jsonl "$work/r.jsonl" --teacher-name ext \
  --responses 1 --out "$work/np1.h5" >"$work/import.log" 2>&1
if grep -q "imported 2 of 3 line" "$work/import.log" && grep -q "r.jsonl:2:" "$work/import.log"; then ok "JSONL import reports the bad line"
else fail "JSONL import" "$work/import.log"; fi

# Another dataset's cache is refused.
timeout 120 $MPIRUN -np 1 "$RIL_BIN" teach --dataset "$work/other.h5" --teacher "small=$work/teacher" --responses 1 \
  --out "$work/np1.h5" >"$work/other.log" 2>&1; os=$?
if [ $os -ne 0 ] && grep -q "was built for dataset" "$work/other.log"; then ok "cache of another dataset refused"
else fail "other dataset not refused (exit $os)" "$work/other.log"; fi

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
