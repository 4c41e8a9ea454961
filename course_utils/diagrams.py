"""The lecture's diagrams, drawn with matplotlib alone: boxes, arrows and text.

A tool (imports blocks, counting and plots). Serves notebooks 04-07.

Every function returns a Figure made by plots._figure (already closed: the caller shows it
once). Each figure is one frameless Axes whose data units are inches, (0, 0) at the bottom
left, so that box sizes and font sizes can be planned together. Channel counts and parameter
counts come from the arguments or from the tested blocks in course_utils.blocks.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle
from matplotlib.path import Path
from torch import nn

from . import anatomy, blocks
from .counting import count_parameters
from .plots import _figure
from .show import BLUE, DARK_GREY, GREEN, GREY, INK, ORANGE, PINK, SKY, VERMILION

OFFSET_COLORS = (BLUE, VERMILION, GREEN, ORANGE, PINK, SKY)
Point = tuple[float, float]


def _canvas(width: float, height: float, title: str = "") -> tuple[Figure, Axes]:
    """A width × height inch figure with one frameless Axes measured in inches."""
    fig = _figure(width, height, constrained=False)  # one Axes fills it: nothing to lay out
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, width), ylim=(0, height), aspect="equal")
    ax.axis("off")
    if title:
        _text(ax, width / 2, height - 0.12, title, size=12, va="top", weight="bold")
    return fig, ax


def _text(ax: Axes, x: float, y: float, s: str, *, size: float = 9, **kw) -> None:
    """Text centred on (x, y) unless `kw` says otherwise."""
    kw = {"ha": "center", "va": "center", "color": INK, "linespacing": 1.3, **kw}
    ax.text(x, y, s, fontsize=size, **kw)


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str = "",
    color: str = BLUE,
    *,
    dashed: bool = False,
    **kw,
) -> None:
    """A rounded box centred on (x, y), tinted with `color`, `text` (with `kw`) in its middle."""
    shape = "round,pad=0,rounding_size=0.05"
    style = {"facecolor": to_rgba(color, 0.16), "edgecolor": color, "lw": 1.3}
    ls = "--" if dashed else "-"
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=shape, ls=ls, **style))
    if text:
        _text(ax, x, y, text, **kw)


def _arrow(ax: Axes, *points: Point, color: str = INK, dashed: bool = False) -> None:
    """An arrow along straight segments through `points`, its head at the last one."""
    style = {"arrowstyle": "-|>", "mutation_scale": 9, "lw": 1.2, "color": color}
    ax.add_patch(FancyArrowPatch(path=Path(points), ls="--" if dashed else "-", **style))


def _bypass(ax: Axes, start: Point, end: Point, side: float, label: str = "identity") -> None:
    """A shortcut: right from `start` to x = `side`, down, then left into `end`, labelled."""
    _arrow(ax, start, (side, start[1]), (side, end[1]), end)
    ax.plot(*start, "o", color=INK, ms=4)
    _text(ax, side + 0.1, (start[1] + end[1]) / 2, label, size=8, rotation=90, ha="left")


def _plus(ax: Axes, x: float, y: float, r: float = 0.14) -> None:
    """The ⊕ where a shortcut joins: a circle with a plus drawn in lines (not text)."""
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=INK, lw=1.2, zorder=3))
    ax.plot([x - 0.6 * r, x + 0.6 * r], [y, y], color=INK, lw=1.2, zorder=4)
    ax.plot([x, x], [y - 0.6 * r, y + 0.6 * r], color=INK, lw=1.2, zorder=4)


def _volume(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    depth: float,
    color: str = BLUE,
    *,
    grid: tuple[int, int] = (0, 0),
    outline: bool = False,
) -> None:
    """A C×H×W map as a slab: an H×W face (grid rows × cols) at (x, y), channels going back."""
    dx, dy = 0.8 * depth, 0.5 * depth
    face = "none" if outline else to_rgba(color, 0.16)
    style = {"facecolor": face, "edgecolor": color, "lw": 1.1, "ls": "--" if outline else "-"}
    top = [(x, y + h), (x + dx, y + h + dy), (x + w + dx, y + h + dy), (x + w, y + h)]
    side = [(x + w, y), (x + w + dx, y + dy), (x + w + dx, y + h + dy), (x + w, y + h)]
    ax.add_patch(Polygon(top, **style))
    ax.add_patch(Polygon(side, **style))
    ax.add_patch(Rectangle((x, y), w, h, **style))
    rows, cols = grid
    for i in range(1, rows):
        ax.plot([x, x + w], [y + i * h / rows] * 2, color=color, lw=0.4)
    for j in range(1, cols):
        ax.plot([x + j * w / cols] * 2, [y, y + h], color=color, lw=0.4)


def _cell(ax: Axes, x: float, y: float, s: float, color: str = ORANGE, **kw) -> None:
    """One highlighted cell of side `s` with its lower-left corner at (x, y)."""
    ax.add_patch(Rectangle((x, y), s, s, facecolor=to_rgba(color, 0.6), edgecolor=color, **kw))


def linear_as_convolution(
    channels: int = 256, height: int = 6, width: int = 6, outputs: int = 4096
) -> Figure:
    """A linear layer on a C×H×W map beside the same weights as `outputs` C×H×W filters."""
    c, h, w, n = channels, height, width, outputs
    fig, ax = _canvas(10, 6.1, f"A linear layer on a {c}×{h}×{w} map is a {h}×{w} convolution")
    s = min(0.2, 1.2 / max(h, w))  # one map cell, in inches
    _flatten_then_linear(ax, c, h, w, n, s)
    _filters_on_the_map(ax, c, h, w, n, s)
    _filters_sliding(ax, c, h, w, n)
    return fig


# linear_as_convolution's panels: (a) and (b) side by side at the top, around this height
_PANEL_MIDDLE = 4.1


def _flatten_then_linear(ax: Axes, c: int, h: int, w: int, n: int, s: float) -> None:
    """Panel (a): the map flattened into c·h·w values, then a linear layer to n outputs."""
    mid = _PANEL_MIDDLE
    y0 = mid - h * s / 2
    _text(ax, 2.5, 5.45, "(a) flatten, then a linear layer", size=10, weight="bold")
    _volume(ax, 0.4, y0, w * s, h * s, 0.5, grid=(h, w))
    _text(ax, 0.4 + w * s / 2, y0 - 0.25, f"{c}×{h}×{w}")
    x = 0.4 + w * s + 0.55
    _arrow(ax, (x, mid), (x + 0.7, mid))
    _text(ax, x + 0.35, mid + 0.2, "flatten", size=8)
    _box(ax, x + 0.9, mid, 0.16, 1.9, color=GREY)
    _text(ax, x + 0.9, mid - 1.2, f"{c * h * w:,}\nvalues", size=8)
    _arrow(ax, (x + 1.1, mid), (x + 1.9, mid))
    _text(ax, x + 1.5, mid + 0.2, "linear", size=8)
    _box(ax, x + 2.1, mid, 0.16, 1.6, color=VERMILION)
    _text(ax, x + 2.1, mid - 1.05, f"{n}\noutputs", size=8)
    _text(ax, 2.5, 2.55, f"weights: {n} × {c * h * w:,} = {n * c * h * w:,}", size=8.5)


def _filters_on_the_map(ax: Axes, c: int, h: int, w: int, n: int, s: float) -> None:
    """Panel (b): the same weights as n filters that each cover the whole map: n × 1 × 1."""
    mid = _PANEL_MIDDLE
    y0 = mid - h * s / 2
    heading = f"(b) the same weights as {n} filters of {c}×{h}×{w}"
    _text(ax, 7.5, 5.45, heading, size=10, weight="bold")
    _volume(ax, 5.6, y0, w * s, h * s, 0.5, grid=(h, w))
    _volume(ax, 5.55, y0 - 0.05, w * s + 0.1, h * s + 0.1, 0.55, ORANGE, outline=True)
    covers = "a filter (dashed) covers the\nwhole map: one position"
    _text(ax, 5.6 + w * s / 2, y0 - 0.3, covers, size=8)
    x = 5.6 + w * s + 0.6
    _arrow(ax, (x, mid), (x + 0.85, mid))
    _text(ax, x + 0.42, mid + 0.2, "convolve", size=8)
    _volume(ax, x + 1.05, mid - s / 2, s, s, 1.2, VERMILION)
    _text(ax, x + 1.55, mid - 0.55, f"{n}×1×1", size=9)
    _text(ax, 7.5, 2.55, "one output per filter: the same numbers as (a)", size=8.5)


def _filters_sliding(ax: Axes, c: int, h: int, w: int, n: int) -> None:
    """Panel (c), below: on a larger map the same filters slide, to a p × p map of outputs."""
    p = 5  # a larger map, with room for the filters at p × p positions
    h2, w2 = h + p - 1, w + p - 1
    s2 = min(0.12, 1.2 / max(h2, w2))
    note = f"(c) on a larger {c}×{h2}×{w2} map the same filters slide: a {n}×{p}×{p} map"
    _text(ax, 5, 2.05, note, size=10, weight="bold")
    y0 = 0.45
    _volume(ax, 1.0, y0, w2 * s2, h2 * s2, 0.35, grid=(h2, w2))
    window = Rectangle((1.0, y0 + (h2 - h) * s2), w * s2, h * s2, fill=False, ec=ORANGE, lw=1.8)
    ax.add_patch(window)
    _text(ax, 1.0 + w2 * s2 / 2, y0 - 0.22, f"{c}×{h2}×{w2}", size=8.5)
    mid = y0 + h2 * s2 / 2
    _arrow(ax, (2.75, mid), (3.75, mid))
    _volume(ax, 4.0, mid - p * s2 / 2, p * s2, p * s2, 0.9, VERMILION, grid=(p, p))
    _cell(ax, 4.0, mid + (p / 2 - 1) * s2, s2, lw=0)
    _text(ax, 4.0 + p * s2 / 2, y0 - 0.22, f"{n}×{p}×{p}", size=8.5)
    why = (
        "convolutionization: one pass computes the classifier\n"
        f"on every {h}×{w} window, sharing the convolutions\n"
        "(orange: one window and its output)"
    )
    _text(ax, 5.9, mid, why, size=8.5, ha="left")


def offset_max_pooling(size: int = 9, kernel: int = 3) -> Figure:
    """OverFeat's offset max-pooling in 1-D: pool at offsets Δ = 0, 1, …, then interleave."""
    values = np.random.default_rng(3).permutation(size) + 1
    cw, ch, x0 = min(0.55, 5.2 / size), 0.4, 1.7
    y_out = 0.35
    y_in = y_out + 0.75 * kernel + 0.85
    title = f"Max-pooling {kernel} wide at offsets Δ (OverFeat, Sermanet et al. 2014, fig. 3)"
    fig, ax = _canvas(10, y_in + 0.95, title)
    _text(ax, 0.2, y_in, "input", ha="left")
    for i, v in enumerate(values):
        _box(ax, x0 + (i + 0.5) * cw, y_in, cw, ch, str(v), GREY)
        _text(ax, x0 + (i + 0.5) * cw, y_in + 0.33, str(i), size=7, color=GREY)
    dense = []  # (centre, value, colour) of every pooled cell
    for d in range(kernel):
        y, color = y_in - 0.75 * (d + 1), OFFSET_COLORS[d % len(OFFSET_COLORS)]
        starts = range(d, size - kernel + 1, kernel)
        _text(ax, 0.2, y, f"Δ = {d}", ha="left", color=color, weight="bold")
        for a in starts:
            left, right = x0 + a * cw + 0.05, x0 + (a + kernel) * cw - 0.05
            ax.plot([left, left, right, right], [y + 0.2, y + 0.3, y + 0.3, y + 0.2], color=color)
            centre = x0 + (a + kernel / 2) * cw
            best = values[a : a + kernel].max()
            _box(ax, centre, y - 0.05, cw, ch - 0.05, str(best), color)
            ax.plot([centre] * 2, [y - 0.25, y_out + ch / 2], ":", color=color, lw=1, zorder=0)
            dense.append((centre, best, color))
        last = starts[-1] + kernel - 1
        unused = [str(i) for i in range(size) if i < d or i > last]
        note = f"cells {d}–{last} → {len(starts)} outputs"
        note += f" ({', '.join(unused)} unused)" if unused else ""
        _text(ax, x0 + size * cw + 0.3, y, note, size=8.5, ha="left")
    _text(ax, 0.2, y_out, "interleaved", ha="left")
    for centre, best, color in sorted(dense):
        _box(ax, centre, y_out, cw, ch, str(best), color)
    note = f"{len(dense)} outputs, one per window position,"
    note += f"\ninstead of {size // kernel} with Δ = 0 alone"
    _text(ax, x0 + size * cw + 0.3, y_out, note, size=8.5, ha="left")
    return fig


