"""doctor(): one call at the start of a lab session that says what works and what is missing.

A face (imports anything below it): for a student or instructor before any notebook (01-09).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
from dataclasses import dataclass, field

import torch

from . import data, download, env, show, weights

PACKAGES = (
    "torch",
    "torchvision",
    "ipywidgets",
    "matplotlib",
    "jupyterlab",
    "mlxtend",
    "scikit-image",
    "pillow",
    "course_utils",
)


@dataclass
class Diagnosis:
    """What doctor() found; printed as a short report."""

    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    threads: str = ""
    online: bool = False
    mnist: bool = False
    weights: dict[str, bool] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = ["Versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items())]
        lines.append(f"Device: {self.device}")
        if self.threads:
            lines.append(f"Torch threads: {self.threads}")
        lines.append(f"Network: {'reachable' if self.online else 'not reachable (offline)'}")
        lines.append(f"MNIST: {'cached' if self.mnist else 'not cached'} in {env.data_dir()}")
        cached = [n for n, ok in self.weights.items() if ok]
        lines.append(
            f"Weights cache {weights.weights_folder()}: "
            f"{len(cached)} of {len(self.weights)} models"
            + (f" ({', '.join(cached)})" if cached else "")
        )
        if self.missing:
            lines.append("Missing:")
            lines += [f"  - {m}" for m in self.missing]
        else:
            lines.append("Nothing is missing: every notebook runs at full strength.")
        return "\n".join(lines)

    __repr__ = __str__


def describe_device(dev: torch.device) -> str:
    """The device, and whether it can really be used here: a forced one may not be."""
    forced = " (set by COURSE_DEVICE)" if os.environ.get("COURSE_DEVICE") else ""
    try:
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("torch.cuda.is_available() is False: no driver or no GPU")
            return f"{dev}{forced} ({torch.cuda.get_device_name(dev)})"
        if dev.type == "mps":
            mps = getattr(torch.backends, "mps", None)
            if mps is None or not mps.is_available():
                raise RuntimeError("torch.backends.mps.is_available() is False")
            return f"{dev}{forced} (Apple GPU)"
        if dev.type == "cpu":
            return f"cpu{forced} ({torch.get_num_threads()} threads; no GPU found)"
        torch.zeros(1, device=dev)  # any other device: can a tensor live there?
        return f"{dev}{forced}"
    except Exception as err:  # noqa: BLE001 - the point is to report it, not to crash
        return (
            f"{dev}{forced}, NOT USABLE here ({show.short_error(err)}): unset COURSE_DEVICE "
            "or set it to cpu"
        )


def doctor(*, show: bool = True) -> Diagnosis:
    """Print versions, the device, the network, the caches, and what is missing."""
    d = Diagnosis()
    d.versions["python"] = platform.python_version()
    for name in PACKAGES:
        try:
            d.versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            d.missing.append(f"the package {name}: pip install -r requirements.txt")
    try:
        d.device = describe_device(env.device())
    except env.DeviceSettingError as err:  # a misspelt or missing COURSE_DEVICE: say so
        d.device = f"{os.environ.get('COURSE_DEVICE')} (set by COURSE_DEVICE), NOT USABLE: {err}"
    d.threads = (
        f"{torch.get_num_threads()} ({env.threads_reason or 'torch default'}; "
        "COURSE_THREADS overrides)"
    )
    d.online = download.reachable("download.pytorch.org")
    d.mnist = data.MNIST_FILES.present(env.data_dir())
    # Checked as pretrained() checks them: a damaged or truncated file is not "cached".
    d.weights = {}
    for name in weights.PRETRAINED:
        path, mine = weights.weights_file(name), weights.own_file(name)
        if not path.is_file() and mine is not None and mine.is_file():
            path = mine  # beside a course pack that lacks it: your own copy, as pretrained() reads
        d.weights[name] = path.is_file() and download.checksum_ok(path)
        if path.is_file() and not d.weights[name]:
            d.missing.append(
                f"{name}: the cached file {path} is damaged (its checksum fails): delete it and "
                + download.prefetch_hint(name)
            )
    if not d.mnist:
        d.missing.append(
            "full MNIST (the notebooks use 5,000 shipped digits instead): "
            + download.prefetch_hint()
        )
    absent = [n for n, ok in d.weights.items() if not ok]
    if absent:
        some = absent if len(absent) < len(d.weights) else []  # all of them: the whole pack
        d.missing.append(
            f"pretrained weights for {', '.join(absent)} "
            f"(predictions will say 'untrained weights'): {download.prefetch_hint(*some)}"
        )
    if show:
        print(d)
    return d


if __name__ == "__main__":
    doctor()
