"""fit() and evaluate() over tensors held in memory, with a live plot and a progress bar.

A tool (imports the ground, augment and plots). Home of notebook 01 (LeNet5 trained live); 06,
08 and 09 train with it too.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from . import anatomy, env, show
from .augment import RandomShift
from .show import Report


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
    planned_epochs: int = 0
    interrupted: bool = False  # the user pressed the interrupt button

    @property
    def epochs(self) -> int:
        return len(self.test_accuracy)

    @property
    def finished(self) -> bool:
        """True when every planned epoch ran."""
        return not self.interrupted and self.epochs >= self.planned_epochs

    def __str__(self) -> str:
        if not self.epochs:
            return "History(no epochs yet)"
        stopped = "" if self.finished else f" (stopped: {self.epochs} of {self.planned_epochs})"
        return (
            f"{self.epochs} epochs{stopped} on {self.device}: "
            f"train loss {self.train_loss[-1]:.4f}, "
            f"test accuracy {self.test_accuracy[-1]:.2%} (best {max(self.test_accuracy):.2%}), "
            f"{self.images_per_second:,.0f} images/s"
        )


class TrainingError(env.CourseError, ValueError):
    """Training cannot start or go on; the message says what to change."""


def as_tensors(dataset: Dataset, what: str = "dataset") -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's images (N×C×H×W float) and labels (N long), stacked once into memory."""
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise ValueError(f"The {what} is empty: fit() needs at least one (image, label) pair.")
    if hasattr(dataset, "images") and hasattr(dataset, "labels"):
        # NumPy arrays work as well as tensors (torch.as_tensor shares their memory)
        images, labels = torch.as_tensor(dataset.images), torch.as_tensor(dataset.labels)
    elif hasattr(dataset, "tensors"):  # torch.utils.data.TensorDataset
        images, labels = dataset.tensors[:2]
    else:
        pairs = [dataset[i] for i in range(n)]
        kinds = {
            f"{type(img).__module__}.{type(img).__qualname__}"
            for img, _ in pairs
            if not torch.is_tensor(img)
        }
        if kinds:
            raise TrainingError(
                f"The {what} yields {', '.join(sorted(kinds))} objects, not tensors: give the "
                "dataset a transform that makes tensors, e.g. "
                "transform=torchvision.transforms.ToTensor()."
            )
        shapes = {tuple(img.shape) for img, _ in pairs}
        if len(shapes) > 1:
            raise ValueError(f"The {what} mixes image shapes {sorted(shapes)}; resize them to one.")
        images = torch.stack([img.float() for img, _ in pairs])
        labels = torch.as_tensor([int(label) for _, label in pairs])
    if labels.dim() != 1:
        shape = " × ".join(str(s) for s in labels.shape)
        fix = " (labels.squeeze(1))" if labels.dim() == 2 and labels.shape[1] == 1 else ""
        raise TrainingError(
            f"The {what}'s labels have shape {shape}; fit() needs one class number per image, "
            f"a tensor of shape N{fix}."
        )
    return images.float(), labels.long()


def _check_model_fits(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, what: str):
    """Catch what would fail only once training has started, and say what to change."""
    name = type(model).__name__
    shape = " × ".join(str(s) for s in images.shape[1:])
    if images.dim() != 4:
        raise ValueError(
            f"The {what} images have shape {shape}; fit() expects images of C × H × W, "
            "e.g. 1 × 28 × 28 for MNIST."
        )
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes and dtypes != {torch.float32}:
        raise TrainingError(
            f"{name}'s parameters are {', '.join(sorted(map(str, dtypes)))} but fit() trains in "
            "torch.float32, as the images are: convert the model with model.float()."
        )
    bad = int((~torch.isfinite(images)).sum())
    if bad:
        raise TrainingError(
            f"The {what} has {bad:,} pixels that are NaN or infinite; one is enough to turn every "
            "weight into NaN. Clean the images first, e.g. images.nan_to_num()."
        )
    with anatomy.evaluating(model) as dev:
        try:
            out = model(images[:2].to(dev))
        except RuntimeError as err:
            raise ValueError(
                f"{name} cannot take the {what} images of shape {shape}: "
                f"{str(err).splitlines()[0]}. Resize the images or change the model's first layer."
            ) from err
    if not torch.is_tensor(out) or out.dim() != 2:
        got = type(out).__name__ if not torch.is_tensor(out) else f"shape {tuple(out.shape)}"
        raise ValueError(f"{name} returned {got}, not a tensor of N × classes.")
    _check_training_output(model, images[:2])
    top = int(labels.max())
    if top >= out.shape[1] or int(labels.min()) < 0:
        raise ValueError(
            f"The {what} labels run from {int(labels.min())} to {top}, "
            f"but {name} has {out.shape[1]} outputs."
        )


