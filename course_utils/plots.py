"""Matplotlib figures for the notebooks. Imports nothing from ipywidgets.

A tool (imports the ground). Serves every notebook (01-09): each figure a notebook shows is
made here or in diagrams.

Every function returns a Figure that pyplot has already let go of: a notebook shows it once,
as the cell's value or through display(), and tests can inspect it without a screen.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from . import anatomy
from .show import (
    BLUE,
    FAMILY_COLORS,
    GREEN,
    GREY,
    LIGHT_GREY,
    ORANGE,
    PINK,
    RIGHT,
    SERIES,
    SKY,
    VERMILION,
    WRONG,
)

DIGITS = [str(d) for d in range(10)]


def show_figures_as_png() -> bool:
    """Make IPython show every Figure as a PNG, whatever the backend (MPLBACKEND=Agg too).

    The inline backend does this itself; with Agg, which CI and many JupyterHubs set, a Figure
    would otherwise show as the bare text "<Figure size ...>" and a saved notebook would hold
    no picture. Leaves IPython alone where some image format already handles figures.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure  # noqa: F401 - in _png_with_text_sizes
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml", "application/pdf", "image/jpeg"):
        try:
            formatters[mime].lookup_by_type(Figure)
            return True  # the inline backend (or the user) already shows figures
        except KeyError:
            continue
    formatters["image/png"].for_type(Figure, _png_with_text_sizes)
    return True


# The width, in CSS pixels, at which JupyterLab shows an output at 1280 pixels wide with the file
# browser open: 848 measured, against 1,119 on a 1280x720 slide. tests/test_browser.py measures
# both in the real JupyterLab and checks this value. A wider PNG is shrunk to it.
DISPLAY_WIDTH_PX = 840
MIN_DISPLAY_PT = 8.0  # the smallest text a reader should meet, at the size it is shown


def text_sizes(fig: Figure, *, width_px: float = DISPLAY_WIDTH_PX) -> list[tuple[str, float]]:
    """Every visible text in `fig` with its size in points as displayed: drawn at the figure's
    dpi, cropped tight as IPython saves it, then shrunk to `width_px` if wider (1 CSS pixel is
    0.75 pt)."""
    if not hasattr(fig.canvas, "get_renderer"):  # a closed figure: draw it with Agg, as shown
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    png_width = fig.get_tightbbox(renderer).width * fig.dpi
    scale = min(1.0, width_px / png_width) if png_width else 1.0
    return [
        (t.get_text(), t.get_fontsize() * fig.dpi / 72 * scale * 0.75)
        for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
        if t.get_visible() and t.get_text().strip() and t.get_window_extent(renderer).width > 0
    ]


def small_texts(fig: Figure, *, width_px: float = DISPLAY_WIDTH_PX) -> list[tuple[str, float]]:
    """The texts of `fig` smaller than MIN_DISPLAY_PT where the notebook shows it."""
    return [
        (t, round(pt, 1)) for t, pt in text_sizes(fig, width_px=width_px) if pt < MIN_DISPLAY_PT
    ]


def _png_with_text_sizes(fig: Figure):
    """The PNG IPython shows; with COURSE_FIGURE_AUDIT=1 (the tests set it) its metadata lists
    the texts too small to read at display size, which tests/conftest.py turns into a failure."""
    from IPython.core.pylabtools import print_figure

    png = print_figure(fig, "png")
    if os.environ.get("COURSE_FIGURE_AUDIT") != "1" or png is None:
        return png
    return png, {"course_small_texts": small_texts(fig)}


show_figures_as_png()


def smallest_fontsize(fig: Figure, *, min_pt: float = MIN_DISPLAY_PT) -> float:
    """The font size, in points, that `fig` shows at `min_pt` where the notebook shows it:
    drawn at its dpi, seen at 96 CSS pixels per inch, and shrunk to DISPLAY_WIDTH_PX if wider.

    The PNG is the figure's tight crop; that is wider than the figure when a text sticks out,
    so the wider of the two is taken, which errs towards larger text."""
    png_width = fig.get_figwidth() * fig.dpi
    renderer = fig._get_renderer() if hasattr(fig, "_get_renderer") else None
    if renderer is not None:
        with contextlib.suppress(Exception):  # an artist that cannot be measured yet
            png_width = max(png_width, fig.get_tightbbox(renderer).width * fig.dpi)
    factor = fig.dpi / 72 * 0.75 * min(1.0, DISPLAY_WIDTH_PX / png_width)
    return min_pt / factor + 0.01


def raise_small_texts(fig: Figure, *, min_pt: float = MIN_DISPLAY_PT) -> None:
    """Enlarge every text of `fig` that would be shown below `min_pt` to `min_pt`.

    Tick labels are made at draw time from the axis' settings, so those are raised through
    tick_params; titles, axis labels, legends and free texts are raised one by one."""
    smallest = smallest_fontsize(fig, min_pt=min_pt)
    for ax in fig.axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            labels = axis.get_ticklabels(which="both")
            if labels and min(t.get_fontsize() for t in labels) < smallest:
                ax.tick_params(axis=name, which="both", labelsize=smallest)
    for text in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "set_fontsize")):
        if text.get_fontsize() < smallest:
            text.set_fontsize(smallest)


