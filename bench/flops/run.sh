#!/bin/sh
# ONNX counter benchmark: library and `dlenergy flops` vs onnx.load + a Python
# count on vit_b_16, squeezenet1_1 (embedded weights) and a synthetic model with
# BIG_MIB of embedded weights. Same run, ratios printed.
# Usage: bench/flops/run.sh [BUILD_DIR] [REPS] [BIG_MIB]   (defaults: ./build 5 256)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
reps=${2:-5}
big=${3:-256}
data=${DLE_SHARED_DIR:-$here/../../../shared}/data/onnx
exec /usr/bin/python3 "$here/compare.py" "$build" "$data" "$reps" "$big"
