"""The machine a notebook runs on: folders, safe writes, the device, threads, seeds, errors.

The ground floor: it imports nothing from the package, and every other module may import it.
It serves every notebook (01-09) through `cu.device()`, `cu.seed_everything()` and the folders
that the course's caches and downloads use.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch

# Where the course lives; the Colab setup cells and the badges use this one value.
REPO_URL = "https://github.com/cnn-course/image-classification"


def data_dir() -> Path:
    """The folder for datasets: $COURSE_DATA_DIR, else ~/.cache/course_utils/data."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils" / "data"


def cache_dir() -> Path:
    """The folder for trained models and results: $COURSE_CACHE_DIR, else ~/.cache/course_utils."""
    env = os.environ.get("COURSE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils"


def own_copy(shared: Path, kind: str) -> Path | None:
    """Where this user keeps their own copy of `kind` ("data", "torch") when the shared folder
    `shared` (a class's read-only course pack) lacks a file and cannot be written: the same
    place under cache_dir(), which is under their home by default. None when that is `shared`
    itself, so there is nowhere else to go."""
    own = cache_dir() / kind
    return None if own.resolve() == Path(shared).expanduser().resolve() else own


def torch_home() -> Path:
    """Where torchvision caches weights: $TORCH_HOME when set, torch's default otherwise."""
    return Path(torch.hub.get_dir()).parent


DEVICE_NAMES = "cpu, cuda, cuda:N (the GPU's number) or mps"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(dest: str | Path, *, text: bool = False) -> Iterator[IO]:
    """Open a new file that becomes `dest` only when the block ends without an error.

    Every file the course writes goes through this, because cache and data folders may be
    shared by a whole class: the bytes go to a unique temporary file created in `dest`'s folder
    (tempfile.mkstemp: a new name, never an existing file or a planted symlink), are flushed to
    disk, then os.replace puts it under the real name in one step. A reader sees the old file
    or the whole new one, two kernels writing at once never collide, and a symlink planted at
    `dest` is replaced, never followed. The file gets the usual permissions (0666 less the
    umask), so a course pack prepared by an instructor is readable by the students.
    """
    import tempfile

    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        kind = {"mode": "w", "encoding": "utf-8", "newline": "\n"} if text else {"mode": "wb"}
        with os.fdopen(fd, **kind) as out:
            fd = -1  # closed with `out` from here on
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def unwritable(folder: Path) -> str:
    """Why `folder` can't be created or written to ("" when it can), found by creating and
    removing a uniquely named file in it: a fixed probe name could be a planted symlink."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write_test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or str(err)
    return ""


class CourseError(Exception):
    """The base of every error the course raises, so that `except cu.CourseError` catches them
    all. Each one also keeps the built-in base that says what kind of mistake it is (ValueError
    for a wrong value, OSError for a download, RuntimeError for damaged data)."""


class DeviceSettingError(CourseError, ValueError):
    """COURSE_DEVICE names no device, or one that this machine does not have."""


def forced_device(value: str) -> torch.device:
    """The device that COURSE_DEVICE=`value` asks for, checked: a clear message, not torch's."""
    fix = "set COURSE_DEVICE=cpu, or unset it to use the fastest device here"
    # The three a course uses, or another device type that torch itself knows (xpu, or the
    # lazy device that tests/test_devices.py uses): "gpu", "CPU" or " cpu" are refused here.
    dev = None
    if re.fullmatch(r"[a-z_]+(:\d+)?", value):
        with contextlib.suppress(RuntimeError, ValueError):
            dev = torch.device(value)
    if dev is None:
        raise DeviceSettingError(
            f"COURSE_DEVICE={value!r} is not a device name: set it to one of {DEVICE_NAMES}, "
            "in lower case without spaces, or unset it to use the fastest device here."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceSettingError(
            f"COURSE_DEVICE={value!r}, but torch finds no CUDA GPU here "
            f"(torch.cuda.is_available() is False): {fix}."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceSettingError(
            f"COURSE_DEVICE={value!r}, but this machine has {torch.cuda.device_count()} CUDA "
            f"GPU(s), numbered from 0: {fix}."
        )
    mps = getattr(torch.backends, "mps", None)
    if dev.type == "mps" and (mps is None or not mps.is_available()):
        raise DeviceSettingError(
            f"COURSE_DEVICE={value!r}, but there is no Apple GPU here "
            f"(torch.backends.mps.is_available() is False): {fix}."
        )
    return dev


def device() -> torch.device:
    """The fastest device here: CUDA, then Apple MPS, then CPU ($COURSE_DEVICE overrides, and
    is checked: DeviceSettingError names it, its allowed values and the fix)."""
    forced = os.environ.get("COURSE_DEVICE")
    if forced:
        return forced_device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class ThreadSettingError(CourseError, ValueError):
    """COURSE_THREADS is set to something that is not a whole number of threads."""


# cgroup v2, then v1: the CPU quota of a container or a hub pod, which torch does not read.
_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def cgroup_cpu_limit(v2: Path = _CGROUP_V2, v1: tuple[Path, Path] = _CGROUP_V1) -> float | None:
    """The CPUs a cgroup quota allows this process (1.5 for "150000 100000"); None without one."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        quota, period = v2.read_text(encoding="utf-8").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    with contextlib.suppress(OSError, ValueError):
        quota, period = (int(p.read_text(encoding="utf-8").strip()) for p in v1)
        return None if quota <= 0 else quota / period
    return None


def usable_cpus() -> tuple[int, str]:
    """The CPUs this process may really use, and why: its affinity mask and the cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
        why = f"{cpus} CPUs in this process's affinity mask"
    except AttributeError:  # macOS and Windows have no affinity mask
        cpus = os.cpu_count() or 1
        why = f"{cpus} CPUs"
    limit = cgroup_cpu_limit()
    if limit is not None and limit < cpus:
        cpus = max(1, int(limit))  # a quota of 1.5 CPUs: one thread runs without throttling
        why += f", a cgroup quota of {limit:g} CPUs (cpu.max)"
    return cpus, why


def choose_threads(load: float | None = None) -> tuple[int, str]:
    """How many threads torch should use here, and why ($COURSE_THREADS overrides, checked).

    The CPUs this process may use (usable_cpus), less the ones other processes keep busy (the
    1-minute load average, `load`): on a busy 2-core machine, two threads fighting other work
    trained LeNet5 12x slower than one thread (benchmarks/threads.py measures it).
    """
    forced = os.environ.get("COURSE_THREADS", "").strip()
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise ThreadSettingError(
                f"COURSE_THREADS={forced!r} is not a number of threads: set it to a whole "
                "number such as 1 or 4, or unset it to let the course choose from the CPUs here."
            )
        return int(forced), f"set by COURSE_THREADS={forced}"
    cpus, why = usable_cpus()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows has no load average
            load = 0.0
    free = int(cpus - load + 0.5)  # the CPUs that other work leaves idle, rounded
    threads = max(1, min(cpus, free))
    if threads < cpus:
        why += f", of which other work keeps about {cpus - threads} busy (load {load:.1f})"
    return threads, why


# What fit_threads chose, and why: doctor() reports it.
threads_reason = ""


def fit_threads() -> int:
    """Set torch's CPU threads to choose_threads(), once per kernel (importing course_utils
    does it), and return them. A bad COURSE_THREADS raises ThreadSettingError."""
    global threads_reason
    threads, why = choose_threads()
    torch.set_num_threads(threads)
    threads_reason = why
    return threads


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) so that a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return seed
