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

from . import show
from .env import CourseError, atomic_file
from .show import Progress

# Every download of the course (MNIST's files, prefetch's weights) goes through download(). A
# socket timeout alone bounds only each wait for the next byte: a server that trickles a byte
# every few seconds, or answers nothing after accepting the connection, kept the old code busy
# for a minute or more. These limits are the ones README.md's "## Offline" section states.


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
        return show.short_error(err.reason)
    return show.short_error(err)


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
