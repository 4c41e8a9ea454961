"""A compact member of every family of the lecture, trained under one budget, and their CAMs.

`build(name)` makes LeNet5, AlexNet, VGG, NiN, GoogLeNet, ResNet, ResNet-bottleneck, ResNeXt or
DenseNet, each sized to train in seconds on a laptop CPU (1×28×28 digits, 3×32×32 photos, or
notebook 09's larger cluttered canvases), from the blocks of `course_utils.blocks` (no
batch-norm, as the slides count them; DenseNet's layers are defined with it). `race()` trains
them all for RACE_EPOCHS epochs with fit()'s defaults and caches weights and history, so a
rerun loads them; `race_table()` and `race_rows()` turn the results into the lecture's table
and chart rows. `class_activation_maps()` computes Zhou et al. 2016's class activation maps
for the families whose head is global average pooling.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from . import blocks, config, counting, data, models
from .train import History, evaluate, fit

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
GAP_FAMILIES: tuple[str, ...] = (
    "NiN",
    "GoogLeNet",
    "ResNet",
    "ResNet-bottleneck",
    "ResNeXt",
    "DenseNet",
)

# One budget for every family: the same number of epochs, so that every net sees the same
# images the same number of times (with fit's defaults: batch 32, AdamW, cosine schedule,
# one-pixel shifts). Wall time then differs between them, and is what the race reports.
# Five epochs on the 4,000 shipped digits take about a minute for all eight on a 2-core CPU.
RACE_EPOCHS = 5

# The second race (notebook 09, §5): the shipped digits, each at a random place on a larger
# canvas among fragments of other digits (data.cluttered), few of them, few epochs. Sized so
# that the nine families train in well under a minute on 2 CPU cores, and differ by more than
# a change of seed does (benchmarks/families_spread.py measures it over 3 seeds).
CLUTTER: dict = dict(size=32, fragments=2, fragment_size=8, train_size=1500, test_size=1000)
CLUTTER_EPOCHS = 5


# --- the families ------------------------------------------------------------------------------


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


# VGG's configurations as data, as torchvision's `cfgs`: channels of 3×3 convolutions, "M" for
# a 2×2 max-pool. Simonyan & Zisserman 2015 (table 1) start at 64 and double after each pool.
VGG_CFGS: dict[str, list[int | str]] = {"mini": [8, "M", 16, 16, "M", 32, 32, "M"]}


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


# The residual families as data: channels per stage, blocks per stage, and the block.
# ResNet-bottleneck's inner width is half its channels, so that it matches ResNeXt's 8×4d
# (then 8×8d: Xie et al. 2017 double the width with the channels) in parameters, as the
# paper compares ResNeXt-50 with ResNet-50 at equal complexity (§5.1, table 3).
RESNET_CFGS: dict[str, dict] = {
    "ResNet": dict(widths=(16, 32), depths=(2, 2)),
    "ResNet-bottleneck": dict(widths=(32, 64), depths=(2, 2), inner=(16, 32)),
    "ResNeXt": dict(widths=(32, 64), depths=(2, 2), cardinality=8, width=(4, 8)),
}


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


# --- DenseNet -----------------------------------------------------------------------------------


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


# Growth rate k, layers per dense block, and the compression of the transition (DenseNet-C's θ,
# §3): Huang et al.'s CIFAR nets have k = 12 and three blocks (§4); two blocks of four here.
DENSENET_CFG: dict = dict(stem=16, growth=12, layers=(4, 4), compression=0.5, bottleneck=None)


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
        model: nn.Module = models.LeNet5(
            num_classes, in_channels=in_channels, image_size=image_size
        )
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


def slug(name: str) -> str:
    """The family's name as it appears in file names: lower case ("resnet-bottleneck")."""
    return _canonical(name).lower()


# --- class activation maps ---------------------------------------------------------------------


