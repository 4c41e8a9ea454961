"""Helpers for the notebooks of the lecture "Networks for image classification".

Import it once, as the notebooks do: ``import course_utils as cu``.
"""

from . import (
    augment,
    blocks,
    config,
    counting,
    data,
    diagrams,
    families,
    fcn,
    images,
    models,
    plots,
    receptive,
    train,
)
from .augment import (
    IMAGENET_PCA_EIGENVALUES,
    IMAGENET_PCA_EIGENVECTORS,
    PCAColorAugmentation,
    ten_crop_predict,
)
from .config import CourseError, device, evaluating, model_device, seed_everything
from .counting import count_macs, count_parameters, layer_table
from .data import imagenet_classes, load_dataset, load_mnist
from .doctor import doctor
from .fcn import convolutionize
from .images import ImageLoadError, load_image, sample_images
from .models import LeNet5, activations, classify, pretrained
from .plots import present
from .train import History, evaluate, fit, predict

# Threads that fit the CPUs this kernel really has (affinity, cgroup quota, other work): torch's
# default oversubscribes a busy or limited machine. COURSE_THREADS overrides.
config.fit_threads()


def __getattr__(name: str):
    # widgets pulls in ipywidgets; load it on first use so that scripts stay light.
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
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
    "augment",
    "blocks",
    "classify",
    "config",
    "count_macs",
    "convolutionize",
    "count_parameters",
    "counting",
    "data",
    "device",
    "diagrams",
    "doctor",
    "evaluate",
    "evaluating",
    "families",
    "fcn",
    "fit",
    "imagenet_classes",
    "images",
    "load_image",
    "layer_table",
    "load_dataset",
    "load_mnist",
    "model_device",
    "models",
    "plots",
    "predict",
    "receptive",
    "present",
    "pretrained",
    "sample_images",
    "seed_everything",
    "ten_crop_predict",
    "train",
    "widgets",  # noqa: F822 - loaded on first use by __getattr__ above
]
