"""The networks of the lecture, family by family: the slide's LeNet5, LeNet-5 (1998) and AlexNet,
and a compact member of every family that trains in seconds on a laptop CPU.

A tool: it imports the ground (env) and the building blocks (blocks). `build(name)` makes the
compact LeNet5, AlexNet, VGG, NiN, GoogLeNet, ResNet, ResNet-bottleneck, ResNeXt or DenseNet for
1×28×28 digits, 3×32×32 photos or notebook 09's larger canvases; `he_init` (from blocks) is
the one He initialisation; `first_conv`, `last_conv` and `weight_layers` find a model's layers.
Serves notebooks 01 (LeNet5, LeNet1998), 02 (AlexNet2012) and 09 (the families).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from . import blocks
from .blocks import he_init  # the one He initialisation, which the blocks use too


class LeNet5(nn.Module):
    """LeNet5 exactly as the slide prints it: 44,426 parameters for 1×28×28 digits.

    `activation` builds each nonlinearity (ReLU as on the slide; nn.Tanh or nn.Sigmoid to
    compare); `batch_norm=True` adds batch normalisation after each convolution and hidden
    linear layer, before the activation, as Ioffe & Szegedy (2015) place it. `in_channels`
    and `image_size` (e.g. 3 and 32 for CIFAR-10) change only the first convolution's inputs
    and the first linear layer's (16 × s × s, s = 5 at 32 pixels, 4 at 28).
    """

    def __init__(
        self,
        num_classes: int = 10,
        *,
        activation: Callable[[], nn.Module] = nn.ReLU,
        batch_norm: bool = False,
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2  # two 5×5 convolutions, each then pooled by 2
        if side < 1:
            raise ValueError(f"LeNet5 needs images of at least 16×16 pixels, not {image_size}.")

        def norm(kind: type[nn.Module], n: int) -> list[nn.Module]:
            return [kind(n)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # 6 x 24 x 24
            *norm(nn.BatchNorm2d, 6),
            activation(),
            nn.MaxPool2d(2),  # 6 x 12 x 12
            nn.Conv2d(6, 16, kernel_size=5),  # 16 x 8 x 8
            *norm(nn.BatchNorm2d, 16),
            activation(),
            nn.MaxPool2d(2),  # 16 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            *norm(nn.BatchNorm1d, 120),
            activation(),
            nn.Linear(120, 84),
            *norm(nn.BatchNorm1d, 84),
            activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 16 x 4 x 4 (28×28 input)
        x = torch.flatten(x, 1)  # N x 256
        return self.classifier(x)  # N x 10


class ScaledTanh(nn.Module):
    """LeCun et al. 1998's squashing function A·tanh(S·a), A = 1.7159, S = 2/3 (appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(2 / 3 * x)


