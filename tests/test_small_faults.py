"""Issue 21's small faults: each input a student or an instructor could give gets a clear answer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import fcn, nets, prefetch, race


def test_race_takes_one_family_name_as_a_string_and_refuses_none(cache, digits):
    train, test = (cu.data.subset(d, n, seed=0) for d, n in zip(digits, (128, 64), strict=True))
    results = race.race(train, test, names="LeNet5", epochs=1, device="cpu")
    assert list(results) == ["LeNet5"]  # not "Unknown family 'L'"
    with pytest.raises(ValueError, match="no families"):
        race.race(train, test, names=[], epochs=1)


def test_plot_race_of_no_rows_says_what_to_pass():
    with pytest.raises(ValueError, match="race_rows"):
        cu.plots.plot_race([])


def test_fit_takes_numpy_images_and_whole_float_epochs_and_names_bad_ones(digits):
    train, test = (cu.data.subset(d, n, seed=0) for d, n in zip(digits, (64, 32), strict=True))

    class Arrays:  # .images and .labels as NumPy arrays
        def __init__(self, ds):
            self.images, self.labels = ds.images.numpy(), ds.labels.numpy()

        def __len__(self):
            return len(self.labels)

    history = cu.fit(cu.LeNet5(), Arrays(train), test, epochs=2.0, quiet=True, device="cpu")
    assert history.epochs == 2 and isinstance(Arrays(train).images, np.ndarray)
    with pytest.raises(TypeError, match=r"epochs must be a whole number, such as 3, not 1\.5"):
        cu.fit(cu.LeNet5(), train, test, epochs=1.5, quiet=True)


def test_the_family_explorer_takes_names_in_any_case(digits):
    trained = {"ResNet": nets.build("ResNet"), "VGG": nets.build("VGG")}
    explorer = cu.widgets.family_explorer(trained, cu.data.subset(digits[1], 16), family="resnet")
    assert explorer.family.value == "ResNet"
    with pytest.raises(ValueError, match="Unknown family 'densenet'.*ResNet, VGG"):
        cu.widgets.family_explorer(trained, cu.data.subset(digits[1], 16), family="densenet")


def test_prefetch_data_dir_with_a_tilde_is_the_home_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    prefetch.main(["--models", "--data-dir", "~/pack"])
    out = capsys.readouterr().out
    assert f"MNIST: {tmp_path / 'pack' / 'MNIST'}" in out
    assert not (tmp_path / "~").exists()  # no folder named "~"


def test_colab_sync_outside_the_repository_says_where_to_run_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.colab"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"No notebooks in {tmp_path / 'notebooks'}" in done.stderr


def test_load_image_takes_a_pil_image_upright_and_an_image_tensor(tmp_path):
    from PIL import Image

    photo = Image.new("RGB", (40, 30), (200, 10, 10))
    exif = photo.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view", as a phone writes it
    photo.save(tmp_path / "phone.jpg", exif=exif)
    opened = Image.open(tmp_path / "phone.jpg")  # as a student opens it, EXIF not applied
    assert cu.load_image(opened).size == (30, 40)  # upright, as load_image(path) gives it
    assert cu.load_image(opened).size == cu.load_image(tmp_path / "phone.jpg").size
    grey = Image.new("L", (8, 6))
    assert cu.load_image(grey).mode == "RGB"
    x = torch.rand(3, 6, 8)
    image = cu.load_image(x)
    assert image.size == (8, 6) and image.mode == "RGB"
    torch.testing.assert_close(
        torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255, x, atol=1 / 255, rtol=0
    )
    assert cu.load_image(x[None]).size == (8, 6)  # a batch of one
    assert cu.load_image((x * 255).to(torch.uint8)).size == (8, 6)
    with pytest.raises(cu.images.ImageLoadError, match="shape 6 × 8.*C × H × W"):
        cu.load_image(x[0])
    with pytest.raises(cu.images.ImageLoadError, match=r"values from .* \[0, 1\].*normalisation"):
        cu.load_image(x * 4 - 2)


def test_class_activation_maps_of_one_image_and_a_clear_error_for_other_shapes():
    torch.manual_seed(0)
    model = nets.build("ResNet").eval()
    images = torch.rand(3, 1, 28, 28)
    maps = fcn.class_activation_maps(model, images)
    one = fcn.class_activation_maps(model, images[1])  # C × H × W
    assert one.shape == maps.shape[1:]
    torch.testing.assert_close(one, maps[1], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="N × C × H × W.*shape 28 × 28"):
        fcn.class_activation_maps(model, images[1, 0])


@pytest.mark.parametrize(
    ("size", "match"),
    [
        (28, r"\(channels, height, width\).*not 28"),
        ((28, 28), r"\(1, 28, 28\) for LeNet5, not \(28, 28\)"),
        ((1, 28.0, 28), "not"),
        ((1, 8, 8), r"input_size \(1, 8, 8\), layer 'features\.3'.*2×2 map"),
    ],
)
def test_convolutionize_names_a_wrong_or_too_small_input_size(size, match):
    with pytest.raises(cu.fcn.ConvolutionizeError, match=match):
        cu.convolutionize(cu.LeNet5(), size)


def test_a_two_byte_mnist_file_is_named_with_its_size(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x01" + (0).to_bytes(4, "big"))
    with pytest.raises(cu.data.MNISTError) as raised:
        cu.load_mnist(tmp_path)
    message = str(raised.value)
    assert "()" not in message
    assert "train-images-idx3-ubyte holds 2 bytes" in message
    assert str(tmp_path / "MNIST") in message


def test_a_file_mirror_that_lacks_the_files_is_named_not_taken_for_a_dns_failure(tmp_path, capsys):
    train, _ = cu.load_mnist(tmp_path / "data", mirrors=[f"file://{tmp_path}/nowhere/"])
    out = capsys.readouterr().out
    assert len(train) == 4000  # the shipped digits
    assert "No such file" in out and f"{tmp_path}/nowhere" in out
    assert "cannot be reached" not in out and "DNS" not in out