def _neurons(ax: Axes, x: float, ys: list[float], color: str = BLUE) -> list[Point]:
    """A column of neurons (small circles) at height `ys`; returns their centres."""
    for y in ys:
        ax.add_patch(Circle((x, y), 0.1, facecolor="white", edgecolor=color, lw=1.3, zorder=3))
    return [(x, y) for y in ys]


def _links(ax: Axes, starts: list[Point], ends: list[Point]) -> None:
    """Thin lines from every point in `starts` to every point in `ends`."""
    for a in starts:
        for b in ends:
            ax.plot([a[0], b[0]], [a[1], b[1]], color=GREY, lw=0.7, zorder=1)


def mlpconv_diagram() -> Figure:
    """Network in Network: a linear filter beside mlpconv's small MLP (1×1 convolutions)."""
    fig, ax = _canvas(10, 4.0, "Linear convolution against MLP convolution (Lin et al. 2014)")
    s = 0.2  # input cells: a 6×6 map, with a 3×3 patch
    for x, heading in ((0.3, "(a) linear convolution"), (4.9, "(b) mlpconv")):
        _text(ax, x, 3.4, heading, size=10, weight="bold", ha="left")
        _volume(ax, x, 1.4, 6 * s, 6 * s, 0.5, grid=(6, 6))
        ax.add_patch(Rectangle((x + s, 1.4 + 2 * s), 3 * s, 3 * s, fc=to_rgba(ORANGE, 0.6), lw=0))
        _text(ax, x + 3 * s, 1.1, "input, a k×k patch", size=8.5)
    patch = [(0.3 + 4 * s, 1.4 + 5 * s), (0.3 + 4 * s, 1.4 + 2 * s)]
    (unit,) = _neurons(ax, 2.3, [2.0])
    _links(ax, patch, [unit])
    _text(ax, 2.3, 2.35, "k×k", size=8.5)
    _volume(ax, 3.0, 1.6, 0.8, 0.8, 0.3, VERMILION, grid=(4, 4))
    _cell(ax, 3.2, 2.0, 0.2, lw=0)
    _text(ax, 3.4, 1.35, "output", size=8.5)
    _arrow(ax, (unit[0] + 0.1, 2.0), (3.2, 2.1))
    caption = "one filter: a weighted sum of\nthe patch, then ReLU (a generalized\nlinear model)"
    _text(ax, 2.35, 0.45, caption, size=8.5)

    patch = [(4.9 + 4 * s, 1.4 + 5 * s), (4.9 + 4 * s, 1.4 + 2 * s)]
    columns = [_neurons(ax, x, [1.55, 2.0, 2.45]) for x in (6.9, 7.6, 8.3)]
    _links(ax, patch, columns[0][::2])
    for a, b in zip(columns, columns[1:], strict=False):
        _links(ax, a, b)
    for x, label in zip((6.9, 7.6, 8.3), ("k×k", "1×1", "1×1"), strict=True):
        _text(ax, x, 2.8, label, size=8.5)
    _volume(ax, 8.75, 1.6, 0.8, 0.8, 0.3, VERMILION, grid=(4, 4))
    _cell(ax, 8.95, 2.0, 0.2, lw=0)
    _text(ax, 9.15, 1.35, "output", size=8.5)
    _links(ax, columns[-1], [(8.95, 2.1)])
    caption = (
        "a small MLP at every position: a k×k\nconvolution, then 1×1 convolutions,\neach with ReLU"
    )
    _text(ax, 7.6, 0.45, caption, size=8.5)
    return fig


