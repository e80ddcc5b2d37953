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
each system, and the ratios of the medians.

    /usr/bin/python3 bench/sequential_vs_torch.py --paramserv build/paramserv
"""

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMS = ["sequential", "torch_1thread", "torch_default"]
SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv",
                   help="paramserv binary (default build/paramserv)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--model", choices=["mlp", "softmax"], default="mlp")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of round 1; round r uses seed + r - 1")
    p.add_argument("--python", default="/usr/bin/python3",
                   help="interpreter with torch for torch_baseline.py")
    args = p.parse_args()
    if args.rounds <= 0 or args.epochs <= 0:
        p.error("--rounds and --epochs must be positive")
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


def parse_summary(stdout):
    """Key/value pairs of the last stdout line starting with 'summary '."""
    lines = [l for l in stdout.splitlines() if l.startswith("summary ")]
    if not lines:
        return None
    pairs = (field.split("=", 1) for field in lines[-1].split()[1:])
    return {kv[0]: kv[1] for kv in pairs if len(kv) == 2}


def fail(message):
    sys.exit(f"sequential_vs_torch: {message}")


def run(system, argv, extra_env):
    """Runs one system; returns (samples_per_s, test_accuracy)."""
    env = dict(os.environ, **extra_env)
    shown = " ".join(f"{k}={v}" for k, v in extra_env.items()) + " " \
        + " ".join(argv)
    print(f"  {system}: {shown.strip()}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    except OSError as e:
        fail(f"{system}: cannot start {argv[0]}: {e.strerror}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-20:])
        fail(f"{system} exited with status {proc.returncode}\n"
             f"command: {shown.strip()}\n{tail}")
    summary = parse_summary(proc.stdout)
    if summary is None:
        fail(f"{system} printed no 'summary ' line on stdout")
    try:
        return (float(summary["samples_per_s"]),
                float(summary["test_accuracy"]))
    except (KeyError, ValueError) as e:
        fail(f"{system}: bad summary line ({e!r}): {summary}")


def main():
    args = parse_args()
    for var in SINGLE_THREAD_ENV:
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set, so torch_default "
                  "inherits it", file=sys.stderr)
    speed = {s: [] for s in SYSTEMS}
    accuracy = {s: [] for s in SYSTEMS}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for system, argv, env in commands(args, args.seed + r):
            sps, acc = run(system, argv, env)
            speed[system].append(sps)
            accuracy[system].append(acc)
            print(f"    {sps:.0f} samples/s, accuracy {acc:.4f}",
                  file=sys.stderr, flush=True)

    median = {s: statistics.median(speed[s]) for s in SYSTEMS}
    print(f"\nmodel {args.model}, {args.epochs} epochs, {args.rounds} rounds")
    print(f"{'system':<15} {'samples/s median [min-max]':>32} "
          f"{'accuracy':>9}")
    for s in SYSTEMS:
        spread = f"{median[s]:.0f} [{min(speed[s]):.0f}-{max(speed[s]):.0f}]"
        print(f"{s:<15} {spread:>32} {statistics.median(accuracy[s]):>9.4f}")
    for other in SYSTEMS[1:]:
        print(f"sequential/{other}: {median['sequential'] / median[other]:.2f}")


if __name__ == "__main__":
    main()
