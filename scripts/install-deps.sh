#!/usr/bin/env bash
# Installs the Debian packages dlenergy needs. Idempotent; needs root (or sudo)
# only when something is missing. Packages are Debian 12 (bookworm) names.
#
# Usage: scripts/install-deps.sh          build dependencies only
#        scripts/install-deps.sh --demo   + PyTorch (what scripts/demo.sh needs)
#        scripts/install-deps.sh --test   + everything the test suite uses
#                                          (PostgreSQL, Prometheus, Chromium,
#                                          numpy/scipy/sklearn, PyTorch, ...)
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libsqlite3-dev zlib1g-dev libdeflate-dev libpq-dev libzstd-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  liblapacke-dev liblapack-dev libsvm-dev libgsl-dev libcjson-dev libmicrohttpd-dev
)
TEST_PKGS=(
  python3 python3-numpy python3-scipy python3-sklearn python3-pandas python3-psutil python3-onnx
  postgresql postgresql-client prometheus chromium sqlite3 procps
  python3-nbclient python3-nbformat python3-ipykernel python3-matplotlib
)
DEMO_PKGS=(python3 python3-torch)

want=("${BUILD_PKGS[@]}")
for arg in "$@"; do
  case "$arg" in
    --demo) want+=("${DEMO_PKGS[@]}") ;;
    --test) want+=("${TEST_PKGS[@]}" "${DEMO_PKGS[@]}") ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
