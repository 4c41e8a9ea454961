"""Downloads with a deadline, and the checksums that say a downloaded file is whole.

A tool: it imports the ground (env for the folders and safe writes, show for the progress bar).
Every download of the course goes through `download()`: MNIST's files (data, notebook 01) and the
pretrained weights (weights, notebooks 03, 04 and 08; prefetch before class).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import env, show
from .env import CourseError, atomic_file
from .show import Progress


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
        return show.short_error(err)


# The course pack's command (prefetch.py); prefetch_hint() is the one advice that names it.
PREFETCH_COMMAND = "python -m course_utils.prefetch"


def prefetch_hint(*models: str, data_dir: str | os.PathLike | None = None) -> str:
    """The one advice that sends a student to the course pack, to end a sentence: "run
    `python -m course_utils.prefetch` once online".

    With `models`, the command fetches those weights alone (--models), not every model's; with
    a `data_dir` other than env.data_dir(), it fills that folder (--data-dir), not the default
    one. Weights, data, doctor and the widgets all say it through here.
    """
    flags = ["--models", *models] if models else []
    if data_dir is not None and Path(data_dir).expanduser() != env.data_dir():
        folder = str(data_dir)
        flags += ["--data-dir", f'"{folder}"' if " " in folder else folder]
    return f"run `{' '.join([PREFETCH_COMMAND, *flags])}` once online"


def _megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


def _rate(n: float, seconds: float) -> str:
    rate = n / seconds if seconds > 0 else 0.0
    return f"{rate / 1e3:,.1f} kB/s" if rate >= 1000 else f"{rate:,.1f} bytes/s"


class _Watch:
    """One download's clock, and the socket it reads from (set once connected)."""

    def __init__(self, url: str, answer_s: float) -> None:
        self.url, self.answer_s = url, answer_s
        self.start = time.monotonic()
        self.answer_by = self.start + answer_s
        self.sock: socket.socket | None = None

    def left(self) -> float:
        return max(0.001, self.answer_by - time.monotonic())

    def fail(self, why: str, answered: bool = True) -> DownloadError:
        """The error that ends this download: the URL, why, and how long it had taken."""
        took = time.monotonic() - self.start
        return DownloadError(
            f"{self.url}: {why} (after {took:.1f} s)", url=self.url, answered=answered
        )


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
        return show.short_error(err.reason)
    return show.short_error(err)