def _check_training_output(model: nn.Module, images: torch.Tensor) -> None:
    """A forward pass in training mode must give a tensor too (GoogLeNet's aux heads don't).

    The pass changes nothing: batch-norm statistics are put back and no gradient is kept.
    """
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    try:
        with anatomy.modes_kept(model), torch.no_grad():
            model.train()
            out = model(images.to(anatomy.model_device(model)))
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    if not torch.is_tensor(out):
        raise TrainingError(
            f"In training mode {type(model).__name__} returns {type(out).__name__}, not a tensor "
            "(auxiliary classifiers, as GoogLeNet and Inception have?). Build it without them "
            "(e.g. aux_logits=False) or wrap it so that forward returns the main output."
        )


def _check_batches(model: nn.Module, n: int, batch_size: int) -> None:
    """Batch-norm cannot normalise a batch of one image in training mode: refuse it early."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    if n % batch_size == 1 and any(isinstance(m, norms) for m in model.modules()):
        raise TrainingError(
            f"With {n:,} training images and batch_size={batch_size}, the last batch holds one "
            "image, which batch-norm cannot normalise in training. Choose a batch size that "
            f"leaves more (e.g. {batch_size + 1}), or drop one image."
        )


def _run_on(model: nn.Module, device: torch.device | str | None) -> nn.Module:
    """The model, moved to `device` first when one is given."""
    if device is not None and anatomy.model_device(model) != torch.device(device):
        model.to(device)
    return model


def predict(
    model: nn.Module,
    dataset: Dataset | torch.Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Class probabilities (N × classes, on the CPU) for every image of `dataset`, or of an
    N × C × H × W batch of images.

    It runs where the model lives; `device`, if given, moves the model there first.
    """
    images = dataset if torch.is_tensor(dataset) else as_tensors(dataset)[0]
    return _predict(_run_on(model, device), images, batch_size)


def _predict(model: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    with anatomy.evaluating(model) as dev:
        return torch.cat(
            [
                torch.softmax(model(images[i : i + batch_size].to(dev)), dim=1).cpu()
                for i in range(0, len(images), batch_size)
            ]
        )


def _correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int):
    """How many of `images` the model gets right, as a tensor on the model's device (no sync)."""
    with anatomy.evaluating(model) as dev:
        total = torch.zeros((), dtype=torch.long, device=dev)
        for i in range(0, len(images), batch_size):
            logits = model(images[i : i + batch_size].to(dev))
            total += (logits.argmax(1) == labels[i : i + batch_size].to(dev)).sum()
        return total


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
) -> float:
    """The fraction of `dataset` that `model` classifies correctly (where the model lives)."""
    images, labels = as_tensors(dataset)
    return _correct(_run_on(model, device), images, labels, batch_size).item() / len(labels)


