#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: install, build, ctest (unit tests, MPI
# tests under mpirun -np 1 and 4, and end-to-end checks of the ril executable).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
cd "$repo/build"
ctest --output-on-failure --timeout 1200 "$@"
