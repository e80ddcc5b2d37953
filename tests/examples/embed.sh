#!/usr/bin/env bash
# Installs paramserv from the build tree BUILD into a temporary prefix,
# configures and builds examples/embed against that prefix alone, runs it
# and checks its result line. The prefix is removed on every exit path.
#
#   tests/examples/embed.sh BUILD SOURCE
set -euo pipefail
build=$1
source=$2
prefix=$(mktemp -d "${TMPDIR:-/tmp}/paramserv-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" > "$prefix/install.log"
# Only the prefix: no path into the source or build tree.
cmake -S "$source/examples/embed" -B "$prefix/example-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$prefix/configure.log"
if grep -rqs -- "$build" "$prefix/example-build/CMakeCache.txt" \
     "$prefix/lib/cmake/paramserv"; then
  echo "the installed package or the example's build refers to $build" >&2
  exit 1
fi
cmake --build "$prefix/example-build" -j2 > "$prefix/build.log" 2>&1 || {
  tail -30 "$prefix/build.log" >&2; exit 1; }
out=$("$prefix/example-build/embed")
echo "$out"
# Both forms, each with its 20 epochs and the weights recovered.
echo "$out" | grep -Eq '^embed: train\(\): .* epochs=20 recovered$'
echo "$out" | grep -Eq '^embed: actors: .* epochs=20 recovered$'
# The same bsp job in both forms: the same weights.
one=$(echo "$out" | sed -n 's/^embed: train(): \(w=.*\) (true.*/\1/p')
two=$(echo "$out" | sed -n 's/^embed: actors: \(w=.*\) (true.*/\1/p')
[ -n "$one" ] && [ "$one" = "$two" ] || {
  echo "the two forms differ: '$one' and '$two'" >&2; exit 1; }
