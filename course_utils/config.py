"""Environment: offline detection, data and cache folders, the device, seeds."""

from __future__ import annotations

import contextlib
import html
import os
import random
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

# Where the course lives; the Colab setup cells and the badges use this one value.
REPO_URL = "https://github.com/cnn-course/image-classification"

# A failed download must fall back at once, never hang a live lecture.
NETWORK_TIMEOUT_S = 5.0


def data_dir() -> Path:
    """The folder for datasets: $COURSE_DATA_DIR, else ~/.cache/course_utils/data."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils" / "data"


def cache_dir() -> Path:
    """The folder for trained models and results: $COURSE_CACHE_DIR, else ~/.cache/course_utils."""
    env = os.environ.get("COURSE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils"


def torch_home() -> Path:
    """Where torchvision caches weights: $TORCH_HOME when set, torch's default otherwise."""
    return Path(torch.hub.get_dir()).parent


def is_offline() -> bool:
    """True when $COURSE_OFFLINE is set to 1/true/yes: skip every download attempt."""
    return os.environ.get("COURSE_OFFLINE", "").lower() in {"1", "true", "yes"}


@contextlib.contextmanager
def network_timeout(seconds: float = NETWORK_TIMEOUT_S) -> Iterator[None]:
    """Make every socket opened inside give up after `seconds` instead of hanging."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def short_error(err: BaseException) -> str:
    """The most telling line of an exception: its last non-empty line, with its type."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1]}" if lines else type(err).__name__


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, classic Notebook, Colab, nbval)."""
    if "google.colab" in sys.modules:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def device() -> torch.device:
    """The fastest device here: CUDA, then Apple MPS, then CPU ($COURSE_DEVICE overrides)."""
    forced = os.environ.get("COURSE_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) so that a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return seed


def note(text: str) -> None:
    """Show a short, visible note: a coloured box in a notebook, a plain line elsewhere."""
    if in_notebook():
        from IPython.display import HTML, display

        display(
            HTML(
                '<div style="border-left:4px solid #e69f00;background:#fff8e6;'
                f'color:#222;padding:6px 10px;margin:4px 0">{html.escape(text)}</div>'
            )
        )
    else:
        print(f"Note: {text}", flush=True)
