"""Fully convolutional networks: convolutionize(), class heatmaps, OverFeat's dense max-pooling.

A lecture module (imports the ground and the tools). Home of notebook 04 (convolutionization,
heatmaps, OverFeat); notebook 09 uses its class activation maps.
"""

from __future__ import annotations

import copy
import itertools
import numbers
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from . import anatomy, env, images, nets, receptive, show

# Layers that work on maps of any size and carry over unchanged: those that look at one position
# only (receptive.POINTWISE), and the fixed poolings.
PASS_THROUGH = (*receptive.POINTWISE, nn.MaxPool2d, nn.AvgPool2d)


class ConvolutionizeError(env.CourseError, ValueError):
    """A layer that convolutionize() cannot turn into its convolutional equivalent."""


# The dtypes that convolutionize() handles, and how far its result may differ from the original
# there: the largest |difference| as a fraction of the largest |output|. Both compute the same
# sums, only in another order (a convolution instead of a matrix product), so in float32 they
# agree to about 1e-6; a step that forward() does and no module shows differs by far more.
TOLERANCE = {
    torch.float64: 1e-9,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}


def _tolerance(dtype: torch.dtype, device: torch.device) -> float:
    """TOLERANCE, with float32 as float16 where it may run with a 10-bit mantissa (TF32)."""
    if dtype == torch.float32 and (
        device.type != "cpu" or torch.get_float32_matmul_precision() != "highest"
    ):
        return TOLERANCE[torch.float16]
    return TOLERANCE[dtype]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype(layers: Sequence[nn.Module]) -> torch.dtype:
    """The one floating-point dtype of the layers' tensors; ConvolutionizeError if not one."""
    found = sorted(
        {
            t.dtype
            for layer in layers
            for t in itertools.chain(layer.parameters(), layer.buffers())
            if t.is_floating_point() or t.is_complex()
        },
        key=str,
    )
    names = [_dtype_name(d) for d in found]
    if len(found) > 1:
        raise ConvolutionizeError(
            f"The model mixes {' and '.join(names)} tensors; convolutionize() needs one dtype. "
            "Convert it first, e.g. model.float()."
        )
    if found and found[0] not in TOLERANCE:
        supported = ", ".join(_dtype_name(d) for d in TOLERANCE)
        raise ConvolutionizeError(
            f"convolutionize() handles {supported} models, not {names[0]}. "
            "Convert it first, e.g. model.float()."
        )
    return found[0] if found else torch.get_default_dtype()


def _layers(model_or_layers: nn.Module | Iterable[nn.Module]) -> list[tuple[str, nn.Module]]:
    """The model as a flat list of (torchvision name, layer), with nested Sequentials opened.

    A nested layer's name has a dot for each level, as in model.named_modules():
    "features.0.1" is model.features[0][1].
    """
    if (
        isinstance(model_or_layers, nn.Module)
        and hasattr(model_or_layers, "classifier")
        and hasattr(model_or_layers, "features")
    ):
        parts = [("features", model_or_layers.features)]
        if hasattr(model_or_layers, "avgpool"):
            parts.append(("avgpool", model_or_layers.avgpool))
        parts += [("flatten", nn.Flatten()), ("classifier", model_or_layers.classifier)]
    elif isinstance(model_or_layers, nn.Sequential):
        parts = list(model_or_layers.named_children())
    elif isinstance(model_or_layers, nn.Module):
        raise ConvolutionizeError(
            "convolutionize() takes a model with .features and .classifier (as torchvision's "
            "AlexNet and VGG, or cu.LeNet5) or a list of layers, not "
            f"{type(model_or_layers).__name__}."
        )
    else:
        parts = [(str(i), layer) for i, layer in enumerate(model_or_layers)]

    flat: list[tuple[str, nn.Module]] = []
    for name, layer in parts:
        if isinstance(layer, nn.Sequential):
            flat += [(f"{name}.{sub}", inner) for sub, inner in _layers(layer)]
        else:
            flat.append((name, layer))
    return flat


