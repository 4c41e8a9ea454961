"""fit() and evaluate() over tensors held in memory, with a live plot and a progress bar."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from . import config


@dataclass
class History:
    """What fit() measured: one value per epoch, plus the loss of every batch."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    images_per_second: float = 0.0
    device: str = "cpu"

    @property
    def epochs(self) -> int:
        return len(self.test_accuracy)

    def __str__(self) -> str:
        if not self.epochs:
            return "History(no epochs yet)"
        return (
            f"{self.epochs} epochs on {self.device}: train loss {self.train_loss[-1]:.4f}, "
            f"test accuracy {self.test_accuracy[-1]:.2%} (best {max(self.test_accuracy):.2%}), "
            f"{self.images_per_second:,.0f} images/s"
        )


def as_tensors(dataset: Dataset, what: str = "dataset") -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's images (N×C×H×W float) and labels (N long), stacked once into memory."""
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise ValueError(f"The {what} is empty: fit() needs at least one (image, label) pair.")
    if hasattr(dataset, "images") and hasattr(dataset, "labels"):
        return dataset.images.float(), dataset.labels.long()
    if hasattr(dataset, "tensors"):  # torch.utils.data.TensorDataset
        images, labels = dataset.tensors[:2]
        return images.float(), labels.long()
    pairs = [dataset[i] for i in range(n)]
    shapes = {tuple(torch.as_tensor(img).shape) for img, _ in pairs}
    if len(shapes) > 1:
        raise ValueError(f"The {what} mixes image shapes {sorted(shapes)}; resize them to one.")
    images = torch.stack([torch.as_tensor(img, dtype=torch.float32) for img, _ in pairs])
    return images, torch.as_tensor([int(label) for _, label in pairs])


