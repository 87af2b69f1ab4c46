#!/bin/sh
# Regenerates the shipped PRE models (data/models/power.json, epoch-energy.json) from
# data/pre/training.csv, itself rebuilt from the shared data by pre_training_table.py
# (only ../shared/data: no other public measurements, so evaluations on them stay
# honest). Seeded: running it again gives the same bytes.
#
# usage: scripts/pre_default_models.sh [BUILD_DIR] [SHARED_DATA_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
bin=${DLENERGY_BIN:-"$build/src/cli/dlenergy"}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ -n "${2:-}" ]; then
  "$py" "$root/scripts/pre_training_table.py" --shared "$2"
else
  "$py" "$root/scripts/pre_training_table.py"
fi
for target in power epoch-energy; do
  "$bin" fit --table "$root/data/pre/training.csv" --target "$target" --model krr \
    --group-by gpu_model --seed 42 --draws 100 --catalog "$root/data/gpus.csv" \
    -o "$root/data/models/$target.json"
done
