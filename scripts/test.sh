#!/usr/bin/env bash
# Runs every test: installs dependencies, builds a normal tree and an
# ASan+UBSan tree, and runs the CTest suite in both.
# Usage: scripts/test.sh            (everything)
#        DLE_TEST_FAST=1 scripts/test.sh   (normal build only)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo) =="
bash scripts/build.sh build
echo "== tests =="
(cd build && ctest --output-on-failure -j "$jobs")

if [ "${DLE_TEST_FAST:-0}" != "1" ]; then
  echo "== build (ASan+UBSan) =="
  bash scripts/build.sh build-asan -DDLE_SANITIZE=ON -DCMAKE_C_COMPILER=gcc
  echo "== tests under ASan+UBSan =="
  # Tests labelled 'nosan' exercise timing-sensitive or external-tool paths that
  # are covered by the normal build.
  (cd build-asan && ctest --output-on-failure -j "$jobs" -LE nosan)
fi
