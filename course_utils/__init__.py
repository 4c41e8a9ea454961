"""Helpers for the notebooks of the lecture "Networks for image classification".

Import it once, as the notebooks do: ``import course_utils as cu``.
"""

from . import augment, config, counting, data, models, plots, train
from .config import device, seed_everything
from .counting import count_macs, count_parameters, layer_table
from .data import imagenet_classes, load_mnist
from .models import LeNet5, activations
from .train import History, evaluate, fit, predict


def __getattr__(name: str):
    # widgets pulls in ipywidgets; load it on first use so that scripts stay light.
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


__all__ = [
    "History",
    "LeNet5",
    "activations",
    "augment",
    "config",
    "count_macs",
    "count_parameters",
    "counting",
    "data",
    "device",
    "evaluate",
    "fit",
    "imagenet_classes",
    "layer_table",
    "load_mnist",
    "models",
    "plots",
    "predict",
    "seed_everything",
    "train",
    "widgets",
]
