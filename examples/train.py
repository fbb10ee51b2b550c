#!/usr/bin/env python3
"""A tiny training script for `trialog run` (docs/RUN.md): no dependencies beyond Python 3.

It fits y = 3x - 2 + noise with a small polynomial model trained by mini-batch SGD, and takes
its hyperparameters as command-line flags, as most training scripts do:

    python3 examples/train.py --lr 0.05 --degree 2 --optimizer momentum --epochs 20

After each epoch it prints `trialog:report <epoch> <validation loss>` (the runner records it
as an intermediate value and may stop a hopeless trial early); at the end it prints the final
validation loss as its last line, which the runner takes as the trial's value. A diverging
run exits with status 1 and a message on stderr (the trial FAILs with that message).
"""

import argparse
import math
import random
import sys


def data(n, rng):
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    return [(x, 3.0 * x - 2.0 + rng.gauss(0.0, 0.1)) for x in xs]


def predict(w, x):
    return sum(wi * x**i for i, wi in enumerate(w))


def loss(w, rows):
    return sum((predict(w, x) - y) ** 2 for x, y in rows) / len(rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--degree", type=int, default=1)
    p.add_argument("--optimizer", choices=["sgd", "momentum"], default="sgd")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = random.Random(args.seed)
    train, valid = data(256, rng), data(64, rng)
    w = [0.0] * (args.degree + 1)
    velocity = [0.0] * len(w)
    for epoch in range(args.epochs):
        rng.shuffle(train)
        for start in range(0, len(train), args.batch_size):
            batch = train[start : start + args.batch_size]
            grad = [0.0] * len(w)
            for x, y in batch:
                err = predict(w, x) - y
                for i in range(len(w)):
                    grad[i] += 2.0 * err * x**i / len(batch)
            for i in range(len(w)):
                if args.optimizer == "momentum":
                    velocity[i] = 0.9 * velocity[i] - args.lr * grad[i]
                    w[i] += velocity[i]
                else:
                    w[i] -= args.lr * grad[i]
        val = loss(w, valid)
        if not math.isfinite(val) or val > 1e6:
            print(f"diverged at epoch {epoch} (lr {args.lr} is too large)", file=sys.stderr)
            sys.exit(1)
        print(f"trialog:report {epoch} {val}", flush=True)
    print(val)


if __name__ == "__main__":
    main()
