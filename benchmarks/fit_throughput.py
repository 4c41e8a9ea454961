"""fit() against a bare hand-written loop and the usual per-sample pipeline, per device.

Three ways to train LeNet5 on the shipped MNIST digits, all with the same model, device and
recipe (cu.train.RECIPE, which fit trains with: batch size, AdamW, fused on CUDA as in fit, its
learning rate, weight decay and schedule), timed over the training steps only, in this one run,
with one untimed warm-up epoch each, best of two interleaved rounds:

- the bare loop: batches cut from tensors on the device, augmented as the recipe says, nothing
  else (no progress, no history). fit's own bookkeeping costs what fit loses against it.
- the DataLoader pipeline most tutorials write: PIL images, ToTensor and Normalize per sample,
  batched by a DataLoader (0 and 2 worker processes), each batch copied to the device.
- course_utils.fit, which reads the losses back from the device once per epoch.

The table is printed for every device present (the CPU, and CUDA or MPS when there is one).
Targets: on CUDA, fit at least 0.9x the bare loop; on the CPU, at least 1.5x the DataLoader.

    python benchmarks/fit_throughput.py [--epochs 3] [--batch-size 32] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

import course_utils as cu
from course_utils.train import RECIPE, optimizer_for, scheduler_for


class PILDigits(Dataset):
    """A torchvision-style dataset: PIL images in, a transform applied per sample."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images = [Image.fromarray((img[0] * 255).byte().numpy(), mode="L") for img in images]
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _train(batches, model, device: torch.device, epochs: int, steps_per_epoch: int) -> float:
    """Images per second over `epochs` timed epochs (after one warm-up) of `batches()`."""
    optimizer = optimizer_for(model, RECIPE.lr, RECIPE.weight_decay, device)
    scheduler = scheduler_for(optimizer, RECIPE.schedule, (epochs + 1) * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    seen, seconds = 0, 0.0
    for epoch in range(epochs + 1):  # epoch 0 warms up (kernels, workers); not timed
        _sync(device)
        start = time.perf_counter()
        for x, y in batches():
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if epoch:
                seen += len(y)
        _sync(device)
        if epoch:
            seconds += time.perf_counter() - start
    return seen / seconds


def bare_loop(train, device: torch.device, epochs: int, batch_size: int) -> float:
    x, y = train.images.to(device), train.labels.to(device)
    n = len(y)
    augment = RECIPE.augment if RECIPE.augment is not None else (lambda batch: batch)

    def batches():
        order = torch.randperm(n, device=device)
        for b in range(0, n, batch_size):
            idx = order[b : b + batch_size]
            yield augment(x[idx]), y[idx]

    steps = -(-n // batch_size)
    return _train(batches, cu.LeNet5().to(device).train(), device, epochs, steps)


def dataloader(train, device: torch.device, epochs: int, batch_size: int, workers: int) -> float:
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    loader = DataLoader(
        PILDigits(train.images, train.labels, tf),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )

    def batches():
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    # The loader and its worker processes go when this returns, before the next measurement.
    return _train(batches, cu.LeNet5().to(device).train(), device, epochs, len(loader))


def fit(train, test, device: torch.device, epochs: int, batch_size: int) -> float:
    settings = dict(batch_size=batch_size, device=device, quiet=True)
    cu.fit(cu.LeNet5(), train, test, epochs=1, **settings)  # warm-up
    history = cu.fit(cu.LeNet5(), train, test, epochs=epochs, **settings)
    return history.images_per_second


def devices() -> list[torch.device]:
    found = [torch.device("cpu")]
    if torch.cuda.is_available():
        found.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(torch.device("mps"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = cu.data.mnist_fallback()
    for device in devices():
        cu.seed_everything(0)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
        runs = {
            "bare loop (tensors on the device)": lambda d=device: bare_loop(
                train, d, args.epochs, args.batch_size
            ),
            "DataLoader, PIL + ToTensor + Normalize, 0 workers": lambda d=device: dataloader(
                train, d, args.epochs, args.batch_size, 0
            ),
            "DataLoader, PIL + ToTensor + Normalize, 2 workers": lambda d=device: dataloader(
                train, d, args.epochs, args.batch_size, 2
            ),
            "course_utils.fit": lambda d=device: fit(train, test, d, args.epochs, args.batch_size),
        }
        # Each pipeline runs `rounds` times, interleaved, and keeps its best: the machine's
        # warm-up and noise then favour none of them.
        rows = dict.fromkeys(runs, 0.0)
        for _ in range(args.rounds):
            for label, run in runs.items():
                rows[label] = max(rows[label], run())
        bare = rows["bare loop (tensors on the device)"]
        loader = max(v for k, v in rows.items() if k.startswith("DataLoader"))
        print(
            f"\nLeNet5 training throughput on {name}: batch size {args.batch_size}, "
            f"{len(train):,} digits, {args.epochs} epochs, {torch.get_num_threads()} torch threads"
        )
        print(f"{'pipeline':<52} {'images/s':>10} {'vs. bare loop':>14}")
        for label, speed in rows.items():
            print(f"{label:<52} {speed:>10,.0f} {speed / bare:>13.2f}x")
        ours = rows["course_utils.fit"]
        print(
            f"fit: {ours / bare:.2f}x the bare loop, {ours / loader:.2f}x the faster DataLoader "
            f"(target on {device.type}: "
            + ("at least 0.9x the bare loop)" if device.type != "cpu" else "at least 1.5x it)")
        )


if __name__ == "__main__":
    main()