def inception_module(reduced: bool) -> Figure:
    """GoogLeNet's inception module, naive (fig. 2a) or with 1×1 reductions (fig. 2b), as 3a."""
    c_in, c1, c3r, c3, c5r, c5, proj = blocks.INCEPTION_3A
    side = 28  # inception (3a) works on 28×28 maps (Szegedy et al. 2015, table 1)
    if reduced:
        module, outs = blocks.Inception(*blocks.INCEPTION_3A), (c1, c3, c5, proj)
        kind = "with dimension reductions (Szegedy et al. 2015, fig. 2b)"
    else:
        module, outs = blocks.InceptionNaive(c_in, c1, c3, c5), (c1, c3, c5, c_in)
        kind = "naive (Szegedy et al. 2015, fig. 2a)"
    top = 3.2 if reduced else 2.3  # the row that feeds the concatenation
    fig, ax = _canvas(10, top + 1.9, f"Inception module, {kind}")
    xs, w, h = (1.4, 3.8, 6.2, 8.6), 1.9, 0.55
    lower = [
        None,
        ("1×1 conv", c_in, c3r, ORANGE),
        ("1×1 conv", c_in, c5r, ORANGE),
        ("3×3 max-pool", c_in, c_in, GREEN),
    ]
    upper = [
        ("1×1 conv", c_in, c1, ORANGE),
        ("3×3 conv", c3r if reduced else c_in, c3, BLUE),
        ("5×5 conv", c5r if reduced else c_in, c5, PINK),
        ("1×1 conv", c_in, proj, ORANGE) if reduced else ("3×3 max-pool", c_in, c_in, GREEN),
    ]
    _box(ax, 5, 0.7, 3.4, 0.5, f"previous layer: {c_in} maps of {side}×{side}", GREY)
    for x, low, up in zip(xs, lower, upper, strict=True):
        start = (5 + 0.35 * (x - 5), 0.95)
        if reduced and low is not None:
            _box(ax, x, 1.95, w, h, f"{low[0]}\n{low[1]} → {low[2]}", low[3])
            _arrow(ax, start, (x, 1.95 - h / 2))
            _arrow(ax, (x, 1.95 + h / 2), (x, top - h / 2))
        else:
            _arrow(ax, start, (x, top - h / 2))
        _box(ax, x, top, w, h, f"{up[0]}\n{up[1]} → {up[2]}", up[3])
        _arrow(ax, (x, top + h / 2), (5 + 0.35 * (x - 5), top + 0.8))
    total = " + ".join(map(str, outs)) + f" = {sum(outs)}"
    concat = f"filter concatenation: {total} maps of {side}×{side}"
    _box(ax, 5, top + 1.05, 6.2, 0.5, concat, GREY)
    footer = f"widths of inception (3a); {count_parameters(module):,} parameters with biases"
    _text(ax, 5, 0.1, footer, size=9, va="bottom")
    return fig


