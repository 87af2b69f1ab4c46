#!/bin/sh
# Matrix profile benchmark: dlenergy (C, 1 and 2 threads) vs NumPy, same series, ratios.
# Usage: bench/matrix_profile/run.sh [BUILD_DIR] [N] [M]   (BUILD_DIR defaults to ./build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/compare.py" "${1:-build}" "${2:-36000}" "${3:-10}"
