#!/usr/bin/env bash
# The fuzz targets of tests/fuzz under libFuzzer, with address and
# undefined-behaviour sanitizers (clang, in ./build-fuzz).
#
#   scripts/fuzz.sh              lists the targets
#   scripts/fuzz.sh TARGET N     builds TARGET and runs N executions
#
# The corpus grows in build-fuzz/corpus/TARGET (it starts from the target's
# seeds and the inputs of past findings in tests/fuzz/corpus/TARGET); a
# finding is written to build-fuzz/findings/TARGET/ and ends the run with a
# non-zero exit. Exit 0: N executions and nothing found.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=$(sed -n 's/^set(PARAMSERV_FUZZ_TARGETS \(.*\))$/\1/p' \
  tests/fuzz/CMakeLists.txt)
if [ $# -eq 0 ]; then
  printf '%s\n' $targets
  exit 0
fi
if [ $# -ne 2 ]; then
  echo "usage: scripts/fuzz.sh [TARGET N]   (targets: $(echo $targets))" >&2
  exit 2
fi
target=$1
runs=$2
case " $targets " in
  *" $target "*) ;;
  *) echo "scripts/fuzz.sh: unknown target \"$target\" (expected one of:" \
          "$(echo $targets))" >&2; exit 2 ;;
esac
case "$runs" in
  ''|*[!0-9]*) echo "scripts/fuzz.sh: N: not a count: \"$runs\"" >&2; exit 2 ;;
esac

missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  echo "scripts/fuzz.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DPARAMSERV_FUZZ=ON \
  -DPARAMSERV_SANITIZERS=address,undefined \
  -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=undefined" >/dev/null
cmake --build "$build" --target "fuzz_$target" -j "$(nproc 2>/dev/null || echo 2)" \
  >/dev/null

corpus=$build/corpus/$target
findings=$build/findings/$target
mkdir -p "$corpus" "$findings"
dirs=("$corpus")
if [ -d "tests/fuzz/corpus/$target" ]; then
  dirs+=("tests/fuzz/corpus/$target")
fi
seeds=""
if [ -z "$(ls -A "$corpus")" ]; then
  seeds=$corpus
fi
PARAMSERV_FUZZ_SEEDS=$seeds \
UBSAN_OPTIONS=print_stacktrace=1 \
  "$build/tests/fuzz/fuzz_$target" -runs="$runs" -max_len=4096 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$findings/" "${dirs[@]}"