def googlenet_outline() -> Figure:
    """GoogLeNet (Szegedy et al. 2015) left to right, its two auxiliary classifiers dashed."""
    layers = [
        ("conv1", "7×7/2, 64", BLUE),
        ("maxpool1", "3×3/2", GREEN),
        ("conv2", "1×1, 64", BLUE),
        ("conv3", "3×3, 192", BLUE),
        ("maxpool2", "3×3/2", GREEN),
    ]
    for name, cfg in blocks.GOOGLENET_CFG.items():
        if cfg is None:
            layers.append((name, "stride 2", GREEN))
        else:
            layers.append((name, f"{cfg[1] + cfg[3] + cfg[5] + cfg[6]} maps", ORANGE))
    layers += [
        ("avgpool", "global", GREEN),
        ("dropout", "40%", GREY),
        ("fc", "1024 → 1000", VERMILION),
        ("softmax", "1000 classes", VERMILION),
    ]
    fig, ax = _canvas(10, 4.3, "GoogLeNet, left to right (Szegedy et al. 2015)")
    pitch, w, h, y = 9.6 / len(layers), 0.34, 1.45, 2.35
    xs = [0.2 + pitch * (i + 0.5) for i in range(len(layers))]
    where = {name: x for (name, _, _), x in zip(layers, xs, strict=True)}
    for i, ((name, detail, color), x) in enumerate(zip(layers, xs, strict=True)):
        _box(ax, x, y, w, h, f"{name}\n{detail}", color, size=7.5, rotation=90)
        if i:
            _arrow(ax, (xs[i - 1] + w / 2, y), (x - w / 2, y))
    stages = [
        ("stem: 224 → 28", "conv1", "maxpool2"),
        ("28×28", "inception3a", "inception3b"),
        ("14×14", "inception4a", "inception4e"),
        ("7×7", "inception5a", "inception5b"),
        ("classifier", "avgpool", "softmax"),
    ]
    for label, first, last in stages:
        left, right = where[first] - w / 2, where[last] + w / 2
        ax.plot([left, left, right, right], [3.2, 3.3, 3.3, 3.2], color=GREY)
        _text(ax, (left + right) / 2, 3.45, label, size=8)
    for k, name in enumerate(("inception4a", "inception4d"), start=1):
        x = where[name]
        _arrow(ax, (x, y - h / 2), (x, 1.3), color=PINK, dashed=True)
        _box(ax, x, 1.05, 1.15, 0.5, f"auxiliary\nclassifier {k}", PINK, dashed=True, size=8)
    aux = (
        "dashed: auxiliary classifiers (5×5/3 average pooling, 1×1 conv 128, FC 1024, 70% dropout,"
        "\nlinear, softmax), used in training only, their losses weighted 0.3"
    )
    _text(ax, 5, 0.1, aux, size=8, va="bottom")
    return fig