def _head(model: nn.Module) -> tuple[nn.Module, nn.Linear | None] | None:
    """(the global average pool, the linear layer after it or None), or None if no GAP head.

    A GAP head: `avgpool` is an AdaptiveAvgPool2d to 1×1, followed by at most one linear layer
    `fc` (torchvision's ResNets and GoogLeNet have one too); NiN has none.
    """
    pool = getattr(model, "avgpool", None)
    if not isinstance(pool, nn.AdaptiveAvgPool2d) or pool.output_size not in (1, (1, 1)):
        return None
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return pool, fc
    if fc is None and getattr(model, "classifier", None) is None:
        return pool, None
    return None


def has_gap_head(model: nn.Module) -> bool:
    """True when the model ends in global average pooling, then at most one linear layer."""
    return _head(model) is not None


def _head_or_raise(model: nn.Module) -> tuple[nn.Module, nn.Linear | None]:
    head = _head(model)
    if head is None:
        what = getattr(model, "family", type(model).__name__)
        raise ValueError(
            f"Class activation maps need a global-average-pooling head (an `avgpool` to 1×1, "
            f"then at most one linear `fc`), and {what} has none. Of the families, "
            f"{', '.join(GAP_FAMILIES)} have one."
        )
    return head


def cam_bias(model: nn.Module) -> torch.Tensor:
    """The bias that each class adds to the mean of its map to give its logit (on the CPU).

    The fc's bias; zeros for NiN, whose class maps are averaged and nothing else.
    """
    _, fc = _head_or_raise(model)
    if fc is None:
        return torch.zeros(_last_conv_channels(model))
    if fc.bias is None:
        return torch.zeros(fc.out_features)
    return fc.bias.detach().to("cpu", copy=True)


def _last_conv_channels(model: nn.Module) -> int:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


def class_activation_maps(
    model: nn.Module, images: torch.Tensor, *, size: int | tuple[int, int] | None = None
) -> torch.Tensor:
    """Zhou et al. 2016's class activation maps: N × classes × h × w, on the CPU.

    M_c(x, y) = Σ_k w_{c,k} f_k(x, y) (§2), f the feature maps that enter global average
    pooling and w the weights of the linear layer after it; for NiN, the class maps of its last
    MLP convolution themselves. So mean(M_c) + cam_bias(model)[c] is class c's logit.
    `size` (an int or (h, w)) resizes the maps bilinearly, e.g. to the image for an overlay;
    the identity holds only for the maps as computed (size=None). `images` is N×C×H×W; one
    image, C×H×W, gives its maps alone: classes × h × w.
    """
    if images.dim() not in (3, 4):
        shape = " × ".join(map(str, images.shape))
        raise ValueError(
            f"class_activation_maps takes images as N × C × H × W (or one as C × H × W), "
            f"not a tensor of shape {shape}."
        )
    if images.dim() == 3:
        return class_activation_maps(model, images[None], size=size)[0]
    pool, fc = _head_or_raise(model)
    found: list[torch.Tensor] = []
    hook = pool.register_forward_pre_hook(lambda _m, args: found.append(args[0].detach()))
    try:
        with config.evaluating(model) as dev:
            model(images.to(dev))
            features = found[-1]  # N x K x h x w, on the model's device
            if fc is None:
                maps = features.clone()
            else:
                maps = torch.einsum("ck,nkhw->nchw", fc.weight.detach(), features)
    finally:
        hook.remove()
    maps = maps.to("cpu", copy=True).float()
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        maps = nn.functional.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return maps


# --- the race ------------------------------------------------------------------------------


@dataclass
class RaceResult:
    """One family's run: the trained model (eval mode) and what training measured."""

    name: str
    model: nn.Module
    params: int
    macs: int  # multiply-adds for one image
    train_seconds: float  # the sum of the epochs' seconds (those of the original run if loaded)
    images_per_second: float
    test_accuracy: float  # after the last epoch, a fraction
    history: History
    loaded: bool  # True: read from the cache, not trained in this call
    device: str  # where it was trained
    image_size: int = 28  # the side of the images it was trained on
    path: Path | None = None  # the cache file
    seed: int = 0  # the seed it was built and trained with (start_similarity rebuilds from it)