def _check_model_fits(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, what: str):
    """Run two images through the model so that a shape mismatch is caught before training."""
    shape = " × ".join(str(s) for s in images.shape[1:])
    if images.dim() != 4:
        raise ValueError(
            f"The {what} images have shape {shape}; fit() expects images of C × H × W, "
            "e.g. 1 × 28 × 28 for MNIST."
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(images[:2])
    except RuntimeError as err:
        raise ValueError(
            f"{type(model).__name__} cannot take the {what} images of shape {shape}: "
            f"{str(err).splitlines()[0]}. Resize the images or change the model's first layer."
        ) from err
    finally:
        model.train(was_training)
    if out.dim() != 2:
        raise ValueError(
            f"{type(model).__name__} returned shape {tuple(out.shape)}, not N × classes."
        )
    top = int(labels.max())
    if top >= out.shape[1] or int(labels.min()) < 0:
        raise ValueError(
            f"The {what} labels run from {int(labels.min())} to {top}, "
            f"but {type(model).__name__} has {out.shape[1]} outputs."
        )


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 1000,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Class probabilities (N × classes, on the CPU) for every image of `dataset`."""
    images, _ = as_tensors(dataset)
    return _predict(model, images, batch_size, device or _model_device(model))


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def _predict(model: nn.Module, images: torch.Tensor, batch_size: int, dev: torch.device):
    was_training = model.training
    model.eval().to(dev)
    out = [
        torch.softmax(model(images[i : i + batch_size].to(dev)), dim=1).cpu()
        for i in range(0, len(images), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out)


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 1000,
    device: torch.device | None = None,
) -> float:
    """The fraction of `dataset` that `model` classifies correctly."""
    images, labels = as_tensors(dataset)
    probs = _predict(model, images, batch_size, device or _model_device(model))
    return (probs.argmax(1) == labels).float().mean().item()


class _Reporter:
    """Shows progress: a live figure and a tqdm bar in a notebook, plain lines elsewhere."""

    def __init__(
        self, history: History, epochs: int, batches: int, live: bool, quiet: bool
    ) -> None:
        self.history, self.epochs, self.quiet = history, epochs, quiet
        self.live = live and not quiet and config.in_notebook()
        self.last_draw = 0.0
        if self.live:
            import matplotlib.pyplot as plt
            from IPython.display import display
            from tqdm.auto import tqdm

            from . import plots

            self.plots = plots
            self.figure = plots.history_figure()
            plt.close(self.figure)  # we show it through the display handle only
            self.handle = display(self.figure, display_id=True)
            self.bar = tqdm(total=epochs * batches, desc="training", unit="batch")

    def batch(self) -> None:
        if self.live:
            self.bar.update(1)
            if time.perf_counter() - self.last_draw > 2.0:
                self.draw()

    def draw(self) -> None:
        self.plots.draw_history(self.history, self.figure, epochs=self.epochs)
        self.handle.update(self.figure)
        self.last_draw = time.perf_counter()

    def epoch(self) -> None:
        h = self.history
        if self.live:
            self.bar.set_postfix(loss=f"{h.train_loss[-1]:.3f}", test=f"{h.test_accuracy[-1]:.1%}")
            self.draw()
        elif not self.quiet:
            print(
                f"epoch {h.epochs:>2}/{self.epochs}  train loss {h.train_loss[-1]:.4f}  "
                f"train {h.train_accuracy[-1]:6.2%}  test {h.test_accuracy[-1]:6.2%}  "
                f"({h.epoch_seconds[-1]:.1f} s)",
                flush=True,
            )

    def close(self) -> None:
        if self.live:
            self.bar.close()


def fit(
    model: nn.Module,
    train: Dataset,
    test: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    live: bool = True,
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    quiet: bool = False,
) -> History:
    """Train `model` with Adam and cross-entropy; evaluate on `test` after every epoch.

    schedule="cosine" lowers the learning rate from `lr` to zero along a half cosine over the
    whole run (Loshchilov & Hutter 2017), which settles the last epochs; "constant" keeps it.
    `augment`, if given, maps each training batch (N × C × H × W, on the device) to a new one.
    live=False prints a line per epoch instead of the live plot; quiet=True prints nothing.
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', not {schedule!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
    x, y = as_tensors(train, "training set")
    x_test, y_test = as_tensors(test, "test set")
    dev = torch.device(device) if device is not None else config.device()
    model.to("cpu")
    _check_model_fits(model, x, y, "training set")
    _check_model_fits(model, x_test, y_test, "test set")

    model.to(dev)
    # Cutting batches out of one tensor on the device replaces a DataLoader's per-sample work.
    x, y = x.to(dev), y.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    batches = (len(y) + batch_size - 1) // batch_size
    steps = epochs * batches if schedule == "cosine" else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)) if steps else 1.0
    )
    history = History(device=str(dev))
    reporter = _Reporter(history, epochs, batches, live, quiet)
    train_seconds = 0.0
    try:
        for _ in range(epochs):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(len(y), device=dev)
            total_loss = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            for b in range(batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                batch = x[idx] if augment is None else augment(x[idx])
                logits = model(batch)
                loss = loss_fn(logits, y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total_loss += loss.detach() * len(idx)
                correct += (logits.argmax(1) == y[idx]).sum()
                history.batch_loss.append(loss.item())
                reporter.batch()
            elapsed = time.perf_counter() - start
            train_seconds += elapsed
            history.train_loss.append(total_loss.item() / len(y))
            history.train_accuracy.append(correct.item() / len(y))
            probs = _predict(model, x_test, 1000, dev)
            history.test_accuracy.append((probs.argmax(1) == y_test).float().mean().item())
            history.epoch_seconds.append(time.perf_counter() - start)
            history.images_per_second = len(y) * history.epochs / train_seconds
            reporter.epoch()
    except KeyboardInterrupt:  # the interrupt button keeps the model and what was measured
        config.note(f"Training stopped by the user after {history.epochs} complete epochs.")
    finally:
        reporter.close()
        model.eval()
    return history
