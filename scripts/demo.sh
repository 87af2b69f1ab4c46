#!/usr/bin/env bash
# The demo (the README's first command): installs the Debian packages, builds
# dlenergy, records a real PyTorch training (examples/train.py, a small CNN on
# synthetic images, CPU only, about half a minute) and shows the recorded run.
#
# Usage: bash scripts/demo.sh [extra `dlenergy run` options]
#   e.g. bash scripts/demo.sh --cpu-tdp 65 --country ES
# The run goes to demo.db (DLENERGY_DEMO_DB to change it).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --demo
bash scripts/build.sh build

db=${DLENERGY_DEMO_DB:-demo.db}
echo "== dlenergy run: examples/train.py (markers through clients/python/dlenergy_markers.py) =="
build/src/cli/dlenergy run --db "$db" --meta environment=demo-cpu "$@" \
  -- /usr/bin/python3 examples/train.py
echo
echo "== dlenergy show last --db $db =="
build/src/cli/dlenergy show last --db "$db"