def _stack(
    ax: Axes, x: float, top: float, convs: list[nn.Conv2d], *, w: float, counts: bool = False
) -> float:
    """Convolutions as boxes ("in, k×k, out") down from `top`, with ReLUs; returns the last y."""
    step = 0.75
    for i, conv in enumerate(convs):
        y, k = top - i * step, conv.kernel_size[0]
        groups = f", {conv.groups} groups" if conv.groups > 1 else ""
        text = f"{conv.in_channels}, {k}×{k}, {conv.out_channels}{groups}"
        _box(ax, x, y, w, 0.42, text, ORANGE if k == 1 else BLUE)
        if counts:
            n = f"{count_parameters(conv):,}"
            _text(ax, x - w / 2 - 0.12, y, n, size=8, ha="right", color=DARK_GREY)
        if i:
            _arrow(ax, (x, y + step - 0.21), (x, y + 0.21))
            _text(ax, x - 0.1, y + step / 2, "ReLU", size=7.5, ha="right")
    return top - (len(convs) - 1) * step


def _shortcut(ax: Axes, x: float, top: float, plus: float, side: float, channels: int) -> None:
    """Input label at `top`, the identity bypassing to a ⊕ at `plus`, then ReLU and output."""
    _text(ax, x, top, f"{channels}-d in")
    ax.plot([x, x], [top - 0.15, top - 0.3], color=INK, lw=1.2)
    _bypass(ax, (x, top - 0.3), (x + 0.14, plus), side)
    _plus(ax, x, plus)
    _arrow(ax, (x, plus - 0.14), (x, plus - 0.6))
    _text(ax, x - 0.1, plus - 0.37, "ReLU", size=7.5, ha="right")
    _text(ax, x, plus - 0.75, f"{channels}-d out")


