#!/usr/bin/env bash
# Checks that #include "..." lines follow paramserv's layers: the folders
#   linalg/core < linalg/data < linalg/models < linalg/optim < linalg/io
#   < linalg/train < messages < actors < apps
# where a file may include only its own folder and folders before it.
# Prints every include that points forward and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(linalg/core linalg/data linalg/models linalg/optim linalg/io
        linalg/train messages actors apps)
rank() {
  local path=$1 i
  for i in "${!layers[@]}"; do
    case "$path" in "${layers[$i]}"/*) echo "$i"; return ;; esac
  done
  echo -1
}
bad=0
for i in "${!layers[@]}"; do
  while IFS= read -r hit; do
    file=${hit%%:*}
    target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$hit")
    r=$(rank "$target")
    if [ "$r" -gt "$i" ]; then
      echo "check_layers: $file includes $target (a later layer)"
      bad=1
    fi
  done < <(grep -rn --include='*.hpp' --include='*.cpp' '#include "' \
             "${layers[$i]}" || true)
done
if [ "$bad" -eq 0 ]; then
  echo "check_layers: every include points to the same or an earlier layer"
fi
exit "$bad"