def _conv_from_linear(
    linear: nn.Linear,
    channels: int,
    height: int,
    width: int,
    name: str | None = None,
    hint: str = "",
) -> nn.Conv2d:
    """The convolution whose kernel covers a channels × height × width map: Linear's twin.

    `hint` follows the message when the map does not fit the Linear's inputs.
    """
    what = f"layer {name!r} ({linear})" if name is not None else str(linear)
    _check_linear_tensors(linear, what)
    if linear.in_features != channels * height * width:
        raise ConvolutionizeError(
            f"{what} expects {linear.in_features} inputs but follows a map of "
            f"{channels}×{height}×{width} = {channels * height * width}. {hint}".rstrip()
        )
    # skip_init: no random initialisation to overwrite, and no draw from torch's generator.
    conv = nn.utils.skip_init(
        nn.Conv2d,
        channels,
        linear.out_features,
        (height, width),
        bias=linear.bias is not None,
        device=linear.weight.device,
        dtype=linear.weight.dtype,
    )
    with torch.no_grad():  # out × in is out × C·H·W: each row, one filter of C × H × W
        conv.weight.copy_(linear.weight.detach().reshape(conv.weight.shape))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv.train(linear.training)


def _check_linear_tensors(linear: nn.Linear, what: str) -> None:
    """ConvolutionizeError unless the Linear's weight and bias have the shapes its sizes say.

    nn.Linear never checks it: a weight replaced by hand with another shape (a pruned one, say)
    would be cut into filters along the wrong lines.
    """
    rows, cols = linear.out_features, linear.in_features
    found = [("weight", tuple(linear.weight.shape), (rows, cols))]
    if linear.bias is not None:
        found.append(("bias", tuple(linear.bias.shape), (rows,)))
    for tensor, shape, expected in found:
        if shape != expected:
            raise ConvolutionizeError(
                f"{what} has a {tensor} of shape {'×'.join(map(str, shape)) or 'scalar'}, but "
                f"its sizes (in_features={cols}, out_features={rows}) call for "
                f"{'×'.join(map(str, expected))}. Give it a {tensor} of that shape, or build "
                "the layer again with nn.Linear for the tensors it holds."
            )


