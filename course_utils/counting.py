"""Parameters, multiply-adds (torch's own FlopCounterMode) and per-layer tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import config


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of parameters (weights and biases) in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _run_counted(model: nn.Module, input_size: Sequence[int]) -> FlopCounterMode:
    """Run one all-zero input of shape `input_size` (batch of 1) through the model, counted."""
    with config.evaluating(model) as dev, FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_size, device=dev))
    return counter


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-adds for one input of shape `input_size`, e.g. (3, 224, 224).

    FlopCounterMode counts a multiply-add as two FLOPs (convolutions and matrix products
    only, as papers and torchvision's GFLOPS metadata do), so this is half its total.
    """
    return _run_counted(model, input_size).get_total_flops() // 2


@dataclass
class LayerRow:
    """One layer of a model: its name, the layer, its output shape, parameters and MACs."""

    name: str
    layer: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int


class LayerTable:
    """The per-layer listing of a model, printed like the slide's architecture table."""

    def __init__(self, rows: list[LayerRow], input_size: Sequence[int], title: str) -> None:
        self.rows = rows
        self.input_size = tuple(input_size)
        self.title = title

    @property
    def total_parameters(self) -> int:
        return sum(r.parameters for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        def shape(s: tuple[int, ...]) -> str:
            return " × ".join(str(d) for d in s)

        lines = [
            (r.name, r.layer, shape(r.output_shape), f"{r.parameters:,}", f"{r.macs:,}")
            for r in self.rows
        ]
        header = ("layer", "module", "output shape", "parameters", "multiply-adds")
        total = ("total", "", "", f"{self.total_parameters:,}", f"{self.total_macs:,}")
        widths = [max(len(row[i]) for row in [header, total, *lines]) for i in range(5)]

        def fmt(row: tuple[str, ...]) -> str:
            left = [row[i].ljust(widths[i]) for i in range(3)]
            right = [row[i].rjust(widths[i]) for i in range(3, 5)]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(fmt(header))
        head = f"{self.title}, input {shape(self.input_size)}"
        return "\n".join([head, fmt(header), rule, *map(fmt, lines), rule, fmt(total)])

    def __repr__(self) -> str:
        return str(self)


def _pair(v) -> str:
    v = (v, v) if isinstance(v, int) else tuple(v)
    return f"{v[0]}×{v[1]}" if v[0] != v[1] else f"{v[0]}"


def _describe(module: nn.Module) -> str:
    """A short description in the slide's style: "conv 1→6 5×5", "linear 256→120"."""
    m = module
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size
        text = f"conv {m.in_channels}→{m.out_channels} {k[0]}×{k[1]}"
        if m.stride != (1, 1):
            text += f" /{_pair(m.stride)}"
        if m.padding not in ((0, 0), "valid"):
            text += f" pad {_pair(m.padding) if not isinstance(m.padding, str) else m.padding}"
        if m.groups > 1:
            text += f" groups {m.groups}"
        return text
    if isinstance(m, nn.Linear):
        return f"linear {m.in_features}→{m.out_features}"
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        kind = "max-pool" if isinstance(m, nn.MaxPool2d) else "avg-pool"
        text = f"{kind} {_pair(m.kernel_size)}"
        stride = m.stride if m.stride is not None else m.kernel_size
        return text if _pair(stride) == _pair(m.kernel_size) else f"{text} /{_pair(stride)}"
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return f"{type(m).__name__} → {_pair(m.output_size)}"
    if isinstance(m, nn.ReLU):
        return "relu"
    if isinstance(m, nn.Dropout):
        return f"dropout {m.p}"
    if isinstance(m, nn.BatchNorm2d):
        return f"batch-norm {m.num_features}"
    extra = m.extra_repr()
    extra = extra if len(extra) <= 40 else extra[:37] + "..."
    return f"{type(m).__name__}({extra})" if extra else type(m).__name__.lower()


def layer_table(model: nn.Module, input_size: Sequence[int]) -> LayerTable:
    """Each leaf layer's output shape, parameters and multiply-adds for one input."""
    leaves = {
        name: module
        for name, module in model.named_modules()
        if name and not list(module.children())
    }
    shapes: dict[str, tuple[int, ...]] = {}
    order: list[str] = []

    def hook(name: str):
        def record(_module, _inputs, output) -> None:
            if name not in shapes:
                order.append(name)
            shapes[name] = tuple(output.shape[1:]) if torch.is_tensor(output) else ()

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in leaves.items()]
    try:
        counter = _run_counted(model, input_size)
    finally:
        for handle in handles:
            handle.remove()
    prefix = type(model).__name__ + "."
    flops = {
        key.removeprefix(prefix): sum(ops.values())
        for key, ops in counter.get_flop_counts().items()
    }
    rows = [
        LayerRow(
            name=name,
            layer=_describe(leaves[name]),
            output_shape=shapes[name],
            parameters=count_parameters(leaves[name]),
            macs=flops.get(name, 0) // 2,
        )
        for name in order
    ]
    return LayerTable(rows, input_size, type(model).__name__)


class Report:
    """Text written from measured numbers: Markdown in a notebook, plain text elsewhere."""

    def __init__(self, markdown: str, rows: dict | None = None) -> None:
        self.markdown, self.rows = markdown, rows if rows is not None else {}

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], *, note: str = "") -> Report:
    """A Markdown table (numbers formatted with thousands separators), with an optional note."""

    def cell(v) -> str:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return str(v)
        return f"{v:,}" if isinstance(v, int) else f"{v:,.3g}"

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return Report(
        "\n".join(lines) + (f"\n\n{note}" if note else ""),
        {str(row[0]): list(row[1:]) for row in rows},
    )
