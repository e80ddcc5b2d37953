#!/usr/bin/env bash
# Installs whatever paramserv needs that is missing (Debian bookworm, apt),
# then configures and builds it in ./build. Idempotent and quiet when
# everything is present. Run as root (or with sudo available) on a fresh
# machine.
#
#   scripts/setup.sh            build the binary and the tests
#   scripts/setup.sh --bench    also install PyTorch and build the benchmarks
#   scripts/setup.sh --sanitize=address,undefined   separate sanitizer build
#                                                   in ./build-sanitize
set -euo pipefail

cd "$(dirname "$0")/.."

bench=OFF
sanitizers=""
build_dir=build
for arg in "$@"; do
  case "$arg" in
    --bench) bench=ON ;;
    --sanitize=*) sanitizers="${arg#--sanitize=}"; build_dir=build-sanitize ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

packages=(cmake g++ make libcaf-dev libarmadillo-dev libopenblas-dev
          libboost-program-options-dev doctest-dev zlib1g-dev
          nlohmann-json3-dev libssl-dev openssl iproute2 python3-numpy
          dataset-fashion-mnist)
if [ "$bench" = ON ]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"
  then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DPARAMSERV_BUILD_BENCH="$bench" \
  -DPARAMSERV_SANITIZERS="$sanitizers" >/dev/null
cmake --build "$build_dir" -j "$jobs"