def cache_name(
    name: str,
    *,
    dataset: str,
    in_channels: int,
    image_size: int,
    epochs: int,
    seed: int,
    fingerprint: str = "",
) -> str:
    """The name under which train_family saves a run (a file in the cache's models folder).

    `fingerprint` (run_fingerprint) ends it: the run's training data and recipe, so that a run
    is only reused for the very data and recipe it was trained with.
    """
    name = f"family-{slug(name)}-{dataset}-{in_channels}x{image_size}-e{epochs}-s{seed}"
    return f"{name}-{fingerprint}" if fingerprint else name


# Bumped when train_family's training changes in a way fit's arguments do not show.
RECIPE_VERSION = 1
_FINGERPRINTS: dict[tuple, str] = {}


def _recipe() -> dict:
    """The recipe that train_family trains with (fit's, cu.train.RECIPE), as plain values: a
    change to any field makes a new run. Epochs are left out: the run's name holds its own."""
    from .train import RECIPE

    recipe = {f.name: getattr(RECIPE, f.name) for f in dataclasses.fields(RECIPE)}
    del recipe["epochs"]
    text = repr(recipe["augment"])  # e.g. RandomShift(pixels=1); a function by its name
    if " at 0x" in text:
        text = getattr(recipe["augment"], "__qualname__", type(recipe["augment"]).__name__)
    return {"version": RECIPE_VERSION, **recipe, "augment": text}


def run_fingerprint(train: Dataset, *, epochs: int, seed: int) -> str:
    """12 hex digits of a hash of the training images and labels, epochs, seed and recipe.

    Two datasets of the same name and size but other content (random noise in place of the
    digits) get other fingerprints, so a cached run is never reported for data it never saw.
    The hash of a tensor is kept while the tensor is unchanged (its version counter), so the
    race hashes its data once.
    """
    import hashlib

    x, y = train_tensors(train)
    key = (x.data_ptr(), x._version, tuple(x.shape), y.data_ptr(), y._version, epochs, seed)
    if key not in _FINGERPRINTS:
        digest = hashlib.blake2b(digest_size=6)
        for tensor in (x, y):
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        digest.update(repr(sorted(_recipe().items())).encode())
        digest.update(f"e{epochs}s{seed}".encode())
        _FINGERPRINTS[key] = digest.hexdigest()
    return _FINGERPRINTS[key]


def train_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's images and labels as two tensors (its .images and .labels when it has them)."""
    if hasattr(dataset, "images") and hasattr(dataset, "labels"):
        return torch.as_tensor(dataset.images), torch.as_tensor(dataset.labels)
    pairs = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([torch.as_tensor(p[0]) for p in pairs])
    return images, torch.tensor([int(p[1]) for p in pairs])


def run_name(
    name: str, train: Dataset, *, epochs: int, seed: int, dataset: str | None = None
) -> str:
    """The cache name of train_family(name, train, epochs=..., seed=...): cache_name with the
    dataset's label, its image shape and run_fingerprint."""
    in_channels, image_size = _shape(train)
    return cache_name(
        _canonical(name),
        dataset=dataset or dataset_label(train),
        in_channels=in_channels,
        image_size=image_size,
        epochs=epochs,
        seed=seed,
        fingerprint=run_fingerprint(train, epochs=epochs, seed=seed),
    )


def dataset_label(dataset: Dataset) -> str:
    """The part of a cache name that says which data a run saw, from the dataset's `.name`.

    The shipped digits are "digits", whatever was asked for: a run on the digits that stood in
    for Fashion-MNIST offline must not be taken for a Fashion-MNIST run later.
    """
    name = str(getattr(dataset, "name", "") or "digits")
    if "shipped" in name:
        return "digits"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "digits"


def _shape(dataset: Dataset) -> tuple[int, int]:
    image = dataset.images[0] if hasattr(dataset, "images") else dataset[0][0]
    return int(image.shape[0]), int(image.shape[-1])


def _history_record(history: History, train: Dataset, test: Dataset) -> dict:
    record = dataclasses.asdict(history)
    record.update(train_size=len(train), test_size=len(test))
    return record


