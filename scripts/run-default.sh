#!/usr/bin/env bash
# The main job on its built-in default, from a fresh Debian 12 machine: install, build, then run
# the whole RIL pipeline (jobs/ril-pipeline.sh) under mpirun with 2 ranks (one per core of the 2-core default machine):
# synthetic data -> two teachers (SFT) -> weak student warm-up (SFT) -> teacher cache ->
# discriminator pre-training -> RIL -> evaluation table. Runs land in runs/default; a second run
# reuses the finished stages. Any variable of jobs/ril-pipeline.sh can be set in the environment.
# --no-setup skips the install and the build (the tests run the main job this way, with small
# sizes, through exactly this script's paths and stages).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${RIL_BUILD_DIR:-$repo/build}
if [ "${1:-}" = "--no-setup" ]; then
  shift
else
  "$repo/scripts/install-deps.sh"
  RIL_BUILD_DIR=$build "$repo/scripts/build.sh"
fi
# Several ranks share the cores: one thread each, or they fight over them.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
cd "$repo"
export RIL=${RIL:-$build/ril} RIL_DATA=${RIL_DATA:-$build/ril-data}
# MPIRUN: the pipeline's default (mpirun --oversubscribe, plus --allow-run-as-root as root).
export NP=${NP:-${RIL_RANKS:-2}} RUN=${RUN:-runs/default}
exec "$repo/jobs/ril-pipeline.sh" "$@"
