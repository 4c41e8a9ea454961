"""pretrained() with weights placed in a temporary TORCH_HOME, an empty cache and a bad file."""

import functools
import hashlib
import http.server
import io
import pathlib
import pickle
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models as tvm

import course_utils as cu
from course_utils import prefetch, weights
from course_utils.weights import UnknownModelError, WeightsError


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _state_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _name_by_hash(name: str, data: bytes, monkeypatch) -> str:
    """Point `name`'s weights URL at a file name that carries the real SHA-256 prefix of `data`.

    torchvision's names carry the prefix of the real files' hashes, which files made here never
    match; so the tests rename, as torch hub would name these files, to check the hash for real.
    """
    enum = weights.weights_for(name)
    folder, file = enum.url.rsplit("/", 1)
    stem = file.rsplit("-", 1)[0]
    file = f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setattr(enum.value, "url", f"{folder}/{file}")
    return file


def _place_bytes(name: str, data: bytes, monkeypatch) -> pathlib.Path:
    _name_by_hash(name, data, monkeypatch)
    path = weights.weights_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _place(name: str, model: torch.nn.Module, monkeypatch) -> pathlib.Path:
    return _place_bytes(name, _state_bytes(model), monkeypatch)


def test_weights_file_follows_torch_home(torch_home):
    path = weights.weights_file("resnet18")
    assert path == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert tvm.ResNet18_Weights.IMAGENET1K_V1.url.endswith(path.name)


def test_cached_weights_are_loaded(torch_home, monkeypatch):
    torch.manual_seed(0)
    reference = tvm.resnet18()
    _place("resnet18", reference, monkeypatch)
    model = cu.pretrained("resnet18", strict=True)
    assert model.is_pretrained and not model.training
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    assert model.weights is tvm.ResNet18_Weights.IMAGENET1K_V1


def test_googlenet_is_built_as_torchvision_builds_it(torch_home, monkeypatch):
    torch.manual_seed(0)
    reference = tvm.googlenet(aux_logits=True, init_weights=True)  # the file keeps aux heads
    _place("googlenet", reference, monkeypatch)
    model = cu.pretrained("googlenet")
    assert model.is_pretrained and model.aux1 is None and model.transform_input
    assert cu.count_parameters(model) == 6_624_904
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_googlenet_loads_as_torchvisions_own_builder_loads_it(torch_home, monkeypatch):
    torch.manual_seed(0)
    _place("googlenet", tvm.googlenet(aux_logits=True, init_weights=True), monkeypatch)
    model = cu.pretrained("googlenet", strict=True)
    # torchvision's builder, reading the same cached file (made here, so safe to unpickle).
    expected = tvm.googlenet(weights=tvm.GoogLeNet_Weights.IMAGENET1K_V1).eval()
    torch.testing.assert_close(model.state_dict(), expected.state_dict())
    for attribute in ("aux_logits", "aux1", "aux2", "transform_input"):
        assert getattr(model, attribute) == getattr(expected, attribute), attribute
    x = torch.rand(2, 3, 224, 224)
    torch.testing.assert_close(model(x), expected(x))


def test_empty_cache_offline_gives_untrained_weights_loudly(torch_home, monkeypatch, capfd):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.warns(cu.show.CourseWarning) as caught:
        model = cu.pretrained("alexnet")
    assert len(caught) == 1  # reported once, as one clear message
    assert "UNTRAINED" in str(caught[0].message) and "prefetch" in str(caught[0].message)
    assert capfd.readouterr() == ("", "")  # nothing else said it again
    assert model.is_pretrained is False
    assert cu.count_parameters(model) == 61_100_840
    prediction = cu.weights.classify(model, cu.load_image(cu.sample_images()["cat"]))
    assert "UNTRAINED" in repr(prediction)


def test_in_a_notebook_missing_weights_are_one_note(torch_home, monkeypatch, recwarn):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(cu.show, "in_notebook", lambda: True)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    assert cu.pretrained("resnet18").is_pretrained is False
    assert len(shown) == 1 and "UNTRAINED" in shown[0].data and "prefetch" in shown[0].data
    assert len(recwarn) == 0  # the note is the report; no warning repeats it


