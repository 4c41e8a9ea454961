"""Building blocks: network in network, inception, residual, bottleneck and ResNeXt blocks.

A tool (imports the ground). Home of notebooks 05 (network in network, inception), 06 (residual and
bottleneck blocks) and 07 (ResNeXt); nets builds the compact families of 09 from them.

They follow the papers' arithmetic (convolutions and ReLUs, no batch-norm) so that their
parameter counts can be checked against the slides' formulas; the pre-activation block and
deep_stack, which train, have batch-norm. Layer names follow torchvision (branch1..branch4,
conv1..conv3, bn1..bn2).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

from . import anatomy, env


class BlockError(env.CourseError, ValueError):
    """A block whose layers do not have the shapes its own settings say."""


def mlpconv(in_channels: int, channels: tuple[int, ...], kernel_size: int, **conv) -> nn.Sequential:
    """Network in network's MLP convolution: a k×k convolution, then 1×1 ones (Lin et al. 2014)."""
    layers: list[nn.Module] = []
    for i, out in enumerate(channels):
        k = kernel_size if i == 0 else 1
        layers += [
            nn.Conv2d(in_channels, out, k, **(conv if i == 0 else {})),
            nn.ReLU(inplace=True),
        ]
        in_channels = out
    return nn.Sequential(*layers)


def nin_imagenet(num_classes: int = 1000) -> nn.Sequential:
    """Network in network for ImageNet: four MLP convolutions, then global average pooling.

    The 4-layer model released with the Caffe Model Zoo by Lin (the paper itself reports no
    ImageNet model): its last MLP convolution gives one map per class, and averaging each map
    is the whole classifier, with no parameters (Lin et al. 2014, §3.2). 7,595,176 parameters.
    """
    pool = dict(kernel_size=3, stride=2, ceil_mode=True)
    return nn.Sequential(
        OrderedDict(
            [
                ("mlpconv1", mlpconv(3, (96, 96, 96), 11, stride=4)),  # 96 x 54 x 54
                ("pool1", nn.MaxPool2d(**pool)),  # 96 x 27 x 27
                ("mlpconv2", mlpconv(96, (256, 256, 256), 5, padding=2)),
                ("pool2", nn.MaxPool2d(**pool)),  # 256 x 13 x 13
                ("mlpconv3", mlpconv(256, (384, 384, 384), 3, padding=1)),
                ("pool3", nn.MaxPool2d(**pool)),  # 384 x 6 x 6
                ("dropout", nn.Dropout(0.5)),
                ("mlpconv4", mlpconv(384, (1024, 1024, num_classes), 3, padding=1)),
                ("avgpool", nn.AdaptiveAvgPool2d(1)),  # one number per class map
                ("flatten", nn.Flatten()),
            ]
        )
    )


def _conv(in_channels: int, out_channels: int, k: int, *, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, k, padding=k // 2, bias=bias), nn.ReLU(inplace=True)
    )


class InceptionNaive(nn.Module):
    """The naive inception module (Szegedy et al. 2015, fig. 2a): 1×1, 3×3, 5×5 and pooling."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int) -> None:
        super().__init__()
        self.branch1 = _conv(in_channels, ch1x1, 1)
        self.branch2 = _conv(in_channels, ch3x3, 3)
        self.branch3 = _conv(in_channels, ch5x5, 5)
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)  # keeps all in_channels maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], dim=1)


class Inception(nn.Module):
    """The inception module with dimension reductions (Szegedy et al. 2015, fig. 2b)."""

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = _conv(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(_conv(in_channels, ch3x3red, 1), _conv(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(_conv(in_channels, ch5x5red, 1), _conv(ch5x5red, ch5x5, 5))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), _conv(in_channels, pool_proj, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], dim=1)


# GoogLeNet's inception modules (Szegedy et al. 2015, table 1):
# in, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj
INCEPTION_3A = (192, 64, 96, 128, 16, 32, 32)
GOOGLENET_CFG = OrderedDict(
    [
        ("inception3a", INCEPTION_3A),
        ("inception3b", (256, 128, 128, 192, 32, 96, 64)),
        ("maxpool3", None),
        ("inception4a", (480, 192, 96, 208, 16, 48, 64)),
        ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
        ("inception4c", (512, 128, 128, 256, 24, 64, 64)),
        ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
        ("inception4e", (528, 256, 160, 320, 32, 128, 128)),
        ("maxpool4", None),
        ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
        ("inception5b", (832, 384, 192, 384, 48, 128, 128)),
    ]
)


def googlenet_2014(num_classes: int = 1000) -> nn.Sequential:
    """GoogLeNet as in the paper's table 1: true 5×5 convolutions, no batch-norm, no aux heads.

    torchvision's googlenet() differs: batch-norm after every convolution, and 3×3 kernels
    where the paper has 5×5 (a known quirk of the port).
    """
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", _conv(3, 64, 7)),  # stride 2 set below
        ("maxpool1", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ("conv2", _conv(64, 64, 1)),
        ("conv3", _conv(64, 192, 3)),
        ("maxpool2", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
    ]
    layers[0][1][0].stride = (2, 2)
    for name, cfg in GOOGLENET_CFG.items():
        pool = nn.MaxPool2d(3 if name == "maxpool3" else 2, stride=2, ceil_mode=True)
        layers.append((name, pool if cfg is None else Inception(*cfg)))
    layers += [
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("dropout", nn.Dropout(0.4)),
        ("fc", nn.Linear(1024, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


class BasicBlock(nn.Module):
    """The residual block of ResNet-18/34: two 3×3 convolutions and the identity shortcut.

    With biases and without batch-norm, as the slide counts it: 2 × (3·3·C + 1) · C parameters.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        return self.relu(self.conv2(out) + x)


