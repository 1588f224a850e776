#!/usr/bin/env bash
# The README's main job (scripts/run-default.sh) through its own code path, with tiny sizes: the
# same script, the same default tool paths (where the build puts `ril` and `ril-data`), the same
# nine stages; only the install and the build are skipped (--no-setup) and the sizes shrunk. A
# wrong path, a missing stage or a broken table fails here. Then a rerun skips every stage.
set -u
SRC=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
BUILD=${RIL_BUILD_DIR:?set RIL_BUILD_DIR to the build directory}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -40; failures=$((failures + 1)); }
ok() { echo "ok: $1"; passed=$((passed + 1)); }

# Tiny sizes; everything else (paths, launcher, stages) is the script's own. RIL and RIL_DATA are
# not set: run-default.sh derives them from the build directory as it does for a user.
unset RIL RIL_DATA NP MPIRUN
export RIL_BUILD_DIR=$BUILD RUN=$work/run
export TRAIN=96 VAL=16 TEST=20 TEACHER_A_STEPS=4 TEACHER_B_STEPS=4 STUDENT_STEPS=2 RIL_QUESTIONS=24 RESPONSES=1
export STEPS_DISC=2 STEPS_RIL=4 QUESTIONS=2 GROUP=2 VAL_EVERY=2 VAL_QUESTIONS=6 MAX_NEW_TOKENS=12 EVAL_MAX_NEW_TOKENS=12
(cd "$work" && bash "$SRC/scripts/run-default.sh" --no-setup) >"$work/first.log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "main job finished (exit 0)"; else fail "main job exit $rc" "$work/first.log"; fi

stages=$(grep -c '^==== \[[0-9]/9\]' "$work/first.log")
if [ "$stages" -eq 9 ] && grep -q '^==== done in' "$work/first.log"; then
  ok "nine stage banners and the final line"
else
  fail "expected 9 stage banners, saw $stages" "$work/first.log"
fi
if grep -q "^ *init = $RUN/teacher-a/model$" "$work/first.log"; then
  ok "teacher B starts from teacher A (--init)"
else
  fail "teacher B did not start from teacher A's model" "$work/first.log"
fi
if grep -q '"system": "Return 0 if teacher, 1 if student."' "$RUN/disc/discriminator/discriminator_prompt.json" \
   && grep -q "^ *advantage = student-baseline$" "$work/first.log" \
   && grep -q "^ *teacher-advantage = answer$" "$work/first.log" && grep -q "^ *imitation-weight = 4$" "$work/first.log" \
   && grep -q "^ *style = terse,explained$" "$work/first.log"; then
  ok "D keeps the pipeline's short system message; the student warms up on both styles; RIL's advantage rules are the pipeline's"
else
  fail "D system message / advantage setting" "$RUN/disc/discriminator/discriminator_prompt.json"
fi
table=$RUN/eval.txt
if [ -f "$table" ] && grep -q 'student-after - student-before \[95% CI\]' "$table" &&
   grep -q '^overall ' "$table" && grep -q '^mean tokens' "$table" && grep -q '^unparsed (%)' "$table" &&
   grep -q 'teacher-a' "$table" && grep -q 'teacher-b' "$table"; then
  ok "final table: teachers, students, difference with interval, lengths, unparsed share"
else
  fail "final table incomplete" "$table"
fi
for family in attribute counting; do  # the default FAMILIES of jobs/ril-pipeline.sh
  grep -q "^$family " "$table" 2>/dev/null || fail "no row for $family in the table" "$table"
done
if [ "$(head -c 8 "$RUN/curves.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
  ok "curves.png is a PNG"
else
  fail "no curves.png"
fi
# The val curve: val_acc measured at steps 2 and 4 of RIL.
if /usr/bin/python3 - "$RUN/ril/metrics.csv" <<'EOF'; then ok "val_acc at steps 2 and 4, KL split, entropy, limit share"; else fail "metrics.csv columns" "$RUN/ril/metrics.csv"; fi
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, len(rows)
val = {int(r["step"]): r["val_acc"] for r in rows}
for s in (2, 4):
    v = float(val[s]); assert 0.0 <= v <= 1.0, (s, v)
for s in (1, 3):
    assert val[s] in ("", "nan", "NaN") or math.isnan(float(val[s])), (s, val[s])
for col in ("kl_student", "kl_teacher", "entropy", "limit_hit_student", "limit_hit_teacher"):
    for r in rows:
        assert math.isfinite(float(r[col])), (col, r[col])
EOF

# A rerun reuses every stage.
(cd "$work" && bash "$SRC/scripts/run-default.sh" --no-setup) >"$work/second.log" 2>&1
rc=$?
skipped=$(grep -c 'finished earlier' "$work/second.log")
if [ $rc -eq 0 ] && [ "$skipped" -ge 7 ]; then
  ok "rerun skipped the finished stages ($skipped)"
else
  fail "rerun: exit $rc, $skipped stages skipped" "$work/second.log"
fi

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
