"""Reading images safely, and the sample photos that ship with scikit-image."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Photos inside scikit-image's package folder: no download needed. Most show an ImageNet class.
SAMPLE_FILES = {
    "cat": "chelsea.png",  # a tabby cat
    "coffee": "coffee.png",  # an espresso in a cup
    "astronaut": "astronaut.png",  # Eileen Collins, with a flag
    "rocket": "rocket.jpg",  # a rocket on its launch pad
    "motorcycle": "motorcycle_left.png",  # a motorbike in a showroom
    "cameraman": "camera.png",  # greyscale: a man with a camera on a tripod
}


class ImageLoadError(ValueError):
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
    return f"the file object {getattr(source, 'name', type(source).__name__)!r}"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: 16-bit scaled down, transparency over white, palettes expanded."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        img = Image.fromarray((arr / top * 255).round().clip(0, 255).astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def load_image(
    source: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO,
    *,
    name: str | None = None,
) -> Image.Image:
    """An RGB PIL image from a path, bytes or a file object; raises ImageLoadError.

    EXIF rotation is applied; 16-bit, CMYK, palette, greyscale and transparent images become
    8-bit RGB (transparency over white).
    """
    what = _describe(source, name)
    try:
        if isinstance(source, str | os.PathLike):
            path = Path(source).expanduser()
            if not path.is_file():
                raise ImageLoadError(f"There is no image file at {what}: check the path.")
            data = path.read_bytes()
        elif isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        elif hasattr(source, "read"):
            data = source.read()
        else:
            raise ImageLoadError(
                f"Cannot read an image from {type(source).__name__}: "
                "give a path, bytes or an open file."
            )
    except OSError as err:
        raise ImageLoadError(f"Cannot read {what}: {err.strerror or err}.") from err
    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes): choose another file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
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