def residual_blocks() -> Figure:
    """ResNet's basic block and bottleneck (He et al. 2015, fig. 5), and the slide's third one.

    The slide compares the bottleneck with a basic block on the same 256 channels: that block
    is the third panel, with its parameter count.
    """
    fig, ax = _canvas(10, 5.7, "Residual blocks (He et al. 2015, fig. 5; the slide's comparison)")
    for x, block, name in (
        (1.6, blocks.BasicBlock(64), "basic block, 64-d\n(ResNet-18, 34)"),
        (5.0, blocks.BasicBlock(256), "basic block, 256-d\n(the slide's comparison)"),
        (8.4, blocks.Bottleneck(256, 64), "bottleneck, 256-d\n(ResNet-50, 101, 152)"),
    ):
        convs = [m for _, m in anatomy.convolutions(block)]
        heading = f"{name}\n{count_parameters(block):,} parameters"
        _text(ax, x, 4.85, heading, size=9.5, weight="bold")
        last = _stack(ax, x, 3.7, convs, w=1.55, counts=True)
        _arrow(ax, (x, 4.1), (x, 3.7 + 0.21))
        _arrow(ax, (x, last - 0.21), (x, last - 0.56))
        _shortcut(ax, x, 4.4, last - 0.7, x + 1.0, convs[0].in_channels)
    note = "grey: each convolution's parameters, biases as the slide counts them"
    _text(ax, 5, 0.1, note, size=8, va="bottom", color=DARK_GREY)
    return fig


