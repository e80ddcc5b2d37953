#!/usr/bin/env bash
# Trains the README's mode table: MLP 784-200-10 on Fashion-MNIST, 2 workers,
# 1 shard, batch 64, adam lr 0.001, 10 epochs, one run per mode, and prints
# mode, final test accuracy, samples/s and the largest staleness seen.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PARAMSERV:-build/paramserv}
epochs=${EPOCHS:-10}
printf '%-10s %9s %11s %14s\n' mode accuracy samples/s max_staleness
for mode in bsp asp "ssp --staleness 3" hogwild "sbp --backup-workers 1"; do
  metrics=$(mktemp)
  # shellcheck disable=SC2086
  out=$("$bin" train --backend local --model mlp --hidden 200 --workers 2 \
        --shards 1 --batch-size 64 --optimizer adam --lr 0.001 \
        --epochs "$epochs" --seed 1 --mode $mode --metrics "$metrics")
  summary=$(grep '^summary ' <<<"$out")
  field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$summary"; }
  stale=$(awk -F, 'NR > 1 && $10 > m { m = $10 } END { print m + 0 }' \
          "$metrics")
  printf '%-10s %9s %11s %14s\n' "$(field mode)" "$(field test_accuracy)" \
    "$(field samples_per_s)" "$stale"
  rm -f "$metrics"
done
