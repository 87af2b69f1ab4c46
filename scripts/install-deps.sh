#!/usr/bin/env bash
# Installs every Debian package dlenergy needs to build, test and run its demo.
# Idempotent; needs root (or sudo). Packages are Debian 12 (bookworm) names.
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
)
DEMO_PKGS=(python3-torch)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${DEMO_PKGS[@]}")
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
