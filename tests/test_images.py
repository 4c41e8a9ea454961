"""load_image on every kind of file a student might upload, made here by the tests."""

import io
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models as tvm

import course_utils as cu
from course_utils.images import ImageLoadError


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, **kw)
    return buf.getvalue()


def test_sample_images_are_the_scikit_image_photos():
    samples = cu.sample_images()
    assert {"cat", "coffee", "astronaut", "rocket"} <= set(samples)
    for path in samples.values():
        assert path.is_file()
        img = cu.load_image(path)
        assert img.mode == "RGB" and min(img.size) >= 200
    assert cu.load_image(samples["cat"]).size == (451, 300)


def test_path_bytes_and_file_objects_give_the_same_image(tmp_path):
    path = cu.sample_images()["coffee"]
    a = cu.load_image(path)
    b = cu.load_image(path.read_bytes())
    with open(path, "rb") as f:
        c = cu.load_image(f)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(a), np.asarray(c))
    assert cu.load_image(str(path)).size == a.size


def test_not_an_image_names_the_source(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    with pytest.raises(cu.ImageLoadError, match="notes.txt.*not an image"):
        cu.load_image(notes)
    with pytest.raises(cu.ImageLoadError, match="'upload.bin' is not an image"):
        cu.load_image(b"\x00\x01\x02" * 100, name="upload.bin")
    assert issubclass(cu.ImageLoadError, ValueError)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(cu.ImageLoadError, match="no image file at .*nowhere.png"):
        cu.load_image(tmp_path / "nowhere.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(cu.ImageLoadError, match="empty.png.*empty"):
        cu.load_image(empty)


def test_truncated_file_is_reported():
    data = _jpeg(Image.new("RGB", (64, 64), "red"))
    with pytest.raises(cu.ImageLoadError, match="'half.jpg' is damaged or truncated"):
        cu.load_image(data[: len(data) // 2], name="half.jpg")
    png = _png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    with pytest.raises(cu.ImageLoadError, match="truncated"):
        cu.load_image(png[: len(png) // 2], name="half.png")


def _with_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG, with a header that claims another size (and a valid header checksum)."""
    ihdr = png[12:29]  # type + data of the IHDR chunk
    new = b"IHDR" + struct.pack(">II", width, height) + ihdr[12:]
    return png[:8] + png[8:12] + new + struct.pack(">I", zlib.crc32(new)) + png[33:]


def test_decompression_bomb_is_refused():
    bomb = _with_size(_png(Image.new("L", (8, 8))), 40_000, 40_000)  # 1.6 gigapixels claimed
    with pytest.raises(cu.ImageLoadError, match="'bomb.png' is too large.*Scale it down"):
        cu.load_image(bomb, name="bomb.png")
    warn = _with_size(_png(Image.new("L", (8, 8))), 12_000, 10_000)  # over the warning limit
    with pytest.raises(cu.ImageLoadError, match="too large"):
        cu.load_image(warn, name="big.png")


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16).reshape(16, 16)
    img = cu.load_image(_png(Image.fromarray(ramp)))
    arr = np.asarray(img)
    assert img.mode == "RGB" and arr.shape == (16, 16, 3)
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255
    assert 120 <= arr[8, 0, 0] <= 135  # the middle of the ramp is mid-grey, not white


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    img = cu.load_image(_jpeg(cmyk))
    r, g, b = np.asarray(img)[16, 16]
    assert img.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_palette_with_transparency_and_rgba_go_over_white():
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    pal.info["transparency"] = 0
    img = cu.load_image(_png(pal, transparency=0))
    assert img.mode == "RGB" and tuple(np.asarray(img)[0, 0]) == (255, 255, 255)
    opaque = Image.new("P", (8, 8), 1)
    opaque.putpalette([0, 0, 0, 10, 200, 30] + [0, 0, 0] * 254)
    assert tuple(np.asarray(cu.load_image(_png(opaque)))[0, 0]) == (10, 200, 30)
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 128))
    r, g, b = np.asarray(cu.load_image(_png(rgba)))[0, 0]
    assert r == 255 and 120 <= g <= 135 and g == b  # half red over white


def test_exif_rotation_is_applied():
    wide = Image.new("RGB", (40, 20), "white")
    wide.paste((255, 0, 0), (0, 0, 10, 20))  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    img = cu.load_image(_jpeg(wide, exif=exif))
    assert img.size == (20, 40)
    top_row = np.asarray(img)[2, :, 0].astype(int)
    assert top_row.mean() > 200 and np.asarray(img)[2, 10, 1] < 80  # red now on top


def test_greyscale_becomes_rgb():
    img = cu.load_image(cu.sample_images()["cameraman"])
    arr = np.asarray(img)
    assert img.mode == "RGB" and np.array_equal(arr[..., 0], arr[..., 2])


def test_unsupported_source_type():
    with pytest.raises(cu.ImageLoadError, match="path, bytes or an open file"):
        cu.load_image(12345)


def test_a_file_open_in_text_mode_gets_a_clear_message(tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(cu.sample_images()["cat"].read_bytes())
    with open(path, encoding="latin-1") as text:  # the wrong mode for an image
        with pytest.raises(ImageLoadError, match="text mode.*'rb'"):
            cu.load_image(text)


class CountingReader(io.BytesIO):
    """A file object that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def test_a_large_non_image_is_rejected_without_reading_it_whole():
    big = CountingReader(b"\x00not an image\x00" * 4_000_000)  # 56 MB
    with pytest.raises(ImageLoadError, match="not an image"):
        cu.load_image(big, name="notes.bin")
    assert big.read_bytes < 1_000_000, f"read {big.read_bytes:,} bytes"


def test_colour_keyed_transparency_becomes_white_not_black():
    """PNG's tRNS chunk marks one colour transparent in greyscale and RGB images too."""
    for mode, key in [("RGB", (0, 0, 0)), ("L", 0)]:
        img = Image.new(mode, (8, 8), key)
        img.paste(Image.new(mode, (4, 8), (200, 30, 30) if mode == "RGB" else 120), (0, 0))
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", transparency=key)
        rgb = cu.load_image(buffer.getvalue())
        assert rgb.getpixel((6, 4)) == (255, 255, 255), mode  # the keyed colour: white
        assert rgb.getpixel((1, 4)) != (255, 255, 255), mode  # the rest as it was


def test_a_thin_strip_is_refused_before_any_explorer_resizes_it():
    strip = Image.new("RGB", (60000, 1), (10, 20, 30))
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 1000  # tiny on disk, far below the bomb limit
    with pytest.raises(ImageLoadError, match="60000 × 1.*Crop it"):
        cu.images.check_proportions(cu.load_image(buffer.getvalue()), "'strip.png'")
    assert cu.images.check_proportions(strip.resize((800, 600)), "x").size == (800, 600)


# --- the one conversion from a picture to a network's input ---------------------------------


def _old_float(image):
    """The conversion that augment, widgets and images each wrote out before to_tensor."""
    from torchvision.transforms.v2 import functional as F

    return F.to_dtype(F.to_image(image), torch.float32, scale=True)


def test_to_tensor_gives_the_tensors_the_package_gave_before():
    cat = cu.load_image(cu.sample_images()["cat"])
    x = cu.images.to_tensor(cat)
    assert x.shape == (3, cat.height, cat.width) and x.dtype == torch.float32
    torch.testing.assert_close(x, _old_float(cat), rtol=0, atol=0)
    as_bytes = torch.from_numpy(np.array(cat)).permute(2, 0, 1)
    torch.testing.assert_close(cu.images.to_tensor(as_bytes), x, rtol=0, atol=0)  # uint8 / 255
    assert cu.images.to_tensor(x) is x  # float already: as it is


def test_to_tensor_shows_any_pil_mode_as_its_rgb_image():
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))  # fully transparent: white on a page
    torch.testing.assert_close(cu.images.to_tensor(rgba), torch.ones(3, 6, 8))
    grey = Image.new("L", (8, 6), 51)
    torch.testing.assert_close(cu.images.to_tensor(grey), torch.full((3, 6, 8), 0.2))


def test_photo_input_normalises_with_the_weights_own_mean_and_std():
    from torchvision.transforms.v2 import functional as F

    rocket = cu.load_image(cu.sample_images()["rocket"])
    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])  # torchvision's ImageClassification
    assert cu.images.mean_std() == cu.images.mean_std(tvm.VGG16_Weights.IMAGENET1K_V1)
    torch.testing.assert_close(torch.tensor(cu.images.mean_std()), torch.tensor(imagenet))
    for side in (224, 352):
        before = F.normalize(F.resize(_old_float(rocket), side, antialias=True), *imagenet)
        torch.testing.assert_close(cu.images.photo_input(rocket, side), before, rtol=0, atol=0)
    other = SimpleNamespace(transforms=lambda: SimpleNamespace(mean=[0.5] * 3, std=[0.25] * 3))
    x = cu.images.photo_input(rocket, 224, other)
    expected = (F.resize(_old_float(rocket), 224, antialias=True) - 0.5) / 0.25
    torch.testing.assert_close(x, expected)


def test_only_images_turns_pictures_into_tensors():
    # one conversion: no other module of the package converts pictures or types ImageNet's numbers
    package = Path(cu.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for written in ("to_image(", "to_dtype(", "0.485", "0.229"):
            assert written not in text or path.stem == "images", f"{path.name}: {written}"