def _adaptive_as_fixed(
    layer: nn.Module, height: int, width: int, name: str | None = None
) -> nn.Module | None:
    """An adaptive pooling at this map size: None if it is the identity, else a fixed pooling."""
    out = layer.output_size
    oh, ow = (out, out) if isinstance(out, int) else out
    oh, ow = oh or height, ow or width
    if (oh, ow) == (height, width):
        return None  # identity here: drop it, so that larger inputs give larger maps
    if height % oh or width % ow:
        what = f"layer {name!r} ({layer})" if name is not None else str(layer)
        raise ConvolutionizeError(
            f"{what} turns a {height}×{width} map into {oh}×{ow}, which no fixed pooling does; "
            "choose an input_size whose map it divides."
        )
    kernel = (height // oh, width // ow)
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        fixed: nn.Module = nn.AvgPool2d(kernel, kernel)
    else:
        fixed = nn.MaxPool2d(kernel, kernel)
    return fixed.train(layer.training)


def _pooling_hint(name: str, linear: nn.Linear, channels: int, whole_model: bool) -> str:
    """What to do when a Linear follows a map it does not fit."""
    if linear.in_features != channels:
        return "Choose the input_size the model was built for."
    if not whole_model:
        return (
            "It takes one value per channel: the model's forward() probably pools the map to 1×1 "
            "before this layer. Put that pooling into the list before it, e.g. "
            "nn.AdaptiveAvgPool2d(1), nn.Flatten()."
        )
    classifier = "model.classifier" if name == "classifier" else "*model.classifier"
    return (
        "It takes one value per channel: the model's forward() probably pools the map to 1×1 "
        "between .features and .classifier, as MobileNetV2 and DenseNet do, and convolutionize() "
        "reads the modules, not forward(). Pass it a list of layers that does all that forward() "
        f"does, e.g. [*model.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), {classifier}] "
        "(DenseNet: nn.ReLU() before the pooling)."
    )


def _check(
    original: nn.Module,
    fcn: nn.Module,
    input_size: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
    whole_model: bool,
) -> None:
    """Raise ConvolutionizeError unless `fcn` computes what `original` does at `input_size`.

    Both run in eval mode without gradients on one random batch of 2, drawn from a generator of
    its own, and get their modes back: no state of either changes.
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, *input_size, generator=generator).to(device=device, dtype=dtype)
    with anatomy.evaluating(original):
        expected = original(x)
    with anatomy.evaluating(fcn):
        got = fcn(x)
    size = "×".join(str(n) for n in (2, *input_size))
    if whole_model:
        hint = (
            "The model's forward() must do something that its modules do not show, such as a "
            "ReLU, a scaling or a pooling between .features and .classifier (DenseNet's F.relu); "
            "convolutionize() reads the modules, not forward(). Pass it a list of layers that "
            "does all that forward() does, e.g. [*model.features, nn.ReLU(), nn.Flatten(), "
            "*model.classifier]."
        )
    else:
        hint = (
            "One of the layers must compute something that its copy does not: a subclass of "
            "nn.Sequential, nn.Linear or an adaptive pooling with a forward() of its own, or a "
            "layer that answers differently each time. Replace it by a standard layer."
        )
    if (
        not isinstance(expected, torch.Tensor)
        or expected.dim() < 2
        or got.flatten(1).shape != expected.flatten(1).shape
    ):
        if isinstance(expected, torch.Tensor):
            shape = str(tuple(expected.shape))
        else:
            shape = f"a {type(expected).__name__}"
        raise ConvolutionizeError(
            f"On a random {size} input, the convolutionized network gives {tuple(got.shape)} "
            f"and the original {shape}. {hint}"
        )
    got, expected = got.flatten(1).double(), expected.flatten(1).double()
    diff = torch.where(got == expected, 0.0, (got - expected).abs()).max().item()
    scale = expected.abs().max().item()
    tolerance = _tolerance(dtype, device)
    if not diff <= tolerance * scale:  # NaN fails too
        raise ConvolutionizeError(
            f"The convolutionized network differs from the original by up to {diff:.3g} (its "
            f"outputs reach {scale:.3g}, {tolerance:g} of that is allowed in {_dtype_name(dtype)})"
            f" on a random {size} input in eval mode. {hint}"
        )


def _checked_input_size(input_size) -> tuple[int, int, int]:
    """`input_size` as (C, H, W), or a ConvolutionizeError that shows what it must be."""
    ok = (
        isinstance(input_size, Sequence)
        and not isinstance(input_size, str)
        and len(input_size) == 3
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in input_size)
        and all(v >= 1 for v in input_size)
    )
    if not ok:
        raise ConvolutionizeError(
            f"input_size is the image's (channels, height, width), such as (3, 224, 224) for "
            f"AlexNet or (1, 28, 28) for LeNet5, not {input_size!r}."
        )
    return tuple(int(v) for v in input_size)


def convolutionize(
    model_or_layers: nn.Module | Iterable[nn.Module], input_size: Sequence[int]
) -> nn.Sequential:
    """The same network with every Linear as a convolution, so that it slides over larger images.

    `model_or_layers` is a model with .features and .classifier (and maybe .avgpool), whose
    forward() runs them in turn with a flatten before .classifier (torchvision's AlexNet and VGG,
    cu.LeNet5), an nn.Sequential, or a list of layers. At `input_size` (C, H, W) the result's
    output is N × classes × 1 × 1 and equals the original's.

    A Linear after a C×H×W map becomes a Conv2d with an H×W kernel, a Linear after a Linear a 1×1
    convolution; Flatten goes, an adaptive pooling that is the identity at `input_size` goes (one
    that is not becomes the fixed pooling it amounts to), Dropout, activations, pooling and
    BatchNorm2d stay, nested Sequentials are opened. Any other layer after the flatten raises.
    The result is nn.Sequential(features, [avgpool,] classifier) with torchvision's names where
    they exist (features.0, classifier.1, ...); an opened layer's name joins its levels with "_"
    (features[1][0] is features.1_0).

    The shapes are traced in eval mode on copies, in the model's dtype (float32, float64, float16
    or bfloat16) and on its device, so the model's state and modes are not changed, nor torch's
    random generator; each copied layer keeps its mode, and the result's containers take the
    model's (a list's: training if any of its layers is). The result is then checked against the
    original on a random batch of 2 at `input_size`, in eval mode: if they differ beyond a
    tolerance for the dtype (TOLERANCE), for instance because the model's forward() does
    something that no module shows, ConvolutionizeError says by how much.
    """
    input_size = _checked_input_size(input_size)
    if not isinstance(model_or_layers, nn.Module):
        model_or_layers = list(model_or_layers)  # an iterator is read once
    whole_model = all(hasattr(model_or_layers, a) for a in ("features", "classifier"))
    layers = _layers(model_or_layers)
    originals = [m for _, m in layers]
    dtype = _dtype(originals)
    device = anatomy.model_device(nn.ModuleList(originals))
    if isinstance(model_or_layers, nn.Module):
        original, mode = model_or_layers, model_or_layers.training
    else:
        # the layers as given: a nested Sequential with a forward() of its own runs it here
        original = nn.Sequential(*model_or_layers)
        mode = any(m.training for m in originals)
    features, classifier = _convert(layers, input_size, dtype, device, whole_model)
    fcn = _assemble(features, classifier, mode)
    _check(original, fcn, input_size, dtype, device, whole_model)
    return fcn


def _convert(
    layers: list[tuple[str, nn.Module]],
    input_size: tuple[int, int, int],
    dtype: torch.dtype,
    device: torch.device,
    whole_model: bool,
) -> tuple[list[tuple[str, nn.Module]], list[tuple[str, nn.Module]]]:
    """Each layer's equivalent on maps, traced on zeros at `input_size`: (name, layer) pairs
    before the first Flatten or Linear (features) and from there on (classifier).

    All but the Linear layers (they become convolutions) are copied in one go, so that copies
    share what the layers share; the copies are traced in eval mode, so that BatchNorm's
    statistics stay as they are, and keep their own modes.
    """
    originals = [m for _, m in layers]
    memo: dict[int, object] = {id(m): m for m in originals if isinstance(m, nn.Linear)}
    copies = copy.deepcopy(originals, memo)
    x = torch.zeros(1, *input_size, device=device, dtype=dtype)
    parts: dict[bool, list[tuple[str, nn.Module]]] = {False: [], True: []}  # flattened yet?
    flattened = False  # True once the spatial part is over
    traced = [c for c in copies if not isinstance(c, nn.Linear)]
    with anatomy.modes_kept(*traced), torch.no_grad():
        for c in traced:
            c.eval()
        for (name, layer), copied in zip(layers, copies, strict=True):
            flattened = flattened or isinstance(layer, nn.Flatten | nn.Linear)
            converted = _equivalent(name, layer, copied, x, flattened, whole_model)
            if converted is not None:
                x = _traced(name, converted, x, input_size)
                parts[flattened].append((name, converted))
    return parts[False], parts[True]


def _equivalent(
    name: str,
    layer: nn.Module,
    copied: nn.Module,
    x: torch.Tensor,
    flattened: bool,
    whole_model: bool,
) -> nn.Module | None:
    """What `layer` becomes on the map `x` that reaches it: its copy, a fixed pooling, a
    convolution, or None where it goes (a Flatten, an adaptive pooling that is the identity)."""
    if isinstance(layer, nn.Flatten):
        return None
    if isinstance(layer, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and x.dim() == 4:
        return _adaptive_as_fixed(layer, x.shape[-2], x.shape[-1], name)
    if isinstance(layer, nn.Linear):
        if x.dim() != 4:
            raise ConvolutionizeError(
                f"layer {name!r} ({layer}) follows a {x.dim()}-dimensional tensor, not a C×H×W "
                "map: convolutionize() needs the layers before the first Linear to keep the map."
            )
        hint = _pooling_hint(name, layer, x.shape[1], whole_model)
        return _conv_from_linear(layer, *x.shape[1:], name=name, hint=hint)
    if flattened and not isinstance(layer, PASS_THROUGH):
        raise ConvolutionizeError(
            f"convolutionize() does not know how to convert layer {name!r} "
            f"({type(layer).__name__}) in the classifier; it handles Linear, Flatten, "
            "adaptive pooling, Dropout, activations, pooling and BatchNorm2d."
        )
    if not flattened and x.dim() != 4:
        raise ConvolutionizeError(
            f"Layer {name!r} ({type(layer).__name__}) left no map: the layers before the first "
            "Linear must keep a C×H×W map."
        )
    return copied


def _traced(
    name: str, layer: nn.Module, x: torch.Tensor, input_size: Sequence[int]
) -> torch.Tensor:
    """`layer` on the traced map `x`, or a ConvolutionizeError that says what input it needs."""
    try:
        return layer(x)  # a Linear's convolution gives N x out x 1 x 1 at the base size
    except RuntimeError as err:  # a map smaller than a kernel, most often
        side = "×".join(map(str, x.shape[2:])) if x.dim() == 4 else str(tuple(x.shape))
        raise ConvolutionizeError(
            f"At input_size {tuple(input_size)}, layer {name!r} ({layer}) gets a {side} map "
            f"and fails: {show.short_error(err)}. Give the input_size the network was built "
            "for (224×224 for AlexNet and VGG, 28×28 for LeNet5) or larger."
        ) from None


def _assemble(
    features: list[tuple[str, nn.Module]], classifier: list[tuple[str, nn.Module]], mode: bool
) -> nn.Sequential:
    """nn.Sequential(features, [avgpool,] classifier), in `mode`, with torchvision's names.

    An adaptive pooling that is not the identity at the base size became a fixed pooling: it
    stays, as `avgpool`.
    """
    spatial = [p for p in features if p[0].split(".")[0] != "avgpool"]
    pooled = [p for p in features if p[0].split(".")[0] == "avgpool"]
    parts: list[tuple[str, nn.Module]] = [("features", _block(spatial, "features", mode))]
    if pooled:
        only = len(pooled) == 1 and pooled[0][0] == "avgpool"
        parts.append(("avgpool", pooled[0][1] if only else _block(pooled, "avgpool", mode)))
    parts.append(("classifier", _block(classifier, "classifier", mode)))
    fcn = nn.Sequential(OrderedDict(parts))
    fcn.training = mode
    return fcn


def _block(named: list[tuple[str, nn.Module]], prefix: str, mode: bool) -> nn.Sequential:
    """The layers as one Sequential, named as in torchvision (features.0, classifier.1, ...).

    A nested layer's levels are joined by "_", as a module's name cannot hold a "."; the mode is
    set on the container alone (not .train()): each layer keeps its own.
    """
    seq, used = nn.Sequential(), set()
    for n, module in named:
        key = base = (n[len(prefix) + 1 :] if n.startswith(prefix + ".") else n).replace(".", "_")
        k = 1
        while key in used:  # "a_b" may be taken: never let one layer replace another
            key, k = f"{base}_{k}", k + 1
        used.add(key)
        seq.add_module(key, module)
    seq.training = mode
    return seq


def output_positions(input_size: int, base: int, stride: int) -> int:
    """How many base-size windows, `stride` apart, fit in `input_size`."""
    return (input_size - base) // stride + 1


def heatmap(fcn: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Class probabilities at every position: C×H×W image -> classes × h × w (on the CPU)."""
    with anatomy.evaluating(fcn) as dev:
        out = fcn(image.unsqueeze(0).to(dev))[0]  # classes x h x w
        return torch.softmax(out, dim=0).cpu()


