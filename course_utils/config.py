"""Environment: offline detection, data and cache folders, the device, seeds."""

from __future__ import annotations

import contextlib
import html
import itertools
import os
import random
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch
from torch import nn

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


# network_timeout's bookkeeping: the process-wide default is shared by every thread, so the
# contexts now open are counted, and the timeout from before the first is put back by the last.
_timeout_lock = threading.Lock()
_timeouts_open: list[float] = []
_timeout_before: float | None = None


@contextlib.contextmanager
def network_timeout(seconds: float = NETWORK_TIMEOUT_S) -> Iterator[None]:
    """Make every socket opened inside give up after `seconds` instead of hanging.

    The setting is process-wide (socket.setdefaulttimeout). Contexts may overlap, in one thread
    or several: while more than one is open the shortest of their timeouts applies, and the
    timeout from before the first one is restored only when the last one closes.
    """
    global _timeout_before
    with _timeout_lock:
        if not _timeouts_open:
            _timeout_before = socket.getdefaulttimeout()
        _timeouts_open.append(seconds)
        socket.setdefaulttimeout(min(_timeouts_open))
    try:
        yield
    finally:
        with _timeout_lock:
            _timeouts_open.remove(seconds)
            socket.setdefaulttimeout(min(_timeouts_open) if _timeouts_open else _timeout_before)


def reachable(url_or_host: str, timeout: float = 2.0) -> bool:
    """True when a connection to the address's host (port 443 unless the URL says) opens in time.

    Checked before a download, so that a machine without network skips the attempt at once
    instead of announcing a download that cannot happen. COURSE_OFFLINE=1 answers False.
    """
    if is_offline():
        return False
    parts = urlsplit(url_or_host if "//" in url_or_host else f"//{url_or_host}")
    port = parts.port or (80 if parts.scheme == "http" else 443)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


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


def model_device(model: nn.Module) -> torch.device:
    """The device `model` lives on: its parameters', else its buffers', else the CPU."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[torch.device]:
    """Run `model` for inference: eval mode and no gradients inside, the model's device yielded.

    On the way out, every submodule gets back its own mode (a frozen BatchNorm stays frozen),
    also when the body raises. The functions that take a model all run through this, then move
    their inputs to the yielded device and return their results on the CPU.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield model_device(model)
    finally:
        for module, training in modes:
            module.training = training


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) so that a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return seed


class CourseWarning(UserWarning):
    """Something the student must know about, such as untrained weights standing in."""


def warn(text: str, *, stacklevel: int = 2) -> None:
    """Report a problem once: a coloured note in a notebook, a CourseWarning elsewhere."""
    if in_notebook():
        note(text)
    else:
        warnings.warn(text, CourseWarning, stacklevel=stacklevel + 1)


class Progress:
    """A progress bar that a saved notebook keeps in its final state.

    In a notebook it is HTML shown through a display handle, which each update replaces, so
    the executed copy holds the last state (a tqdm widget would save as "0%"). Elsewhere it is
    tqdm's text bar. Updates are shown at most every `interval` seconds, and at close.
    """

    def __init__(self, total: int, *, desc: str, unit: str, interval: float = 0.25) -> None:
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
        self.shown = self.start  # the first display, just below
        self.handle = self.bar = None
        if in_notebook():
            from IPython.display import display

            self.handle = display(self._bundle(), raw=True, display_id=True)
        else:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, mininterval=interval)

    def _text(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = f", {self.n / elapsed:,.0f} {self.unit}/s" if elapsed > 0 and self.n else ""
        done = f"{self.n / self.total:.0%}" if self.total else "100%"
        tail = f", {self.postfix}" if self.postfix else ""
        counts = f"{self.n:,}/{self.total:,} {self.unit}, {elapsed:.1f} s{rate}{tail}"
        return f"{self.desc}: {done} ({counts})"

    def _bundle(self) -> dict:
        text = self._text()
        bar = (
            f'<progress value="{self.n}" max="{max(self.total, 1)}" '
            'style="width:320px;vertical-align:middle"></progress> '
            f"<span style='font-family:monospace'>{html.escape(text)}</span>"
        )
        return {"text/plain": text, "text/html": bar}

    def update(self, n: int = 1, *, postfix: str | None = None, force: bool = False) -> None:
        """Count `n` more steps; `postfix` replaces the text after the counts."""
        self.n += n
        if postfix is not None:
            self.postfix = postfix
        if self.bar is not None:
            if postfix is not None:
                self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(n)
        elif force or time.perf_counter() - self.shown >= self.interval:
            self.handle.update(self._bundle(), raw=True)
            self.shown = time.perf_counter()

    def close(self) -> None:
        """Show the final state."""
        if self.bar is not None:
            self.bar.close()
        else:
            self.handle.update(self._bundle(), raw=True)


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