class Subsampling(nn.Module):
    """LeNet-5's S2 and S4: sum each 2×2 block, times a trainable coefficient, plus a bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = nn.functional.avg_pool2d(x, 2) * 4  # N x C x H/2 x W/2
        return summed * self.weight[:, None, None] + self.bias[:, None, None]


# LeCun et al. 1998, table I: the S2 maps that each of C3's 16 maps sees.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


class SparseC3(nn.Module):
    """C3: 16 maps, each a 5×5 convolution over the S2 maps that table I gives it (1,516)."""

    def __init__(self) -> None:
        super().__init__()
        self.maps = nn.ModuleList(nn.Conv2d(len(ins), 1, 5) for ins in C3_TABLE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [conv(x[:, ins]) for conv, ins in zip(self.maps, C3_TABLE, strict=True)], 1
        )


class EuclideanRBF(nn.Module):
    """The output layer: each class scores −Σ (x − wᵢ)², wᵢ a fixed ±1 code (not trained).

    The paper draws the codes as 7×12 bitmaps of the characters "by hand"; random ±1 codes,
    fixed by a seed, stand in for them here.
    """

    def __init__(self, features: int = 84, classes: int = 10) -> None:
        super().__init__()
        codes = torch.randint(0, 2, (classes, features), generator=torch.Generator().manual_seed(0))
        self.register_buffer("centres", codes.float() * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x[:, None, :] - self.centres) ** 2).sum(-1)  # N x classes: larger is closer


class LeNet1998(nn.Module):
    """LeNet-5 as LeCun et al. (1998, §II-B) built it: 60,000 trainable parameters, 32×32 input.

    Scaled tanh instead of ReLU, trainable subsampling instead of max-pooling, a sparsely
    connected C3, a convolution C5 that covers its whole 5×5 input, and Euclidean RBF outputs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # C1: 6 x 28 x 28
            ScaledTanh(),
            Subsampling(6),  # S2: 6 x 14 x 14
            ScaledTanh(),
            SparseC3(),  # C3: 16 x 10 x 10
            ScaledTanh(),
            Subsampling(16),  # S4: 16 x 5 x 5
            ScaledTanh(),
            nn.Conv2d(16, 120, 5),  # C5: 120 x 1 x 1
            ScaledTanh(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(120, 84),  # F6
            ScaledTanh(),
            EuclideanRBF(84, 10),  # OUTPUT
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class AlexNet2012(nn.Module):
    """AlexNet as in Krizhevsky et al. 2012: 96 first filters, two towers, 227×227 input.

    The two GPUs of the paper appear as groups=2 in conv2, conv4 and conv5, whose filters only
    see the maps of their own GPU; conv3 and the linear layers see both (§3.2, Fig. 2).
    Response normalisation follows ReLU in conv1 and conv2 (§3.3): b = a / (k + α Σ a²)^β over
    n = 5 neighbouring maps, k = 2, α = 10⁻⁴, β = 0.75. PyTorch's LocalResponseNorm divides its
    `alpha` by `size` (it averages the squares), so the paper's α is alpha = 5 × 10⁻⁴ here.
    Dropout drops the outputs of the first two linear layers (§4.2: "in the first two
    fully-connected layers"), after their ReLU; torchvision's alexnet() drops their inputs
    instead (pool5's and fc6's outputs). torchvision's docs cite "One weird trick" (Krizhevsky
    2014), whose one-tower net has 64, 192, 384, 384, 256 filters (its footnote 1); torchvision
    has 256 in conv4, taken from Krizhevsky's one-GPU cuda-convnet2 model (pytorch/vision#463).
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 96 x 55 x 55
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),  # α = 10⁻⁴ × 5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 96 x 27 x 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # 256 x 27 x 27
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),  # α = 10⁻⁴ × 5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 13 x 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),  # 256 x 13 x 13
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 6 x 6
        )
        self.classifier = nn.Sequential(  # dropout on the outputs of fc6 and fc7 (§4.2)
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 256 x 6 x 6
        return self.classifier(torch.flatten(x, 1))


# --- a compact member of every family, trained in seconds (notebook 09) -----------------------

FAMILIES: tuple[str, ...] = (
    "LeNet5",
    "AlexNet",
    "VGG",
    "NiN",
    "GoogLeNet",
    "ResNet",
    "ResNet-bottleneck",
    "ResNeXt",
    "DenseNet",
)

# The families whose head is global average pooling, from NiN on (Lin et al. 2014, §3.2): all
# but the three whose classifier is fully connected layers.
GAP_FAMILIES: tuple[str, ...] = tuple(f for f in FAMILIES if f not in ("LeNet5", "AlexNet", "VGG"))


# VGG's configurations as data, as torchvision's `cfgs`: channels of 3×3 convolutions, "M" for
# a 2×2 max-pool. Simonyan & Zisserman 2015 (table 1) start at 64 and double after each pool.
VGG_CFGS: dict[str, list[int | str]] = {"mini": [8, "M", 16, 16, "M", 32, 32, "M"]}


# The residual families as data: channels per stage, blocks per stage, and the block.
# ResNet-bottleneck's inner width is half its channels, so that it matches ResNeXt's 8×4d
# (then 8×8d: Xie et al. 2017 double the width with the channels) in parameters, as the
# paper compares ResNeXt-50 with ResNet-50 at equal complexity (§5.1, table 3).
RESNET_CFGS: dict[str, dict] = {
    "ResNet": dict(widths=(16, 32), depths=(2, 2)),
    "ResNet-bottleneck": dict(widths=(32, 64), depths=(2, 2), inner=(16, 32)),
    "ResNeXt": dict(widths=(32, 64), depths=(2, 2), cardinality=8, width=(4, 8)),
}


# Growth rate k, layers per dense block, and the compression of the transition (DenseNet-C's θ,
# §3): Huang et al.'s CIFAR nets have k = 12 and three blocks (§4); two blocks of four here.
DENSENET_CFG: dict = dict(stem=16, growth=12, layers=(4, 4), compression=0.5, bottleneck=None)


class AlexNet(nn.Module):
    """AlexNet scaled to digits: one large strided kernel first, then 3×3s, then dropout + FCs.

    As Krizhevsky et al. 2012 (§3.5): a large first kernel with a stride (11×11/4 at 224 px;
    5×5/2 here), max-pooling, small 3×3 convolutions, three linear layers with dropout before
    the first two. No local response normalisation (torchvision's alexnet() has none either).
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 24, kernel_size=5, stride=2, padding=2),  # 24 x 14 x 14
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),  # 24 x 7 x 7 (32 px: 8 x 8)
            nn.Conv2d(24, 32, kernel_size=3, padding=1),  # 32 x 7 x 7
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 24, kernel_size=3, padding=1),  # 24 x 7 x 7
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),  # 24 x 3 x 3 (32 px: 4 x 4)
        )
        self.avgpool = nn.AdaptiveAvgPool2d(3)  # as torchvision's (6, 6): any size fits
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(24 * 3 * 3, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # N x 24 x 3 x 3
        return self.classifier(torch.flatten(x, 1))


class VGG(nn.Module):
    """VGG scaled to digits: stacks of 3×3 convolutions and max-pools, then a small classifier."""

    def __init__(
        self, cfg: Sequence[int | str], *, in_channels: int = 1, num_classes: int = 10
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2))
            else:
                layers += [nn.Conv2d(in_channels, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                in_channels = int(v)
        self.features = nn.Sequential(*layers)  # 32 x 3 x 3 for "mini" at 28 px
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * 3 * 3, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def nin(*, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """Network in network, as Lin et al. 2014 built it for CIFAR-10 (§4.2), a quarter as wide.

    Three MLP convolutions with max-pooling between them; the last gives one map per class,
    and averaging each map is the whole classifier (§3.2): no linear layer. The paper also puts
    dropout (0.5) between the MLP convolutions; on maps this narrow it held the net near
    chance in a three-epoch race (51% against 88% without it, on the shipped digits), so
    there is none here.
    """
    pool = dict(kernel_size=3, stride=2, ceil_mode=True)
    return nn.Sequential(
        OrderedDict(
            [
                ("mlpconv1", blocks.mlpconv(in_channels, (24, 24, 24), 5, padding=2)),
                ("pool1", nn.MaxPool2d(**pool)),  # 24 x 14 x 14 (32 px: 16 x 16)
                ("mlpconv2", blocks.mlpconv(24, (32, 32, 32), 3, padding=1)),
                ("pool2", nn.MaxPool2d(**pool)),  # 32 x 7 x 7 (32 px: 8 x 8)
                ("mlpconv3", blocks.mlpconv(32, (32, 32, num_classes), 3, padding=1)),
                ("avgpool", nn.AdaptiveAvgPool2d(1)),  # one number per class map
                ("flatten", nn.Flatten()),
            ]
        )
    )


# in, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj (Szegedy et al. 2015, table 1's
# columns), a quarter to an eighth of inception (3a), (3b) and (4a)'s widths.
GOOGLENET_MINI_CFG = OrderedDict(
    [
        ("inception3a", (32, 16, 16, 24, 4, 8, 8)),  # -> 56 x 14 x 14
        ("inception3b", (56, 24, 24, 32, 8, 16, 8)),  # -> 80 x 14 x 14
        ("maxpool3", None),
        ("inception4a", (80, 32, 24, 48, 8, 16, 16)),  # -> 112 x 7 x 7
    ]
)


def googlenet(*, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """GoogLeNet scaled to digits: a stem, inception modules with 1×1 reductions, GAP, one fc."""
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(inplace=True))),
        ("maxpool1", nn.MaxPool2d(2)),  # 32 x 14 x 14 (32 px: 16 x 16)
    ]
    for name, cfg in GOOGLENET_MINI_CFG.items():
        layers.append((name, nn.MaxPool2d(2) if cfg is None else blocks.Inception(*cfg)))
    layers += [
        ("avgpool", nn.AdaptiveAvgPool2d(1)),  # N x 112 x 1 x 1
        ("flatten", nn.Flatten()),
        ("dropout", nn.Dropout(0.4)),  # as the paper's, before its one linear layer
        ("fc", nn.Linear(112, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


class ResNet(nn.Module):
    """A two-stage residual net: stem, layer1, layer2 (half the size), GAP, fc.

    `block(channels, stage)` makes one residual block of the stage. Between the stages a 2×2
    max-pool halves the map and a 1×1 convolution doubles the channels; He et al. 2015 (§3.3)
    instead make the first block of the stage strided and give its shortcut a 1×1 projection
    (option B). The blocks of `course_utils.blocks` keep their width, so the change of shape
    sits outside them here, and only identity shortcuts remain. layerN[0] is that transition
    for N ≥ 2.
    """

    def __init__(
        self,
        block: Callable[[int, int], nn.Module],
        widths: Sequence[int],
        depths: Sequence[int],
        *,
        in_channels: int = 1,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)  # widths[0] x 14 x 14 (32 px: 16 x 16)
        before = widths[0]
        for stage, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            transition: list[nn.Module] = []
            if stage:
                transition = [
                    nn.Sequential(
                        nn.MaxPool2d(2), nn.Conv2d(before, width, 1), nn.ReLU(inplace=True)
                    )
                ]
            layer = nn.Sequential(*transition, *(block(width, stage) for _ in range(depth)))
            self.add_module(f"layer{stage + 1}", layer)
            before = width
        self.stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.conv1(x)))
        for stage in range(self.stages):
            x = getattr(self, f"layer{stage + 1}")(x)  # layer2: N x widths[1] x 7 x 7
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _resnet(name: str, *, in_channels: int, num_classes: int) -> ResNet:
    cfg = RESNET_CFGS[name]
    if name == "ResNet":

        def block(c: int, stage: int) -> nn.Module:
            return blocks.BasicBlock(c)

    elif name == "ResNet-bottleneck":

        def block(c: int, stage: int) -> nn.Module:
            return blocks.Bottleneck(c, cfg["inner"][stage])

    else:

        def block(c: int, stage: int) -> nn.Module:
            return blocks.ResNeXtBlock(c, cardinality=cfg["cardinality"], width=cfg["width"][stage])

    return ResNet(
        block, cfg["widths"], cfg["depths"], in_channels=in_channels, num_classes=num_classes
    )


class DenseLayer(nn.Module):
    """One layer of a dense block (Huang et al. 2017, §3): BN, ReLU, 3×3 conv to `growth` maps,
    concatenated to its input, so that it outputs in_channels + growth channels.

    With `bottleneck` (DenseNet-B), a BN-ReLU-1×1 conv to bottleneck·growth maps comes first
    (the paper uses 4k). The convolutions have no bias: a batch-norm follows each of them.
    """

    def __init__(self, in_channels: int, growth: int, *, bottleneck: int | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        if bottleneck:
            layers += [
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.Conv2d(c, bottleneck * growth, 1, bias=False),
            ]
            c = bottleneck * growth
        layers += [
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, growth, 3, padding=1, bias=False),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Concatenation, not addition: the layer's input stays in the output unchanged, and
        # every later layer of the block sees every earlier layer's maps (§3, "Dense connectivity").
        return torch.cat([x, self.layers(x)], dim=1)


def dense_block(
    in_channels: int, layers: int, growth: int, *, bottleneck: int | None = None
) -> nn.Sequential:
    """`layers` dense layers in a row: in_channels + layers·growth channels come out."""
    return nn.Sequential(
        *(
            DenseLayer(in_channels + i * growth, growth, bottleneck=bottleneck)
            for i in range(layers)
        )
    )


def transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """Between dense blocks (§3, "Transition layers"): BN, ReLU, 1×1 conv, 2×2 average pool.

    The paper lists BN, the 1×1 convolution and the pooling; torchvision's densenet121 has the
    ReLU after the BN too, as here.
    """
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.AvgPool2d(2),
    )


def densenet(*, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """DenseNet scaled to digits: a stem, two dense blocks with a transition between, GAP, fc.

    Channels at 28 px: 16 × 14 × 14 after the stem and its pooling, 64 after block 1, 32 × 7 × 7
    after the transition, 80 after block 2; then BN, ReLU (as torchvision's densenet121 ends
    its features), global average pooling and one linear layer.
    """
    cfg = DENSENET_CFG
    c = cfg["stem"]
    layers: list[tuple[str, nn.Module]] = [
        ("conv0", nn.Conv2d(in_channels, c, 3, padding=1, bias=False)),
        ("pool0", nn.MaxPool2d(2)),  # 16 x 14 x 14 (32 px: 16 x 16)
    ]
    for i, n in enumerate(cfg["layers"]):
        layers.append(
            (f"denseblock{i + 1}", dense_block(c, n, cfg["growth"], bottleneck=cfg["bottleneck"]))
        )
        c += n * cfg["growth"]
        if i < len(cfg["layers"]) - 1:
            out = int(c * cfg["compression"])
            layers.append((f"transition{i + 1}", transition(c, out)))
            c = out
    layers += [
        ("norm", nn.BatchNorm2d(c)),
        ("relu", nn.ReLU(inplace=True)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),  # N x 80 x 1 x 1
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(c, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    for family in FAMILIES:
        if family.lower() == key:
            return family
    raise ValueError(f"Unknown family {name!r}. Choose one of: {', '.join(FAMILIES)}.")


def build(
    name: str, *, in_channels: int = 1, num_classes: int = 10, image_size: int = 28
) -> nn.Module:
    """A fresh compact member of family `name` (see FAMILIES; any case) for C×size×size images.

    Sized for 1×28×28 digits; 3×32×32 photos (CIFAR-10) and larger canvases work too: only
    LeNet5's first linear layer depends on `image_size`, the others pool to a fixed size
    (AlexNet, VGG) or globally before their classifier. The model's `family` attribute holds
    its family's name.
    """
    family = _canonical(name)
    if image_size < 16:
        raise ValueError(f"The families need images of at least 16×16 pixels, not {image_size}.")
    kw = dict(in_channels=in_channels, num_classes=num_classes)
    if family == "LeNet5":
        model: nn.Module = LeNet5(num_classes, in_channels=in_channels, image_size=image_size)
    elif family == "AlexNet":
        model = AlexNet(**kw)
    elif family == "VGG":
        model = VGG(VGG_CFGS["mini"], **kw)
    elif family == "NiN":
        model = nin(**kw)
    elif family == "GoogLeNet":
        model = googlenet(**kw)
    elif family == "DenseNet":
        model = densenet(**kw)
    else:
        model = _resnet(family, **kw)
    if family != "LeNet5":  # LeNet5 keeps the course's recipe, PyTorch's default init
        he_init(model)
    model.family = family
    return model


def slug(name: str) -> str:
    """The family's name as it appears in file names: lower case ("resnet-bottleneck")."""
    return _canonical(name).lower()
