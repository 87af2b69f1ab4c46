#!/usr/bin/env bash
# Sampler overhead: dlenergy's sampler vs a Python psutil sampler (the study's
# method) on the same busy child, same fake NVML, same rates, in one run.
# Usage: bench/overhead/run.sh [BUILD_DIR] [SECONDS_SCALE]
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
scale="${2:-1}"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target bench_overhead fake_nvml >/dev/null
if ! /usr/bin/python3 -c 'import psutil' 2>/dev/null; then
  echo "bench/overhead: python3-psutil is not installed (scripts/install-deps.sh)" >&2
  exit 77
fi
exec "$build/bench/overhead/bench_overhead" \
  "$build/tests/fake_nvml/lib/libnvidia-ml.so.1" "$src/bench/overhead/psutil_sampler.py" "$scale"
