#!/usr/bin/env bash
# Peak RSS of `dlenergy show` (and show --json) on runs with a long GPU gap (issue 12:
# the streamed energy holds a gap's rows in memory up to a limit and spills the rest to
# a temporary file, instead of loading the whole trace).
# Usage: bench/store/gap_memory.sh [BUILD_DIR] [N] [GAP]   (defaults: build 1000000 200000)
#   e.g. bash bench/store/gap_memory.sh build
# DLE=/path/to/dlenergy measures another binary (e.g. a copy of an older build, with
# LD_LIBRARY_PATH pointing at its libdlenergy.so.0) on the same store.
# bench_gap_gen writes three runs of N samples (10 Hz, 2 fake GPUs) into a new SQLite
# store under a temp dir: 1 GPU 1 silent for GAP rows in the middle, 2 silent for the
# last GAP rows (open to the end), 3 no gap. Each verb runs under /usr/bin/time
# ("maximum resident set size", and wall time); the exit status and the GPU energy
# that show --json prints are shown beside it.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$src/build}"
n="${2:-1000000}"
gap="${3:-200000}"
cmake --build "$build" -j2 --target dlenergy_cli bench_gap_gen >/dev/null 2>&1 ||
  cmake --build "$build" -j2 >/dev/null
dle="${DLE:-$build/src/cli/dlenergy}"
echo "binary: $dle"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -f "wrote 3 runs of $n samples (gap $gap rows): %e s wall" \
  "$build/bench/store/bench_gap_gen" "$tmp/gap.db" "$n" "$gap"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-36s %12s %8s %6s   %s\n" "verb (run)" "peak RSS" wall exit "GPU energy (show --json)"
for run in 1 2 3; do
  name=$(case $run in 1) echo "gap closed";; 2) echo "gap open to the end";; 3) echo "no gap";; esac)
  for v in "show" "show --json"; do
    status=0
    # shellcheck disable=SC2086
    /usr/bin/time -f "%M %e" -o "$tmp/time" "$dle" $v "$run" --db "$tmp/gap.db" >"$tmp/out" 2>"$tmp/err" || status=$?
    gpu=""
    if [ "$v" = "show --json" ]; then
      gpu=$(/usr/bin/python3 -c 'import json,sys; print("%.17g J" % json.load(open(sys.argv[1]))["energy_j"]["gpu"])' "$tmp/out" 2>/dev/null || echo "?")
    fi
    read -r kib wall < <(tail -1 "$tmp/time")
    printf "%-36s %8s KiB %7ss %6s   %s\n" "$v ($name)" "$kib" "$wall" "$status" "$gpu"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
