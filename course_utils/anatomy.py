"""A model's anatomy: its device, running it for inference, looking inside it, finding its layers.

The ground floor: it imports nothing from the package. The course's one way to run a model
(`evaluating`: eval mode, no gradients, every submodule's own mode given back), to look inside
it (`hooked`, `activations`: the maps of notebook 01's digits, 09's class activation maps) and
to find its layers (`convolutions`, `first_conv`, `last_conv`, `weight_layers`: 01, 06, 09).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device `model` lives on: its parameters', else its buffers', else the CPU."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[torch.device]:
    """Run `model` for inference: eval mode and no gradients inside, the model's device yielded.

    On the way out, every submodule gets back its own mode (a frozen BatchNorm stays frozen),
    also when the body raises. The functions that take a model all run through this, then move
    their inputs to the yielded device and return their results on the CPU.
    """
    with modes_kept(model):
        model.eval()
        with torch.no_grad():
            yield model_device(model)


@contextlib.contextmanager
def modes_kept(*models: nn.Module) -> Iterator[None]:
    """Whatever the body does to their modes, every submodule of `models` gets its own mode
    back on the way out (a frozen BatchNorm stays frozen), also when the body raises."""
    modes = [(module, module.training) for model in models for module in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def hooked(
    modules: dict[str, nn.Module], record: Callable[..., None], *, before: bool = False
) -> Iterator[None]:
    """Call `record(name, module, inputs, output)` after each of `modules` runs inside the
    block (before=True: `record(name, module, inputs)` before it runs); the hooks are removed on
    the way out, also when the body raises. The course's one way to look inside a model."""
    handles = [
        module.register_forward_pre_hook(lambda m, args, name=name: record(name, m, args))
        if before
        else module.register_forward_hook(
            lambda m, args, out, name=name: record(name, m, args, out)
        )
        for name, module in modules.items()
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def activations(model: nn.Module, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """The outputs of the named submodules (e.g. "features.0") for input batch `x`, on the CPU."""
    named = dict(model.named_modules())
    unknown = [name for name in layers if name not in named]
    if unknown:
        raise KeyError(f"{type(model).__name__} has no layer {unknown}; it has {list(named)[1:]}")
    found: dict[str, torch.Tensor] = {}

    def keep(name: str, _module, _inputs, out: torch.Tensor) -> None:
        # A copy at once: an in-place ReLU after the layer would otherwise change what was kept.
        found[name] = out.detach().to("cpu", copy=True)

    with hooked({name: named[name] for name in layers}, keep), evaluating(model) as dev:
        model(x.to(dev))
    return found


def convolutions(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The model's convolutions, (name, layer), in the order they are defined."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _convolution(model: nn.Module, which: int) -> tuple[str, nn.Conv2d]:
    found = convolutions(model)
    if not found:
        raise ValueError(f"{type(model).__name__} has no convolution")
    return found[which]


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The model's first convolution (see convolutions)."""
    return _convolution(model, 0)[1]


def first_filters(model: nn.Module) -> torch.Tensor:
    """The filters of the model's first convolution, one per row (out × in·k·k), on the CPU."""
    return first_conv(model).weight.detach().to("cpu", torch.float32, copy=True).flatten(1)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's convolutions and linear layers, (name, layer), in the order they are defined.

    For the families this is the order they run in, so [0] is the first convolution, [-1] the
    classifier's last layer (for NiN, its last convolution) and last_conv(model) the last
    convolution.
    """
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def last_conv(model: nn.Module) -> str:
    """The name of the model's last convolution (its maps are what pooling or the head reads)."""
    return _convolution(model, -1)[0]


def _weights_of(model: nn.Module, layer: int | str) -> torch.Tensor:
    named = weight_layers(model)
    if isinstance(layer, str):
        found = dict(named).get(layer)
        if found is None:
            names = ", ".join(n for n, _ in named)
            raise ValueError(f"{type(model).__name__} has no layer {layer!r}; it has: {names}.")
    else:
        found = named[layer][1]
    return found.weight.detach().to("cpu", torch.float32, copy=True).flatten(1)
