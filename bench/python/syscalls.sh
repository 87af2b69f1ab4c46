#!/usr/bin/env bash
# The system calls of each recording thread, wrapper against in-process, over one window:
# both recorders start together (as bench_sampler_cpu.py --paired), then `strace -c -p TID`
# follows every thread of the `dlenergy` process and the library's threads (dle-sampler,
# dle-drain) of the Python process from 1.5 s to S-1.5 s.
# Usage: bench/python/syscalls.sh [BUILD_DIR] [SECONDS]   (defaults: build 10; needs strace)
set -euo pipefail
B=$(realpath "${1:-build}")
S=${2:-10}
T=$(mktemp -d /tmp/dle-bench-syscalls.XXXXXX)
trap 'rm -rf "$T"' EXIT
export PYTHONPATH=$B/python DLENERGY_NVML_LIB=$B/tests/fake_nvml/lib/libnvidia-ml.so.1
export FAKE_NVML_SCRIPT=$T/nvml.txt
printf 'devices 2\npower 0 0 150000\npower 1 0 90000\n' > "$T/nvml.txt"
"$B/src/cli/dlenergy" run --db "$T/w.db" --quiet --interval 0.1 -- \
  /usr/bin/python3 -c 'import sys, time; time.sleep(float(sys.argv[1]))' "$S" > /dev/null &
W=$!
/usr/bin/python3 -c 'import sys, time, dlenergy, dlenergy._lib as L
L.lib()
with dlenergy.track(db=sys.argv[1], interval=0.1):
    time.sleep(float(sys.argv[2]))' "$T/i.db" "$S" &
I=$!
sleep 1.5
win=$(awk -v s="$S" 'BEGIN { print s - 3 }')
declare -A name
for pid in $W $I; do
  for tid in $(ls "/proc/$pid/task"); do
    comm=$(cat "/proc/$pid/task/$tid/comm")
    [ "$pid" = "$I" ] && [ "${comm#dle-}" = "$comm" ] && continue # the interpreter's own
    side=wrapper; [ "$pid" = "$I" ] && side=in-process
    name[$tid]="$side $comm (tid $tid)"
    timeout -s INT "$win" strace -c -p "$tid" -o "$T/$tid.txt" 2> /dev/null &
  done
done
wait $W $I
sleep 0.5
for tid in "${!name[@]}"; do
  echo "== ${name[$tid]}"
  grep -v '^-\|^% time' "$T/$tid.txt" || true
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