def _history_from(record: dict) -> History:
    fields = {f.name for f in dataclasses.fields(History)}
    return History(**{k: v for k, v in record.items() if k in fields})


def train_family(
    name: str,
    train: Dataset,
    test: Dataset,
    *,
    epochs: int = RACE_EPOCHS,
    dataset: str | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    retrain: bool = False,
    quiet: bool = True,
) -> RaceResult:
    """Train family `name` with fit()'s defaults for `epochs`, or load the run saved earlier.

    Weights and history are saved in the course's cache under run_name(...): the family, the
    dataset's label (`dataset`, by default dataset_label(train)), the image shape, epochs, seed
    and a fingerprint of the training data's content and of the recipe. A later call with the
    same family, data, epochs and seed loads them (loaded=True), unless retrain=True. A loaded
    model is evaluated on the `test` given now, and that is its test_accuracy; a note says so
    when it differs from the accuracy the run saved. A cached file that cannot be loaded is kept
    beside, renamed to *.pt.damaged, and the family is trained again; a note says so. A cache
    that cannot be written loses nothing: the result is returned, with one note.
    """
    family = _canonical(name)
    in_channels, image_size = _shape(train)
    key = run_name(family, train, epochs=epochs, seed=seed, dataset=dataset)
    path = models.checkpoint_path(key)
    dev = torch.device(device) if device is not None else config.device()
    config.seed_everything(seed)
    model = build(family, in_channels=in_channels, image_size=image_size)
    record = None
    if not retrain:
        record = _load_record(model, key, path)
    if record is not None:
        history = _history_from(record)
        model.to(dev).eval()
        loaded = True
        accuracy = evaluate(model, test)
        saved = history.test_accuracy[-1] if history.test_accuracy else float("nan")
        if abs(accuracy - saved) > 1.5 / max(1, len(test)):  # more than one image's worth
            config.note(
                f"{family}'s saved run {path} scored {100 * saved:.1f}% on the test set it was "
                f"trained with, and scores {100 * accuracy:.1f}% on the {len(test):,} test "
                "images given now: the accuracy reported is the one measured now."
            )
    else:
        history = fit(model, train, test, epochs=epochs, device=dev, live=False, quiet=quiet)
        if (
            models.save_trained(
                model, key, extra={"history": _history_record(history, train, test)}
            )
            is None
        ):
            path = None  # not cached: kept in memory only
        loaded = False
        accuracy = float(history.test_accuracy[-1])
    return RaceResult(
        name=family,
        model=model.eval(),
        params=counting.count_parameters(model),
        macs=counting.count_macs(model, (in_channels, image_size, image_size)),
        train_seconds=float(sum(history.epoch_seconds)),
        images_per_second=float(history.images_per_second),
        test_accuracy=float(accuracy),
        history=history,
        loaded=loaded,
        device=history.device,
        image_size=image_size,
        path=path,
        seed=seed,
    )


def _load_record(model: nn.Module, key: str, path: Path) -> dict | None:
    """The saved history of run `key`, its weights loaded into `model`; None: train it."""
    try:
        record = models.load_trained_record(model, key)
    except RuntimeError as err:
        damaged = path.with_name(path.name + ".damaged")
        try:
            path.replace(damaged)  # kept, not deleted: the new run must not overwrite it unseen
            where = f"It was moved to {damaged}"
        except OSError as why:  # a read-only cache: leave it, and say so
            where = f"It could not be moved aside ({config.short_error(why)})"
        config.warn(f"{err} {where}, and {getattr(model, 'family', key)} is trained again now.")
        return None
    if record is None:
        return None
    saved = record["extra"].get("history")
    if saved is None or not record["finished"]:
        config.note(
            f"The saved run {path} is not reused (it holds no finished training history): "
            "training again."
        )
        return None
    return saved


