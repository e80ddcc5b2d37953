#!/usr/bin/python3
"""Time to a validation accuracy: each mode with 2 workers against the
sequential trainer and PyTorch, on Fashion-MNIST.

Every system trains the MLP 784-200-10 with the defaults a user gets
(`paramserv train --mode MODE --workers 2`: Adam, lr 0.001, batch 64, the
modes' default learning-rate scaling and staleness remedy), holds out 5,000
training rows as a validation set, evaluates on it every quarter epoch (215
batches, all workers together) and after each epoch, and stops at the first
evaluation reaching the last target (or after --epochs epochs). The time to
a target is the `elapsed` of the first evaluation at or above it: wall time
from the start of training, evaluations included.

Systems, one run each per round (round r uses seed + r - 1), interleaved:

  sequential    paramserv train --backend sequential
  bsp, asp, ...  paramserv train --mode MODE --workers 2
  torch         bench/torch_baseline.py, Adam, 1 thread: its best
                configuration of --torch-configs (lr/batch), chosen by the
                median time to the first target over the rounds

For each system and target: the time (median [min-max]), its ratio to the
sequential trainer's in the same round, the samples/s ratio, and the
statistical efficiency 1 / (time ratio x samples/s ratio): the samples the
sequential trainer needed over the samples the system needed. The same
figure taken from the batches trained before the evaluation that reached
the target ("samples efficiency", paramserv only: it is free of the time
the evaluations take) is printed beside it; `--eval-every` below a quarter
epoch makes both finer. A run that never reaches a target counts as
infinitely slow.

    /usr/bin/python3 bench/time_to_accuracy.py --paramserv build/paramserv
"""

import argparse
import math
import os
import re
import statistics
import sys

from benchlib import check_rounds, fail, parse_summary, spread

import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SINGLE = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
EVAL = re.compile(r"^eval epoch \d+ batch (\d+) .*validation_accuracy "
                  r"([0-9.]+) +elapsed ([0-9.]+)s")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paramserv", default="build/paramserv")
    p.add_argument("--python", default="/usr/bin/python3")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--targets", default="0.85,0.88")
    p.add_argument("--modes", default="bsp,asp,ssp:2,hogwild,sbp:1",
                   help="MODE[:PARAM] list (ssp's staleness, sbp's backups)")
    p.add_argument("--torch-configs", default="0.001/64,0.003/256",
                   help="lr/batch list PyTorch is tried with ('' for none)")
    p.add_argument("--extra", default="",
                   help="flags added to every paramserv run with workers")
    p.add_argument("--eval-every", type=int, default=215,
                   help="paramserv's --eval-every (215: a quarter epoch)")
    args = p.parse_args()
    check_rounds(p, args.rounds)
    args.targets = [float(t) for t in args.targets.split(",")]
    return args


def mode_flags(spec):
    mode, _, param = spec.partition(":")
    flags = ["--mode", mode, "--workers", "2"]
    if mode == "ssp" and param:
        flags += ["--staleness", param]
    if mode == "sbp" and param:
        flags += ["--backup-workers", param]
    return flags


def run(system, argv, env, targets):
    """Runs one system; returns (time to each target, samples/s, batches
    trained before each target was reached)."""
    shown = " ".join(argv)
    print(f"  {system}: {shown}", file=sys.stderr, flush=True)
    proc = subprocess.run(argv, env=dict(os.environ, **env),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{system} exited with status {proc.returncode}\n"
             f"command: {shown}\n" + "\n".join(proc.stderr.splitlines()[-20:]))
    summary = parse_summary(proc.stdout)
    if summary is None:
        fail(f"{system} printed no 'summary ' line")
    evals = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
             for m in map(EVAL.match, proc.stdout.splitlines()) if m]
    times, batches = [], []
    for t in targets:
        hit = [(b, s) for b, acc, s in evals if acc >= t]
        times.append(hit[0][1] if hit else math.inf)
        batches.append(hit[0][0] if hit else math.inf)
    sps = float(summary["samples_per_s"])
    print("    " + ", ".join(f"{t}: {x:.2f} s" for t, x in zip(targets, times))
          + f", {sps:.0f} samples/s", file=sys.stderr, flush=True)
    return times, sps, batches