def resnext_block(cardinality: int = 32, width: int = 4, shown: int = 3) -> Figure:
    """ResNeXt's block (Xie et al. 2017, fig. 3): (a) explicit paths beside (c) grouped form."""
    c, shown = 256, max(1, min(shown, cardinality))
    paths = blocks.ResNeXtPaths(c, cardinality=cardinality, width=width)
    block = blocks.ResNeXtBlock(c, cardinality=cardinality, width=width)
    pitch, gap = 1.45, 0.95 if shown < cardinality else 0
    xs = [0.25 + pitch * (i + 0.5) + (gap if i == shown - 1 else 0) for i in range(shown)]
    right = 0.25 + pitch * shown + gap  # the right edge of (a)
    title = f"ResNeXt block, {cardinality}×{width}d (Xie et al. 2017, fig. 3)"
    fig, ax = _canvas(right + 3.8, 5.5, title)
    top, first, plus, mid = 4.2, 3.25, 1.0, (0.25 + right) / 2
    heading = f"(a) {cardinality} paths of width {width}, summed"
    heading += f"\n{count_parameters(paths):,} parameters"
    _text(ax, mid, 4.75, heading, size=10, weight="bold")
    for x in xs:
        last = _stack(ax, x, first, [m for _, m in anatomy.convolutions(paths.paths[0])], w=1.25)
        _arrow(ax, (mid, top - 0.3), (x, first + 0.21))
        angle = np.radians(50) * (x - mid) / max(abs(xs[0] - mid), abs(xs[-1] - mid), 1)
        end = (mid + 0.14 * np.sin(angle), plus + 0.14 * np.cos(angle))  # on the ⊕, above
        _arrow(ax, (x, last - 0.21), end)
    if gap:  # the paths not drawn
        ex = xs[-1] - pitch / 2 - gap / 2
        _text(ax, ex, first - 0.75, "…", size=16)
        _text(ax, ex, first - 1.5, f"{cardinality} paths\nin all", size=8.5)
    _shortcut(ax, mid, top, plus, right + 0.05, c)

    x = right + 1.5
    heading = f"(c) the same, grouped\n{count_parameters(block):,} parameters"
    _text(ax, x, 4.75, heading, size=10, weight="bold")
    last = _stack(ax, x, first, [m for _, m in anatomy.convolutions(block)], w=2.0)
    _arrow(ax, (x, top - 0.3), (x, first + 0.21))
    _arrow(ax, (x, last - 0.21), (x, plus + 0.14))
    _shortcut(ax, x, top, plus, x + 1.25, c)
    return fig
