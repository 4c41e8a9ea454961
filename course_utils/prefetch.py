"""The course pack: download every dataset and weight file the notebooks use, before class.

A face (imports anything below it): run before class, for notebooks 01-09.

    python -m course_utils.prefetch            # everything: MNIST and all pretrained weights
    python -m course_utils.prefetch --models resnet50 alexnet

It shows sizes and progress, checks each file (MNIST by reading it, weights against the
SHA-256 prefix in their file name), skips what is already there and checked, and exits
non-zero, saying what it could not get, when something is missing.

It never waits long on a network that can't deliver: each server is checked once, before any
download (2 s); one that can't be reached, or that does not answer a download (3 s), is not
tried again in that run; and each file has download.download's deadline. With COURSE_OFFLINE=1 it
downloads nothing and only reports what is here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from . import data, download, env, show, weights

# Before class, on a busy network, a silent stretch in a 100-500 MB file is waited out longer
# than in a notebook (download.DOWNLOAD_SILENCE_S, 5 s); the other limits are download.download's.
PREFETCH_SILENCE_S = 15.0
# How a result says that the folder, not the network, is the problem (main()'s footer reads it).
UNWRITABLE = "cannot be written"
REACHABLE_TIMEOUT_S = 2.0


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.1f} MB"


class Hosts:
    """What is known of each server in this run: checked once, remembered when it fails."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}  # host -> why it is not tried
        self.up: set[str] = set()

    @staticmethod
    def key(url: str) -> str:
        parts = urlsplit(url)
        return parts.netloc or url

    def check(self, urls: Sequence[str]) -> None:
        """Try to connect to each URL's host once, all at the same time (REACHABLE_TIMEOUT_S)."""
        known = self.up | set(self.down)
        hosts = {self.key(u): u for u in urls if self.key(u) not in known}
        if not hosts:
            return
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            reasons = pool.map(
                lambda u: download.unreachable_reason(u, REACHABLE_TIMEOUT_S), hosts.values()
            )
            for host, reason in zip(hosts, reasons, strict=True):
                if reason:
                    self.down[host] = f"{host} cannot be reached ({reason})"
                else:
                    self.up.add(host)

    def why_not(self, url: str) -> str:
        return self.down.get(self.key(url), "")

    def failed(self, err: download.DownloadError) -> None:
        """A server that did not answer at all is not asked for its other files."""
        if not err.answered and err.url:
            self.down.setdefault(self.key(err.url), f"{self.key(err.url)} did not answer earlier")


def fetch_mnist(
    root: Path, mirror: str | None = None, hosts: Hosts | None = None
) -> tuple[bool, str]:
    """Make sure full MNIST is in `root`; returns (ok, what happened)."""
    mnist = data.MNIST_FILES
    folder = mnist.path(root)
    hosts = hosts or Hosts()
    present = mnist.present(root)
    live: list[str] = []
    if not present:
        if download.is_offline():
            return False, f"not in {folder}; not downloaded: COURSE_OFFLINE is set"
        try:
            data._check_writable(folder, mnist)
        except mnist.error as err:  # the folder, not the network: the footer says so
            return False, str(err)
        mirrors = [mirror] if mirror else list(mnist.dataset().mirrors)
        hosts.check(mirrors)
        live = [m for m in mirrors if not hosts.why_not(m)]
        if not live:
            why = "; ".join(hosts.why_not(m) for m in mirrors)
            return False, f"not in {folder}; not downloaded: {why}"
    try:
        if live:
            mnist.fetch(root, mirrors=live, silence_s=PREFETCH_SILENCE_S)
        train, test = mnist.read(root)
    except mnist.error as err:  # damaged files: the message names them and the fix
        return False, str(err)
    except download.DownloadError as err:
        return False, f"could not download MNIST into {folder}: {err}"
    except Exception as err:
        return False, f"could not download MNIST into {folder} ({show.short_error(err)})"
    size = sum(p.stat().st_size for p in (folder / "raw").iterdir()) / 1e6
    verb = "already present" if present else "downloaded"
    return True, f"{verb} and read back: {len(train):,} + {len(test):,} digits, {size:,.1f} MB"


