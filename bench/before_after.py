#!/usr/bin/python3
"""Two paramserv binaries side by side: the same runs, interleaved.

For a change on the hot path: build the commit before it into another
directory, then compare (MLP 784-200-10, plain SGD lr 0.1, batch 64, on
Fashion-MNIST):

  sequential      --backend sequential (one thread)
  asp_2w, bsp_2w  --backend local, 2 workers, 1 shard
  asp_1w, bsp_1w  --backend local, 1 worker, 1 shard

Each round runs every configuration with both binaries, one after the
other, so both see the same machine. Prints samples/s per binary and the
after/before ratio taken within each round, as median [min-max].

    git worktree add /tmp/before <commit> && \\
      cmake -S /tmp/before -B /tmp/before/build -DCMAKE_BUILD_TYPE=Release && \\
      cmake --build /tmp/before/build --target paramserv
    /usr/bin/python3 bench/before_after.py \\
      --before /tmp/before/build/paramserv --after build/paramserv
"""

import argparse
import os

from benchlib import check_rounds, compare, spread


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", required=True)
    p.add_argument("--after", default="build/paramserv")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    check_rounds(p, args.rounds)
    for flag, path in (("--before", args.before), ("--after", args.after)):
        if not os.access(path, os.X_OK):
            p.error(f"{flag}: {path} is not an executable")
    configs = [
        ("sequential", ["--backend", "sequential"]),
        ("asp_2w", ["--mode", "asp", "--workers", "2"]),
        ("bsp_2w", ["--mode", "bsp", "--workers", "2"]),
        ("asp_1w", ["--mode", "asp", "--workers", "1"]),
        ("bsp_1w", ["--mode", "bsp", "--workers", "1"]),
    ]

    def commands(r):
        env = {"OPENBLAS_NUM_THREADS": "1"}
        result = []
        for name, extra in configs:
            for label, binary in (("before", args.before),
                                  ("after", args.after)):
                argv = [binary, "train", "--model", "mlp", "--hidden", "200",
                        "--optimizer", "sgd", "--lr", "0.1",
                        "--batch-size", "64", "--epochs", str(args.epochs),
                        "--seed", str(1 + r), "--shards", "1"] + extra
                result.append((f"{label}:{name}", argv, env))
        return result

    speed = compare(f"MLP 784-200-10, sgd lr 0.1, batch 64, {args.epochs} "
                    "epochs", args.rounds, commands, "before:sequential")
    print(f"\n{'configuration':<16} {'after / before samples/s':>30}")
    for name, _ in configs:
        ratios = [a / b for a, b in zip(speed[f"after:{name}"],
                                        speed[f"before:{name}"])]
        print(f"{name:<16} {spread(ratios, '.2f'):>30}")
    print("(ratio taken within each round)")


if __name__ == "__main__":
    main()