def race(
    train: Dataset,
    test: Dataset,
    *,
    names: Iterable[str] = FAMILIES,
    epochs: int = RACE_EPOCHS,
    dataset: str | None = None,
    device: torch.device | str | None = None,
    retrain: bool = False,
    seed: int = 0,
) -> dict[str, RaceResult]:
    """train_family for each family in turn (or its cached run), with a progress bar and a line
    per family saying whether it was trained now or loaded."""
    if isinstance(names, str):  # race(names="LeNet5"): one family, not the letters L, e, ...
        names = [names]
    names = [_canonical(n) for n in names]
    if not names:
        raise ValueError(f"race() was given no families: name some of {', '.join(FAMILIES)}.")
    results: dict[str, RaceResult] = {}
    bar = config.Progress(len(names), desc="families", unit="nets", interval=0)
    try:
        for name in names:
            start = time.perf_counter()
            result = train_family(
                name,
                train,
                test,
                epochs=epochs,
                dataset=dataset,
                seed=seed,
                device=device,
                retrain=retrain,
            )
            results[name] = result
            if result.loaded:
                how = (
                    f"loaded from {result.path} (trained earlier: {result.train_seconds:.1f} s "
                    f"on {result.device}; {time.perf_counter() - start:.1f} s to load)"
                )
            else:
                how = f"trained in {result.train_seconds:.1f} s on {result.device}"
            print(f"{name}: {how}, test accuracy {result.test_accuracy:.1%}", flush=True)
            bar.update(1, postfix=name, force=True)
    finally:
        bar.close()
    return results


def race_table(results: dict[str, RaceResult]) -> counting.Report:
    """The race as a Markdown table: size, cost, time and accuracy of each family."""
    headers = (
        "family",
        "parameters",
        "multiply-adds",
        "training time (s)",
        "images/s",
        "test accuracy (%)",
        "loaded",
    )
    rows = [
        (
            r.name,
            r.params,
            r.macs,
            f"{r.train_seconds:.1f}",
            round(r.images_per_second),
            f"{100 * r.test_accuracy:.1f}",
            "yes" if r.loaded else "no",
        )
        for r in results.values()
    ]
    epochs = {r.history.epochs for r in results.values()}
    devices = sorted({r.device for r in results.values()})
    note = (
        f"{', '.join(map(str, sorted(epochs)))} epochs each, with fit()'s defaults, on "
        f"{', '.join(devices)}; multiply-adds for one image; loaded runs show the time of "
        "their original training."
    )
    return counting.markdown_table(headers, rows, note=note)


def race_rows(results: dict[str, RaceResult]) -> list[dict]:
    """Rows for a chart such as plots.plot_model_zoo's, one per family.

    Keys: name and family (the family's name), macs (multiply-adds per image, ×10⁶), params
    (parameters, ×10³), top1 (test accuracy, %), seconds (training time), recipe ("race") and
    size (the image side). Note the units: plot_model_zoo's rows are in ×10⁹ and millions.
    """
    rows = []
    for r in results.values():
        rows.append(
            {
                "name": r.name,
                "family": r.name,
                "macs": r.macs / 1e6,
                "params": r.params / 1e3,
                "top1": 100 * r.test_accuracy,
                "seconds": r.train_seconds,
                "recipe": "race",
                "size": r.image_size,
            }
        )
    return rows


def _first_conv(model: nn.Module) -> nn.Conv2d:
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError(f"{type(model).__name__} has no convolution")
    return conv