def _weights_url(name: str, mirror: str | None) -> str:
    """Where the weights of `name` come from: torchvision's URL, or the mirror's file."""
    if mirror is None:
        return weights.weights_for(name).url
    return mirror.rstrip("/") + "/" + weights.weights_file(name).name


def fetch_weights(
    name: str, mirror: str | None = None, hosts: Hosts | None = None
) -> tuple[bool, str]:
    """Make sure the pretrained weights of `name` are cached and intact."""
    hosts = hosts or Hosts()
    enum = weights.weights_for(name)
    path = weights.weights_file(name)
    megabytes = enum.meta.get("_file_size", 0)
    if path.is_file():
        if download.checksum_ok(path):
            return True, f"already present, checksum OK ({_mb(path)})"
        if download.is_offline():
            return False, (
                f"{path} fails its checksum; not downloaded again: COURSE_OFFLINE is set. "
                "Delete it and run this again online."
            )
        if why := env.unwritable(path.parent):  # a read-only course pack: say so, keep it
            return False, (
                f"{path} fails its checksum, and its folder {path.parent} {UNWRITABLE} ({why}): "
                "whoever prepared the folder must delete the file and run this again, or set "
                "TORCH_HOME to a folder you can write to."
            )
        damaged = path.with_suffix(path.suffix + ".damaged")
        path.replace(damaged)
        print(f"  {path.name} failed its checksum; moved to {damaged.name}, downloading again")
    if download.is_offline():
        return (
            False,
            f"{megabytes:,.1f} MB, not in the cache; not downloaded: COURSE_OFFLINE is set",
        )
    if why := env.unwritable(path.parent):
        return False, (
            f"{megabytes:,.1f} MB not downloaded: the folder {path.parent} {UNWRITABLE} ({why}); "
            "set TORCH_HOME to a folder you can write to."
        )
    url = _weights_url(name, mirror)
    hosts.check([url])
    if why := hosts.why_not(url):
        return False, f"{megabytes:,.1f} MB not downloaded: {why}"
    # torchvision's "_file_size" is in MiB; the course shows it as it is, as "MB".
    print(f"  {name}: downloading {megabytes:,.1f} MB from {url}", flush=True)
    try:
        download.download(
            url,
            path,
            size=round(megabytes * 2**20) or None,
            sha256=download.hash_prefix(path),
            silence_s=PREFETCH_SILENCE_S,
            announce=False,
        )
    except download.DownloadError as err:
        hosts.failed(err)
        return False, f"{megabytes:,.1f} MB not downloaded: {err}"
    except OSError as err:
        return False, f"could not write {path} ({show.short_error(err)})"
    return True, f"downloaded, checksum OK ({_mb(path)})"


def _file_in_the_way(folder: Path) -> Path | None:
    """The first existing part of `folder`'s path that is not a folder, if any."""
    for part in [folder, *folder.parents]:
        if part.exists():
            return None if part.is_dir() else part
    return None