class ReadableLayoutEngine(ConstrainedLayoutEngine):
    """Constrained layout (or none, for figures placed by hand) that first raises every text
    to MIN_DISPLAY_PT at the size the notebook shows the figure (raise_small_texts).

    It runs on every draw, whatever the backend (inline, Agg, a widget's canvas), so a figure
    that a function fills later, or that a student changes, stays readable too."""

    def __init__(self, *, constrained: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._constrained = constrained

    def execute(self, fig: Figure):
        raise_small_texts(fig)
        if self._constrained:
            return super().execute(fig)
        return None


def _figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """A course figure: shown once by the caller, its texts at least MIN_DISPLAY_PT where shown
    (ReadableLayoutEngine), laid out by constrained layout unless placed by hand."""
    fig = plt.figure(figsize=(width, height))
    fig.set_layout_engine(ReadableLayoutEngine(constrained=constrained))
    plt.close(fig)  # shown once, by the caller
    return fig


def history_figure() -> Figure:
    """An empty two-panel figure (loss, accuracy) for draw_history to fill."""
    fig = _figure(10, 3.4)
    fig.subplots(1, 2)
    return fig


def draw_history(history, fig: Figure | None = None, *, epochs: int | None = None) -> Figure:
    """Learning curves: train loss per batch and per epoch; train and test accuracy per epoch."""
    fig = fig if fig is not None else history_figure()
    loss_ax, acc_ax = fig.axes
    loss_ax.clear()
    acc_ax.clear()
    total = epochs or max(history.epochs, 1)
    if history.batch_loss:
        per_epoch = max(len(history.batch_loss) / max(history.epochs, 1), 1)
        if history.epochs == 0:  # mid first epoch: estimate the batches per epoch later
            per_epoch = len(history.batch_loss) or 1
        steps = np.arange(1, len(history.batch_loss) + 1) / per_epoch
        loss_ax.plot(steps, history.batch_loss, color=LIGHT_GREY, lw=0.8, label="per batch")
    ep = np.arange(1, history.epochs + 1)
    if history.epochs:
        loss_ax.plot(ep, history.train_loss, "o-", color=BLUE, label="epoch mean")
        acc_ax.plot(ep, history.train_accuracy, "o-", color=BLUE, label="train")
        acc_ax.plot(ep, history.test_accuracy, "s-", color=VERMILION, label="test")
        best = max(history.test_accuracy)
        acc_ax.set_title(f"accuracy (test: last {history.test_accuracy[-1]:.2%}, best {best:.2%})")
        acc_ax.legend(loc="lower right")
    else:
        acc_ax.set_title("accuracy")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="training loss", xlim=(0, total))
    loss_ax.set_yscale("log")
    _plain_log_ticks(loss_ax, history.batch_loss or history.train_loss)
    if history.batch_loss:
        loss_ax.legend(loc="upper right")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", xlim=(0.5, total + 0.5))
    acc_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    for ax in fig.axes:
        ax.grid(alpha=0.3)
    return fig


def _plain_log_ticks(ax, values: Sequence[float]) -> None:
    """Log-scale ticks as plain numbers (0.5, 1, 2), not 5×10⁻¹; within less than a decade, as
    in the first batches of training, the in-between ticks are labelled too, so that the axis
    never shows one lone label or none."""
    plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    finite = [v for v in values if np.isfinite(v) and v > 0]
    narrow = bool(finite) and max(finite) / min(finite) < 10
    ax.yaxis.set_minor_formatter(plain if narrow else ticker.NullFormatter())


