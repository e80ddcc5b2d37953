#!/usr/bin/python3
"""PyTorch baseline for paramserv's sequential trainer on Fashion-MNIST.

Trains the same models as `paramserv train --backend sequential` (softmax
regression 784-10 or an MLP 784-H-10 with ReLU) with plain mini-batch SGD on
the mean cross-entropy of each batch, shuffling the rows every epoch; the
last batch of an epoch may be smaller. All data are loaded into tensors
before the clock starts, and only the training loop is timed (no data
loading, no evaluation).

Run it with Debian's interpreter, which has torch and numpy:

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        /usr/bin/python3 bench/torch_baseline.py --threads 1

The last line on stdout is the result, in the format paramserv prints:

    summary backend=torch samples_per_s=<float> test_accuracy=<float> \\
        train_s=<float> epochs=<int>

Everything else goes to stderr.
"""

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Reads a gzip-compressed IDX file (unsigned bytes) into a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        sys.exit(f"{path}: expected {int(np.prod(dims))} values, "
                 f"got {data.size}")
    return data.reshape(dims)


def load_split(data_dir, prefix):
    """Images as float32 rows scaled to [0, 1] and labels as int64."""
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32))
    x /= 255.0
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def make_model(kind, inputs, hidden, classes):
    if kind == "softmax":
        return torch.nn.Linear(inputs, classes)
    return torch.nn.Sequential(torch.nn.Linear(inputs, hidden),
                               torch.nn.ReLU(),
                               torch.nn.Linear(hidden, classes))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["mlp", "softmax"], default="mlp")
    p.add_argument("--hidden", type=int, default=200,
                   help="hidden units of the MLP (default 200)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--data", default=DEFAULT_DATA,
                   help=f"directory with the IDX files (default {DEFAULT_DATA})")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--validation-rows", type=int, default=0,
                   help="training rows held out (seeded) and evaluated "
                        "every --eval-every batches and after each epoch")
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--target-accuracy", type=float, default=0.0,
                   help="stop at the first evaluation at or above this")
    args = p.parse_args()
    if args.lr <= 0 or args.batch_size <= 0 or args.epochs <= 0:
        p.error("--lr, --batch-size and --epochs must be positive")
    return args


def main():
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    val_x = val_y = None
    if args.validation_rows > 0:
        # Held out the way paramserv does it in spirit: a seeded draw.
        held = torch.randperm(len(train_x),
                              generator=torch.Generator().manual_seed(
                                  args.seed + 7919))
        val_rows, kept = held[:args.validation_rows], held[args.validation_rows:]
        val_x, val_y = train_x[val_rows], train_y[val_rows]
        train_x, train_y = train_x[kept], train_y[kept]
    n = len(train_x)
    model = make_model(args.model, train_x.shape[1], args.hidden,
                       int(train_y.max()) + 1)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()  # mean over the batch
    shuffle_rng = torch.Generator().manual_seed(args.seed)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"model {args.model}, {n} training rows", file=sys.stderr)

    model.train()
    start = time.perf_counter()
    batches = 0
    last_eval = -1
    target_s = None

    def evaluate(epoch):
        """Prints a validation line as paramserv does; True to stop."""
        nonlocal last_eval, target_s
        if val_x is None or last_eval == batches:
            return False
        last_eval = batches
        model.eval()
        with torch.no_grad():
            out = model(val_x)
            vloss = loss_fn(out, val_y).item()
            vacc = (out.argmax(dim=1) == val_y).double().mean().item()
        model.train()
        elapsed = time.perf_counter() - start
        print(f"eval epoch {epoch + 1} batch {batches}  validation_loss "
              f"{vloss:.4f}  validation_accuracy {vacc:.4f}  elapsed "
              f"{elapsed:.2f}s", flush=True)
        if args.target_accuracy > 0 and vacc >= args.target_accuracy:
            target_s = elapsed
            return True
        return False

    stop = False
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=shuffle_rng)
        for first in range(0, n, args.batch_size):
            rows = order[first:first + args.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(train_x[rows]), train_y[rows])
            loss.backward()
            optimizer.step()
            batches += 1
            if args.eval_every > 0 and batches % args.eval_every == 0:
                stop = evaluate(epoch)
                if stop:
                    break
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}",
              file=sys.stderr)
        if stop or evaluate(epoch):
            break
    train_s = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        predicted = model(test_x).argmax(dim=1)
    accuracy = (predicted == test_y).double().mean().item()

    samples = min(batches * args.batch_size, args.epochs * n)
    target = "" if args.target_accuracy <= 0 else (
        f" target_s={target_s:.2f}" if target_s is not None
        else " target_s=never")
    print(f"summary backend=torch samples_per_s={samples / train_s:.1f}"
          f" test_accuracy={accuracy:.4f} train_s={train_s:.3f}"
          f" epochs={args.epochs}{target}")


if __name__ == "__main__":
    main()