def main():
    args = parse_args()
    last = str(max(args.targets))
    common = ["--epochs", str(args.epochs), "--validation-fraction",
              str(5000 / 60000), "--eval-every", str(args.eval_every),
              "--target-accuracy",
              last]
    systems = [("sequential",
                [args.paramserv, "train", "--backend", "sequential"] + common,
                {"OPENBLAS_NUM_THREADS": "1"})]
    extra = args.extra.split()
    for spec in args.modes.split(","):
        systems.append((spec, [args.paramserv, "train"] + mode_flags(spec)
                        + common + extra, {"OPENBLAS_NUM_THREADS": "1"}))
    torch_configs = [c for c in args.torch_configs.split(",") if c]
    for c in torch_configs:
        lr, batch = c.split("/")
        per_epoch = -(-55000 // int(batch))
        systems.append((f"torch {c}", [
            args.python, os.path.join(HERE, "torch_baseline.py"), "--threads",
            "1", "--optimizer", "adam", "--lr", lr, "--batch-size", batch,
            "--epochs", str(args.epochs), "--validation-rows", "5000",
            "--eval-every", str(max(1, per_epoch // 4)), "--target-accuracy",
            last], SINGLE))
    times = {name: [] for name, _, _ in systems}
    speed = {name: [] for name, _, _ in systems}
    batches = {name: [] for name, _, _ in systems}
    for r in range(args.rounds):
        seed = str(args.seed + r)
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for name, argv, env in systems:
            t, s, b = run(name, argv + ["--seed", seed], env, args.targets)
            times[name].append(t)
            speed[name].append(s)
            batches[name].append(b)
    # PyTorch: its best configuration by median time to the first target.
    names = [name for name, _, _ in systems if not name.startswith("torch")]
    if torch_configs:
        best = min((n for n in times if n.startswith("torch")),
                   key=lambda n: statistics.median(x[0] for x in times[n]))
        names.append(best)

    def fmt(xs, f):
        xs = [x if math.isfinite(x) else float("inf") for x in xs]
        return spread(xs, f)

    print(f"\nTime to validation accuracy, MLP 784-200-10, Adam, "
          f"{args.rounds} interleaved rounds (seeds {args.seed}-"
          f"{args.seed + args.rounds - 1}), median [min-max]")
    for k, target in enumerate(args.targets):
        print(f"\ntarget {target}")
        print(f"{'system':<16} {'time s':>22} {'time ratio':>20} "
              f"{'samples/s ratio':>20} {'stat. efficiency':>20} "
              f"{'samples efficiency':>20}")
        for n in names:
            t = [x[k] for x in times[n]]
            base = [x[k] for x in times["sequential"]]
            tr = [a / b for a, b in zip(t, base)]
            sr = [a / b for a, b in zip(speed[n], speed["sequential"])]
            eff = [1 / (a * b) if math.isfinite(a) else 0.0
                   for a, b in zip(tr, sr)]
            # The same from the batches trained before the evaluation that
            # reached the target (every system here has the same batch
            # size), free of the timing of the evaluations themselves.
            seff = "-"
            if not n.startswith("torch"):
                seff = spread([b[k] / a[k] if math.isfinite(a[k]) else 0.0
                               for a, b in zip(batches[n],
                                               batches["sequential"])],
                              '.2f')
            print(f"{n:<16} {fmt(t, '.2f'):>22} {fmt(tr, '.2f'):>20} "
                  f"{spread(sr, '.2f'):>20} {spread(eff, '.2f'):>20} "
                  f"{seff:>20}")
    print("\n(ratios to the sequential trainer in the same round; "
          "efficiency = 1 / (time ratio x samples/s ratio); samples "
          "efficiency = the sequential trainer's batches to the target over "
          "the system's)")


if __name__ == "__main__":
    main()
