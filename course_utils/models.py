"""LeNet5 as on the slide, and tools to look inside a model."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import config


class LeNet5(nn.Module):
    """LeNet5 exactly as the slide prints it: 44,426 parameters for 1×28×28 digits."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),  # 6 x 24 x 24
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 6 x 12 x 12
            nn.Conv2d(6, 16, kernel_size=5),  # 16 x 8 x 8
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 16 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 4 * 4, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 16 x 4 x 4
        x = torch.flatten(x, 1)  # N x 256
        return self.classifier(x)  # N x 10


class AlexNet2012(nn.Module):
    """AlexNet as in Krizhevsky et al. 2012: 96 first filters, two towers, 227×227 input.

    The two GPUs of the paper appear as groups=2 in conv2, conv4 and conv5, whose filters only
    see the maps of their own GPU; conv3 and the linear layers see both. torchvision's
    alexnet() follows the one-tower variant of "One weird trick" (Krizhevsky 2014) instead.
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 96 x 55 x 55
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 96 x 27 x 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # 256 x 27 x 27
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 13 x 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),  # 256 x 13 x 13
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 6 x 6
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 256 x 6 x 6
        return self.classifier(torch.flatten(x, 1))


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """The outputs of the named submodules (e.g. "features.0") for input batch `x`."""
    named = dict(model.named_modules())
    unknown = [name for name in layers if name not in named]
    if unknown:
        raise KeyError(f"{type(model).__name__} has no layer {unknown}; it has {list(named)[1:]}")
    found: dict[str, torch.Tensor] = {}
    hooks = [
        named[name].register_forward_hook(
            lambda _m, _i, out, name=name: found.__setitem__(name, out.detach().clone())
        )
        for name in layers
    ]
    try:
        was_training = model.training
        model.eval()
        model(x)
        model.train(was_training)
    finally:
        for hook in hooks:
            hook.remove()
    return found


def checkpoint_path(name: str) -> Path:
    """Where save_trained keeps the weights called `name`."""
    return config.cache_dir() / "models" / f"{name}.pt"


def save_trained(model: nn.Module, name: str) -> Path:
    """Save `model`'s weights under `name`, for a later notebook to reuse."""
    path = checkpoint_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)  # a half-written file never takes the real name
    return path


def load_trained(model: nn.Module, name: str) -> bool:
    """Load the weights saved as `name` into `model`; False when none were saved."""
    path = checkpoint_path(name)
    if not path.exists():
        return False
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:
        raise RuntimeError(
            f"The saved weights {path} cannot be loaded into {type(model).__name__} ({err}). "
            f"Delete {path} and train again."
        ) from err
    return True
