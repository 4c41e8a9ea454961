"""The notebooks' experiments: small measured studies whose numbers the notebooks show and check.

A lecture module: it imports the ground and the tools. Overfitting with and without shifts
(notebooks 01 and 02), ten-crop averaging (02), LeNet5 finding digits on a large canvas (04),
and how much of each inception module's output each branch carries (05). Each returns numbers
(a `show.Report` holds its table); the notebooks' markdown says what they mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import anatomy, augment, blocks, show
from .fcn import heatmap

# The branches of blocks.Inception, in its order (Szegedy et al. 2015, fig. 2b).
BRANCHES: tuple[str, ...] = ("1×1", "3×3", "5×5", "pool")


def branch_shares(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each inception module's output energy per branch (1×1, 3×3, 5×5, pool), as shares of 1.

    For every blocks.Inception in `model` (by its name; "" names a model that is one), run on
    `images`: the sum of squares of each branch's output over the batch, divided by that of the
    module's whole concatenated output. The four shares sum to 1; a branch whose output is zero
    has share 0. Measures how much of what a module passes on each branch carries, not how much
    the next layer uses it.
    """
    modules = {n: m for n, m in model.named_modules() if isinstance(m, blocks.Inception)}
    if not modules:
        raise ValueError(f"{type(model).__name__} has no inception module (blocks.Inception).")
    energy = {name: torch.zeros(len(BRANCHES), dtype=torch.float64) for name in modules}

    def record(key: tuple[str, int], _module, _inputs, output: torch.Tensor) -> None:
        name, k = key
        energy[name][k] += output.detach().double().pow(2).sum().cpu()

    branches = {
        (name, k): getattr(m, f"branch{k + 1}")
        for name, m in modules.items()
        for k in range(len(BRANCHES))
    }
    with anatomy.hooked(branches, record), anatomy.evaluating(model) as dev:
        model(images.to(dev))
    return {name: (e / e.sum()).float() if e.sum() > 0 else e.float() for name, e in energy.items()}


def _accuracy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    return (probabilities.argmax(-1) == labels).float().mean().item()