class _Reporter:
    """Shows progress: a live figure and a progress bar in a notebook, plain lines elsewhere.

    The figure and the bar are shown through display handles, so an executed notebook keeps
    their final state. Mid-epoch redraws, every 2 s, are the only times the batch losses are
    read back from the device before the epoch ends.
    """

    def __init__(
        self, history: History, epochs: int, batches: int, live: bool, quiet: bool
    ) -> None:
        self.history, self.epochs, self.quiet = history, epochs, quiet
        self.live = live and not quiet and show.in_notebook()
        self.last_draw = time.perf_counter()
        if self.live:
            from IPython.display import display

            from . import plots

            self.plots = plots
            self.figure = plots.history_figure()
            self.handle = display(self.figure, display_id=True)
            self.bar = show.Progress(epochs * batches, desc="training", unit="batches")

    def batch(self, losses: torch.Tensor, done: int) -> None:
        """One more batch is done; `losses[:done]` are this epoch's losses so far."""
        if self.live:
            self.bar.update(1)
            if time.perf_counter() - self.last_draw > 2.0:
                partial = losses[:done].tolist()
                self.draw(
                    dataclasses.replace(self.history, batch_loss=self.history.batch_loss + partial)
                )

    def draw(self, history: History | None = None) -> None:
        self.plots.draw_history(history or self.history, self.figure, epochs=self.epochs)
        self.handle.update(self.figure)
        self.last_draw = time.perf_counter()

    def epoch(self) -> None:
        h = self.history
        if self.live:
            self.bar.update(
                0,
                postfix=f"loss {h.train_loss[-1]:.3f}, test {h.test_accuracy[-1]:.1%}",
                force=True,
            )
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


# The course's recipe for LeNet5 on the shipped digits: random shifts of up to one pixel.
DEFAULT_AUGMENT = RandomShift(1)


def optimizer_for(model: nn.Module, lr: float, weight_decay: float, dev: torch.device):
    """AdamW; on CUDA its fused kernel, which updates every parameter in one launch."""
    extra = {"fused": True} if dev.type == "cuda" else {}
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, **extra)