def _parser() -> argparse.ArgumentParser:
    """The command line: which weights, whether MNIST, where it goes, and from which mirrors."""
    parser = argparse.ArgumentParser(
        prog=download.PREFETCH_COMMAND, description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=list(weights.PRETRAINED),
        help=f"pretrained weights to fetch (default: all of {list(weights.PRETRAINED)})",
    )
    parser.add_argument("--no-mnist", action="store_true", help="skip MNIST")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where MNIST goes (default: $COURSE_DATA_DIR or ~/.cache/course_utils/data)",
    )
    parser.add_argument("--mnist-mirror", default=None, help="a base URL serving MNIST's .gz files")
    parser.add_argument(
        "--weights-mirror",
        default=None,
        help="a base URL serving torchvision's weight files (e.g. a local server)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch and check what the command line selects, then say what is here and what is not.

    Returns 0 when all of it is here, 1 when something is missing, and 2 when nothing was
    selected or the weights folder can't be made (an unknown model exits with 2 too).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in weights.PRETRAINED]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(weights.PRETRAINED)}")
    names = list(dict.fromkeys(args.models))  # in order, once each
    selected = ([] if args.no_mnist else ["MNIST"]) + names
    if not selected:
        print(
            "Nothing was selected (--no-mnist, and --models without names), so nothing was "
            f"checked. Name weights to fetch from: {', '.join(weights.PRETRAINED)}; "
            "or run without options for everything.",
            file=sys.stderr,
        )
        return 2
    checkpoints = weights.weights_folder()
    if names and (blocker := _file_in_the_way(checkpoints)):
        print(
            f"The weights folder {checkpoints} cannot be made: {blocker} is a file, not a "
            f"folder. TORCH_HOME is {os.environ.get('TORCH_HOME', '(not set)')!r}: set it to a "
            "folder (or unset it, for torch's default) and run this again.",
            file=sys.stderr,
        )
        return 2
    print(f"Weights cache: {checkpoints}")
    if download.is_offline():
        print("COURSE_OFFLINE is set: nothing will be downloaded, only what is here is checked.")
    root = args.data_dir.expanduser() if args.data_dir else env.data_dir()  # "~/x" too
    return _report(_fetch_all(args, root, names), selected)


def _fetch_all(
    args: argparse.Namespace, root: Path, names: list[str]
) -> list[tuple[str, bool, str]]:
    """Fetch MNIST into `root` (unless --no-mnist) and the weights of `names`; (name, ok, what
    happened) for each. Every server is checked once, all together, before the first download."""
    hosts = Hosts()
    if not download.is_offline():
        # A network that drops packets costs 2 s in all, not 30 s a file.
        hosts.check(_servers(args, root, names))
    results = []
    if not args.no_mnist:
        print(f"MNIST: {data.MNIST_FILES.path(root)}")
        results.append(("MNIST", *fetch_mnist(root, args.mnist_mirror, hosts)))
    for name in names:
        results.append((name, *fetch_weights(name, args.weights_mirror, hosts)))
    return results


def _servers(args: argparse.Namespace, root: Path, names: list[str]) -> list[str]:
    """The URLs that what is missing would come from, one per file or mirror."""
    urls = []
    if not args.no_mnist and not data.MNIST_FILES.present(root):
        mirrors = data.MNIST_FILES.dataset().mirrors
        urls += [args.mnist_mirror] if args.mnist_mirror else list(mirrors)
    for name in names:
        if not weights.weights_file(name).is_file():
            urls.append(_weights_url(name, args.weights_mirror))
    return urls


def _report(results: list[tuple[str, bool, str]], selected: list[str]) -> int:
    """Print a line for each result and what to do next; main()'s exit status."""
    width = max((len(n) for n, _, _ in results), default=5)
    print()
    for name, ok, what in results:
        print(f"{'ok  ' if ok else 'MISSING'} {name:<{width}}  {what}")
    missing = [name for name, ok, _ in results if not ok]
    if missing:
        folders = [name for name, ok, what in results if not ok and UNWRITABLE in what]
        if folders:  # the network is not what failed: the folders are
            retry = (
                f"The folder for {', '.join(folders)} {UNWRITABLE} (above): make it writable, "
                "or set COURSE_DATA_DIR and TORCH_HOME to folders you can write to, and run "
                "this again"
            )
        elif download.is_offline():
            retry = "Unset COURSE_OFFLINE, connect to the network and run this again"
        else:
            retry = "Connect to the network and run this again"
        print(f"\nCould not get: {', '.join(missing)}. {retry}; what is already here is kept.")
        return 1
    unchecked = [n for n in ["MNIST", *weights.PRETRAINED] if n not in selected]
    if unchecked:
        print(
            f"\nAll that was selected is here ({', '.join(selected)}); not checked: "
            f"{', '.join(unchecked)} (run without --models/--no-mnist to check everything)."
        )
        return 0
    print("\nEverything the notebooks use is here; they will run offline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