def plot_confusion_matrix(
    labels: Sequence[int] | torch.Tensor,
    predictions: Sequence[int] | torch.Tensor,
    classes: Sequence[str] = DIGITS,
) -> Figure:
    """The confusion matrix, counts in every cell, true class down and prediction across."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    k = len(classes)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    fig = _figure(5.6, 5)
    ax = fig.subplots()
    # Log colours so that the few mistakes stand out next to the large diagonal.
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                dark = shown.norm(np.log1p(matrix[i, j])) > 0.6
                ax.text(
                    j,
                    i,
                    matrix[i, j],
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else ("black" if i == j else WRONG),
                )
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xticklabels=classes,
        yticklabels=classes,
        xlabel="predicted",
        ylabel="true",
    )
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(
        f"confusion matrix: {matrix.sum() - np.trace(matrix)} mistakes, {accuracy:.2%} right"
    )
    return fig


def plot_mistakes(
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    *,
    n: int = 16,
    classes: Sequence[str] = DIGITS,
) -> Figure:
    """The `n` most confident mistakes: each image with its true label and the wrong guess."""
    predicted = probabilities.argmax(1)
    wrong = (predicted != labels).nonzero().flatten()
    confidence = probabilities[wrong, predicted[wrong]]
    worst = wrong[confidence.argsort(descending=True)][:n]
    cols = 8
    rows = max(1, -(-len(worst) // cols))
    fig = _figure(cols * 1.3, rows * 1.55 + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, worst.tolist(), strict=False):
        ax.imshow(images[i].squeeze(0).cpu().numpy(), cmap="gray_r")
        p = predicted[i].item()
        ax.set_title(
            f"true {classes[labels[i]]}\nsaid {classes[p]} {probabilities[i, p]:.0%}",
            fontsize=8,
            color=WRONG,
        )
    fig.suptitle(f"The {len(worst)} most confident of {len(wrong)} mistakes")
    return fig


def plot_feature_maps(maps: torch.Tensor, *, title: str = "", cols: int = 8) -> Figure:
    """Each channel of a C × H × W activation as a small grey image."""
    maps = maps.detach().cpu()
    if maps.dim() == 4:
        maps = maps[0]
    c = maps.shape[0]
    cols = min(cols, c)
    rows = -(-c // cols)
    fig = _figure(cols * 1.1, rows * 1.15 + 0.35)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for k, ax in enumerate(axes[:c]):
        ax.imshow(maps[k].numpy(), cmap="viridis")
        ax.set_title(str(k), fontsize=7)
    if title:
        fig.suptitle(f"{title}: {c} maps of {maps.shape[1]}×{maps.shape[2]}")
    return fig


def plot_digit_prediction(
    image: torch.Tensor,
    probabilities: torch.Tensor,
    *,
    label: int | None = None,
    classes: Sequence[str] = DIGITS,
) -> Figure:
    """A digit beside a bar chart of the network's class probabilities."""
    fig = _figure(7, 2.6)
    img_ax, bar_ax = fig.subplots(1, 2, width_ratios=[1, 2.4])
    img_ax.imshow(image.squeeze(0).cpu().numpy(), cmap="gray_r")
    img_ax.axis("off")
    predicted = int(probabilities.argmax())
    img_ax.set_title("" if label is None else f"true label {classes[label]}")
    colors = [LIGHT_GREY] * len(classes)
    colors[predicted] = GREEN if label is None or predicted == label else VERMILION
    bar_ax.bar(range(len(classes)), probabilities.cpu().numpy(), color=colors)
    bar_ax.set(xticks=range(len(classes)), xticklabels=classes, ylim=(0, 1), ylabel="probability")
    bar_ax.set_title(f"prediction {classes[predicted]} ({probabilities[predicted]:.1%})")
    return fig


def show_images(images: torch.Tensor, labels: Sequence | None = None, *, cols: int = 10) -> Figure:
    """A grid of images (N × C × H × W), with an optional caption under each."""
    n = len(images)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig = _figure(cols * 1.0, rows * 1.15)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for k, ax in enumerate(axes[:n]):
        img = images[k].detach().cpu()
        if img.shape[0] == 1:
            ax.imshow(img[0].numpy(), cmap="gray_r")
        else:
            ax.imshow(_rgb(img))
        if labels is not None:
            ax.set_title(str(labels[k]), fontsize=8)
    return fig


def _rgb(image: torch.Tensor) -> np.ndarray:
    return image.detach().cpu().permute(1, 2, 0).clamp(0, 1).numpy()


def plot_augmentation(
    resized: torch.Tensor, result: torch.Tensor, top: int, left: int, size: int
) -> Figure:
    """The resized photo with the crop's square drawn on it, beside the augmented crop."""
    from matplotlib.patches import Rectangle

    fig = _figure(8, 3.8)
    src_ax, out_ax = fig.subplots(1, 2)
    src_ax.imshow(_rgb(resized))
    src_ax.add_patch(
        Rectangle((left - 0.5, top - 0.5), size, size, fill=False, lw=2, edgecolor=ORANGE)
    )
    src_ax.set_title(f"the central {resized.shape[-2]}×{resized.shape[-1]} square")
    out_ax.imshow(_rgb(result))
    out_ax.set_title(f"the {size}×{size} training sample")
    for ax in (src_ax, out_ax):
        ax.axis("off")
    return fig


