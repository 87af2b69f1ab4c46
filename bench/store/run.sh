#!/usr/bin/env bash
# Run store bulk-insert throughput (rows/s) against the raw database API, SQLite
# and PostgreSQL (a throw-away server from tests/store/with_pg.sh), in one run.
# Usage: bench/store/run.sh [BUILD_DIR] [SAMPLES]   (default 500000 = 1M rows)
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
n="${2:-500000}"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target bench_store >/dev/null
"$build/bench/store/bench_store" sqlite "$n"
sh "$src/tests/store/with_pg.sh" "$build/bench/store/bench_store" pg "$n"