def first_filters(model: nn.Module) -> torch.Tensor:
    """The filters of the model's first convolution, one per row (out × in·k·k), on the CPU."""
    return _first_conv(model).weight.detach().to("cpu", torch.float32, copy=True).flatten(1)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's convolutions and linear layers, (name, layer), in the order they are defined.

    For the families this is the order they run in, so [0] is the first convolution, [-1] the
    classifier's last layer (for NiN, its last convolution) and last_conv(model) the last
    convolution.
    """
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def last_conv(model: nn.Module) -> str:
    """The name of the model's last convolution (see weight_layers)."""
    convs = [n for n, m in weight_layers(model) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no convolution")
    return convs[-1]


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


def start_similarity(
    result: RaceResult, *, seed: int | None = None, layer: int | str = 0
) -> torch.Tensor:
    """Cosine similarity of each trained unit of a layer with the weights it started from.

    `layer`: an index into weight_layers(model) (0, the default: the first convolution; -1: the
    last layer) or a layer's name (e.g. last_conv(model)). One value per output unit (a filter,
    or a linear layer's row). train_family seeds, then builds: building again after the same
    seed gives the very weights the run started from. 1 means the unit still points where its
    random start did. `seed` defaults to the seed the run was trained with (result.seed).
    """
    in_channels = _first_conv(result.model).in_channels
    config.seed_everything(result.seed if seed is None else seed)
    start = build(result.name, in_channels=in_channels, image_size=result.image_size)
    return nn.functional.cosine_similarity(
        _weights_of(start, layer), _weights_of(result.model, layer)
    )


# --- the cluttered task and the seed spread --------------------------------------------------


def cluttered_task(
    train: Dataset, test: Dataset, **settings
) -> tuple[data.TensorImageDataset, data.TensorImageDataset]:
    """The second race's (train, test): CLUTTER's canvases (or `settings`) made from the digits.

    The training canvases come from the training digits (seed 0), the test canvases from the
    test digits (seed 1), so that no test digit, and no fragment of one, is seen in training.
    """
    cfg = {**CLUTTER, **settings}
    common = dict(size=cfg["size"], fragments=cfg["fragments"], fragment_size=cfg["fragment_size"])
    return (
        data.cluttered(train, cfg["train_size"], seed=0, **common),
        data.cluttered(test, cfg["test_size"], seed=1, **common),
    )


def seed_spread(
    results: dict[str, RaceResult],
    train: Dataset,
    test: Dataset,
    *,
    names: Iterable[str] | None = None,
    seeds: Sequence[int] = (1, 2),
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Each family's test accuracy for its race seed and for `seeds` (trained now, or loaded).

    `results` are a race's (their seed 0 comes first); the same epochs and data train the
    others. `names` picks some of the families (default: all of `results`).
    """
    spread: dict[str, list[float]] = {}
    for name in names if names is not None else results:
        first = results[_canonical(name)]
        runs = [
            train_family(
                first.name, train, test, epochs=first.history.epochs, seed=s, device=device
            )
            for s in seeds
        ]
        spread[first.name] = [first.test_accuracy] + [r.test_accuracy for r in runs]
    return spread


def real_differences(spread: dict[str, Sequence[float]]) -> list[tuple[str, str]]:
    """The pairs (better, worse) whose ranges over the seeds do not overlap: the worst seed of
    `better` beats the best seed of `worse`. Sorted by better's mean, then worse's."""
    names = list(spread)
    pairs = [(a, b) for a in names for b in names if a != b and min(spread[a]) > max(spread[b])]
    mean = {n: sum(v) / len(v) for n, v in spread.items()}
    return sorted(pairs, key=lambda p: (-mean[p[0]], -mean[p[1]]))


# --- which inception branches carry the signal (notebook 05) ----------------------------------

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

    def hook(name: str, k: int) -> Callable:
        def record(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            energy[name][k] += output.detach().double().pow(2).sum().cpu()

        return record

    branches = [
        (name, k, getattr(m, f"branch{k + 1}"))
        for name, m in modules.items()
        for k in range(len(BRANCHES))
    ]
    handles = [b.register_forward_hook(hook(name, k)) for name, k, b in branches]
    try:
        with config.evaluating(model) as dev:
            model(images.to(dev))
    finally:
        for handle in handles:
            handle.remove()
    return {name: (e / e.sum()).float() if e.sum() > 0 else e.float() for name, e in energy.items()}


def saved_or_short_run(
    name: str,
    train: Dataset,
    test: Dataset,
    *,
    short_epochs: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> RaceResult:
    """The race's saved run of family `name` (RACE_EPOCHS epochs) if there is one, else a
    train_family run of `short_epochs` (saved too, so that a rerun loads it)."""
    key = run_name(name, train, epochs=RACE_EPOCHS, seed=seed)
    epochs = RACE_EPOCHS if models.checkpoint_path(key).is_file() else short_epochs
    return train_family(name, train, test, epochs=epochs, seed=seed, device=device)