def sliding_window(model: nn.Module, image: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """The original network on every size×size crop, `stride` apart: classes × h × w logits."""
    _, height, width = image.shape
    rows, cols = output_positions(height, size, stride), output_positions(width, size, stride)
    with anatomy.evaluating(model) as dev:
        image = image.to(dev)
        return torch.stack(
            [
                torch.stack(
                    [
                        model(
                            image[
                                None,
                                :,
                                i * stride : i * stride + size,
                                j * stride : j * stride + size,
                            ]
                        )[0].cpu()  # one crop at a time, as a crop-by-crop classifier runs
                        for j in range(cols)
                    ],
                    dim=-1,
                )
                for i in range(rows)
            ],
            dim=-2,
        )  # classes x rows x cols


def total_stride(fcn: nn.Module, input_size: Sequence[int]) -> int:
    """How far apart, in input pixels, neighbouring outputs of `fcn` are."""
    c, h, w = input_size
    with anatomy.evaluating(fcn) as dev:
        a = fcn(torch.zeros(1, c, h, w, device=dev)).shape[-1]
        b = fcn(torch.zeros(1, c, h, w + 64, device=dev)).shape[-1]
    return 64 // (b - a)


def dense_max_pool(
    x: torch.Tensor, kernel_size: int, stride: int | None = None, head: nn.Module | None = None
) -> torch.Tensor:
    """OverFeat's offset max-pooling: pool at every offset, apply `head`, interleave the results.

    The pooling (kernel_size, stride) is run once for each of the stride × stride offsets
    (Sermanet et al. 2014, fig. 3), each pooled map goes through `head`, and the outputs are
    interleaved, so the result has `stride` times more positions along each side. With no
    head it equals max-pooling with stride 1 (its first positions, where every offset has one).
    """
    stride = stride or kernel_size
    head = head if head is not None else nn.Identity()
    outs = {
        (dy, dx): head(nn.functional.max_pool2d(x[..., dy:, dx:], kernel_size, stride))
        for dy in range(stride)
        for dx in range(stride)
    }
    # Position p = i * stride + d comes from offset d, row i: keep the positions all offsets reach.
    h = min(o.shape[-2] * stride + dy for (dy, _), o in outs.items())
    w = min(o.shape[-1] * stride + dx for (_, dx), o in outs.items())
    first = next(iter(outs.values()))
    dense = first.new_zeros(*first.shape[:-2], h, w)
    for (dy, dx), o in outs.items():
        rows, cols = len(range(dy, h, stride)), len(range(dx, w, stride))
        dense[..., dy::stride, dx::stride] = o[..., :rows, :cols]
    return dense


def dense_heatmap(fcn: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """heatmap() with the last max-pooling made dense: `stride` times finer along each side."""
    names = [n for n, m in fcn.features.named_children() if isinstance(m, nn.MaxPool2d)]
    if not names:
        raise ConvolutionizeError("This network has no max-pooling in .features to make dense.")
    children = list(fcn.features.named_children())
    cut = [n for n, _ in children].index(names[-1])
    trunk = nn.Sequential(*[m for _, m in children[:cut]])
    pool = children[cut][1]
    rest = nn.Sequential(
        *[m for _, m in children[cut + 1 :]],
        *[m for n, m in fcn.named_children() if n != "features"],
    )
    k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
    s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
    with anatomy.evaluating(fcn) as dev:
        maps = trunk(image.unsqueeze(0).to(dev))
        out = dense_max_pool(maps, k, s, head=rest)[0]
        return torch.softmax(out, dim=0).cpu()


@torch.no_grad()
def padding_differences(
    features: nn.Module, image: torch.Tensor, *, size: int = 224, stride: int = 32
) -> torch.Tensor:
    """Where a crop's final map differs from one pass over the whole image, position by position.

    `features` (the convolutional part) runs once over `image` and once on every size×size crop,
    `stride` apart. Each crop's h×w map is compared with the same positions of the one-pass map.
    Returns h × w: the mean |difference| over channels and crops, over the mean |one-pass value|.
    Zero padding at a crop's edge, where one pass sees real pixels, makes them differ.
    """
    _, height, width = image.shape
    rows, cols = output_positions(height, size, stride), output_positions(width, size, stride)
    with anatomy.evaluating(features) as dev:
        image = image.to(dev)
        whole = features(image[None])[0]  # C x H' x W'
        total = None
        for i in range(rows):
            for j in range(cols):
                crop = features(
                    image[None, :, i * stride : i * stride + size, j * stride : j * stride + size]
                )[0]
                h, w = crop.shape[-2:]
                diff = (crop - whole[:, i : i + h, j : j + w]).abs().mean(0)  # h x w
                total = diff if total is None else total + diff
        return (total / (rows * cols) / whole.abs().mean()).cpu()


def multiscale_heatmaps(fcn: nn.Module, image, scales: Sequence[int], weights=None):
    """heatmap() at several input sizes (short sides, as OverFeat's six scales)."""
    return {s: heatmap(fcn, images.photo_input(image, s, weights)) for s in scales}


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
            f"{', '.join(nets.GAP_FAMILIES)} have one."
        )
    return head


def cam_bias(model: nn.Module) -> torch.Tensor:
    """The bias that each class adds to the mean of its map to give its logit (on the CPU).

    The fc's bias; zeros for NiN, whose class maps are averaged and nothing else.
    """
    _, fc = _head_or_raise(model)
    if fc is None:
        return torch.zeros(anatomy.convolutions(model)[-1][1].out_channels)
    if fc.bias is None:
        return torch.zeros(fc.out_features)
    return fc.bias.detach().to("cpu", copy=True)


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
    keep = lambda _name, _m, args: found.append(args[0].detach())  # noqa: E731
    with anatomy.hooked({"avgpool": pool}, keep, before=True), anatomy.evaluating(model) as dev:
        model(images.to(dev))
        features = found[-1]  # N x K x h x w, on the model's device
        if fc is None:
            maps = features.clone()
        else:
            maps = torch.einsum("ck,nkhw->nchw", fc.weight.detach(), features)
    maps = maps.to("cpu", copy=True).float()
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        maps = nn.functional.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return maps