def plot_comparison(histories: dict, *, title: str = "", train: bool | None = None) -> Figure:
    """Test (and train) accuracy per epoch for several runs, one colour per run.

    A family of the lecture keeps its colour (FAMILY_COLORS). train=None draws the training
    accuracy, dashed, for up to four runs, and leaves it out for more, to stay readable.
    """
    fig = _figure(7, 3.6)
    ax = fig.subplots()
    palette = list(SERIES)
    train = len(histories) <= 4 if train is None else train
    styles = ["-", "--", ":", "-."]  # many runs: colour and line style tell them apart
    for k, (name, h) in enumerate(histories.items()):
        color = palette[k % len(palette)] if len(histories) <= 4 else None
        color = color or FAMILY_COLORS.get(name, palette[k % len(palette)])
        style = "-" if len(histories) <= 4 else styles[k % len(styles)]
        ep = np.arange(1, h.epochs + 1)
        if train:
            ax.plot(ep, h.train_accuracy, "--", color=color, label=f"{name}: train")
        ax.plot(ep, h.test_accuracy, style, color=color, lw=2, marker="o", ms=3,
                label=f"{name}: test")  # fmt: skip
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole epochs only
    ax.set(xlabel="epoch", ylabel="accuracy", title=title)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_top_predictions(prediction, *, k: int = 10, image=None) -> Figure:
    """A horizontal bar chart of the top-k class probabilities, beside `image` when given; says
    so if the weights are untrained."""
    top = prediction.top[:k][::-1]
    height = 0.3 * len(top) + 1.0
    if image is None:
        fig = _figure(6.5, height)
        ax = fig.subplots()
    else:  # the photo that was classified, left of its scores
        fig = _figure(10, max(height, 3.2))
        photo, ax = fig.subplots(1, 2, width_ratios=[1, 1.6])
        photo.imshow(image)
        photo.set_axis_off()
        photo.set_title(f"{image.width} × {image.height} pixels")
    color = BLUE if prediction.is_pretrained else GREY
    ax.barh([name for name, _ in top], [p for _, p in top], color=color)
    ax.set(xlim=(0, 1), xlabel="probability")
    title = f"{prediction.model_name}: top {len(top)}"
    if not prediction.is_pretrained:
        title += "  (UNTRAINED WEIGHTS)"
        ax.text(
            0.5,
            0.5,
            "untrained weights",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=20,
            color=WRONG,
            alpha=0.35,
            rotation=20,
        )
    ax.set_title(title)
    for y, (_, p) in enumerate(top):
        ax.text(min(p + 0.01, 0.9), y, f"{p:.1%}", va="center", fontsize=8)
    return fig