class _BottleneckShape(nn.Module):
    """1×1 down to `inner` channels, 3×3, 1×1 back up, plus the identity, a ReLU after each.

    ResNet's bottleneck and ResNeXt's block are this one shape: they differ only in the 3×3's
    groups and bias.
    """

    def __init__(self, in_channels: int, inner: int, *, groups: int = 1, bias: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, inner, 1, bias=False)
        self.conv2 = nn.Conv2d(inner, inner, 3, padding=1, groups=groups, bias=bias)
        self.conv3 = nn.Conv2d(inner, in_channels, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out))
        return self.relu(self.conv3(out) + x)


class Bottleneck(_BottleneckShape):
    """ResNet-50's bottleneck: 1×1 down to `width`, 3×3, 1×1 back up, plus the identity.

    Counted as on the slide, 256·64 + (3·3·64 + 1)·64 + 64·256: the slide's formula gives the
    3×3 convolution a bias and the 1×1 ones none, so this block does the same.
    """

    def __init__(self, in_channels: int = 256, width: int = 64) -> None:
        super().__init__(in_channels, width, bias=True)


class ResNeXtBlock(_BottleneckShape):
    """ResNeXt's block (Xie et al. 2017, fig. 3c): 1×1, grouped 3×3 with `cardinality` groups
    of `width` channels, 1×1, plus the identity. 32×4d on 256 channels: 70,144 parameters."""

    def __init__(self, in_channels: int, *, cardinality: int = 32, width: int = 4) -> None:
        super().__init__(in_channels, cardinality * width, groups=cardinality, bias=False)
        self.cardinality, self.width = cardinality, width


class ResNeXtPaths(nn.Module):
    """The same block as `cardinality` separate pathways whose outputs are summed (fig. 3a)."""

    def __init__(self, in_channels: int, *, cardinality: int = 32, width: int = 4) -> None:
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(
                OrderedDict(
                    conv1=nn.Conv2d(in_channels, width, 1, bias=False),
                    relu1=nn.ReLU(inplace=True),
                    conv2=nn.Conv2d(width, width, 3, padding=1, bias=False),
                    relu2=nn.ReLU(inplace=True),
                    conv3=nn.Conv2d(width, in_channels, 1, bias=False),
                )
            )
            for _ in range(cardinality)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(sum(path(x) for path in self.paths) + x)


def to_paths(block: ResNeXtBlock) -> ResNeXtPaths:
    """`block` rewritten as explicit separate pathways, with its weights (the same function)."""
    c, d = block.cardinality, block.width
    paths = ResNeXtPaths(block.conv1.in_channels, cardinality=c, width=d)
    paths.to(block.conv1.weight.device, block.conv1.weight.dtype)  # copies stay on one device
    with torch.no_grad():
        for i, path in enumerate(paths.paths):
            group = slice(i * d, (i + 1) * d)
            for name, mine, theirs in (
                ("conv1", path.conv1.weight, block.conv1.weight[group]),
                ("conv2", path.conv2.weight, block.conv2.weight[group]),  # group i -> i
                ("conv3", path.conv3.weight, block.conv3.weight[:, group]),
            ):
                if mine.shape != theirs.shape:
                    raise BlockError(
                        f"to_paths: the block's {name} gives path {i} weights of "
                        f"{_shape(theirs)}, where a path of width {d} on "
                        f"{block.conv1.in_channels} channels takes {_shape(mine)}: its layers "
                        f"no longer match its cardinality={c} and width={d}. Build it with "
                        "ResNeXtBlock(in_channels, cardinality=..., width=...) and change "
                        "neither its layers nor those two numbers."
                    )
                mine.copy_(theirs)
    return paths


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(map(str, tensor.shape))


# --- whole ResNets as in He et al. 2015, table 1 ------------------------------------------

RESNET_LAYERS = {
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
}
PAPER_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}  # table 1's FLOPs row, ×10⁹


def paper_resnet(depth: int) -> nn.Module:
    """ResNet-`depth` as in the paper: for 50, 101 and 152, the stride sits in the first 1×1.

    torchvision's ResNet-50/101/152 are "v1.5": the stride-2 moved to the 3×3 convolution,
    which costs more multiply-adds (4.1 against 3.8 ×10⁹ for ResNet-50) and is more accurate.
    """
    import torchvision

    if depth not in RESNET_LAYERS:
        raise ValueError(f"No ResNet-{depth} in table 1; choose one of {list(RESNET_LAYERS)}.")
    model = torchvision.models.get_model(f"resnet{depth}")
    if depth >= 50:
        for layer in (model.layer2, model.layer3, model.layer4):
            first = layer[0]
            first.conv1.stride, first.conv2.stride = (2, 2), (1, 1)
    return model


