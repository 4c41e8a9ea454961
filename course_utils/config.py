"""Environment: offline detection, data and cache folders, the device, seeds."""

from __future__ import annotations

import contextlib
import html
import itertools
import os
import random
import re
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import numpy as np
import torch
from torch import nn

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


def is_offline() -> bool:
    """True when $COURSE_OFFLINE is set to 1/true/yes: skip every download attempt."""
    return os.environ.get("COURSE_OFFLINE", "").lower() in {"1", "true", "yes"}


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
        rate = ""
        if elapsed > 0 and self.n:  # slow steps (a network each) read as seconds per step
            per_second = self.n / elapsed
            rate = (
                f", {per_second:,.0f} {self.unit}/s"
                if per_second >= 1
                else f", {elapsed / self.n:,.1f} s per {self.unit.removesuffix('s')}"
            )
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


# --- downloads with a deadline ------------------------------------------------------------------
# Every download of the course (MNIST's files, prefetch's weights) goes through download(). A
# socket timeout alone bounds only each wait for the next byte: a server that trickles a byte
# every few seconds, or answers nothing after accepting the connection, kept the old code busy
# for a minute or more. These limits are the ones README.md's "## Offline" section states.
DOWNLOAD_ANSWER_S = 3.0  # to connect (TLS included) and get the server's answer, in all
DOWNLOAD_SILENCE_S = 5.0  # once it answered: no byte at all for this long ends the download
DOWNLOAD_GRACE_S = 3.0  # from this long after the answer on, the pace must be able to finish...
DOWNLOAD_MIN_RATE = 100_000  # ...within the file's deadline: its size at 100 kB/s...
DOWNLOAD_SLACK_S = 10.0  # ...plus 10 s (download_deadline)
DOWNLOAD_UNKNOWN_SIZE_S = 600.0  # the deadline of a file whose size no one gave
DOWNLOAD_UNKNOWN_SIZE_RATE = 10_000  # and the pace it must keep (bytes/s, on average)
_USER_AGENT = "course_utils (urllib)"


class DownloadError(CourseError, OSError):
    """A download that failed or ran out of time; the message says which file, where and why.

    `answered` is False when the server never answered at all (refused, unreachable, silent):
    then its other files need not be tried.
    """

    def __init__(self, message: str, *, url: str = "", answered: bool = True) -> None:
        super().__init__(message)
        self.url, self.answered = url, answered

    def __str__(self) -> str:
        return self.args[0]


def download_deadline(size: int | None) -> float:
    """The seconds a download of `size` bytes may take in all: 10 s + the size at 100 kB/s.

    MNIST's largest file (9.9 MB) gets 109 s, resnet18's weights (46.8 MB) 478 s. A file of
    unknown size gets DOWNLOAD_UNKNOWN_SIZE_S.
    """
    return DOWNLOAD_SLACK_S + size / DOWNLOAD_MIN_RATE if size else DOWNLOAD_UNKNOWN_SIZE_S


def unreachable_reason(url_or_host: str, timeout: float = 2.0) -> str:
    """Why a connection to the address's host can't be opened in time; "" when it can.

    reachable(), with the reason to show: "COURSE_OFFLINE is set", the refusal, the timeout.
    """
    if is_offline():
        return "COURSE_OFFLINE is set"
    parts = urlsplit(url_or_host if "//" in url_or_host else f"//{url_or_host}")
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return ""
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except (OSError, ValueError) as err:
        return short_error(err)


def _megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


def _rate(n: float, seconds: float) -> str:
    rate = n / seconds if seconds > 0 else 0.0
    return f"{rate / 1e3:,.1f} kB/s" if rate >= 1000 else f"{rate:,.1f} bytes/s"


class _Watch:
    """One download's clock, and the socket it reads from (set once connected)."""

    def __init__(self, answer_s: float) -> None:
        self.start = time.monotonic()
        self.answer_by = self.start + answer_s
        self.sock: socket.socket | None = None

    def left(self) -> float:
        return max(0.001, self.answer_by - time.monotonic())


