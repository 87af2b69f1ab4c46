#!/bin/sh
# Import benchmark: dlenergy vs pandas on ../shared/data/seaa2023, same run, ratios.
# Usage: bench/import/run.sh [BUILD_DIR] [REPS]   (BUILD_DIR defaults to ./build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
reps=${2:-3}
data=${DLE_SHARED_DIR:-$here/../../../shared}/data/seaa2023
exec /usr/bin/python3 "$here/compare.py" "$build" "$data" "$reps"
