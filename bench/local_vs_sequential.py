#!/usr/bin/python3
"""Local parameter server against the sequential trainer, on Fashion-MNIST.

Interleaved rounds of (MLP 784-200-10, plain SGD lr 0.1, batch 64):

  sequential      paramserv train --backend sequential (one thread)
  asp_2w          --backend local --mode asp, 2 workers, 1 shard
  hogwild_2w      --backend local --mode hogwild, 2 workers, 1 shard
  bsp_2w          --backend local --mode bsp, 2 workers, 1 shard
  asp_1w          --backend local --mode asp, 1 worker (what the actor
                  machinery costs over the sequential loop)

samples/s is training rows per second of training time (validation
excluded), as each run's summary line reports it.

    /usr/bin/python3 bench/local_vs_sequential.py --paramserv build/paramserv
"""

import argparse

from benchlib import check_rounds, compare


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--lr", default="0.1")
    args = p.parse_args()
    check_rounds(p, args.rounds)
    if args.epochs <= 0:
        p.error("--epochs must be positive")

    def commands(r):
        common = [args.paramserv, "train", "--model", "mlp", "--hidden",
                  "200", "--optimizer", args.optimizer, "--lr", args.lr,
                  "--batch-size", "64", "--epochs", str(args.epochs),
                  "--seed", str(1 + r)]
        local = common + ["--backend", "local", "--shards", "1"]
        env = {"OPENBLAS_NUM_THREADS": "1"}
        return [
            ("sequential", common + ["--backend", "sequential"], env),
            ("asp_2w", local + ["--mode", "asp", "--workers", "2"], env),
            ("hogwild_2w", local + ["--mode", "hogwild", "--workers", "2"],
             env),
            ("bsp_2w", local + ["--mode", "bsp", "--workers", "2"], env),
            ("asp_1w", local + ["--mode", "asp", "--workers", "1"], env),
        ]

    compare(f"MLP 784-200-10, {args.optimizer} lr {args.lr}, batch 64, "
            f"{args.epochs} epochs", args.rounds, commands, "sequential")


if __name__ == "__main__":
    main()