def _opener(watch: _Watch):
    """A urllib opener whose connections share the watch's answer budget and report their
    socket. Proxies from the environment and redirects work as with urlopen."""
    import urllib.request

    def create(address, timeout=None, source_address=None):
        sock = socket.create_connection(address, watch.left(), source_address)
        sock.settimeout(watch.left())  # the TLS handshake and the headers share what is left
        return sock

    def hooked(cls):
        class Connection(cls):
            def connect(self) -> None:
                self._create_connection = create
                super().connect()
                watch.sock = self.sock

        return Connection

    class HTTPHandler(urllib.request.HTTPHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(hooked(http_class), req, **kwargs)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(hooked(http_class), req, **kwargs)

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _reason(err: BaseException) -> str:
    """What went wrong, in words: urllib's URLError unwrapped."""
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, BaseException):
        return short_error(err.reason)
    return short_error(err)


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    answer_s: float = DOWNLOAD_ANSWER_S,
    silence_s: float = DOWNLOAD_SILENCE_S,
    announce: bool = True,
) -> Path:
    """Download `url` to `dest` within a deadline, checked, or raise DownloadError.

    `size` (bytes, may be approximate) sizes the deadline and the message; the server's
    Content-Length, when it sends one, is what the pace is measured against. The limits:

    - connecting and the server's answer: `answer_s` (3 s) in all;
    - after the answer, a silence of `silence_s` (5 s) ends it;
    - from DOWNLOAD_GRACE_S (3 s) after the answer on, it ends as soon as the average pace so
      far could no longer finish the file within download_deadline(size) (10 s + the size at
      100 kB/s), counted from the start: a server that sends next to nothing is left within
      seconds, a slow one that would finish in time is waited for;
    - and never later than that deadline.

    The bytes go to a temporary file beside `dest` (".NAME.*.part"), which is checked (`md5`,
    or `sha256`: a hex prefix of the SHA-256, as in torch hub's file names) and only then
    renamed to `dest`; on any failure it is removed, so `dest` is either complete or untouched.
    A line says what is downloading and how big it is; a progress bar follows it.
    COURSE_OFFLINE=1 raises at once, without touching the network.
    """
    import hashlib
    import http.client
    import urllib.error
    import urllib.request

    dest = Path(dest)
    host = urlsplit(url).netloc or url
    if is_offline():
        raise DownloadError(f"{url}: not tried, COURSE_OFFLINE is set", url=url, answered=False)
    deadline = download_deadline(size)
    if announce:
        how_big = f" ({_megabytes(size)})" if size else ""
        print(f"Downloading {dest.name}{how_big} from {url}", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    watch = _Watch(answer_s)
    digests = {"md5": hashlib.md5(usedforsecurity=False), "sha256": hashlib.sha256()}
    bar = None
    got = 0

    def fail(why: str, answered: bool = True) -> DownloadError:
        took = time.monotonic() - watch.start
        return DownloadError(f"{url}: {why} (after {took:.1f} s)", url=url, answered=answered)

    silent = f"no answer from {host} within {answer_s:g} s"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            response = _opener(watch).open(request, timeout=answer_s)
        except TimeoutError as err:
            raise fail(silent, answered=False) from err
        except urllib.error.HTTPError as err:  # it answered, with an error
            raise fail(_reason(err)) from err
        except OSError as err:  # URLError: refused, unreachable, DNS, the TLS handshake...
            if isinstance(getattr(err, "reason", None), TimeoutError):
                raise fail(silent, answered=False) from err
            raise fail(_reason(err), answered=False) from err
        except http.client.HTTPException as err:  # a malformed answer
            raise fail(_reason(err)) from err
        answered_at = time.monotonic()
        limit_at = watch.start + deadline
        total = response.length or size  # the server's Content-Length when it sends one
        with response, atomic_file(dest) as out:
            if total:
                bar = Progress(max(1, round(total / 1000)), desc=dest.name, unit="kB")
            last_byte = answered_at
            while True:
                # The pace fails when the average since the answer, with `got` bytes, can no
                # longer finish `total` by the deadline (size unknown: falls below a floor).
                if total:
                    pace_at = answered_at + got * (limit_at - answered_at) / total
                else:
                    pace_at = answered_at + got / DOWNLOAD_UNKNOWN_SIZE_RATE
                pace_at = max(pace_at, answered_at + DOWNLOAD_GRACE_S)
                silence_at = last_byte + silence_s
                stop_at = min(limit_at, pace_at, silence_at)
                now = time.monotonic()
                if now >= stop_at:
                    if stop_at == limit_at:
                        why = f"not finished within the {deadline:.0f} s allowed for this file"
                    elif stop_at == silence_at:
                        why = f"nothing arrived for {silence_s:g} s"
                    else:
                        took = now - answered_at
                        need = (total or 0) / max(limit_at - answered_at, 1e-3)
                        why = f"too slow: {_rate(got, took)}" + (
                            f", where the {deadline:.0f} s allowed for this file need a steady "
                            f"{_rate(need, 1)}"
                            if total
                            else ""
                        )
                    of = f" of {total:,}" if total else ""
                    raise fail(f"{why}; {got:,}{of} bytes had arrived")
                if watch.sock is None:  # not expected: urllib changed its insides
                    raise fail("could not watch the connection's socket")
                watch.sock.settimeout(max(0.001, stop_at - now))
                try:
                    chunk = response.read1(1 << 16)
                except TimeoutError:
                    continue  # the check above names the limit that was reached
                except (OSError, http.client.HTTPException) as err:
                    raise fail(_reason(err)) from err
                if not chunk:
                    break
                out.write(chunk)
                for digest in digests.values():
                    digest.update(chunk)
                got += len(chunk)
                last_byte = time.monotonic()
                if bar is not None:
                    bar.update(min(got // 1000, bar.total) - bar.n)
            # Checked before the block ends: a failure leaves `dest` untouched.
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and got != int(announced):
                raise fail(f"the connection closed after {got:,} of {int(announced):,} bytes")
            if md5 and digests["md5"].hexdigest() != md5.lower():
                raise fail(
                    f"MD5 {digests['md5'].hexdigest()} is not the expected {md5}: "
                    "a damaged or wrong file"
                )
            if sha256 and not digests["sha256"].hexdigest().startswith(sha256.lower()):
                raise fail(
                    f"SHA-256 {digests['sha256'].hexdigest()[:16]}... does not start with the "
                    f"expected {sha256}: a damaged or wrong file"
                )
            if bar is not None:
                bar.update(bar.total - bar.n)
        return dest
    finally:
        if bar is not None:
            bar.close()
