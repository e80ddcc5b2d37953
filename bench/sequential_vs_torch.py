#!/usr/bin/python3
"""Compares paramserv's sequential trainer with PyTorch on Fashion-MNIST.

Runs interleaved rounds of three systems, so that drifts in machine load hit
all of them alike:

  sequential      paramserv train --backend sequential, OPENBLAS_NUM_THREADS=1
                  (the trainer is single-threaded by design)
  torch_1thread   bench/torch_baseline.py --threads 1, OPENBLAS_NUM_THREADS=1,
                  OMP_NUM_THREADS=1
  torch_default   bench/torch_baseline.py with torch's default threading and
                  the environment left as it is

Each process must print a last stdout line of the form
`summary key=value ...` with at least samples_per_s and test_accuracy.
The table shows the median samples/s [min-max] and the median accuracy of
each system, and the ratio of its median to torch_1thread's.

    /usr/bin/python3 bench/sequential_vs_torch.py --paramserv build/paramserv
"""

import argparse
import os
import sys

from benchlib import check_rounds, compare

HERE = os.path.dirname(os.path.abspath(__file__))
SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv",
                   help="paramserv binary (default build/paramserv)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--model", choices=["mlp", "softmax"], default="mlp")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of round 1; round r uses seed + r - 1")
    p.add_argument("--python", default="/usr/bin/python3",
                   help="interpreter with torch for torch_baseline.py")
    args = p.parse_args()
    check_rounds(p, args.rounds)
    if args.epochs <= 0:
        p.error("--epochs must be positive")
    return args


def commands(args, seed):
    """The (system, argv, extra environment) of one round, in run order."""
    common = ["--model", args.model, "--lr", "0.1", "--batch-size", "64",
              "--epochs", str(args.epochs), "--seed", str(seed)]
    hidden = ["--hidden", "200"] if args.model == "mlp" else []
    paramserv = [args.paramserv, "train", "--backend", "sequential",
                 "--optimizer", "sgd"] + hidden + common
    torch = [args.python, os.path.join(HERE, "torch_baseline.py")] + hidden \
        + common
    return [
        ("sequential", paramserv, {"OPENBLAS_NUM_THREADS": "1"}),
        ("torch_1thread", torch + ["--threads", "1"], SINGLE_THREAD_ENV),
        ("torch_default", torch, {}),
    ]


def main():
    args = parse_args()
    for var in SINGLE_THREAD_ENV:
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set, so torch_default "
                  "inherits it", file=sys.stderr)
    compare(f"model {args.model}, {args.epochs} epochs", args.rounds,
            lambda r: commands(args, args.seed + r), "torch_1thread")


if __name__ == "__main__":
    main()