# --- why shortcuts help: gradients at initialisation, degradation ---------------------------


class PreActBasicBlock(nn.Module):
    """The full pre-activation block (He et al. 2016, fig. 4e): BN, ReLU, conv, twice, + x.

    Nothing follows the addition, so the identity path stays clean (He et al. 2016, §2 and §4).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu(self.bn1(x)))
        return self.conv2(self.relu(self.bn2(out))) + x


Placement = Literal["post", "pre"]


class ResidualLayer(nn.Module):
    """One residual layer of `deep_stack`: one convolution, its (optional) BN, a shortcut.

    "post" (He et al. 2015, fig. 2, §3.2): ReLU(x + BN(conv x)), the ReLU after the addition.
    "pre" (He et al. 2016, fig. 4e): x + conv(ReLU(BN x)), nothing after the addition.
    """

    def __init__(
        self, conv: nn.Conv2d, bn: nn.Module | None, placement: Placement = "post"
    ) -> None:
        super().__init__()
        if placement not in ("post", "pre"):
            raise ValueError(f"placement must be 'post' or 'pre', not {placement!r}")
        self.placement = placement
        self.conv, self.bn = conv, bn if bn is not None else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.placement == "post":
            return self.relu(x + self.bn(self.conv(x)))
        return x + self.conv(self.relu(self.bn(x)))


def he_init(model: nn.Module) -> nn.Module:
    """He et al. 2015b's initialisation (fan-in, for ReLU) of every convolution and linear layer.

    PyTorch's default draws weights with a variance of 1/(3·fan-in), a sixth of the 2/fan-in
    that a ReLU layer needs to keep its signal's size (§2.2), so without batch-norm the signal
    shrinks from layer to layer:
    NiN, GoogLeNet and the residual nets then barely move in a short training. torchvision's
    VGG and ResNet use He's initialisation too. Biases start at zero.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


# deep_stack's flag of the same name hides the function inside it.
_he_init = he_init


def deep_stack(
    depth: int,
    channels: int = 16,
    *,
    shortcuts: bool,
    residual: Placement = "post",
    in_channels: int = 1,
    num_classes: int = 10,
    batch_norm: bool = False,
    he_init: bool = False,
    stride: int = 1,
    pooled: int = 1,
) -> nn.Sequential:
    """A stem, `depth` 3×3 conv layers (with or without identity shortcuts), then a classifier.

    A plain layer is conv → (BatchNorm) → ReLU. With shortcuts each layer is a ResidualLayer:
    residual="post" (He et al. 2015) computes ReLU(x + BN(conv x)); residual="pre" (He et al.
    2016) computes x + conv(ReLU(BN x)), and the stack then ends with BN → ReLU, as the
    pre-activation ResNets do. batch_norm=True and he_init=True (Kaiming normal, fan-in, for
    ReLU: He et al. 2015b) give the layers of the ResNet paper's plain and residual nets; the
    defaults are PyTorch's own. `stride` 2 makes the stem halve the map, so that deep stacks
    train quickly on digits; `pooled` is the side of the map the classifier sees (1: global
    average pooling).
    """
    if residual not in ("post", "pre"):
        raise ValueError(f"residual must be 'post' or 'pre', not {residual!r}")

    def conv(c_in: int, c_out: int, s: int = 1) -> nn.Conv2d:
        layer = nn.Conv2d(c_in, c_out, 3, stride=s, padding=1, bias=not batch_norm)
        return _he_init(layer) if he_init else layer

    def norm() -> list[nn.Module]:
        return [nn.BatchNorm2d(channels)] if batch_norm else []

    body: list[nn.Module] = []
    for _ in range(depth):
        if shortcuts:
            body.append(ResidualLayer(conv(channels, channels), *norm() or [None], residual))
        else:
            body.append(nn.Sequential(conv(channels, channels), *norm(), nn.ReLU()))
    if shortcuts and residual == "pre":
        body += [*norm(), nn.ReLU()]  # the last addition's output, activated once
    return nn.Sequential(
        conv(in_channels, channels, stride),
        *norm(),
        nn.ReLU(),
        *body,
        nn.AdaptiveAvgPool2d(pooled),
        nn.Flatten(),
        nn.Linear(channels * pooled * pooled, num_classes),
    )


def gradient_norms(model: nn.Sequential, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """The gradient norm of each hidden convolution's weights for one batch's cross-entropy."""
    model.zero_grad()
    dev = anatomy.model_device(model)
    nn.functional.cross_entropy(model(images.to(dev)), labels.to(dev)).backward()
    convs = [m for _, m in anatomy.convolutions(model)][1:]  # skip the stem
    return [conv.weight.grad.norm().item() for conv in convs]
