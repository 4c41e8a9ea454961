"""Weights: the course's trained checkpoints, torchvision's pretrained weights, and the model zoo.

A tool: it imports the ground, the downloads and images. `pretrained(name)` loads torchvision's
weights from the cache (untrained, loudly, when they can't be had); `save_trained` and
`load_trained` keep the networks that a notebook trains for a later one (01 for 04, 09's race);
`classify` runs a photo through a pretrained network (03, 04); `zoo` reads accuracy, size and
multiply-adds from the weights' metadata (08).
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import torch
from torch import nn

from . import anatomy, download, env, images, show

_SAVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def checkpoint_path(name: str) -> Path:
    """Where save_trained keeps the weights called `name`: a plain name, inside the folder."""
    folder = env.cache_dir() / "models"
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
    through env.atomic_file, so two kernels saving at once, or a symlink planted in a shared
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
        with env.atomic_file(path) as out:
            torch.save(record, out)
    except OSError as err:
        folder = path.parent
        if folder not in _UNWRITABLE_REPORTED:
            _UNWRITABLE_REPORTED.add(folder)
            show.warn(
                f"Trained weights are not cached: the folder {folder} cannot be written "
                f"({show.short_error(err)}). The trained model is kept in memory for this "
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
            f"({show.short_error(err)}). Delete {path} and train again."
        ) from err
    if not record["finished"]:
        show.warn(
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


class UnknownModelError(env.CourseError, ValueError):
    """A model name that pretrained() does not know; the message lists the valid ones."""


class WeightsError(env.CourseError, RuntimeError):
    """Pretrained weights could not be had, or the cached file is damaged (message says which)."""


def untrained(name: str) -> nn.Module:
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


def weights_folder(home: Path | None = None) -> Path:
    """The folder of cached weights under `home` (default $TORCH_HOME): home/hub/checkpoints,
    as torch hub keeps them. pretrained() also passes this user's own copy (env.own_copy)."""
    return (env.torch_home() if home is None else home) / "hub" / "checkpoints"


def weights_file(name: str) -> Path:
    """Where torch caches the weights of `name`: weights_folder()/<file>.

    <file> is the last part of the URL's path, as torch hub names it.
    """
    return weights_folder() / Path(urlsplit(weights_for(name).url).path).name


def own_file(name: str) -> Path | None:
    """This user's own copy of the weights of `name` (env.own_copy), where pretrained() reads
    and downloads them when a read-only TORCH_HOME (a class's course pack) lacks them; None when
    TORCH_HOME is that copy already."""
    own = env.own_copy(env.torch_home(), "torch")
    return None if own is None else weights_folder(own) / weights_file(name).name


# torchvision's builders for these load weights that hold auxiliary classifiers, then drop them.
_AUX_HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def _damaged(name: str, path: Path, why: str) -> WeightsError:
    return WeightsError(
        f"The cached weights file {path} for {name} is damaged or incomplete ({why}). "
        f"Delete it and download it afresh: {download.prefetch_hint(name)}, or call "
        f"pretrained({name!r}) again online."
    )


def _load_weights_file(name: str, path: Path) -> nn.Module:
    """torchvision's `name` with the weights in `path`, checked before they are trusted.

    The file's SHA-256 must start with the prefix its name carries, and it is unpickled with
    weights_only=True: a file planted in a shared $TORCH_HOME cannot run code. torchvision's own
    loader unpickles with weights_only=False. Raises WeightsError naming the file otherwise.
    """
    import torchvision

    prefix = download.hash_prefix(path)
    if prefix is not None:
        digest = download._sha256(path)
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
        why = show.short_error(err)
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
        model = untrained(name)
    try:
        model.load_state_dict(state)
    except Exception as err:  # not a state dict, or one of another model
        raise _damaged(name, path, show.short_error(err)) from err
    if heads:
        model.aux_logits = False
        for head in heads:
            setattr(model, head, None)
    return model


def _download(weights, path: Path) -> None:
    """Download `weights` to `path` within download.download's deadlines, without loading them.

    Into a temporary file, checked against the SHA-256 prefix in the file's name, then renamed:
    a broken, stalled or forged download never takes the cached name.
    """
    size = round(weights.meta.get("_file_size", 0) * 2**20) or None  # torchvision gives MiB
    download.download(weights.url, path, size=size, sha256=download.hash_prefix(path))


def pretrained(name: str, *, strict: bool = False, report: bool = True) -> nn.Module:
    """torchvision's `name` with ImageNet weights, in eval mode, with `.is_pretrained`.

    Weights come from the cache under $TORCH_HOME, or are downloaded there. When they can't be
    had, strict=False reports it once (a note in a notebook, a CourseWarning elsewhere) and
    returns random weights (is_pretrained False); strict=True raises WeightsError. A cached file
    is checked against the SHA-256 prefix in its name and read with torch.load(weights_only=True),
    so a file planted in a shared $TORCH_HOME runs no code; a damaged, truncated or foreign
    file always raises, naming it. The model is on the CPU: `.to(device)` it. report=False
    leaves the missing weights for the caller to show (the explorers say it in their status).
    """
    weights = weights_for(name)
    path = weights_file(name)
    cached = path.is_file()
    mine = own_file(name)
    if not cached and mine is not None and env.unwritable(path.parent):
        # A class's read-only TORCH_HOME without these weights: this user's own copy instead.
        path, cached = mine, mine.is_file()
    model = None
    reason = ""
    if download.is_offline() and not cached:
        reason = "COURSE_OFFLINE is set"
    elif not cached and not download.reachable(weights.url):
        # Checked first, so that no "Downloading: ..." line announces a download that can't be.
        reason = f"the download failed: {urlsplit(weights.url).hostname} cannot be reached"
    elif not cached:
        try:
            _download(weights, path)
        except Exception as err:  # DownloadError: refused, stalled, too slow, wrong hash...
            reason = f"the download failed ({show.short_error(err)})"
    if not reason:
        model = _load_weights_file(name, path)  # cached or just downloaded: raises if bad
    if model is None:
        missing = f"No pretrained weights for {name}: {path} is not cached and {reason}."
        megabytes = weights.meta.get("_file_size", 0)
        fix = f"To fetch them ({megabytes:.0f} MB), {download.prefetch_hint(name)}."
        if strict:
            raise WeightsError(f"{missing} {fix}")
        if report:
            show.warn(
                f"{missing} Using UNTRAINED (random) weights: its predictions mean nothing. {fix}",
                stacklevel=3,
            )
        model = untrained(name)
    model.eval()
    model.is_pretrained = not reason
    model.weights = weights
    model.course_name = name
    return model


# --- classifying a photo -------------------------------------------------------------------


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
    x = preprocess(images._as_rgb(image))
    if not torch.is_tensor(x):
        raise ValueError(f"preprocess returned {type(x).__name__}, not a tensor")
    with anatomy.evaluating(model) as dev:
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

ZOO = {
    "AlexNet": ["alexnet"],
    "VGG": ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"],
    "GoogLeNet": ["googlenet", "inception_v3"],
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
    for family, names in ZOO.items():
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
