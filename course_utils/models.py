"""LeNet5 and AlexNet as printed, pretrained() over torchvision's weights, model tools."""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import torch
from torch import nn

from . import config


class LeNet5(nn.Module):
    """LeNet5 exactly as the slide prints it: 44,426 parameters for 1×28×28 digits.

    `activation` builds each nonlinearity (ReLU as on the slide; nn.Tanh or nn.Sigmoid to
    compare); `batch_norm=True` adds batch normalisation after each convolution and hidden
    linear layer, before the activation, as Ioffe & Szegedy (2015) place it. `in_channels`
    and `image_size` (e.g. 3 and 32 for CIFAR-10) change only the first convolution's inputs
    and the first linear layer's (16 × s × s, s = 5 at 32 pixels, 4 at 28).
    """

    def __init__(
        self,
        num_classes: int = 10,
        *,
        activation: Callable[[], nn.Module] = nn.ReLU,
        batch_norm: bool = False,
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2  # two 5×5 convolutions, each then pooled by 2
        if side < 1:
            raise ValueError(f"LeNet5 needs images of at least 16×16 pixels, not {image_size}.")

        def norm(kind: type[nn.Module], n: int) -> list[nn.Module]:
            return [kind(n)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # 6 x 24 x 24
            *norm(nn.BatchNorm2d, 6),
            activation(),
            nn.MaxPool2d(2),  # 6 x 12 x 12
            nn.Conv2d(6, 16, kernel_size=5),  # 16 x 8 x 8
            *norm(nn.BatchNorm2d, 16),
            activation(),
            nn.MaxPool2d(2),  # 16 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            *norm(nn.BatchNorm1d, 120),
            activation(),
            nn.Linear(120, 84),
            *norm(nn.BatchNorm1d, 84),
            activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 16 x 4 x 4 (28×28 input)
        x = torch.flatten(x, 1)  # N x 256
        return self.classifier(x)  # N x 10


class ScaledTanh(nn.Module):
    """LeCun et al. 1998's squashing function A·tanh(S·a), A = 1.7159, S = 2/3 (appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(2 / 3 * x)


class Subsampling(nn.Module):
    """LeNet-5's S2 and S4: sum each 2×2 block, times a trainable coefficient, plus a bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = nn.functional.avg_pool2d(x, 2) * 4  # N x C x H/2 x W/2
        return summed * self.weight[:, None, None] + self.bias[:, None, None]


# LeCun et al. 1998, table I: the S2 maps that each of C3's 16 maps sees.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


class SparseC3(nn.Module):
    """C3: 16 maps, each a 5×5 convolution over the S2 maps that table I gives it (1,516)."""

    def __init__(self) -> None:
        super().__init__()
        self.maps = nn.ModuleList(nn.Conv2d(len(ins), 1, 5) for ins in C3_TABLE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [conv(x[:, ins]) for conv, ins in zip(self.maps, C3_TABLE, strict=True)], 1
        )


class EuclideanRBF(nn.Module):
    """The output layer: each class scores −Σ (x − wᵢ)², wᵢ a fixed ±1 code (not trained).

    The paper draws the codes as 7×12 bitmaps of the characters "by hand"; random ±1 codes,
    fixed by a seed, stand in for them here.
    """

    def __init__(self, features: int = 84, classes: int = 10) -> None:
        super().__init__()
        codes = torch.randint(0, 2, (classes, features), generator=torch.Generator().manual_seed(0))
        self.register_buffer("centres", codes.float() * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x[:, None, :] - self.centres) ** 2).sum(-1)  # N x classes: larger is closer


class LeNet1998(nn.Module):
    """LeNet-5 as LeCun et al. (1998, §II-B) built it: 60,000 trainable parameters, 32×32 input.

    Scaled tanh instead of ReLU, trainable subsampling instead of max-pooling, a sparsely
    connected C3, a convolution C5 that covers its whole 5×5 input, and Euclidean RBF outputs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # C1: 6 x 28 x 28
            ScaledTanh(),
            Subsampling(6),  # S2: 6 x 14 x 14
            ScaledTanh(),
            SparseC3(),  # C3: 16 x 10 x 10
            ScaledTanh(),
            Subsampling(16),  # S4: 16 x 5 x 5
            ScaledTanh(),
            nn.Conv2d(16, 120, 5),  # C5: 120 x 1 x 1
            ScaledTanh(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(120, 84),  # F6
            ScaledTanh(),
            EuclideanRBF(84, 10),  # OUTPUT
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class AlexNet2012(nn.Module):
    """AlexNet as in Krizhevsky et al. 2012: 96 first filters, two towers, 227×227 input.

    The two GPUs of the paper appear as groups=2 in conv2, conv4 and conv5, whose filters only
    see the maps of their own GPU; conv3 and the linear layers see both (§3.2, Fig. 2).
    Response normalisation follows ReLU in conv1 and conv2 (§3.3): b = a / (k + α Σ a²)^β over
    n = 5 neighbouring maps, k = 2, α = 10⁻⁴, β = 0.75. PyTorch's LocalResponseNorm divides its
    `alpha` by `size` (it averages the squares), so the paper's α is alpha = 5 × 10⁻⁴ here.
    Dropout drops the outputs of the first two linear layers (§4.2: "in the first two
    fully-connected layers"), after their ReLU; torchvision's alexnet() drops their inputs
    instead (pool5's and fc6's outputs). torchvision's docs cite "One weird trick" (Krizhevsky
    2014), whose one-tower net has 64, 192, 384, 384, 256 filters (its footnote 1); torchvision
    has 256 in conv4, taken from Krizhevsky's one-GPU cuda-convnet2 model (pytorch/vision#463).
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 96 x 55 x 55
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),  # α = 10⁻⁴ × 5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 96 x 27 x 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # 256 x 27 x 27
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),  # α = 10⁻⁴ × 5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 13 x 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),  # 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),  # 256 x 13 x 13
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 256 x 6 x 6
        )
        self.classifier = nn.Sequential(  # dropout on the outputs of fc6 and fc7 (§4.2)
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x 256 x 6 x 6
        return self.classifier(torch.flatten(x, 1))


def activations(model: nn.Module, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """The outputs of the named submodules (e.g. "features.0") for input batch `x`, on the CPU."""
    named = dict(model.named_modules())
    unknown = [name for name in layers if name not in named]
    if unknown:
        raise KeyError(f"{type(model).__name__} has no layer {unknown}; it has {list(named)[1:]}")
    found: dict[str, torch.Tensor] = {}
    # A copy at once: an in-place ReLU after the layer would otherwise change what was kept.
    hooks = [
        named[name].register_forward_hook(
            lambda _m, _i, out, name=name: found.__setitem__(
                name, out.detach().to("cpu", copy=True)
            )
        )
        for name in layers
    ]
    try:
        with config.evaluating(model) as dev:
            model(x.to(dev))
    finally:
        for hook in hooks:
            hook.remove()
    return found


_SAVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def checkpoint_path(name: str) -> Path:
    """Where save_trained keeps the weights called `name`: a plain name, inside the folder."""
    folder = config.cache_dir() / "models"
    if not _SAVED_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a name for saved weights: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (it becomes a file in "
            f"{folder}, and may not point elsewhere)."
        )
    return folder / f"{name}.pt"


# The cache folders already reported as unwritable: each is reported once per kernel.
_UNWRITABLE_REPORTED: set[Path] = set()


def save_trained(model: nn.Module, name: str, *, extra: dict | None = None) -> Path | None:
    """Save `model`'s weights under `name`, with whether fit() finished its training.

    `extra` is kept beside them (plain numbers, strings, lists and dicts only: the file is
    read back with weights_only=True); load_trained_record returns it. The file is written
    through config.atomic_file, so two kernels saving at once, or a symlink planted in a shared
    cache, cannot damage it. A cache folder that can't be written (read-only, or a file) loses
    nothing: the model stays as it is in memory, one note names the folder and
    COURSE_CACHE_DIR, and None is returned instead of the path.
    """
    path = checkpoint_path(name)
    history = getattr(model, "fit_history", None)
    record = {
        "course_utils": 1,
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},  # loads anywhere
        "finished": history.finished if history is not None else True,
        "epochs": history.epochs if history is not None else 0,
        "planned_epochs": history.planned_epochs if history is not None else 0,
        "extra": dict(extra or {}),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with config.atomic_file(path) as out:
            torch.save(record, out)
    except OSError as err:
        folder = path.parent
        if folder not in _UNWRITABLE_REPORTED:
            _UNWRITABLE_REPORTED.add(folder)
            config.warn(
                f"Trained weights are not cached: the folder {folder} cannot be written "
                f"({config.short_error(err)}). The trained model is kept in memory for this "
                "session; to cache runs, set COURSE_CACHE_DIR to a folder you can write to."
            )
        return None
    return path


def load_trained(model: nn.Module, name: str) -> bool:
    """Load the weights saved as `name` into `model`; False when none were saved.

    Loaded with weights_only=True: a file planted in the cache cannot run code. Weights whose
    training was interrupted load, with one note saying so.
    """
    return load_trained_record(model, name) is not None


def load_trained_record(model: nn.Module, name: str) -> dict | None:
    """load_trained, returning what was saved beside the weights (None when nothing was).

    The record: finished, epochs, planned_epochs and extra (save_trained's `extra`; {} for
    files saved without one). A damaged file raises RuntimeError naming it, as load_trained.
    """
    path = checkpoint_path(name)
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        record = saved if "course_utils" in saved else {"state_dict": saved, "finished": True}
        model.load_state_dict(record["state_dict"])
    except Exception as err:
        raise RuntimeError(
            f"The saved weights {path} cannot be loaded into {type(model).__name__} "
            f"({config.short_error(err)}). Delete {path} and train again."
        ) from err
    if not record["finished"]:
        config.warn(
            f"The {type(model).__name__} saved as {name!r} stopped after {record['epochs']} of "
            f"{record['planned_epochs']} epochs: its training was interrupted. Run its training "
            "again to the end for the numbers the notebooks expect."
        )
    return {
        "finished": record["finished"],
        "epochs": record.get("epochs", 0),
        "planned_epochs": record.get("planned_epochs", 0),
        "extra": record.get("extra", {}),
    }


# --- pretrained networks, through torchvision's weights enums ---------------------------------

# name -> the weights used by the course (torchvision's best ImageNet-1K weights for each).
PRETRAINED = {
    "alexnet": "AlexNet_Weights.IMAGENET1K_V1",
    "vgg16": "VGG16_Weights.IMAGENET1K_V1",
    "vgg19": "VGG19_Weights.IMAGENET1K_V1",
    "googlenet": "GoogLeNet_Weights.IMAGENET1K_V1",
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",
    "resnext50_32x4d": "ResNeXt50_32X4D_Weights.IMAGENET1K_V2",
}
# Without weights, build the model as torchvision's builder does with them (it sets these
# itself when given weights, and refuses them as arguments then).
_UNTRAINED_KWARGS = {
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": False}
}


class UnknownModelError(config.CourseError, ValueError):
    """A model name that pretrained() does not know; the message lists the valid ones."""


class WeightsError(config.CourseError, RuntimeError):
    """Pretrained weights could not be had, or the cached file is damaged (message says which)."""


def build(name: str) -> nn.Module:
    """torchvision's `name`, randomly initialised, shaped as its pretrained weights expect."""
    import torchvision

    weights_for(name)  # a clear error for unknown names
    return torchvision.models.get_model(name, weights=None, **_UNTRAINED_KWARGS.get(name, {}))


def weights_for(name: str):
    """torchvision's weights enum member that the course uses for `name`."""
    import torchvision

    if name not in PRETRAINED:
        raise UnknownModelError(f"Unknown model {name!r}. Choose one of: {', '.join(PRETRAINED)}.")
    return torchvision.models.get_weight(PRETRAINED[name])


def weights_file(name: str) -> Path:
    """Where torch caches the weights of `name`: $TORCH_HOME/hub/checkpoints/<file>.

    <file> is the last part of the URL's path, as torch hub names it.
    """
    url = weights_for(name).url
    return config.torch_home() / "hub" / "checkpoints" / Path(urlsplit(url).path).name


# torchvision's builders for these load weights that hold auxiliary classifiers, then drop them.
_AUX_HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def hash_prefix(path: Path) -> str | None:
    """The SHA-256 prefix a weights file's name carries: the hex after its last '-'.

    torch hub's rule (its check_hash): "resnet18-f37072fd.pth" says its SHA-256 starts with
    f37072fd. None when the name carries none.
    """
    match = re.search(r"-([0-9a-f]+)\.[^-]*$", path.name)
    return match.group(1) if match else None


_SHA256_SEEN: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """The file's SHA-256, remembered while its size and modification time stay the same."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_SEEN:
        _SHA256_SEEN[key] = _hash_file(path)
    return _SHA256_SEEN[key]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_ok(path: Path) -> bool:
    """True when a weights file's SHA-256 starts with the prefix its name carries.

    A file whose name carries no prefix passes if it is not empty.
    """
    prefix = hash_prefix(path)
    return _sha256(path).startswith(prefix) if prefix else path.stat().st_size > 0


def _damaged(name: str, path: Path, why: str) -> WeightsError:
    return WeightsError(
        f"The cached weights file {path} for {name} is damaged or incomplete ({why}). "
        f"Delete it and run `python -m course_utils.prefetch` (or call "
        f"pretrained({name!r}) again online) to download it afresh."
    )


def _load_weights_file(name: str, path: Path) -> nn.Module:
    """torchvision's `name` with the weights in `path`, checked before they are trusted.

    The file's SHA-256 must start with the prefix its name carries, and it is unpickled with
    weights_only=True: a file planted in a shared $TORCH_HOME cannot run code. torchvision's own
    loader unpickles with weights_only=False. Raises WeightsError naming the file otherwise.
    """
    import torchvision

    prefix = hash_prefix(path)
    if prefix is not None:
        digest = _sha256(path)
        if not digest.startswith(prefix):
            raise _damaged(
                name,
                path,
                f"its SHA-256 starts with {digest[: len(prefix)]}, not with {prefix} as its name "
                "says: it is not the file torchvision published",
            )
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol: the error below says it
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's own damaged-archive and unpickling errors
        why = config.short_error(err)
        if isinstance(err, pickle.UnpicklingError):  # torch's message is about torch.load
            why = (
                "it holds objects other than tensors, so it was not unpickled"
                if "Unsupported global" in str(err)
                else "it is not a readable weights file"
            )
        raise _damaged(name, path, why) from err
    heads = _AUX_HEADS.get(name, ())
    if heads:  # as torchvision's builder: load with the auxiliary classifiers, then drop them
        kwargs = {**_UNTRAINED_KWARGS.get(name, {}), "aux_logits": True}
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    else:
        model = build(name)
    try:
        model.load_state_dict(state)
    except Exception as err:  # not a state dict, or one of another model
        raise _damaged(name, path, config.short_error(err)) from err
    if heads:
        model.aux_logits = False
        for head in heads:
            setattr(model, head, None)
    return model


def _download(weights, path: Path) -> None:
    """Download `weights` to `path` within config.download's deadlines, without loading them.

    Into a temporary file, checked against the SHA-256 prefix in the file's name, then renamed:
    a broken, stalled or forged download never takes the cached name.
    """
    size = round(weights.meta.get("_file_size", 0) * 2**20) or None  # torchvision gives MiB
    config.download(weights.url, path, size=size, sha256=hash_prefix(path))


def pretrained(name: str, *, strict: bool = False) -> nn.Module:
    """torchvision's `name` with ImageNet weights, in eval mode, with `.is_pretrained`.

    Weights come from the cache under $TORCH_HOME, or are downloaded there. When they can't be
    had, strict=False reports it once (a note in a notebook, a CourseWarning elsewhere) and
    returns random weights (is_pretrained False); strict=True raises WeightsError. A cached file
    is checked against the SHA-256 prefix in its name and read with torch.load(weights_only=True),
    so a file planted in a shared $TORCH_HOME runs no code; a damaged, truncated or foreign
    file always raises, naming it. The model is on the CPU: `.to(device)` it.
    """
    return load_pretrained(name, strict=strict)


def load_pretrained(name: str, *, strict: bool = False, report: bool = True) -> nn.Module:
    """pretrained(), for callers that show the missing weights themselves (report=False)."""
    weights = weights_for(name)
    path = weights_file(name)
    cached = path.is_file()
    own = config.own_copy(config.torch_home(), "torch")
    if not cached and own is not None and config.unwritable(path.parent):
        # A class's read-only TORCH_HOME without these weights: this user's own copy instead.
        path = own / "hub" / "checkpoints" / path.name
        cached = path.is_file()
    model = None
    reason = ""
    if config.is_offline() and not cached:
        reason = "COURSE_OFFLINE is set"
    elif not cached and not config.reachable(weights.url):
        # Checked first, so that no "Downloading: ..." line announces a download that can't be.
        reason = f"the download failed: {urlsplit(weights.url).hostname} cannot be reached"
    elif not cached:
        try:
            _download(weights, path)
        except Exception as err:  # DownloadError: refused, stalled, too slow, wrong hash...
            reason = f"the download failed ({config.short_error(err)})"
    if not reason:
        model = _load_weights_file(name, path)  # cached or just downloaded: raises if bad
    if model is None:
        missing = f"No pretrained weights for {name}: {path} is not cached and {reason}."
        fix = (
            f"Run `python -m course_utils.prefetch` once online to fetch them "
            f"({weights.meta.get('_file_size', 0):.0f} MB)."
        )
        if strict:
            raise WeightsError(f"{missing} {fix}")
        if report:
            config.warn(
                f"{missing} Using UNTRAINED (random) weights: its predictions mean nothing. {fix}",
                stacklevel=3,
            )
        model = build(name)
    model.eval()
    model.is_pretrained = not reason
    model.weights = weights
    model.course_name = name
    return model


# --- classifying a photo -------------------------------------------------------------------


def slide_normalize(image, size: int | None = 224) -> torch.Tensor:
    """The slide's normalisation, 0.5 + 0.5 (img − mean) / std, of a PIL image.

    Mean and std are those of the whole image, one number each, not ImageNet's per channel.
    The slide feeds the photo at its own size (size=None); the course squashes it to
    size×size by default, to compare it with the weights' own 224×224 input.
    """
    from torchvision.transforms.v2 import functional as F

    x = F.to_dtype(F.to_image(image), torch.float32, scale=True)
    if size is not None:
        x = F.resize(x, [size, size], antialias=True)
    return 0.5 + 0.5 * (x - x.mean()) / x.std()


class Prediction:
    """The top classes for one image, printed as on the slide."""

    def __init__(
        self,
        probabilities: torch.Tensor,
        classes: list[str],
        *,
        k: int,
        model_name: str,
        is_pretrained: bool,
    ) -> None:
        self.probabilities = probabilities
        values, indices = probabilities.topk(k)
        self.top = [(classes[i], float(v)) for v, i in zip(values, indices.tolist(), strict=True)]
        self.model_name, self.is_pretrained = model_name, is_pretrained

    @property
    def banner(self) -> str:
        return "" if self.is_pretrained else "UNTRAINED WEIGHTS: these scores mean nothing"

    def __repr__(self) -> str:
        head = f"{self.model_name}" + (f" ({self.banner})" if self.banner else "")
        rows = [f"{p:8.4f}  {name}" for name, p in self.top]
        return "\n".join([head, *rows])


def _as_rgb(image):
    """A PIL image of any mode as the upright RGB image it shows; anything else unchanged.

    load_image's conversion (images.upright_rgb): EXIF orientation applied, greyscale copied to
    three channels, palettes expanded, 16-bit scaled to 8 bits, and transparency composited over
    white, as a page or a viewer shows a transparent PNG (over black, a dark object with a clear
    background would vanish); a 60000×1 strip is refused rather than resized to gigabytes.
    """
    from PIL import Image

    from .images import upright_rgb

    return upright_rgb(image) if isinstance(image, Image.Image) else image


def classify(model: nn.Module, image, *, k: int = 15, preprocess=None) -> Prediction:
    """The top-`k` ImageNet classes for a PIL image, with the weights' own transforms.

    Any PIL mode is classified as the RGB image it shows (RGBA, greyscale, palette, 16-bit, as
    Image.open gives them for many PNGs): transparency over white, as load_image does.
    `preprocess` maps the RGB image to a 3×224×224 tensor; by default the weights' transforms()
    (resize, centre crop, ImageNet mean and std). Pass slide_normalize for the slide's.
    """
    from .data import imagenet_classes

    weights = getattr(model, "weights", None)
    if preprocess is None:
        if weights is None:
            raise ValueError("This model has no .weights: pass preprocess= explicitly.")
        preprocess = weights.transforms()
    x = preprocess(_as_rgb(image))
    if not torch.is_tensor(x):
        raise ValueError(f"preprocess returned {type(x).__name__}, not a tensor")
    with config.evaluating(model) as dev:
        probs = torch.softmax(model(x.unsqueeze(0).to(dev)), dim=1)[0].cpu()
    classes = weights.meta["categories"] if weights is not None else imagenet_classes()
    return Prediction(
        probs,
        classes,
        k=k,
        model_name=getattr(model, "course_name", type(model).__name__),
        is_pretrained=getattr(model, "is_pretrained", True),
    )


# --- the lecture's families, from torchvision's weights metadata (offline) ----------------

FAMILIES = {
    "AlexNet": ["alexnet"],
    "VGG": ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"],
    "GoogLeNet / Inception": ["googlenet", "inception_v3"],
    "ResNet": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
    "ResNeXt": ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"],
    "wide ResNet": ["wide_resnet50_2", "wide_resnet101_2"],
}


def recipe(weights) -> str:
    """How torchvision trained these weights, from their docs: "new" or "original".

    "new" is torchvision's 2021 training recipe (longer training, stronger augmentation; its
    docs say "new training recipe"), whatever the weights are called: resnext101_64x4d's only
    weights, named V1, were trained with it. "original" covers weights that reproduce the paper
    with a simple recipe and weights ported from the paper.
    """
    return "new" if "new training recipe" in weights.meta.get("_docs", "") else "original"


def zoo() -> list[dict]:
    """Every ImageNet-1K weights of the lecture's families: accuracy, multiply-adds, parameters.

    All from torchvision's weights metadata, so it needs no download. torchvision calls the
    multiply-adds "GFLOPS" (`_ops`); count_macs agrees with them. `size` is the input side the
    numbers are for (the weights' crop size: 299 for inception_v3, 224 for the others).
    """
    import torchvision

    rows = []
    for family, names in FAMILIES.items():
        for name in names:
            for weights in torchvision.models.get_model_weights(name):
                metrics = weights.meta["_metrics"].get("ImageNet-1K")
                if metrics is None or not weights.name.startswith("IMAGENET1K_"):
                    continue
                if metrics["acc@1"] != metrics["acc@1"]:  # NaN: vgg16's FEATURES, no classifier
                    continue
                rows.append(
                    dict(
                        name=name,
                        family=family,
                        weights=str(weights),
                        version=weights.name.removeprefix("IMAGENET1K_"),
                        recipe=recipe(weights),
                        size=weights.transforms().crop_size[0],
                        top1=metrics["acc@1"],
                        top5=metrics["acc@5"],
                        macs=weights.meta["_ops"],
                        params=weights.meta["num_params"] / 1e6,
                    )
                )
    return rows