def test_failed_download_falls_back_or_raises_when_strict(torch_home, monkeypatch, capfd):
    # An unreachable address: the connection is refused at once.
    weights = tvm.ResNet18_Weights.IMAGENET1K_V1
    monkeypatch.setattr(weights.value, "url", "http://127.0.0.1:9/resnet18-f37072fd.pth")
    with pytest.warns(cu.show.CourseWarning, match="download failed: 127.0.0.1 cannot be"):
        assert cu.pretrained("resnet18").is_pretrained is False
    # Unreachable, so no download was started: torch.hub never said "Downloading: ...".
    assert "Downloading" not in capfd.readouterr().err
    with pytest.raises(WeightsError, match="resnet18-f37072fd.pth is not cached.*prefetch"):
        cu.pretrained("resnet18", strict=True)


def test_truncated_cache_file_names_the_file(torch_home, monkeypatch):
    torch.manual_seed(0)
    path = _place("resnet18", tvm.resnet18(), monkeypatch)
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(WeightsError) as err:
        cu.pretrained("resnet18")
    assert str(path) in str(err.value) and "Delete it" in str(err.value)
    assert path.exists()  # the user's file is left for them to inspect


class _Planted:
    """Unpickled with weights_only=False, this runs code: it creates the file `marker`."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _planted_bytes(marker: pathlib.Path, kind: str) -> bytes:
    if kind == "pickle":  # a bare pickle, as torch.load's legacy format reads it
        return pickle.dumps(_Planted(marker), protocol=2)  # torch.save's protocol
    buffer = io.BytesIO()  # a torch.save archive, as the real weights files are
    torch.save({"fc.weight": _Planted(marker)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_a_planted_file_under_the_weights_name_runs_nothing(torch_home, tmp_path, kind):
    marker = tmp_path / "code-ran"
    path = weights.weights_file("resnet18")  # torchvision's own name: resnet18-f37072fd.pth
    path.parent.mkdir(parents=True)
    path.write_bytes(_planted_bytes(marker, kind))
    with pytest.raises(WeightsError) as err:
        cu.pretrained("resnet18")
    assert str(path) in str(err.value) and "prefetch" in str(err.value)
    assert not marker.exists(), "unpickling the planted file ran its code"


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_a_planted_file_that_matches_its_hash_prefix_runs_nothing(
    torch_home, tmp_path, monkeypatch, kind
):
    # 8 hex digits are 32 bits: a forger can find a file that matches them. Only loading with
    # weights_only=True keeps its code from running.
    marker = tmp_path / "code-ran"
    path = _place_bytes("resnet18", _planted_bytes(marker, kind), monkeypatch)
    with pytest.raises(WeightsError) as err:
        cu.pretrained("resnet18")
    assert str(path) in str(err.value) and "Delete it" in str(err.value)
    assert "objects other than tensors, so it was not unpickled" in str(err.value)
    assert not marker.exists(), "unpickling the planted file ran its code"


def test_good_weights_under_a_wrong_hash_are_refused(torch_home):
    torch.manual_seed(0)
    path = weights.weights_file("resnet18")  # resnet18-f37072fd.pth: not these weights' hash
    path.parent.mkdir(parents=True)
    path.write_bytes(_state_bytes(tvm.resnet18()))
    for strict in (False, True):
        with pytest.raises(WeightsError) as err:
            cu.pretrained("resnet18", strict=strict)
        message = str(err.value)
        assert str(path) in message and "SHA-256" in message
        assert "Delete it" in message and "python -m course_utils.prefetch" in message
    assert path.exists()  # the user's file is left for them to inspect


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1, and its base URL: a download without a network."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield folder, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


def _serve(name: str, data: bytes, served, monkeypatch) -> None:
    folder, base = served
    file = _name_by_hash(name, data, monkeypatch)
    (folder / file).write_bytes(data)
    monkeypatch.setattr(weights.weights_for(name).value, "url", f"{base}/{file}")


def test_weights_not_cached_are_downloaded_and_loaded(torch_home, served, monkeypatch):
    torch.manual_seed(0)
    reference = tvm.resnet18()
    _serve("resnet18", _state_bytes(reference), served, monkeypatch)
    model = cu.pretrained("resnet18", strict=True)
    assert model.is_pretrained
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    assert weights.weights_file("resnet18").is_file()  # kept in the cache for the next time


def test_a_served_file_with_the_wrong_hash_is_not_kept(torch_home, served, monkeypatch):
    torch.manual_seed(0)
    _serve("resnet18", _state_bytes(tvm.resnet18()), served, monkeypatch)
    enum = weights.weights_for("resnet18")
    folder, _ = served
    file = enum.url.rsplit("/", 1)[-1]
    (folder / file).write_bytes(_state_bytes(tvm.resnet18()))  # other weights, same name
    with pytest.warns(cu.show.CourseWarning, match="download failed.*SHA-256.*not start"):
        assert cu.pretrained("resnet18").is_pretrained is False
    assert not weights.weights_file("resnet18").exists()
    with pytest.raises(WeightsError, match="not cached.*download failed.*prefetch"):
        cu.pretrained("resnet18", strict=True)


def test_a_downloaded_planted_file_runs_nothing(torch_home, tmp_path, served, monkeypatch):
    marker = tmp_path / "code-ran"
    _serve("resnet18", _planted_bytes(marker, "torch.save"), served, monkeypatch)
    with pytest.raises(WeightsError) as err:
        cu.pretrained("resnet18")
    assert str(weights.weights_file("resnet18")) in str(err.value)
    assert not marker.exists(), "unpickling the downloaded file ran its code"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownModelError) as err:
        cu.pretrained("resnet5O")
    for name in (
        "alexnet",
        "vgg16",
        "vgg19",
        "googlenet",
        "resnet18",
        "resnet50",
        "resnext50_32x4d",
    ):
        assert name in str(err.value)
    assert isinstance(err.value, ValueError)


def test_classify_top15_with_the_weights_transforms(torch_home, monkeypatch):
    torch.manual_seed(0)
    _place("resnet18", tvm.resnet18(), monkeypatch)
    model = cu.pretrained("resnet18")
    cat = cu.load_image(cu.sample_images()["cat"])
    prediction = cu.weights.classify(model, cat)
    x = tvm.ResNet18_Weights.IMAGENET1K_V1.transforms()(cat)
    expected = torch.softmax(model(x[None]), 1)[0].detach()
    torch.testing.assert_close(prediction.probabilities, expected)
    assert len(prediction.top) == 15
    assert prediction.top[0][1] == pytest.approx(float(expected.max()))
    assert prediction.top[0][0] == cu.imagenet_classes()[int(expected.argmax())]


def _over_white(image: Image.Image) -> Image.Image:
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


def _odd_modes() -> dict[str, tuple[Image.Image, Image.Image]]:
    """What Image.open gives for many PNGs, each with the RGB image it shows."""
    cat = cu.load_image(cu.sample_images()["cat"]).resize((160, 120))
    grey = cat.convert("L")
    ramp = np.broadcast_to(np.linspace(0, 255, cat.width).round().astype(np.uint8), grey.size[::-1])
    alpha = Image.fromarray(np.ascontiguousarray(ramp), mode="L")  # clear at left, opaque at right
    rgba, la = cat.copy(), grey.copy()
    rgba.putalpha(alpha)
    la.putalpha(alpha)
    sixteen = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # 0..65535, same greys
    palette = cat.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return {
        "RGBA": (rgba, _over_white(rgba)),
        "LA": (la, _over_white(la)),
        "L": (grey, grey.convert("RGB")),
        "P": (palette, palette.convert("RGB")),
        "I;16": (sixteen, grey.convert("RGB")),
    }


@pytest.fixture(scope="module")
def resnet18_untrained():
    torch.manual_seed(0)
    model = weights.untrained("resnet18").eval()
    model.weights = tvm.ResNet18_Weights.IMAGENET1K_V1
    return model


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "I;16"])
@pytest.mark.parametrize("preprocess", [None, cu.images.slide_normalize], ids=["weights", "slide"])
def test_classify_takes_any_mode_as_the_rgb_image_it_shows(resnet18_untrained, mode, preprocess):
    image, shown = _odd_modes()[mode]
    assert image.mode == mode
    prediction = cu.weights.classify(resnet18_untrained, image, k=5, preprocess=preprocess)
    expected = cu.weights.classify(resnet18_untrained, shown, k=5, preprocess=preprocess)
    torch.testing.assert_close(prediction.probabilities, expected.probabilities)
    assert image.mode == mode  # the caller's image is left as it was


def test_classify_puts_transparency_over_white(resnet18_untrained):
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # black, but wholly transparent
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    prediction = cu.weights.classify(resnet18_untrained, clear, k=3)
    expected = cu.weights.classify(resnet18_untrained, white, k=3)
    torch.testing.assert_close(prediction.probabilities, expected.probabilities)


def test_slide_normalisation():
    cat = cu.load_image(cu.sample_images()["cat"])
    x = cu.images.slide_normalize(cat)
    assert x.shape == (3, 224, 224)
    assert float(x.mean()) == pytest.approx(0.5, abs=1e-4)
    assert float(x.std()) == pytest.approx(0.5, abs=1e-3)


def test_classify_turns_a_phone_photo_upright_and_refuses_a_strip(resnet18_untrained):
    cat = cu.load_image(cu.sample_images()["cat"]).resize((160, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: "rotate 90° clockwise to display", as phones write it
    buffer = io.BytesIO()
    cat.rotate(90, expand=True).save(buffer, format="JPEG", exif=exif, quality=95)
    opened = Image.open(io.BytesIO(buffer.getvalue()))  # Image.open applies no orientation
    assert opened.size == (120, 160)
    upright = cu.load_image(buffer.getvalue())  # load_image does: the photo as it is shown
    assert upright.size == (160, 120)
    prediction = cu.weights.classify(resnet18_untrained, opened, k=5)
    expected = cu.weights.classify(resnet18_untrained, upright, k=5)
    torch.testing.assert_close(prediction.probabilities, expected.probabilities)
    strip = Image.new("RGB", (60000, 1))  # would need gigabytes once its short side is 224
    with pytest.raises(cu.ImageLoadError, match="60000 × 1 pixels"):
        cu.weights.classify(resnet18_untrained, strip, k=5)


def test_a_read_only_torch_home_without_the_weights_keeps_the_students_own_copy(
    tmp_path, served, monkeypatch, make_read_only
):
    """A class's TORCH_HOME (the read-only pack) that lacks resnet18: the weights are downloaded
    into the student's own cache folder and loaded from there the next time, never into the
    pack. Before, the download failed on the pack and the network was untrained."""
    pack, own = tmp_path / "pack", tmp_path / "home-cache"
    (pack / "hub" / "checkpoints").mkdir(parents=True)
    make_read_only(pack)
    monkeypatch.setenv("TORCH_HOME", str(pack))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(own))
    torch.manual_seed(0)
    reference = tvm.resnet18()
    _serve("resnet18", _state_bytes(reference), served, monkeypatch)
    model = cu.pretrained("resnet18", strict=True)
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    kept = own / "torch" / "hub" / "checkpoints" / weights.weights_file("resnet18").name
    assert kept.is_file() and list((pack / "hub" / "checkpoints").iterdir()) == []
    folder, _ = served
    for file in folder.iterdir():
        file.unlink()  # the server has nothing now: the next load reads the student's copy
    assert cu.pretrained("resnet18", strict=True).is_pretrained


def test_every_weights_path_comes_from_weights_folder(tmp_path, monkeypatch, capsys):
    """$TORCH_HOME/hub/checkpoints, and the same folder in a student's own copy, are built in one
    place: weights_folder. weights_file, pretrained, prefetch and doctor all follow it."""
    blocker = tmp_path / "a_file"  # the shared folder can't be written: it is under a file
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))

    def folder(home=None):
        return blocker / "shared" if home is None else tmp_path / "own-copy" / home.name

    monkeypatch.setattr(weights, "weights_folder", folder)
    file = weights.weights_file("resnet18")
    assert file == blocker / "shared" / "resnet18-f37072fd.pth"
    with pytest.raises(WeightsError) as err:  # the shared folder lacks it: the own copy's path
        cu.pretrained("resnet18", strict=True)
    assert f"{tmp_path / 'own-copy' / 'torch' / file.name} is not cached" in str(err.value)
    assert f"Weights cache {blocker / 'shared'}:" in str(cu.doctor(show=False))
    assert prefetch.main(["--no-mnist", "--models", "resnet18"]) == 2
    assert f"The weights folder {blocker / 'shared'} cannot be made" in capsys.readouterr().err
