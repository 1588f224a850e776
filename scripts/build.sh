#!/usr/bin/env bash
# Configures and builds ril in <repo>/build, or in $RIL_BUILD_DIR (Release, Ninja). Extra arguments
# go to cmake's configure step, e.g. scripts/build.sh -DRIL_CUDA=OFF.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${RIL_BUILD_JOBS:-$(nproc)}
build=${RIL_BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$jobs"
