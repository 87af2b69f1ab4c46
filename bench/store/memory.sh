#!/usr/bin/env bash
# Peak RSS and wall time of every reader verb on one run of N samples, against a run of
# N/10, in one run of this script (issue 12: readers stream chunks, memory bounded on a
# 10 M-sample run; estimate/evaluate/stabilize/report read a bounded series).
# Usage: bench/store/memory.sh [BUILD_DIR] [N] [GPUS]      (defaults: build 10000000 1)
#   e.g. bash bench/store/memory.sh build              # 1 M and 10 M samples, one GPU
# DLE=/path/to/dlenergy measures another binary (e.g. a copy of an older build, with
# LD_LIBRARY_PATH pointing at its libdlenergy.so.0) on the same stores.
# The runs are written by bench_memory_gen through the store API (fake GPUs, 10 Hz,
# 20 epochs, the metadata fit --db needs) into two new SQLite stores under a temp dir.
# Each verb runs as the user types it, under /usr/bin/time (peak RSS of the process,
# "maximum resident set size"); its exit status is printed beside it (fit --db has one
# run only, so it loads it and then refuses to fit: the loading is what is measured).
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
n="${2:-10000000}"
gpus="${3:-1}"
limit="${DLE_BENCH_TIMEOUT:-900}" # seconds per verb (exit status 124 when it ran out)
small=$((n / 10))
cmake --build "$build" -j2 --target dlenergy_cli bench_memory_gen >/dev/null 2>&1 ||
  cmake --build "$build" -j2 >/dev/null
dle="${DLE:-$build/src/cli/dlenergy}"
echo "binary: $dle"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for k in "$small" "$n"; do
  /usr/bin/time -f "wrote a run of $k samples ($gpus GPU): %e s wall" \
    "$build/bench/store/bench_memory_gen" "$tmp/r$k.db" "$k" "$gpus" 2>&1 >/dev/null
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
verbs=(
  "show|show 1"
  "show --json|show 1 --json"
  "export --samples|export 1 --samples"
  "estimate --method all|estimate 1 --method all"
  "stabilize|stabilize 1"
  "evaluate|evaluate"
  "analyze|analyze --by architecture"
  "report|report 1 -o @TMP@/report.html"
  "fit --db|fit --target power -o @TMP@/model.json"
)
# peak RSS (KiB), wall seconds and exit status of one verb on one store
rss() {
  local db="$1" args="$2" status=0
  args="${args//@TMP@/$tmp}"
  args="$args --db $db"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%M %e" -o "$tmp/time" timeout "$limit" "$dle" $args >/dev/null 2>"$tmp/err" || status=$?
  echo "$(tail -1 "$tmp/time") $status"
}
printf "%-24s %14s %14s %7s %9s %9s   %s\n" verb "RSS $small" "RSS $n" ratio "wall $small" \
  "wall $n" "exit status"
for v in "${verbs[@]}"; do
  name="${v%%|*}"
  args="${v#*|}"
  read -r a wa sa < <(rss "$tmp/r$small.db" "$args")
  read -r b wb sb < <(rss "$tmp/r$n.db" "$args")
  printf "%-24s %10s KiB %10s KiB %7s %8s s %8s s   %s/%s\n" "$name" "$a" "$b" \
    "$(awk "BEGIN{printf \"%.2f\", $b/$a}")" "$wa" "$wb" "$sa" "$sb"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
