#!/usr/bin/env bash
# Configures and builds ril in <repo>/build (Release, Ninja). Extra arguments go to cmake's
# configure step, e.g. scripts/build.sh -DRIL_CUDA=OFF.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${RIL_BUILD_JOBS:-$(nproc)}
cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$repo/build" -j "$jobs"