class _Limits:
    """When a download that has answered must stop: the first of its deadline, its pace and
    its silence (download()'s docstring says each)."""

    def __init__(self, watch: _Watch, size: int | None, total: int | None, silence_s: float):
        self.answered_at = time.monotonic()
        self.deadline = download_deadline(size)
        self.limit_at = watch.start + self.deadline
        self.total = total  # the server's Content-Length, else the size we were given
        self.silence_s = silence_s

    def next_stop(self, got: int, last_byte: float) -> tuple[float, str]:
        """When the first limit is reached, with `got` bytes so far and the last one at
        `last_byte`, and which limit that is: "deadline", "silence" or "pace"."""
        # The pace fails when the average since the answer, with `got` bytes, can no longer
        # finish `total` by the deadline (size unknown: falls below a floor).
        if self.total:
            pace_at = self.answered_at + got * (self.limit_at - self.answered_at) / self.total
        else:
            pace_at = self.answered_at + got / DOWNLOAD_UNKNOWN_SIZE_RATE
        pace_at = max(pace_at, self.answered_at + DOWNLOAD_GRACE_S)
        stops = [
            (self.limit_at, "deadline"),
            (last_byte + self.silence_s, "silence"),
            (pace_at, "pace"),
        ]
        return min(stops, key=lambda stop: stop[0])  # on a tie, the first listed

    def reached(self, limit: str, got: int, now: float) -> str:
        """Why the download ends at `limit`, at `now` with `got` bytes arrived, in words."""
        if limit == "deadline":
            why = f"not finished within the {self.deadline:.0f} s allowed for this file"
        elif limit == "silence":
            why = f"nothing arrived for {self.silence_s:g} s"
        else:
            took = now - self.answered_at
            need = (self.total or 0) / max(self.limit_at - self.answered_at, 1e-3)
            why = f"too slow: {_rate(got, took)}" + (
                f", where the {self.deadline:.0f} s allowed for this file need a steady "
                f"{_rate(need, 1)}"
                if self.total
                else ""
            )
        of = f" of {self.total:,}" if self.total else ""
        return f"{why}; {got:,}{of} bytes had arrived"


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
    dest = Path(dest)
    if is_offline():
        raise DownloadError(f"{url}: not tried, COURSE_OFFLINE is set", url=url, answered=False)
    if announce:
        how_big = f" ({_megabytes(size)})" if size else ""
        print(f"Downloading {dest.name}{how_big} from {url}", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    watch = _Watch(url, answer_s)
    response = _answer(watch)
    limits = _Limits(watch, size, response.length or size, silence_s)
    bar = None
    try:
        with response, atomic_file(dest) as out:
            if limits.total:
                bar = Progress(max(1, round(limits.total / 1000)), desc=dest.name, unit="kB")
            got, digests = _receive(response, out, watch, limits, bar)
            # Checked before the block ends: a failure leaves `dest` untouched.
            _check_whole(watch, response, got, digests, md5=md5, sha256=sha256)
            if bar is not None:
                bar.update(bar.total - bar.n)
        return dest
    finally:
        if bar is not None:
            bar.close()


def _answer(watch: _Watch):
    """Connect to the watch's URL and get the server's answer within its answer budget.

    Raises DownloadError: answered=False when the server never answered (refused, unreachable,
    silent, the TLS handshake), True when it answered with an error or a malformed answer.
    """
    import http.client
    import urllib.error
    import urllib.request

    host = urlsplit(watch.url).netloc or watch.url
    silent = f"no answer from {host} within {watch.answer_s:g} s"
    request = urllib.request.Request(watch.url, headers={"User-Agent": _USER_AGENT})
    try:
        return _opener(watch).open(request, timeout=watch.answer_s)
    except TimeoutError as err:
        raise watch.fail(silent, answered=False) from err
    except urllib.error.HTTPError as err:  # it answered, with an error
        raise watch.fail(_reason(err)) from err
    except OSError as err:  # URLError: refused, unreachable, DNS, the TLS handshake...
        if isinstance(getattr(err, "reason", None), TimeoutError):
            raise watch.fail(silent, answered=False) from err
        raise watch.fail(_reason(err), answered=False) from err
    except http.client.HTTPException as err:  # a malformed answer
        raise watch.fail(_reason(err)) from err


def _receive(response, out, watch: _Watch, limits: _Limits, bar: Progress | None):
    """Copy the answer's bytes to `out` until it ends, or raise DownloadError at the first limit
    reached; returns the bytes received and their digests ("md5", "sha256")."""
    import http.client

    digests = {"md5": hashlib.md5(usedforsecurity=False), "sha256": hashlib.sha256()}
    got, last_byte = 0, limits.answered_at
    while True:
        stop_at, limit = limits.next_stop(got, last_byte)
        now = time.monotonic()
        if now >= stop_at:
            raise watch.fail(limits.reached(limit, got, now))
        if watch.sock is None:  # not expected: urllib changed its insides
            raise watch.fail("could not watch the connection's socket")
        watch.sock.settimeout(max(0.001, stop_at - now))
        try:
            chunk = response.read1(1 << 16)
        except TimeoutError:
            continue  # the check above names the limit that was reached
        except (OSError, http.client.HTTPException) as err:
            raise watch.fail(_reason(err)) from err
        if not chunk:
            return got, digests
        out.write(chunk)
        for digest in digests.values():
            digest.update(chunk)
        got += len(chunk)
        last_byte = time.monotonic()
        if bar is not None:
            bar.update(min(got // 1000, bar.total) - bar.n)


def _check_whole(watch: _Watch, response, got: int, digests: dict, *, md5, sha256) -> None:
    """Raise DownloadError unless all the announced bytes came, with the expected checksums."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and got != int(announced):
        raise watch.fail(f"the connection closed after {got:,} of {int(announced):,} bytes")
    if md5 and digests["md5"].hexdigest() != md5.lower():
        raise watch.fail(
            f"MD5 {digests['md5'].hexdigest()} is not the expected {md5}: a damaged or wrong file"
        )
    if sha256 and not digests["sha256"].hexdigest().startswith(sha256.lower()):
        raise watch.fail(
            f"SHA-256 {digests['sha256'].hexdigest()[:16]}... does not start with the "
            f"expected {sha256}: a damaged or wrong file"
        )


# --- checksums ---------------------------------------------------------------------------------

_SHA256_SEEN: dict[tuple[str, int, int], str] = {}


def hash_prefix(path: Path) -> str | None:
    """The SHA-256 prefix a weights file's name carries: the hex after its last '-'.

    torch hub's rule (its check_hash): "resnet18-f37072fd.pth" says its SHA-256 starts with
    f37072fd. None when the name carries none.
    """
    match = re.search(r"-([0-9a-f]+)\.[^-]*$", path.name)
    return match.group(1) if match else None


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
