#!/usr/bin/env bash
# The Python package's benchmarks, in one command:
#   the sampler's CPU cost in-process vs `dlenergy run` (bench_sampler_cpu.py) and the
#   import time of `dlenergy` without pandas (bench_import.py).
# Usage: bench/python/run.sh [BUILD_DIR] [SECONDS] [REPS] [PAIRS]
#   defaults: build, 10 s sleeping workload, 3 repetitions, PAIRS = REPS paired runs
#   (both modes recording at once); interval 0.1 s.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
seconds="${2:-10}"
reps="${3:-3}"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j2 --target dlenergy dlenergy_cli dlenergy_python fake_nvml >/dev/null
/usr/bin/python3 "$src/bench/python/bench_import.py" --build "$build" --n 30
/usr/bin/python3 "$src/bench/python/bench_sampler_cpu.py" --build "$build" \
  --seconds "$seconds" --interval 0.1 --reps "$reps" --paired "${4:-$reps}"
