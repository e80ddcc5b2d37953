#!/usr/bin/python3
"""The distributed backend against the local one, on Fashion-MNIST.

The same job (MLP 784-200-10, plain SGD lr 0.1, asp, 2 workers, 1 shard)
at each batch size, in interleaved rounds:

  local_bB     paramserv train --backend local (one process, threads)
  launch_bB    paramserv launch --server-nodes 1 --worker-nodes 2 (a
               scheduler, a server and two worker processes on 127.0.0.1)

Each launch_bB is compared with local_bB of the same round. samples/s is
training rows per second of training time (validation excluded), as each
run's summary line reports it. A push and a pull move the whole model
(159,010 floats, about 0.64 MB each way) per batch whatever its size, so
small batches are bound by the transport and large ones by computing.

    /usr/bin/python3 bench/cluster_vs_local.py --paramserv build/paramserv
"""

import argparse

from benchlib import check_rounds, compare


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batches", default="64,256,1024",
                   help="comma-separated batch sizes")
    args = p.parse_args()
    check_rounds(p, args.rounds)
    if args.epochs <= 0:
        p.error("--epochs must be positive")
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        p.error(f"--batches: not a list of whole numbers: {args.batches}")
    if not batches or min(batches) <= 0:
        p.error("--batches must list positive batch sizes")

    def commands(r):
        env = {"OPENBLAS_NUM_THREADS": "1"}
        result = []
        for b in batches:
            job = ["--model", "mlp", "--hidden", "200", "--optimizer", "sgd",
                   "--lr", "0.1", "--batch-size", str(b), "--epochs",
                   str(args.epochs), "--seed", str(1 + r), "--mode", "asp",
                   "--workers", "2", "--shards", "1"]
            result.append((f"local_b{b}", [args.paramserv, "train",
                                           "--backend", "local"] + job, env))
            result.append((f"launch_b{b}",
                           [args.paramserv, "launch", "--server-nodes", "1",
                            "--worker-nodes", "2"] + job, env))
        return result

    compare(f"MLP 784-200-10, sgd lr 0.1, asp, 2 workers, 1 shard, "
            f"{args.epochs} epochs", args.rounds, commands,
            lambda s: "local_" + s.split("_", 1)[1])


if __name__ == "__main__":
    main()
