#!/usr/bin/env bash
# Checks dlenergy against a real NVIDIA GPU. Needs the NVIDIA driver (libcuda.so.1,
# libnvidia-ml.so.1, nvidia-smi) and what scripts/build.sh needs to build dlenergy;
# no CUDA toolkit, no PyTorch, no network.
#
# Builds dlenergy and scripts/gpu-check/gpu_load.c (the driver API through dlopen,
# a PTX kernel JIT-compiled by the driver), runs the load for SECONDS (default 60:
# idle, 30 % duty, full, 70 % duty, idle) under `dlenergy run` while nvidia-smi
# logs its own power readings, then prints: dlenergy's power integral, the NVML
# energy counter and nvidia-smi's integrated power over the same window, which
# power field was read (instant or averaged), and the attribution (which GPU
# the run used, on what basis).
#
# Usage: scripts/gpu-check.sh [SECONDS] [GPU_INDEX]
# Exit: 0 done, 2 no usable NVIDIA driver/GPU here, 1 anything else failed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
gpu="${2:-0}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dle-gpu-check.XXXXXX")"
smi_pid=""
trap 'if [ -n "$smi_pid" ]; then kill "$smi_pid" 2>/dev/null || true; fi' EXIT

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-check: no nvidia-smi here: this machine has no NVIDIA driver" >&2
  exit 2
fi
bash scripts/build.sh build-gpu-check >/dev/null
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -o "$work/gpu_load" \
  scripts/gpu-check/gpu_load.c -ldl
dle="$PWD/build-gpu-check/src/cli/dlenergy"
[ -x "$dle" ] || dle="$(find "$PWD/build-gpu-check" -name dlenergy -type f -perm -u+x | head -1)"

# nvidia-smi's own readings, stamped with our clock (Unix seconds).
fields="index,power.draw"
if nvidia-smi --query-gpu=power.draw.instant --format=csv,noheader >/dev/null 2>&1; then
  fields="index,power.draw,power.draw.instant"
fi
( nvidia-smi --query-gpu="$fields" --format=csv,noheader,nounits -lms 100 |
    while IFS= read -r line; do printf '%s,%s\n' "$(date +%s.%N)" "$line"; done \
    >"$work/smi.csv" ) &
smi_pid=$!
sleep 1

echo "== dlenergy run --gpus all -- gpu_load $secs $gpu"
set +e
"$dle" run --db "$work/g.db" --gpus all --interval 0.1 -- "$work/gpu_load" "$secs" "$gpu"
rc=$?
set -e
sleep 1
kill "$smi_pid" 2>/dev/null || true
smi_pid=""
if [ "$rc" = 2 ]; then
  echo "gpu-check: the load generator found no usable GPU (see above)" >&2
  exit 2
fi
[ "$rc" = 0 ] || { echo "gpu-check: dlenergy run failed ($rc)" >&2; exit 1; }

echo
echo "== dlenergy show"
"$dle" show last --db "$work/g.db"
json="$work/show.json"
"$dle" show last --db "$work/g.db" --json >"$json"
num() { grep -oE "\"$1\":[[:space:]]*[-0-9.eE+]+" "$json" | head -1 | sed 's/.*:[[:space:]]*//'; }
str() { grep -oE "\"$1\":[[:space:]]*\"[^\"]*\"" "$json" | head -1 | sed 's/.*:[[:space:]]*//'; }
t0="$(num start_wall_s)"; t1="$(num end_wall_s)"
echo
echo "== comparison (GPU $gpu, window $t0 .. $t1)"
echo "attribution:      gpus_used=$(str gpus_used) headline=$(str gpus_headline) basis=$(str gpus_headline_basis)"
echo "power field:      $(str "gpu${gpu}_power_field")   driver $(str nvml_driver)"
echo "dlenergy GPU energy (headline):  $(num gpu_energy_j) J"
echo "  NVML energy counter:           $(num gpu_counter_energy_j) J"
echo "  power integral:                $(num gpu_integral_energy_j) J"
echo "  all monitored GPUs:            $(num gpu_energy_all_j) J"
awk -F', *' -v g="$gpu" -v t0="$t0" -v t1="$t1" '
  $2 == g && $1 >= t0 && $1 <= t1 {
    p = $3 + 0; q = (NF >= 4 && $4 ~ /^[0-9.]+$/) ? $4 + 0 : -1
    if (n) { e += ($1 - pt) * (p + pp) / 2; if (q >= 0 && pq >= 0) ei += ($1 - pt) * (q + pq) / 2 }
    pt = $1; pp = p; pq = q; n++
  }
  END {
    printf "nvidia-smi power.draw integral: %.1f J (%d readings)\n", e, n
    if (ei > 0) printf "nvidia-smi power.draw.instant integral: %.1f J\n", ei
  }' "$work/smi.csv"
echo "(files in $work)"