def _table(first: str, headers: Sequence[str], rows: dict[str, dict[str, float]]) -> show.Report:
    """Rows of fractions as a Markdown table of percentages (a "gap" as points): numbers only."""
    lines = [f"| {first} | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    for name, row in rows.items():
        cells = [f"{v * 100:.1f} points" if k == "gap" else f"{v:.1%}" for k, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return show.Report("\n".join(lines), rows)


def overfitting_table(models: dict[str, nn.Module], train, test) -> show.Report:
    """Each model's accuracy on its training and on its test digits, and the gap between them.

    rows: {name: {"train": fraction, "test": fraction, "gap": train − test}}; the Markdown is
    the table alone: what the numbers say is the notebook's to write.
    """
    from .train import evaluate

    rows = {}
    for name, model in models.items():
        train_acc, test_acc = evaluate(model, train), evaluate(model, test)
        rows[name] = {"train": train_acc, "test": test_acc, "gap": train_acc - test_acc}
    return _table("run", ["train accuracy", "test accuracy", "gap"], rows)


def crop_averaging_table(models: dict[str, nn.Module], test, *, pad: int = 2) -> show.Report:
    """Test accuracy of each model on digits as they are, and averaged over 5 and 10 crops.

    The crops are those of augment.ten_crop_predict on the digits padded by `pad` pixels.
    rows: {name: {"centre", "five crops", "ten crops (with mirrors)": fraction}}; the Markdown
    is the table alone.
    """
    from .train import as_tensors, predict

    images, labels = as_tensors(test)
    size = images.shape[-1]
    padded = nn.functional.pad(images, (pad, pad, pad, pad))  # N x 1 x (28+2p) x (28+2p)
    rows = {
        name: {
            "centre": _accuracy(predict(model, test), labels),
            "five crops": _accuracy(
                augment.ten_crop_predict(model, padded, size=size, flips=False), labels
            ),
            "ten crops (with mirrors)": _accuracy(
                augment.ten_crop_predict(model, padded, size=size), labels
            ),
        }
        for name, model in models.items()
    }
    return _table("model", list(next(iter(rows.values()))), rows)


def digit_canvas(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    n: int = 7,
    size: tuple[int, int] = (128, 224),
    seed: int = 0,
) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """Paste `n` digits at random, non-overlapping places on a black canvas.

    Returns the 1×H×W canvas and, for each digit, (top, left, label).
    """
    g = torch.Generator().manual_seed(seed)
    height, width = size
    cell = 32  # a 28-pixel digit with room to move by up to 4 pixels
    cells = [
        (r, c) for r in range(0, height - cell + 1, cell) for c in range(0, width - cell + 1, cell)
    ]
    if n > len(cells):
        raise ValueError(
            f"{n} digits don't fit on a {height}×{width} canvas; at most {len(cells)}."
        )
    canvas = torch.zeros(1, height, width)
    placed = []
    chosen = torch.randperm(len(cells), generator=g)[:n].tolist()
    picks = torch.randperm(len(labels), generator=g)[:n].tolist()
    for ci, idx in zip(chosen, picks, strict=True):
        r, c = cells[ci]
        r += int(torch.randint(0, cell - 27, (1,), generator=g))
        c += int(torch.randint(0, cell - 27, (1,), generator=g))
        canvas[:, r : r + 28, c : c + 28] = images[idx]
        placed.append((r, c, int(labels[idx])))
    return canvas, placed


def whole_digit_windows(
    canvas: torch.Tensor, *, window: int = 28, stride: int = 4, shape: tuple[int, int] | None = None
) -> torch.Tensor:
    """Which window positions of a digit canvas hold a whole digit (h × w booleans).

    Ink in the window, and (almost) none of it just outside: a digit cut by the window's edge
    has ink there. Blank windows and windows that frame part of a digit are False.
    """
    x = canvas[None]  # 1 x 1 x H x W
    inside = nn.functional.avg_pool2d(x, window, stride)[0, 0] * window**2
    margin = 6
    padded = nn.functional.pad(x, (margin,) * 4)
    around = nn.functional.avg_pool2d(padded, window + 2 * margin, stride)[0, 0]
    around = around * (window + 2 * margin) ** 2
    h, w = shape if shape is not None else inside.shape
    return (inside[:h, :w] > 20) & (inside[:h, :w] >= 0.97 * around[:h, :w])


@torch.no_grad()
def digit_heatmaps(fcn: nn.Module, canvas: torch.Tensor, *, window: int = 28, stride: int = 4):
    """Class probabilities at every window of a digit canvas, and which windows hold a digit.

    A LeNet5 trained on single digits never saw an empty or a cut-off digit, so its answer
    there means nothing; `whole_digit_windows` marks the windows that hold a whole digit.
    """
    probs = heatmap(fcn, canvas)  # classes x h x w
    return probs, whole_digit_windows(canvas, window=window, stride=stride, shape=probs.shape[-2:])


def false_detections(
    probabilities: torch.Tensor, whole: torch.Tensor, *, threshold: float = 0.5, digits: int = 10
) -> int:
    """Windows that hold no whole digit, yet where some digit class gets `threshold` or more."""
    return int(((probabilities[:digits].amax(0) >= threshold) & ~whole).sum())


def background_windows(
    images: torch.Tensor, labels: torch.Tensor, n: int, *, stride: int = 4, seed: int = 0
) -> torch.Tensor:
    """`n` 28×28 windows of digit canvases that hold no whole digit: "nothing centred here".

    Taken as the canvases' windows come: parts of one or two digits, cut by the window's edge,
    and blank patches (at most a fifth), so that a network trained with them as an 11th class
    learns to say so where the test canvas holds no whole digit (OverFeat, Sermanet et al.
    2014, §5, trains its detector with a background class for the same reason).
    """
    g = torch.Generator().manual_seed(seed)
    partial, blank, k = [], [], 0
    while sum(len(t) for t in partial) < n - n // 5 or sum(len(t) for t in blank) < n // 5:
        canvas, _ = digit_canvas(images, labels, n=8, size=(128, 224), seed=seed * 1000 + k)
        k += 1
        windows = canvas[0].unfold(0, 28, stride).unfold(1, 28, stride)  # h x w x 28 x 28
        whole = whole_digit_windows(canvas, stride=stride, shape=windows.shape[:2])
        ink = windows.sum((-2, -1))
        partial.append(windows[~whole & (ink > 20)])
        blank.append(windows[ink <= 20])
    partial_t, blank_t = torch.cat(partial), torch.cat(blank)
    chosen = [
        partial_t[torch.randperm(len(partial_t), generator=g)[: n - n // 5]],
        blank_t[torch.randperm(len(blank_t), generator=g)[: n // 5]],
    ]
    return torch.cat(chosen)[:, None].clone()  # n x 1 x 28 x 28


def found_digits(
    probabilities: torch.Tensor, placed: Sequence[tuple[int, int, int]], *, stride: int = 4
) -> list[int]:
    """For each pasted digit, the digit class that the map gives at the window nearest to it.

    Windows are `stride` pixels apart, so the nearest one frames the digit at most stride / 2
    pixels off-centre. Only the first ten classes count: an 11th, "no digit here", never does.
    """
    return [
        int(probabilities[:10, round(top / stride), round(left / stride)].argmax())
        for top, left, _label in placed
    ]
