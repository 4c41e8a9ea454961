"""fit() and evaluate() over tensors held in memory, with a live plot and a progress bar.

A tool (imports the ground, augment and plots). Home of notebook 01 (LeNet5 trained live); 06,
08 and 09 train with it too.

The course's training recipe is one frozen dataclass, RECIPE (a Recipe): fit's defaults, printed
in notebook 01, shared by the benchmarks and fingerprinted by the families race's cache. The
epoch's loop, train_epoch, is the one that notebook 01 writes out and checks against fit.
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


# The course's augmentation for LeNet5 on the shipped digits: random shifts of up to one pixel.
DEFAULT_AUGMENT = RandomShift(1)

Augment = Callable[[torch.Tensor], torch.Tensor]
SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("AdamW",)


def _describe(value: object) -> str:
    """A value as a short, stable string: its repr, or its name when the repr is an address."""
    text = repr(value)
    return getattr(value, "__qualname__", type(value).__name__) if " at 0x" in text else text


@dataclass(frozen=True)
class Recipe:
    """How fit() trains: the optimiser and its settings, the schedule, the augmentation, and
    how many epochs of how large batches. RECIPE is the course's; fit's defaults are its own.

    A variant is dataclasses.replace(RECIPE, lr=1e-3) or fit(..., lr=1e-3). Every field is
    checked here, so a wrong value fails at once, with its name. `schedule` is "cosine" (the
    learning rate falls from `lr` to 0 along a half cosine over all the training steps,
    Loshchilov & Hutter 2017) or "constant"; `augment` maps a batch of images (N × C × H × W,
    on the device) to a new one, and None trains on the images as they are.
    """

    optimizer: str = "AdamW"
    lr: float = 2e-3
    weight_decay: float = 0.05
    schedule: str = "cosine"
    augment: Augment | None = DEFAULT_AUGMENT
    epochs: int = 15
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be 'cosine' or 'constant', not {self.schedule!r}.")
        if self.augment is not None and not callable(self.augment):
            raise TypeError(
                f"augment must map a batch to a batch, or be None, not {self.augment!r}"
            )
        set_ = object.__setattr__  # the dataclass is frozen: values are normalised only here
        set_(self, "lr", _number("lr", self.lr, positive=True))
        set_(self, "weight_decay", _number("weight_decay", self.weight_decay, positive=False))
        set_(self, "epochs", _whole("epochs", self.epochs))
        set_(self, "batch_size", _whole("batch_size", self.batch_size))

    def __str__(self) -> str:
        schedule = {"cosine": "from lr to 0 along a half cosine", "constant": "lr throughout"}
        augment = "None (the images as they are)" if self.augment is None else self.augment
        rows = {
            "optimizer": f"{self.optimizer}, with the cross-entropy loss",
            "lr": f"{self.lr:g}",
            "weight_decay": f"{self.weight_decay:g}",
            "schedule": f"{self.schedule} ({schedule[self.schedule]})",
            "augment": _describe(augment),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
        }
        return "Recipe\n" + "\n".join(f"  {name:<13}{value}" for name, value in rows.items())


def _number(name: str, value: object, *, positive: bool) -> float:
    """A finite float, above 0 (`positive`) or at least 0; else an error naming `value`."""
    kind = "a positive" if positive else "a non-negative"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be {kind} number, such as 0.002, not {value!r}.")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {kind} finite number, not {value!r}.")
    return float(value)


def _whole(name: str, value: object) -> int:
    """A whole number of at least 1 (3.0 is taken as 3); else an error naming `value`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, float) and value.is_integer()):
            raise TypeError(f"{name} must be a whole number, such as 3, not {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value!r}.")
    return int(value)


# The course's recipe: fit's defaults. With it, fit(LeNet5(), train, test) trains for 15
# epochs and reaches 97.5% or more on the shipped digits.
RECIPE = Recipe()


class _FromRecipe:
    """fit's default for `augment`: the recipe's (None there already means no augmentation)."""

    def __repr__(self) -> str:
        return "recipe.augment"


_RECIPE_AUGMENT = _FromRecipe()


def optimizer_for(model: nn.Module, lr: float, weight_decay: float, dev: torch.device):
    """AdamW; on CUDA its fused kernel, which updates every parameter in one launch."""
    extra = {"fused": True} if dev.type == "cuda" else {}
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, **extra)


