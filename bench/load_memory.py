#!/usr/bin/python3
"""Peak memory under load: 64 workers and 8 shards in one process, one
shard slowed 10x by the fault hook, against the bound the README states.

Interleaved rounds, each mode (bsp, asp) in each round:

  base   paramserv train --workers 1  --shards 8 --epochs 3
         --inject-faults slow:shard:0:10
  load   the same with --workers 64

on Fashion-MNIST with an MLP 784-200-10 (adam, batch 64). The peak resident
memory of each run comes from wait4(2). The bound for W workers is

  bound(W) = peak(base) + (W - 1) * 4 * (3P + P + b*d) bytes

where P is the model's parameter count (159,010), b the batch size and d
the input width: each worker holds three model-sized arrays (its copy of
the parameters, the gradient and the local-step buffer), its batch, and at
most one push in flight (a shard's acknowledgement is the worker's credit
for the next push, so a slow shard's mailbox holds at most one push per
worker). peak(base) holds the rest: the data, the shards' keys, update-rule
state and snapshots, and the runtime. The load run must stay within 10% of
its bound.

    /usr/bin/python3 bench/load_memory.py --paramserv build/paramserv
"""

import argparse
import os
import sys

from benchlib import MIN_ROUNDS, check_rounds, fail, parse_summary, spread

INPUTS, HIDDEN, CLASSES, BATCH = 784, 200, 10, 64
P = INPUTS * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES


def run(argv):
    """Runs argv; returns (peak resident MB, summary dict)."""
    print("  " + " ".join(argv), file=sys.stderr, flush=True)
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        out = os.open(TMP, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(TMP) as f:
        stdout = f.read()
    if code != 0:
        fail(f"exited with status {code}: {' '.join(argv)}")
    summary = parse_summary(stdout)
    if summary is None:
        fail(f"no summary line: {' '.join(argv)}")
    return usage.ru_maxrss / 1024.0, summary


TMP = f"/tmp/paramserv-load-memory-{os.getpid()}.out"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv")
    p.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    p.add_argument("--workers", type=int, default=64)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    check_rounds(p, args.rounds)
    per_worker_mb = 4.0 * (3 * P + P + BATCH * INPUTS) / (1024 * 1024)
    modes = ["bsp", "asp"]
    figures = {m: {"base": [], "load": [], "bound": [], "ratio": []}
               for m in modes}
    try:
        for r in range(args.rounds):
            for mode in modes:
                common = [args.paramserv, "train", "--model", "mlp",
                          "--hidden", str(HIDDEN), "--optimizer", "adam",
                          "--batch-size", str(BATCH), "--epochs",
                          str(args.epochs), "--mode", mode, "--shards",
                          str(args.shards), "--seed", str(1 + r),
                          "--inject-faults", "slow:shard:0:10"]
                base, _ = run(common + ["--workers", "1"])
                load, _ = run(common + ["--workers", str(args.workers)])
                bound = base + (args.workers - 1) * per_worker_mb
                f = figures[mode]
                f["base"].append(base)
                f["load"].append(load)
                f["bound"].append(bound)
                f["ratio"].append(load / bound)
    finally:
        if os.path.exists(TMP):
            os.remove(TMP)
    print(f"peak resident memory, MB, median [min-max] of {args.rounds} "
          f"rounds; {args.workers} workers, {args.shards} shards, shard 0 "
          f"slowed 10x; per worker {per_worker_mb:.3f} MB")
    print(f"{'mode':5} {'1 worker':>22} {str(args.workers) + ' workers':>22} "
          f"{'bound':>22} {'peak / bound':>22}")
    worst = 0.0
    for mode in modes:
        f = figures[mode]
        print(f"{mode:5} {spread(f['base'], '.1f'):>22} "
              f"{spread(f['load'], '.1f'):>22} {spread(f['bound'], '.1f'):>22}"
              f" {spread(f['ratio'], '.3f'):>22}")
        worst = max(worst, max(abs(x - 1) for x in f["ratio"]))
    print(f"largest distance from the bound: {100 * worst:.1f}% "
          f"({'within' if worst <= 0.10 else 'NOT within'} 10%)")
    return 0 if worst <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
