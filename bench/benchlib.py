"""Shared helpers of paramserv's benchmark drivers.

Every benchmarked process prints a last stdout line `summary key=value ...`
with at least samples_per_s and test_accuracy. Systems run in interleaved
rounds, so that drifts in machine load hit all of them alike, and results
are reported as medians [min-max] and ratios of medians against a baseline
measured in the same run.
"""

import os
import statistics
import subprocess
import sys


def parse_summary(stdout):
    """Key/value pairs of the last stdout line starting with 'summary '."""
    lines = [l for l in stdout.splitlines() if l.startswith("summary ")]
    if not lines:
        return None
    pairs = (field.split("=", 1) for field in lines[-1].split()[1:])
    return {kv[0]: kv[1] for kv in pairs if len(kv) == 2}


def fail(message):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {message}")


def run(system, argv, extra_env):
    """Runs one system; returns its summary as a dict."""
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
    for key in ("samples_per_s", "test_accuracy"):
        try:
            float(summary[key])
        except (KeyError, ValueError) as e:
            fail(f"{system}: bad summary line ({e!r}): {summary}")
    return summary


MIN_ROUNDS = 5


def spread(values, fmt):
    """'median [min-max]' of `values`, each formatted with `fmt`."""
    return (f"{statistics.median(values):{fmt}} "
            f"[{min(values):{fmt}}-{max(values):{fmt}}]")


def check_rounds(parser, rounds):
    """Refuses fewer rounds than a figure needs to show its spread."""
    if rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS} (got {rounds}):"
                     " figures are reported as median [min-max]")


def compare(title, rounds, commands, baseline):
    """Runs `commands(round)` -> [(system, argv, env)] for each round and
    prints, per system, samples/s and accuracy as median [min-max] over the
    rounds, and its ratio to `baseline`: the ratio is taken within each
    round (both measured minutes apart), then summarised the same way.
    `baseline` is one system's name, or a function giving the baseline of
    each system (systems compared in pairs).
    Returns {system: [samples/s of each round]}."""
    base_of = baseline if callable(baseline) else (lambda s: baseline)
    speed, accuracy, systems = {}, {}, []
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
        for system, argv, env in commands(r):
            if system not in speed:
                systems.append(system)
                speed[system], accuracy[system] = [], []
            summary = run(system, argv, env)
            sps = float(summary["samples_per_s"])
            acc = float(summary["test_accuracy"])
            speed[system].append(sps)
            accuracy[system].append(acc)
            print(f"    {sps:.0f} samples/s, accuracy {acc:.4f}",
                  file=sys.stderr, flush=True)
    print(f"\n{title}, {rounds} interleaved rounds, median [min-max]")
    width = max([16] + [len(s) for s in systems])
    print(f"{'system':<{width}} {'samples/s':>26} {'accuracy':>24} "
          f"{'ratio':>18}  to")
    for s in systems:
        b = base_of(s)
        ratios = [x / y for x, y in zip(speed[s], speed[b])]
        print(f"{s:<{width}} {spread(speed[s], '.0f'):>26} "
              f"{spread(accuracy[s], '.4f'):>24} "
              f"{spread(ratios, '.2f'):>18}  {b}")
    print("(ratio: samples/s over the baseline's in the same round)")
    return speed
