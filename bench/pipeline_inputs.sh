# Sourced by bench scripts that start from a finished jobs/ril-pipeline.sh run directory.
# require_pipeline_run NAME BASE: exit 2 (with NAME in the message) unless BASE holds the dataset,
# the warm-up student, the teacher cache and the pre-trained discriminator.
require_pipeline_run() {
  local name=$1 base=$2 need
  for need in "$base/data/synth.h5" "$base/student/model/config.json" "$base/teacher_cache.h5" \
              "$base/disc/discriminator/config.json"; do
    [ -e "$need" ] || { echo "$name: $need missing: run jobs/ril-pipeline.sh first" >&2; exit 2; }
  done
}
