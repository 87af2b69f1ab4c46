#!/usr/bin/env bash
# NVML sensor cost per sample with 4 fake GPUs, against the bare NVML calls in the same run.
# Usage: bench/nvml_cost/run.sh [BUILD_DIR] [READS]
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
reads="${2:-20000}"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target bench_nvml_cost fake_nvml >/dev/null
exec "$build/bench/nvml_cost/bench_nvml_cost" \
  "$build/tests/fake_nvml/lib/libnvidia-ml.so.1" "$src/bench/nvml_cost/four_gpus.script" "$reads"
