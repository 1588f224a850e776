#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then: (1) another CMake project finds ril with
# find_package(ril), builds against ril::ril_io and ril::ril_dist, and runs; (2) Lmod's
# `module use <prefix>/share/ril/modulefiles; module load ril` puts the installed ril on PATH.
set -u
BUILD=${RIL_BUILD_DIR:?set RIL_BUILD_DIR to the build directory}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $1"; [ -f "${2:-}" ] && sed 's/^/  | /' "$2" | tail -25; failures=$((failures + 1)); }

prefix="$work/prefix"
cmake --install "$BUILD" --prefix "$prefix" >"$work/install.log" 2>&1 || { fail "cmake --install" "$work/install.log"; exit 1; }

mkdir -p "$work/consumer"
cat >"$work/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(ril_consumer C CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(ril 0.1 REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE ril::ril_io ril::ril_dist)
CMAKE
cat >"$work/consumer/main.cpp" <<'CPP'
// Uses the installed headers and libraries: an HDF5 round trip and a role map.
#include <cstdio>
#include "ril/dist/role_map.h"
#include "ril/io/h5_file.h"
int main(int argc, char** argv) {
  const std::string path = std::string(argv[1]) + "/consumer.h5";
  {
    auto file = ril::io::H5File::create(path, "consumer");
    file.write_text("greeting", {"hello from a consumer"});
  }
  const auto file = ril::io::H5File::open(path, "consumer");
  std::printf("%s | %s\n", file.read_text("greeting")[0].c_str(), ril::dist::RoleMap::derive(4).spec().c_str());
  return 0;
}
CPP
if cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/consumer.log" 2>&1 \
   && cmake --build "$work/consumer/build" -j 2 >>"$work/consumer.log" 2>&1; then
  out=$("$work/consumer/build/consumer" "$work" 2>&1)
  if [ "$out" = "hello from a consumer | teacher=1,rollout=1,discriminator=1,learner=1" ]; then
    echo "ok: find_package(ril) consumer built and ran: $out"
  else
    fail "consumer printed '$out'"
  fi
else
  fail "consumer project against the installed ril" "$work/consumer.log"
fi

lmod_init=/usr/share/lmod/lmod/init/bash
if [ ! -f "$lmod_init" ]; then
  fail "Lmod is not installed ($lmod_init missing; scripts/install-deps.sh installs lmod)"
else
  out=$(bash -c "source $lmod_init && module use '$prefix/share/ril/modulefiles' && module load ril \
                 && command -v ril && ril --version && echo \"RIL_HOME=\$RIL_HOME\" && module help ril 2>&1" 2>&1)
  if echo "$out" | grep -q "^$prefix/bin/ril$" && echo "$out" | grep -q "^ril 0.1" \
     && echo "$out" | grep -q "RIL_HOME=$prefix$" && echo "$out" | grep -q "Unified Reinforcement"; then
    echo "ok: module load ril -> $(echo "$out" | grep '^ril 0.1')"
  else
    echo "$out" >"$work/lmod.log"; fail "module load ril" "$work/lmod.log"
  fi
fi
echo "$((2 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