def plot_layer_bars(table, *, title: str = "") -> Figure:
    """Two bar charts per layer with weights: parameters, and multiply-adds."""
    rows = [r for r in table.rows if r.parameters]
    names = [r.name for r in rows]
    fig = _figure(11, 6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    params = np.array([r.parameters for r in rows]) / 1e6
    macs = np.array([r.macs for r in rows]) / 1e9
    colors = [VERMILION if "classifier" in n or "fc" in n else BLUE for n in names]
    top.bar(names, params, color=colors)
    top.set(
        ylabel="parameters (millions)",
        title=title or f"{table.title}: where the parameters and the compute are",
    )
    bottom.bar(names, macs, color=colors)
    bottom.set(ylabel="multiply-adds (billions)")
    bottom.tick_params(axis="x", rotation=60)
    for ax, values, total in ((top, params, params.sum()), (bottom, macs, macs.sum())):
        ax.grid(axis="y", alpha=0.3)
        for x, v in enumerate(values):
            if v / total > 0.04:
                ax.text(x, v, f"{v / total:.0%}", ha="center", va="bottom", fontsize=8)
    return fig


def plot_class_heatmaps(
    canvas: torch.Tensor,
    probabilities: torch.Tensor,
    mask=None,
    *,
    classes: Sequence[str] = DIGITS,
    stride: int = 4,
    window: int = 28,
) -> Figure:
    """The canvas, then one map per class: where the network gives that class 30% or more."""
    maps = probabilities if mask is None else probabilities * mask
    k = len(classes)
    fig = _figure(12, 1.9 * (1 + -(-k // 4)))
    grid = fig.add_gridspec(1 + -(-k // 4), 4)
    ax = fig.add_subplot(grid[0, :])
    ax.imshow(canvas[0].numpy(), cmap="gray")
    ax.set_title("the canvas")
    ax.axis("off")
    h, w = maps.shape[-2:]
    # Each output cell sits at the centre of its window on the canvas.
    extent = (
        window / 2 - stride / 2,
        window / 2 + (w - 0.5) * stride,
        window / 2 + (h - 0.5) * stride,
        window / 2 - stride / 2,
    )
    for c in range(k):
        a = fig.add_subplot(grid[1 + c // 4, c % 4])
        a.imshow(canvas[0].numpy(), cmap="gray")
        shown = np.ma.masked_less(maps[c].numpy(), 0.3)  # where the class gets 30% or more
        a.imshow(shown, cmap="autumn_r", vmin=0, vmax=1, alpha=0.8, extent=extent)
        a.set_xlim(0, canvas.shape[-1])
        a.set_ylim(canvas.shape[-2], 0)
        a.set_title(f"class {classes[c]}", fontsize=9)
        a.axis("off")
    return fig


def plot_overlay(
    image, heat: torch.Tensor, *, title: str = "", untrained: bool = False, expected: str = ""
) -> Figure:
    """A heatmap stretched over the photo (PIL, or a 3×H×W tensor in [0, 1]) it was computed on.

    untrained=True draws the map in grey under a warning, with `expected` (what real weights
    would show) written on it: a map from random weights must not look like a finding.
    """
    pixels = np.asarray(image) if not torch.is_tensor(image) else _rgb(image)
    height, width = pixels.shape[:2]
    fig = _figure(6, 6 * height / width + 0.5)
    ax = fig.subplots()
    ax.imshow(pixels)
    shown = ax.imshow(
        heat.numpy(),
        cmap="gray" if untrained else "jet",
        alpha=0.45,
        extent=(0, width, height, 0),
        interpolation="bilinear",
    )
    fig.colorbar(shown, ax=ax, fraction=0.03, label="probability")
    if untrained:
        warning = "UNTRAINED WEIGHTS: this map is noise"
        ax.text(
            0.5,
            0.5,
            warning + (f"\nwith real weights: {expected}" if expected else ""),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            color=WRONG,
            wrap=True,
            bbox=dict(facecolor="white", alpha=0.85, edgecolor=WRONG),
        )
    ax.set_title(title)
    ax.axis("off")
    return fig


def plot_position_map(values: torch.Tensor, *, title: str, label: str) -> Figure:
    """A small map of one number per output position, each written in its cell."""
    v = values.detach().cpu().numpy()
    fig = _figure(4.6, 4.2)
    ax = fig.subplots()
    shown = ax.imshow(v, cmap="magma_r")
    for (i, j), x in np.ndenumerate(v):
        dark = shown.norm(x) > 0.55
        ax.text(
            j,
            i,
            f"{x:.0e}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if dark else "black",
        )
    ax.set(xticks=range(v.shape[1]), yticks=range(v.shape[0]), title=title)
    fig.colorbar(shown, ax=ax, fraction=0.046, label=label)
    return fig


def plot_gradient_norms(norms: dict[str, Sequence[float]]) -> Figure:
    """Gradient norm per layer (log scale), one line per network."""
    fig = _figure(7.5, 3.6)
    ax = fig.subplots()
    palette = [VERMILION, BLUE, GREEN, PINK, ORANGE, SKY]
    if len(norms) > len(palette):
        raise ValueError(f"plot_gradient_norms draws at most {len(palette)} lines")
    for (name, values), color in zip(norms.items(), palette, strict=False):
        ax.semilogy(range(1, len(values) + 1), values, "o-", ms=3, color=color, label=name)
    ax.set(
        xlabel="layer (1 = next to the input)",
        ylabel="gradient norm of the weights",
        title="gradients at initialisation, one batch of digits",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def plot_bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    xlabel: str,
    title: str,
    highlight: str | None = None,
) -> Figure:
    """A horizontal bar chart with the values written on the bars."""
    fig = _figure(7, 0.42 * len(labels) + 1.0)
    ax = fig.subplots()
    colors = [VERMILION if label == highlight else BLUE for label in labels]
    ax.barh(list(labels)[::-1], list(values)[::-1], color=colors[::-1])
    for y, v in enumerate(list(values)[::-1]):
        ax.text(v, y, f" {v:g}", va="center", fontsize=9)
    ax.set(xlabel=xlabel, title=title)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_branch_shares(
    shares: dict[str, dict[str, torch.Tensor]],
    branches: Sequence[str] = ("1×1", "3×3", "5×5", "pool"),
) -> Figure:
    """Grouped bars: each inception module's branch shares, one colour per condition."""
    conditions = list(shares)
    modules = list(next(iter(shares.values())))
    fig = _figure(3.0 * len(modules) + 0.6, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(modules), sharey=True))
    palette = [GREY, BLUE, VERMILION, GREEN]
    if len(conditions) > len(palette):
        raise ValueError(f"plot_branch_shares draws at most {len(palette)} conditions")
    width = 0.8 / len(conditions)
    x = np.arange(len(branches))
    for ax, module in zip(axes, modules, strict=True):
        for k, (condition, color) in enumerate(zip(conditions, palette, strict=False)):
            values = [float(v) for v in shares[condition][module]]
            ax.bar(
                x + (k - (len(conditions) - 1) / 2) * width,
                values,
                width,
                color=color,
                label=condition,
            )
        ax.set_xticks(x, list(branches))
        ax.set(title=module, xlabel="branch")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of the module's output energy")
    axes[0].legend(fontsize=8)
    return fig


# Where _place_labels tries to put a label, in points from its point, nearest first.
_OFFSETS = [(5, 3), (5, -10), (-5, 3), (-5, -10), (0, 8), (0, -15), (9, -3), (-9, -3)]
_CANDIDATES = [(dx * r, dy * r) for r in (1, 2, 3, 4, 6, 8, 11) for dx, dy in _OFFSETS]


def _place_labels(
    ax, points: Sequence[tuple[float, float]], texts: Sequence[str], *, fontsize: float = 7
) -> list:
    """Write each text next to its point where it overlaps no other label and no point.

    Candidate offsets are tried nearest first, in display space after the figure's layout is
    fixed; a label that had to move far gets a thin leader line to its point.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    fig = ax.figure
    FigureCanvasAgg(fig)  # a renderer, so that text sizes can be measured
    fig.canvas.draw()  # lays the figure out once...
    # ...and keeps it, so that the positions found stay true
    fig.set_layout_engine(ReadableLayoutEngine(constrained=False))
    renderer = fig.canvas.get_renderer()
    # Placed at the size they will be shown at (a little above the 8-pt floor, as the labels
    # may widen the crop), so that raising them later cannot make them overlap.
    fontsize = max(fontsize, smallest_fontsize(fig, min_pt=MIN_DISPLAY_PT + 0.3))
    frame = fig.bbox  # labels may leave the axes, not the figure
    taken = [
        Bbox.from_extents(x - 3, y - 3, x + 3, y + 3)
        for x, y in ax.transData.transform(np.asarray(points))
    ]
    # The title and the legend, when there, are taken too: a label must not cover them.
    taken += [a.get_window_extent(renderer) for a in (ax.title, ax.get_legend()) if a]
    taken = [box for box in taken if box.width > 0]

    def annotate(k: int, dx: float, dy: float, *, leader: bool = False):
        far = leader and abs(dx) + abs(dy) > 20
        return ax.annotate(
            texts[k],
            points[k],
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            ha="left" if dx >= 0 else "right",
            arrowprops=dict(arrowstyle="-", color=GREY, lw=0.5) if far else None,
        )

    def cost(dx: float, dy: float, k: int) -> tuple[int, int]:
        """(labels and points it would overlap, 1 if it would leave the figure), measured."""
        label = annotate(k, dx, dy)
        box = label.get_window_extent(renderer).expanded(1.05, 1.1)
        label.remove()
        outside = not (frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1))
        return int(outside), sum(box.overlaps(t) for t in taken)

    placed = []
    for k in sorted(range(len(points)), key=lambda k: points[k]):
        costs = [cost(dx, dy, k) for dx, dy in _CANDIDATES]
        best = min(range(len(costs)), key=lambda c: (costs[c], c))  # free and inside, nearest
        dx, dy = _CANDIDATES[best]
        taken.append(annotate(k, dx, dy).get_window_extent(renderer).expanded(1.05, 1.1))
        ax.texts[-1].remove()  # measured without its leader line, which may cross points
        label = annotate(k, dx, dy, leader=True)
        placed.append(label)
    return placed


def _accuracy_chart(ax, rows: Sequence[dict], *, area: float, legend: str | None) -> None:
    """Accuracy against multiply-adds on a log scale, marker area `area` × params, labelled."""
    families = sorted(
        {r["family"] for r in rows}, key=lambda f: min(r["macs"] for r in rows if r["family"] == f)
    )
    for family in families:
        color = FAMILY_COLORS.get(family, GREY)
        for r in (r for r in rows if r["family"] == family):
            new = r.get("recipe") == "new"
            ax.scatter(
                r["macs"],
                r["top1"],
                s=r["params"] * area,
                alpha=0.75,
                facecolors="none" if new else color,
                edgecolors=color,
                linewidths=1.5,
                label=family if r is next(q for q in rows if q["family"] == family) else None,
            )
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.06)  # room for the labels of the points at the edges
    ax.grid(alpha=0.3, which="both")
    if legend is not None:
        ax.legend(loc="lower right", title=legend, fontsize=8, markerscale=0.5)


def plot_model_zoo(rows: Sequence[dict]) -> Figure:
    """Top-1 accuracy against multiply-adds, marker area for parameters, colour for family.

    Each row: name, family, macs (×10⁹), params (millions), top1 (%), recipe ("original" or
    "new": hollow markers and a *), size (the input side the multiply-adds are for).
    """
    fig = _figure(10, 6.5)
    ax = fig.subplots()
    _zoo_axes(ax, rows)
    return fig


def _zoo_axes(ax, rows: Sequence[dict], *, title: str = "", fontsize: float = 7) -> None:
    _accuracy_chart(
        ax, rows, area=4, legend="family (hollow, *: torchvision's new training recipe)"
    )
    others = [f"{r['name']} at {r['size']}×{r['size']}" for r in rows if r.get("size", 224) != 224]
    size_note = "224×224 images" + (f"; {', '.join(others)}" if others else "")
    ax.set(
        xlabel=f"multiply-adds per image (×10⁹, log scale): {size_note}",
        ylabel="ImageNet top-1 accuracy (%)",
        title=title or "torchvision's classifiers in the lecture's families (area: parameters)",
    )
    _place_labels(
        ax,
        [(r["macs"], r["top1"]) for r in rows],
        [r["name"] + ("*" if r["recipe"] == "new" else "") for r in rows],
        fontsize=fontsize,
    )


def plot_race(rows: Sequence[dict], zoo: Sequence[dict] | None = None, *, data: str = "") -> Figure:
    """The lecture's chart from your own runs: test accuracy against multiply-adds, marker area
    for parameters, one colour per family; with `zoo` (rows as plot_model_zoo takes them),
    torchvision's ImageNet chart below it, in the same colours.

    Each row of `rows`: name, family, macs (×10⁶), params (thousands), top1 (%).
    """
    if not rows:
        raise ValueError(
            "plot_race() was given no rows: pass race.race_rows(results) of a race that "
            "trained at least one family."
        )
    # One column as wide as JupyterLab shows an output (DISPLAY_WIDTH_PX at 100 dpi), the
    # ImageNet chart below: side by side, the pair was shrunk to half size and its labels to 4 pt.
    width = DISPLAY_WIDTH_PX / 100
    fig = _figure(width, 14.5 if zoo else 6.5)
    rows_of = dict(height_ratios=[1, 1.4]) if zoo else {}
    axes = fig.subplots(2 if zoo else 1, 1, squeeze=False, gridspec_kw=rows_of)[:, 0]
    ax = axes[0]
    largest = max(r["params"] for r in rows)
    _accuracy_chart(ax, rows, area=900 / largest, legend=None)  # the largest: 900 pt²
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")  # 0.3, 1, 3 rather than 3×10⁻¹
    ax.xaxis.set_minor_formatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")
    ax.set(
        xlabel="multiply-adds per image (×10⁶, log scale)",
        ylabel="test accuracy (%)",
        title=f"Your runs{': ' + data if data else ''} (area: parameters)",
    )
    if zoo:  # every title and label set before the labels are placed: they fix the layout
        _zoo_axes(
            axes[1], zoo, title="ImageNet: torchvision's weights (area: parameters)", fontsize=7.8
        )
    _place_labels(
        ax,
        [(r["macs"], r["top1"]) for r in rows],
        [f"{r['name']} ({r['params']:,.0f}k)" for r in rows],
        fontsize=8.5,
    )
    return fig


_PRESENT_KEYS = (
    "figure.dpi",
    "font.size",
    "axes.titlesize",
    "axes.labelsize",
    "xtick.labelsize",
    "ytick.labelsize",
    "legend.fontsize",
    "lines.linewidth",
    "lines.markersize",
)
_BEFORE: dict = {}  # each key's value before present() changed it
_SET: dict = {}  # what present() set it to


def present(on: bool = True, *, scale: float = 1.6) -> None:
    """Presenting mode: larger figures and fonts for a projector; present(False) undoes it.

    Undoing restores only the settings that are still as present() left them: a setting you
    changed yourself in between stays as you set it.
    """
    for key, value in _SET.items():  # undo what is still ours
        if plt.rcParams[key] == value:
            plt.rcParams[key] = _BEFORE[key]
    _BEFORE.clear()
    _SET.clear()
    if not on:
        return
    for key in _PRESENT_KEYS:
        value = plt.rcParams[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            _BEFORE[key] = value
            _SET[key] = plt.rcParams[key] = value * scale
        # named sizes ("large") scale with the base font and need no change


def plot_training_curves(histories: dict, *, smooth: int = 20, title: str = "") -> Figure:
    """Training loss along training (a running mean over `smooth` batches), one line per run.

    `histories` maps names to Histories, or panel titles to such dicts: one panel each, side by
    side with a shared y-axis, as He et al. (2015) draw plain and residual nets in figure 4.
    """
    nested = all(isinstance(v, dict) for v in histories.values())
    panels = histories if nested else {title: histories}
    fig = _figure(5.5 * len(panels) + 1.5 * (len(panels) == 1), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    colors = [BLUE, VERMILION, GREEN, PINK, ORANGE, SKY]
    for ax, (panel, runs) in zip(axes, panels.items(), strict=True):
        for (name, h), color in zip(runs.items(), colors, strict=False):
            losses = np.asarray(h.batch_loss)
            k = max(1, min(smooth, len(losses)))
            mean = np.convolve(losses, np.ones(k) / k, mode="valid")
            epochs = (np.arange(len(mean)) + k) / (len(losses) / max(h.epochs, 1))
            ax.plot(epochs, mean, color=color, lw=1.8, label=name)
        ax.set_yscale("log")
        ax.set(xlabel="epoch", title=panel if nested else title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("training loss (cross-entropy)")
    return fig


def plot_first_filters(models: dict, *, count: int = 16) -> Figure:
    """The first `count` filters of each model's first convolution, one row per model.

    Each filter is scaled on its own to the full grey (or colour) range: its pattern shows,
    not its strength. Rows are labelled with the name and the kernel size.
    """

    firsts = {}
    for name, model in models.items():
        if not anatomy.convolutions(model):
            raise ValueError(f"{name} has no convolution to show the filters of.")
        firsts[name] = anatomy.first_conv(model).weight.detach().to("cpu", torch.float32)
    fig = _figure(count * 0.62 + 1.6, len(firsts) * 0.7 + 0.3)
    axes = fig.subplots(len(firsts), count, squeeze=False)
    for row, (name, weight) in zip(axes, firsts.items(), strict=True):
        for k, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if k >= len(weight):
                continue
            w = weight[k]
            w = (w - w.min()) / (w.max() - w.min() + 1e-12)  # each filter on its own scale
            if w.shape[0] == 3:
                ax.imshow(w.permute(1, 2, 0).numpy())
            else:
                ax.imshow(w.mean(0).numpy(), cmap="gray")
        k = weight.shape[-1]
        row[0].set_ylabel(
            f"{name}\n{k}×{k}", rotation=0, ha="right", va="center", fontsize=8, labelpad=4
        )
    fig.suptitle("First-layer filters (each scaled on its own)", fontsize=10)
    return fig


def plot_cams(
    images: torch.Tensor,
    cams: dict,
    predictions: dict,
    labels: Sequence[int],
    *,
    classes: Sequence[str] = DIGITS,
) -> Figure:
    """Class activation maps over their images: one row per model, one column per image.

    `cams[name]` is N×H×W (the map of the class that model predicted, already resized to the
    images), `predictions[name]` the N predicted classes; a wrong one is titled in red, with
    the label.
    Each map is shown from its own minimum to its own maximum: where the evidence lies, not how
    much there is.
    """
    n = len(images)
    fig = _figure(n * 1.25 + 1.4, len(cams) * 1.35 + 0.4)
    axes = fig.subplots(len(cams), n, squeeze=False)
    for row, (name, maps) in zip(axes, cams.items(), strict=True):
        for i, ax in enumerate(row):
            _show_image(ax, images[i])
            ax.imshow(maps[i].numpy(), cmap="jet", alpha=0.5, interpolation="bilinear")
            guess, truth = int(predictions[name][i]), int(labels[i])
            said = f"says {classes[guess]}" + ("" if guess == truth else f" (is {classes[truth]})")
            ax.set_title(said, fontsize=8, color=RIGHT if guess == truth else WRONG)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9, labelpad=6)
    fig.suptitle(
        "Class activation maps: where each network finds the evidence for what it says",
        fontsize=10,
    )
    return fig


def _show_image(ax, image: torch.Tensor) -> None:
    """A grey digit dark on white, or a normalised colour image stretched back to [0, 1]."""
    image = image.detach().cpu()
    if image.shape[0] == 3:
        ax.imshow(_rgb((image - image.min()) / (image.max() - image.min() + 1e-12)))
    else:
        ax.imshow(image.mean(0).numpy(), cmap="gray_r")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_family_view(
    image: torch.Tensor,
    probabilities: torch.Tensor,
    maps: torch.Tensor,
    *,
    cam: torch.Tensor | None,
    label: int,
    name: str,
    classes: Sequence[str] = DIGITS,
    count: int = 8,
) -> Figure:
    """One network on one image: its class activation map over the image (or, without a GAP
    head, the image alone), its probabilities, and the first `count` maps of its last
    convolution (C × h × w)."""
    fig = _figure(12, 3.2)
    grid = fig.add_gridspec(2, 3 + count // 2, width_ratios=[2, 3] + [1] * (1 + count // 2))
    image_ax = fig.add_subplot(grid[:, 0])
    _show_image(image_ax, image)
    guess = int(probabilities.argmax())
    if cam is not None:
        image_ax.imshow(cam.numpy(), cmap="jet", alpha=0.5, interpolation="bilinear")
        image_ax.set_title(f"where {name} sees a {classes[guess]}", fontsize=9)
    else:
        image_ax.set_title(f"{name}: no GAP head, no CAM", fontsize=9)
    bars = fig.add_subplot(grid[:, 1])
    colors = [LIGHT_GREY] * len(classes)
    colors[guess] = GREEN if guess == label else VERMILION
    bars.bar(range(len(classes)), probabilities.cpu().numpy(), color=colors)
    bars.set(xticks=range(len(classes)), ylim=(0, 1), ylabel="probability")
    bars.set_xticklabels(classes, rotation=90 if max(map(len, classes)) > 2 else 0, fontsize=8)
    bars.set_title(f"says {classes[guess]} ({probabilities[guess]:.0%}); true: {classes[label]}")
    maps = maps.detach().cpu()
    for k in range(min(count, len(maps))):
        ax = fig.add_subplot(grid[k // (count // 2), 3 + k % (count // 2)])
        ax.imshow(maps[k].numpy(), cmap="viridis")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(k), fontsize=7)
    fig.text(
        0.83, 0.99, f"last convolution: {len(maps)} maps of {maps.shape[-2]}×{maps.shape[-1]}",
        ha="center", va="top", fontsize=8,
    )  # fmt: skip
    return fig