def scheduler_for(optimizer: torch.optim.Optimizer, schedule: str, steps: int):
    """The learning-rate schedule over `steps` optimizer steps, stepped after each of them:
    "cosine" falls from lr to 0 along a half cosine, "constant" keeps lr."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=0)
    if schedule == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"schedule must be 'cosine' or 'constant', not {schedule!r}")


def train_epoch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    batch_size: int,
    augment: Augment | None,
    on_batch: Callable[[torch.Tensor, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over `x`, `y` (on the model's device) in a random order: the loop of notebook 01.

    Returns each batch's loss and the number of correct answers, left on the device: reading
    them back every batch would make the CPU wait for the GPU at each step. A NaN or infinite
    loss stops training at its batch, before its step: on the CPU, where nothing is queued, each
    loss is checked as it comes, and its value fills the rest of the losses. An optimizer that
    can skip a step on the device (the fused AdamW fit uses on CUDA: optimizer.found_inf, as
    torch's GradScaler sets it) is told to skip every step from that batch on, so that no batch
    waits for the device. Any other device and optimizer: see _weights_to_restore.
    """
    loss_fn = nn.CrossEntropyLoss()
    gated = _skips_steps_when_told(optimizer)
    check_each = x.device.type == "cpu" and not gated
    stopped = torch.zeros((), device=x.device)  # 1 from the first non-finite loss on
    losses = torch.zeros(_batches(len(y), batch_size), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    model.train()
    order = torch.randperm(len(y), device=x.device)
    for b in range(len(losses)):
        idx = order[b * batch_size : (b + 1) * batch_size]
        logits = model(x[idx] if augment is None else augment(x[idx]))
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
        if on_batch is not None:
            on_batch(losses, b + 1)
    return losses, correct


def _batches(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


def _skips_steps_when_told(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer's step reads optimizer.found_inf on the device (fused AdamW)."""
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))


def _weights_to_restore(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict | None:
    """A copy of the weights where train_epoch cannot stop a non-finite loss at its batch (off
    the CPU, with an optimizer that cannot skip a step): the model then keeps the epoch's start.
    """
    if _skips_steps_when_told(optimizer) or anatomy.model_device(model).type == "cpu":
        return None
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _checked_data(model: nn.Module, train: Dataset, test: Dataset, batch_size: int, device):
    """Everything that would fail only once training has started, checked first; then the
    device, and the training and test tensors on it: (dev, x, y, x_test, y_test)."""
    x, y = as_tensors(train, "training set")
    x_test, y_test = as_tensors(test, "test set")
    dev = torch.device(device) if device is not None else env.device()
    _run_on(model, dev)
    _check_model_fits(model, x, y, "training set")
    _check_model_fits(model, x_test, y_test, "test set")
    _check_batches(model, len(y), batch_size)
    # Cutting batches out of one tensor on the device replaces a DataLoader's per-sample work.
    return dev, x.to(dev), y.to(dev), x_test.to(dev), y_test.to(dev)


def _with_changes(recipe: Recipe, augment, **changes) -> Recipe:
    """`recipe` with fit's keywords that were given (not None) in place of its own values."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a cu.train.Recipe, not {type(recipe).__name__}.")
    changes = {k: v for k, v in changes.items() if v is not None}
    if augment is not _RECIPE_AUGMENT:
        changes["augment"] = augment
    return dataclasses.replace(recipe, **changes) if changes else recipe


def fit(
    model: nn.Module,
    train: Dataset,
    test: Dataset,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: torch.device | str | None = None,
    live: bool = True,
    schedule: str | None = None,
    weight_decay: float | None = None,
    augment: Augment | None | _FromRecipe = _RECIPE_AUGMENT,
    quiet: bool = False,
    recipe: Recipe = RECIPE,
) -> History:
    """Train `model` as `recipe` says (AdamW, cross-entropy); evaluate on `test` every epoch.

    The default is the course's recipe, RECIPE: batch 32, AdamW at 2e-3 with weight decay
    0.05, the learning rate falling to zero along a half cosine, shifts of up to one pixel, 15
    epochs; fit(LeNet5(), train, test, epochs=15) reaches 97.5% or more on the shipped digits.
    Each of epochs, batch_size, lr, schedule, weight_decay and augment, when given, replaces
    the recipe's (augment=None: no augmentation). The model is moved to `device` (default:
    cu.device()) and stays there; the data are moved there once. The history is returned and
    kept as model.fit_history. live=False prints a line per epoch instead of the live plot;
    quiet=True prints nothing.
    """
    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule)
    recipe = _with_changes(recipe, augment, weight_decay=weight_decay, **given)
    dev, x, y, x_test, y_test = _checked_data(model, train, test, recipe.batch_size, device)
    batches = _batches(len(y), recipe.batch_size)
    optimizer = optimizer_for(model, recipe.lr, recipe.weight_decay, dev)
    scheduler = scheduler_for(optimizer, recipe.schedule, recipe.epochs * batches)
    history = History(device=str(dev), planned_epochs=recipe.epochs)
    model.fit_history = history  # what save_trained records, also when training stops early
    reporter = _Reporter(history, recipe.epochs, batches, live, quiet)
    train_seconds = 0.0
    try:
        for _ in range(recipe.epochs):
            start = time.perf_counter()
            good = _weights_to_restore(model, optimizer)
            losses, correct = train_epoch(
                model, x, y, optimizer, scheduler,
                batch_size=recipe.batch_size, augment=recipe.augment, on_batch=reporter.batch,
            )  # fmt: skip
            epoch_losses = losses.tolist()  # the epoch's one wait for the device
            _stop_if_not_finite(model, good, epoch_losses, history, recipe.lr)
            train_seconds += time.perf_counter() - start
            _record_training(history, epoch_losses, correct.item(), recipe.batch_size, len(y))
            history.images_per_second = len(y) * len(history.train_loss) / train_seconds
            history.test_accuracy.append(_correct(model, x_test, y_test, 1000).item() / len(y_test))
            history.epoch_seconds.append(time.perf_counter() - start)
            reporter.epoch()
    except KeyboardInterrupt:
        _say_interrupted(history)
        raise  # let it through: the rest of the cell and the cells queued after it must not run
    finally:
        reporter.close()
        model.eval()
    return history


def _record_training(
    history: History, losses: list[float], correct: int, batch_size: int, n: int
) -> None:
    """An epoch's training measures: its batches' losses, their mean over the `n` images (the
    last batch may be smaller) and the fraction right."""
    sizes = [min(batch_size, n - b * batch_size) for b in range(len(losses))]
    history.batch_loss += losses
    history.train_loss.append(sum(v * s for v, s in zip(losses, sizes, strict=True)) / n)
    history.train_accuracy.append(correct / n)


def _say_interrupted(history: History) -> None:
    """The user pressed the interrupt button: mark the history, and say what the model keeps."""
    history.interrupted = True
    show.note(
        f"Training stopped by the user after {history.epochs} of {history.planned_epochs} epochs. "
        "The model keeps what it learned; its history is model.fit_history, marked as interrupted."
    )


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
