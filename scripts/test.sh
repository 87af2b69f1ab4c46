#!/usr/bin/env bash
# Runs every test: installs dependencies, builds a normal tree and an
# ASan+UBSan tree, and runs the CTest suite in both.
# Usage: scripts/test.sh            (everything, plus a Release build)
#        DLE_TEST_FAST=1 scripts/test.sh   (normal build only)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
jobs=$(nproc)

# Users get DLE_WERROR=OFF (a newer compiler's new warning must not break their
# build); the tests hold the code to zero warnings.
echo "== build (RelWithDebInfo, -Werror) =="
bash scripts/build.sh build -DDLE_WERROR=ON
echo "== tests =="
(cd build && ctest --output-on-failure -j "$jobs")

if [ "${DLE_TEST_FAST:-0}" != "1" ]; then
  echo "== build (ASan+UBSan) =="
  bash scripts/build.sh build-asan -DDLE_SANITIZE=ON -DCMAKE_C_COMPILER=gcc -DDLE_WERROR=ON
  echo "== tests under ASan+UBSan =="
  # Tests labelled 'nosan' exercise timing-sensitive or external-tool paths that
  # are covered by the normal build.
  (cd build-asan && ctest --output-on-failure -j "$jobs" -LE nosan)
  # What a user's `cmake -DCMAKE_BUILD_TYPE=Release` compiles (gcc -O3 finds
  # maybe-uninitialized paths the -O2 build does not): built, warning-free.
  echo "== build (Release, -Werror) =="
  bash scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DDLE_WERROR=ON
fi
