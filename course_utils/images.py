"""Reading images safely, and the sample photos that ship with scikit-image.

A tool (imports env). Serves notebooks 02-04 (photos) and the widgets' uploads; the one place
where a picture becomes a network's input tensor.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .env import CourseError

# Photos inside scikit-image's package folder: no download needed. Most show an ImageNet class.
SAMPLE_FILES = {
    "cat": "chelsea.png",  # a tabby cat
    "coffee": "coffee.png",  # an espresso in a cup
    "astronaut": "astronaut.png",  # Eileen Collins, with a flag
    "rocket": "rocket.jpg",  # a rocket on its launch pad
    "motorcycle": "motorcycle_left.png",  # a motorbike in a showroom
    "cameraman": "camera.png",  # greyscale: a man with a camera on a tripod
}


class ImageLoadError(CourseError, ValueError):
    """An image could not be read; the message names the source and says what to do."""


def sample_images() -> dict[str, Path]:
    """The sample photos, by name: cat, coffee, astronaut, rocket, motorcycle, cameraman."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return {name: folder / file for name, file in SAMPLE_FILES.items()}


def _describe(source: object, name: str | None) -> str:
    if name:
        return repr(name)
    if isinstance(source, str | os.PathLike):
        return f"'{os.fspath(source)}'"
    if isinstance(source, bytes | bytearray | memoryview):
        return f"the {len(source):,} bytes given"
    if isinstance(source, Image.Image):
        return f"the {source.width} × {source.height} image given"
    if isinstance(source, torch.Tensor):
        return "the tensor given"
    return f"the file object {getattr(source, 'name', type(source).__name__)!r}"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: 16-bit scaled down, transparency over white, palettes expanded.

    Transparency counts whether it is an alpha channel or a colour key (PNG's tRNS chunk, which
    PIL keeps in img.info["transparency"] for palette, greyscale and RGB images).
    """
    keyed = "transparency" in img.info and img.mode in ("P", "L", "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        img = Image.fromarray((arr / top * 255).round().clip(0, 255).astype(np.uint8), mode="L")
    if keyed:
        img = img.convert("RGBA")  # the keyed colour becomes transparent
    elif img.mode == "P":
        img = img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


# The explorers resize an image's short side to at most 480 pixels; a thin strip would then
# need a gigantic long side (a 60000×1 PNG of 254 bytes asks for 28.8 million pixels × 480).
MAX_ASPECT_RATIO = 10


def check_proportions(image: Image.Image, name: str) -> Image.Image:
    """The image itself, or ImageLoadError if one side is over 10 times the other."""
    long, short = max(image.size), min(image.size)
    if short == 0 or long / short > MAX_ASPECT_RATIO:
        raise ImageLoadError(
            f"{name} is {image.width} × {image.height} pixels: one side is more than "
            f"{MAX_ASPECT_RATIO} times the other, so resizing it for a network would need an "
            "enormous image. Crop it to a more usual shape and try again."
        )
    return image


def upright_rgb(image: Image.Image, name: str = "the image") -> Image.Image:
    """A PIL image that entered without load_image (Image.open, say) as load_image would give
    it: turned as its EXIF orientation says (a phone's photo is stored sideways), in RGB, and
    refused, naming it, if its proportions would need an enormous resize."""
    return check_proportions(_to_rgb(ImageOps.exif_transpose(image)), name)


def load_image(
    source: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image | Tensor,
    *,
    name: str | None = None,
) -> Image.Image:
    """An RGB PIL image from a path, bytes, a file object, a PIL image or an image tensor
    (C × H × W with 1, 3 or 4 channels: floats in [0, 1] or uint8); raises ImageLoadError.

    EXIF rotation is applied; 16-bit, CMYK, palette, greyscale and transparent images become
    8-bit RGB (transparency over white).
    """
    what = _describe(source, name)
    if isinstance(source, Image.Image):
        return upright_rgb(source, what)
    if isinstance(source, Tensor):
        return _from_tensor(source, what)
    with contextlib.ExitStack() as opened:
        try:
            stream = _binary_stream(source, what, opened)
            # Only a header is read before Pillow decides whether this is an image at all: a
            # large file that is not one is rejected without being read whole.
            start = stream.tell()
            if not stream.read(1):
                raise ImageLoadError(f"{what} is empty (0 bytes): choose another file.")
            stream.seek(start)
        except OSError as err:
            raise ImageLoadError(f"Cannot read {what}: {err.strerror or err}.") from err
        return _decode(stream, what)


def _from_tensor(x: Tensor, what: str) -> Image.Image:
    """An image tensor as an RGB PIL image, or an ImageLoadError saying what shape it needs."""
    from torchvision.transforms.functional import to_pil_image

    shape = " × ".join(map(str, x.shape))
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]  # a batch of one
    if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
        raise ImageLoadError(
            f"{what} has shape {shape}; an image tensor is C × H × W with 1, 3 or 4 channels "
            "(a batch of one, 1 × C × H × W, also works)."
        )
    if x.is_floating_point():
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1 or not math.isfinite(low + high):
            raise ImageLoadError(
                f"{what} holds values from {low:.3g} to {high:.3g}; a float image tensor is in "
                "[0, 1]. Undo the normalisation first (x * std + mean), or pass the image itself."
            )
    elif x.dtype != torch.uint8:
        raise ImageLoadError(f"{what} is {x.dtype}; an image tensor is float in [0, 1] or uint8.")
    return check_proportions(_to_rgb(to_pil_image(x.detach().cpu())), what)


def _binary_stream(source, what: str, opened: contextlib.ExitStack) -> BinaryIO:
    """A seekable binary stream over `source`; a file opened here is closed with `opened`."""
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ImageLoadError(f"There is no image file at {what}: check the path.")
        return opened.enter_context(open(path, "rb"))
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if isinstance(source, io.TextIOBase) or "b" not in getattr(source, "mode", "b"):
        raise ImageLoadError(
            f"{what} is open in text mode; an image needs its bytes: open it with open(path, 'rb')."
        )
    if hasattr(source, "read"):
        return source if source.seekable() else io.BytesIO(source.read())
    raise ImageLoadError(
        f"Cannot read an image from {type(source).__name__}: give a path, bytes or an open file."
    )


def _decode(stream: BinaryIO, what: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageLoadError(
            f"{what} is too large to open safely ({err}). "
            "Scale it down to a few megapixels and try again."
        ) from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(
            f"{what} is not an image that Pillow can read. Use a PNG, JPEG, GIF, BMP, TIFF or WebP."
        ) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(
            f"{what} is damaged or truncated ({err}). Save or download it again."
        ) from err


# --- the one way from a picture to a network's input ----------------------------------------


def _as_rgb(image):
    """A PIL image of any mode as the upright RGB image it shows; anything else unchanged.

    load_image's conversion (images.upright_rgb): EXIF orientation applied, greyscale copied to
    three channels, palettes expanded, 16-bit scaled to 8 bits, and transparency composited over
    white, as a page or a viewer shows a transparent PNG (over black, a dark object with a clear
    background would vanish); a 60000×1 strip is refused rather than resized to gigabytes.
    """
    return upright_rgb(image) if isinstance(image, Image.Image) else image


def to_tensor(image: Image.Image | Tensor) -> Tensor:
    """A picture as float C×H×W (a batch: N×C×H×W) in [0, 1], where every network input starts.

    A PIL image of any mode is the upright RGB image it shows (_as_rgb, as load_image gives it);
    a uint8 tensor is scaled by 1/255; a float tensor is taken as it is.
    """
    from torchvision.transforms.v2 import functional as F

    if isinstance(image, Image.Image):
        image = F.to_image(_as_rgb(image))
    if not image.is_floating_point():
        return F.to_dtype(image, torch.float32, scale=True)
    return image


def mean_std(weights=None) -> tuple[list[float], list[float]]:
    """The per-channel mean and std that `weights` (a torchvision weights enum) normalise with,
    read from their own transforms(); without weights, those of torchvision's ImageNet weights
    (AlexNet's metadata: nothing is downloaded)."""
    if weights is None:
        import torchvision

        weights = torchvision.models.AlexNet_Weights.IMAGENET1K_V1
    transforms = weights.transforms()
    return list(transforms.mean), list(transforms.std)


def photo_input(image, short_side: int, weights=None) -> Tensor:
    """A photo as the network input at one scale: to_tensor, the short side resized to
    `short_side`, normalised with the weights' own mean and std (mean_std)."""
    from torchvision.transforms.v2 import functional as F

    mean, std = mean_std(weights)
    return F.normalize(F.resize(to_tensor(image), short_side, antialias=True), mean, std)


def slide_normalize(image, size: int | None = 224) -> Tensor:
    """The slide's normalisation, 0.5 + 0.5 (img − mean) / std, of a PIL image.

    Mean and std are those of the whole image, one number each, not ImageNet's per channel.
    The slide feeds the photo at its own size (size=None); the course squashes it to
    size×size by default, to compare it with the weights' own 224×224 input.
    """
    from torchvision.transforms.v2 import functional as F

    x = to_tensor(image)
    if size is not None:
        x = F.resize(x, [size, size], antialias=True)
    return 0.5 + 0.5 * (x - x.mean()) / x.std()
