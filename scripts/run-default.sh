#!/usr/bin/env bash
# The main job on its built-in default, from a fresh Debian 12 machine: install, build, then run
# under mpirun with 4 ranks (one per role) on this machine. Until the training issue lands the
# main job is `ril smoke`: the four rank groups exchange real tensors in the training loop's
# pattern, check them bitwise, write and re-read an HDF5 file, and print the timings.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
ranks=${RIL_RANKS:-4}
mpi_flags=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || mpi_flags+=(--allow-run-as-root)
# Several ranks share the cores: one thread each, or they fight over them.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$repo/runs"
exec mpirun "${mpi_flags[@]}" -np "$ranks" "$repo/build/ril" smoke --run-dir "$repo/runs/smoke" "$@"
