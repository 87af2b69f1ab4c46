#!/usr/bin/env bash
# Issue 12 read-back benchmarks, one run:
#  1. `dlenergy import seaa2023` into a new store: CPU s and bytes per stored sample;
#  2. every sample of the 309 runs read back as evaluate does, chunks vs schema-1 rows;
#  3. peak RSS reading a run of N samples (default 10 000 000) back.
# Usage: bench/store/readback.sh [BUILD_DIR] [N]
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
n="${2:-10000000}"
data="${DLE_SHARED_DIR:-$src/../shared}/data/seaa2023"
cmake --build "$build" -j2 --target dlenergy_cli bench_readback >/dev/null 2>&1 ||
  cmake --build "$build" -j2 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -f "import: %U s user + %S s sys CPU, %e s wall, peak RSS %M KiB" \
  "$build/src/cli/dlenergy" import seaa2023 "$data" --db "$tmp/seaa.db" >/dev/null
samples=$("$build/src/cli/dlenergy" export --all-samples --db "$tmp/seaa.db" | awk -F, 'NR>1 && !seen[$1","$2]++' | wc -l)
bytes=$(stat -c %s "$tmp/seaa.db")
echo "store: $bytes bytes for $samples samples = $(awk "BEGIN{printf \"%.2f\", $bytes/$samples}") bytes/sample"
"$build/bench/store/bench_readback" "$tmp/seaa.db" "$tmp/schema1.db"
ls -l "$tmp/schema1.db" | awk '{print "schema-1 copy of the same samples: " $5 " bytes"}'
"$build/bench/store/bench_readback" --rss "$n" "$tmp"
