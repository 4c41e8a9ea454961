"""fit() throughput with torch's default threads and with the course's choice, alone and busy.

A hub pod with a CPU limit, or several kernels on one lab machine, leave a kernel fewer CPUs
than torch's default thread count assumes. importing course_utils sets torch's threads with
env.choose_threads (affinity mask, cgroup quota, and the load that other work puts on the
machine). This measures LeNet5's training throughput under fit() for every thread count from 1
to the CPUs here, in one run:

- alone: nothing else runs;
- busy: beside a competing process that keeps all the CPUs busy with matrix products (another
  student's kernel training, as on a shared machine).

The row the course picks in each case is marked: choose_threads with the load that case settles
at (0 alone, the competitor's threads when busy).

    python benchmarks/threads.py [--digits 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import time

import torch

DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice, before course_utils sets it

import course_utils as cu  # noqa: E402 - after reading torch's default

COMPETITOR = (
    "import torch, sys; torch.set_num_threads(int(sys.argv[1])); a = torch.randn(384, 384)\n"
    "while True: a = torch.tanh(a @ a)"
)


def throughput(train, test, threads: int) -> float:
    """Training images per second of one epoch of fit() with `threads` torch threads."""
    torch.set_num_threads(threads)
    cu.seed_everything(0)
    settings = dict(epochs=1, batch_size=32, quiet=True, device="cpu", live=False)
    history = cu.fit(cu.LeNet5(), train, test, **settings)
    return history.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=2000, help="training digits per epoch")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many epochs")
    args = parser.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = cu.data.mnist_fallback()
    train = cu.data.TensorImageDataset(train.images[: args.digits], train.labels[: args.digits])
    test = cu.data.TensorImageDataset(test.images[:200], test.labels[:200])
    cpus, why = cu.env.usable_cpus()
    counts = sorted({*range(1, cpus + 1), DEFAULT_THREADS})
    throughput(train, test, 1)  # warm-up: kernels, allocator

    rows = []
    for case, competitor_threads in (("alone", 0), ("busy", cpus)):
        proc = None
        if competitor_threads:
            proc = subprocess.Popen([sys.executable, "-c", COMPETITOR, str(competitor_threads)])
            time.sleep(2)
        try:
            choice, _ = cu.env.choose_threads(load=float(competitor_threads))
            for threads in counts:
                speed = max(throughput(train, test, threads) for _ in range(args.rounds))
                rows.append((case, threads, speed, threads == choice))
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()

    print(
        f"\nLeNet5 fit() on the CPU, {len(train):,} digits per epoch, batch 32, best of "
        f"{args.rounds}: {why}; torch's default is {DEFAULT_THREADS} threads"
    )
    print(f"{'case':<8} {'threads':>7} {'images/s':>10} {'vs. default':>12}  ")
    for case, threads, speed, chosen in rows:
        default = next(s for c, t, s, _ in rows if c == case and t == DEFAULT_THREADS)
        mark = "  <- course_utils" if chosen else ""
        tag = " (torch default)" if threads == DEFAULT_THREADS else ""
        print(f"{case:<8} {threads:>7} {speed:>10,.0f} {speed / default:>11.2f}x{mark}{tag}")
    print(f"(this machine: {os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
