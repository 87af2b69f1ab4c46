#!/usr/bin/env bash
# Issue 12 acceptance: 64 recorders x 8 fake GPUs at 10 Hz for 60 s into one
# PostgreSQL (a throw-away server, tests/store/with_pg.sh), chunks against schema
# 1's row layout in the same run; every sample present; server CPU per sample.
# Usage: bench/store/fleet.sh [BUILD_DIR] [RECORDERS GPUS SECONDS HZ]
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
shift || true
cmake --build "$build" -j2 --target bench_fleet >/dev/null
if [ $# -eq 0 ]; then set -- 64 8 60 10; fi
DLE_PG_MAX_CONNECTIONS=200 sh "$src/tests/store/with_pg.sh" \
  sh -c 'exec "$0" "$DLE_PG_URI" "$@"' "$build/bench/store/bench_fleet" "$@"