def fit(
    model: nn.Module,
    train: Dataset,
    test: Dataset,
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    device: torch.device | str | None = None,
    live: bool = True,
    schedule: str = "cosine",
    weight_decay: float = 0.05,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = DEFAULT_AUGMENT,
    quiet: bool = False,
) -> History:
    """Train `model` with AdamW and cross-entropy; evaluate on `test` after every epoch.

    The defaults are the course's recipe: batch 32, AdamW at 2e-3 with weight decay 0.05, the
    learning rate falling to zero along a half cosine (schedule="cosine", Loshchilov & Hutter
    2017; "constant" keeps it), and random shifts of up to one pixel. With them,
    fit(LeNet5(), train, test, epochs=15) reaches 97.5% or more on the shipped digits.
    `augment` maps each training batch (N × C × H × W, on the device) to a new one; None
    trains on the images as they are. The model is moved to `device` (default: cu.device())
    and stays there; the data are moved there once. live=False prints a line per epoch
    instead of the live plot; quiet=True prints nothing.
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', not {schedule!r}")
    for what, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                continue  # epochs=3.0: a whole number, taken as 3
            raise TypeError(f"{what} must be a whole number, such as 3, not {value!r}.")
    epochs, batch_size = int(epochs), int(batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
    x, y = as_tensors(train, "training set")
    x_test, y_test = as_tensors(test, "test set")
    dev = torch.device(device) if device is not None else env.device()
    _run_on(model, dev)
    _check_model_fits(model, x, y, "training set")
    _check_model_fits(model, x_test, y_test, "test set")
    _check_batches(model, len(y), batch_size)

    # Cutting batches out of one tensor on the device replaces a DataLoader's per-sample work.
    x, y, x_test, y_test = x.to(dev), y.to(dev), x_test.to(dev), y_test.to(dev)
    optimizer = optimizer_for(model, lr, weight_decay, dev)
    loss_fn = nn.CrossEntropyLoss()
    batches = (len(y) + batch_size - 1) // batch_size
    steps = epochs * batches if schedule == "cosine" else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)) if steps else 1.0
    )
    sizes = torch.full((batches,), float(batch_size), device=dev)
    sizes[-1] = len(y) - batch_size * (batches - 1)  # the last batch may be smaller
    history = History(device=str(dev), planned_epochs=epochs)
    model.fit_history = history  # what save_trained records, also when training stops early
    reporter = _Reporter(history, epochs, batches, live, quiet)
    train_seconds = 0.0
    # A NaN or infinite loss stops training at its batch, before its step. On the CPU nothing
    # is queued, so each loss is checked as it comes, for free. An optimizer that can skip a
    # step on the device (AdamW's fused kernel, which fit uses on CUDA: optimizer.found_inf, as
    # torch's GradScaler sets it) is told to skip every step from that batch on, so that no
    # batch waits for the device; the epoch's one read then finds the batch. Any other keeps
    # the weights from the epoch's start, put back at the epoch's end.
    gated = bool(getattr(optimizer, "_step_supports_amp_scaling", False))
    check_each = dev.type == "cpu" and not gated
    try:
        for _ in range(epochs):
            start = time.perf_counter()
            good = None
            if not (gated or check_each):
                good = {k: v.detach().clone() for k, v in model.state_dict().items()}
            stopped = torch.zeros((), device=dev)  # 1 from the first non-finite loss on
            model.train()
            order = torch.randperm(len(y), device=dev)
            # Losses and hits stay on the device: reading them back every batch would make
            # the CPU wait for the GPU at each step.
            losses = torch.zeros(batches, device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            for b in range(batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                batch = x[idx] if augment is None else augment(x[idx])
                logits = model(batch)
                loss = loss_fn(logits, y[idx])
                if check_each and not torch.isfinite(loss):
                    losses[b:] = loss.detach()
                    break  # before its step: the model keeps the weights from before it
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if gated:
                    stopped = torch.maximum(stopped, (~torch.isfinite(loss.detach())).float())
                    optimizer.found_inf = stopped  # read by the fused step, on the device
                optimizer.step()
                scheduler.step()
                losses[b] = loss.detach()
                correct += (logits.argmax(1) == y[idx]).sum()
                reporter.batch(losses, b + 1)
            epoch_losses = losses.tolist()  # the epoch's one wait for the device
            _stop_if_not_finite(model, good, epoch_losses, history, lr)
            history.batch_loss += epoch_losses
            train_seconds += time.perf_counter() - start
            history.train_loss.append((losses * sizes).sum().item() / len(y))
            history.train_accuracy.append(correct.item() / len(y))
            history.test_accuracy.append(_correct(model, x_test, y_test, 1000).item() / len(y_test))
            history.epoch_seconds.append(time.perf_counter() - start)
            history.images_per_second = len(y) * history.epochs / train_seconds
            reporter.epoch()
    except KeyboardInterrupt:
        # Keep the model and what was measured, say so, and let the interrupt through, so that
        # the rest of the cell and the cells queued after it do not run.
        history.interrupted = True
        show.note(
            f"Training stopped by the user after {history.epochs} of {epochs} epochs. The model "
            "keeps what it learned; its history is model.fit_history, marked as interrupted."
        )
        raise
    finally:
        reporter.close()
        model.eval()
    return history


def _stop_if_not_finite(
    model, good: dict | None, losses: list[float], history: History, lr: float
) -> None:
    """At the first NaN or infinite loss, a message saying which weights the model keeps: those
    from before that batch (its step and every later one were skipped), or, with `good`, the
    epoch's start, put back here."""
    bad = next((b for b, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is None:
        return
    if good is not None:
        model.load_state_dict(good)
        kept = f"its weights from the end of epoch {history.epochs}"
    else:
        kept = f"its weights from before that batch (after {bad} of this epoch's batches)"
    history.interrupted = True
    raise TrainingError(
        f"The training loss became {losses[bad]} at batch {bad + 1} of epoch "
        f"{history.epochs + 1}. Training stopped there; the model keeps {kept}. Lower the "
        f"learning rate (now lr={lr:g}), or look for NaN or infinite values that the "
        "augmentation makes."
    )


def history_table(histories: dict[str, History]) -> Report:
    """One row per run: final training loss, training and test accuracy, time; as Markdown."""
    rows = {
        name: {
            "train loss": h.train_loss[-1],
            "train accuracy": h.train_accuracy[-1],
            "test accuracy": h.test_accuracy[-1],
            "seconds": sum(h.epoch_seconds),
        }
        for name, h in histories.items()
    }
    lines = [
        "| run | epochs | final training loss | training accuracy | test accuracy | time |",
        "|---|---|---|---|---|---|",
    ]
    for (name, r), h in zip(rows.items(), histories.values(), strict=True):
        lines.append(
            f"| {name} | {h.epochs} | {r['train loss']:.4f} | {r['train accuracy']:.1%} "
            f"| {r['test accuracy']:.1%} | {r['seconds']:.1f} s |"
        )
    return Report("\n".join(lines), rows)
