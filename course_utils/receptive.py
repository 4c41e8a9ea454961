"""Receptive fields: how much of the input each output position of a layer sees.

A tool (imports nothing from the package). Serves notebooks 03 and 04.

For a chain of layers with kernel k, stride s, padding p and dilation d, each layer maps
(size r, jump j, start c) to (r + (k − 1)·d·j, j·s, c + ((k − 1)/2·d − p)·j): r is the side of
the input square one output sees, j the distance in input pixels between neighbouring outputs,
c the input coordinate of the centre of the first output's field (Araujo et al. 2019,
"Computing receptive fields of convolutional neural networks", Distill).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn

# Layers that change nothing about where an output looks (fcn's convolutionize keeps them too).
POINTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
    nn.BatchNorm2d,
    nn.LocalResponseNorm,  # mixes channels, not positions
)


@dataclass(frozen=True)
class Field:
    """The receptive field after one layer."""

    name: str
    layer: str
    size: int  # side of the input square that one output position sees
    jump: int  # input pixels between neighbouring output positions
    start: float  # input coordinate of the centre of the first output position's field

    def span(self, index: int) -> tuple[float, float]:
        """The input pixels (first, last) that output position `index` sees, padding included."""
        centre = self.start + index * self.jump
        return centre - (self.size - 1) / 2, centre + (self.size - 1) / 2


def _pair(v) -> int:
    v = v if isinstance(v, int) else v[0]
    if isinstance(v, str):
        raise ValueError(f"padding={v!r} is not supported; give the padding in pixels")
    return int(v)


def _geometry(layer: nn.Module) -> tuple[int, int, int, int] | None:
    """(kernel, stride, padding, dilation) along one side; None for a layer that looks nowhere."""
    if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        kernel = _pair(layer.kernel_size)
        stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
        dilation = _pair(getattr(layer, "dilation", 1))
        return kernel, stride, _pair(layer.padding), dilation
    if isinstance(layer, POINTWISE):
        return 1, 1, 0, 1
    return None


def receptive_fields(layers: nn.Module | Iterable[nn.Module]) -> list[Field]:
    """The receptive field after each spatial layer of a chain (a Sequential, .features, a list).

    Convolutions and poolings grow it; activations, batch-norm and dropout keep it. It stops at
    the first layer that is neither (a Linear, a flatten, an adaptive pooling), whose outputs
    see the whole input; a square kernel per layer is assumed (the first side is used).
    """
    if isinstance(layers, nn.Sequential):
        named = [(n, m) for n, m in layers.named_modules() if not list(m.children())]
    elif isinstance(layers, nn.Module) and hasattr(layers, "features"):
        named = [
            (f"features.{n}", m)
            for n, m in layers.features.named_modules()
            if n and not list(m.children())
        ]
    elif isinstance(layers, nn.Module):
        raise ValueError(
            f"receptive_fields() takes a chain of layers (nn.Sequential, a list, or a model "
            f"with .features), not {type(layers).__name__}"
        )
    else:
        named = [(str(i), m) for i, m in enumerate(layers)]
    size, jump, start = 1, 1, 0.0
    fields = []
    for name, layer in named:
        geometry = _geometry(layer)
        if geometry is None:
            break
        k, s, p, d = geometry
        size, start = size + (k - 1) * d * jump, start + ((k - 1) / 2 * d - p) * jump
        jump *= s
        fields.append(Field(name, type(layer).__name__, size, jump, start))
    return fields


def stacked_3x3(n: int) -> int:
    """The receptive field of n stacked 3×3 convolutions (stride 1): 2n + 1."""
    return receptive_fields([nn.Conv2d(1, 1, 3) for _ in range(n)])[-1].size
