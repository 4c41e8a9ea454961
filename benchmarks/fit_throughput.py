"""fit()'s in-memory batches against the usual per-sample pipeline, same model and batch size.

The baseline is what most tutorials write: a dataset of PIL images with ToTensor and
Normalize, batched by a DataLoader. Both train LeNet5 with Adam at batch size 64 on the
shipped MNIST digits; both are timed over the training steps only, in this one run.

    python benchmarks/fit_throughput.py [--epochs 3] [--batch-size 64]
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


def dataloader_images_per_second(train, epochs: int, batch_size: int, workers: int) -> float:
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    loader = DataLoader(
        PILDigits(train.images, train.labels, tf),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    model = cu.LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    seen, seconds = 0, 0.0
    for epoch in range(epochs + 1):  # epoch 0 warms up (and starts the workers); not timed
        start = time.perf_counter()
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if epoch:
                seen += len(y)
        if epoch:
            seconds += time.perf_counter() - start
    del loader  # stops its worker processes before the next measurement
    return seen / seconds


def fit_images_per_second(train, test, epochs: int, batch_size: int) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        cu.fit(cu.LeNet5(), train, test, epochs=1, batch_size=batch_size, live=False)  # warm-up
        history = cu.fit(
            cu.LeNet5(),
            train,
            test,
            epochs=epochs,
            batch_size=batch_size,
            live=False,
            schedule="constant",
        )
    return history.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    cu.seed_everything(0)
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = cu.data.mnist_fallback()
    ours = fit_images_per_second(train, test, args.epochs, args.batch_size)
    rows = [
        (
            "DataLoader, PIL + ToTensor + Normalize, 0 workers",
            dataloader_images_per_second(train, args.epochs, args.batch_size, 0),
        ),
        (
            "DataLoader, PIL + ToTensor + Normalize, 2 workers",
            dataloader_images_per_second(train, args.epochs, args.batch_size, 2),
        ),
        ("course_utils.fit, batches cut from one tensor", ours),
    ]
    base = rows[0][1]
    print(
        f"\nLeNet5 training throughput, batch size {args.batch_size}, {len(train):,} digits, "
        f"{args.epochs} epochs, {torch.get_num_threads()} torch threads, device cpu"
    )
    print(f"{'pipeline':<52} {'images/s':>10} {'vs. 0 workers':>14}")
    for name, speed in rows:
        print(f"{name:<52} {speed:>10,.0f} {speed / base:>13.2f}x")
    best_baseline = max(speed for _, speed in rows[:2])
    print(f"\nfit() is {rows[2][1] / best_baseline:.2f}x the faster DataLoader pipeline.")


if __name__ == "__main__":
    main()
