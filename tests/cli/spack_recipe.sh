#!/usr/bin/env bash
# The Spack repository (Spack/: the ril and stb recipes) against Spack's real builtin package
# lists (tests/fixtures/spack/builtin-packages-*.txt: names, virtuals and CUDA packages of a named
# release and commit) and against the CMake build: see tests/support/spack_recipe_check.py.
# Spack itself is not needed (plain python3); the real-Spack checks are recorded in Spack/README.md.
set -u
repo=${RIL_SOURCE_DIR:?set RIL_SOURCE_DIR to the repository root}
exec /usr/bin/python3 "$repo/tests/support/spack_recipe_check.py" "$repo" "$@"
