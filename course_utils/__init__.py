"""Helpers for the notebooks of the lecture "Networks for image classification".

Import it once, as the notebooks do: ``import course_utils as cu``.
"""

from . import (
    anatomy,
    augment,
    blocks,
    counting,
    data,
    diagrams,
    download,
    env,
    fcn,
    images,
    lab,
    nets,
    plots,
    race,
    receptive,
    show,
    train,
    weights,
)
from .anatomy import activations, evaluating, model_device
from .augment import (
    IMAGENET_PCA_EIGENVALUES,
    IMAGENET_PCA_EIGENVECTORS,
    PCAColorAugmentation,
    ten_crop_predict,
)
from .counting import count_macs, count_parameters, layer_table
from .data import imagenet_classes, load_dataset, load_mnist
from .doctor import doctor
from .env import CourseError, device, seed_everything
from .fcn import convolutionize
from .images import ImageLoadError, load_image, sample_images
from .nets import LeNet5
from .plots import present
from .train import History, evaluate, fit, predict
from .weights import classify, pretrained

# Threads that fit the CPUs this kernel really has (affinity, cgroup quota, other work): torch's
# default oversubscribes a busy or limited machine. COURSE_THREADS overrides.
env.fit_threads()


def __getattr__(name: str):
    # widgets pulls in ipywidgets; load it on first use so that scripts stay light. exercises
    # too, so that `python -m course_utils.exercises` runs it once, as __main__.
    import importlib

    if name == "widgets":
        return importlib.import_module(".widgets", __name__)
    if name == "exercises":
        return importlib.import_module(".exercises", __name__)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


__all__ = [
    "CourseError",
    "IMAGENET_PCA_EIGENVALUES",
    "IMAGENET_PCA_EIGENVECTORS",
    "History",
    "ImageLoadError",
    "PCAColorAugmentation",
    "LeNet5",
    "activations",
    "anatomy",
    "augment",
    "blocks",
    "classify",
    "count_macs",
    "convolutionize",
    "count_parameters",
    "counting",
    "data",
    "device",
    "diagrams",
    "download",
    "env",
    "doctor",
    "evaluate",
    "evaluating",
    "exercises",  # noqa: F822 - loaded on first use by __getattr__ above
    "fcn",
    "fit",
    "imagenet_classes",
    "lab",
    "images",
    "load_image",
    "layer_table",
    "load_dataset",
    "load_mnist",
    "model_device",
    "nets",
    "plots",
    "predict",
    "race",
    "receptive",
    "present",
    "pretrained",
    "sample_images",
    "seed_everything",
    "show",
    "ten_crop_predict",
    "train",
    "weights",
    "widgets",  # noqa: F822 - loaded on first use by __getattr__ above
]
