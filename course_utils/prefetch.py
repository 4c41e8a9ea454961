"""The course pack: download every dataset and weight file the notebooks use, before class.

    python -m course_utils.prefetch            # everything: MNIST and all pretrained weights
    python -m course_utils.prefetch --models resnet50 alexnet

It shows sizes and progress, checks each file (MNIST by reading it, weights against the
SHA-256 prefix in their file name), skips what is already there and checked, and exits
non-zero, saying what it could not get, when something is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from . import config, data, models


def sha256_ok(path: Path) -> bool:
    """True when the file's SHA-256 starts with the hex prefix in its name (torch hub's rule)."""
    match = re.search(r"-([a-f0-9]+)\.", path.name)
    if not match:
        return path.stat().st_size > 0
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(match.group(1))


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.1f} MB"


def fetch_mnist(root: Path, mirror: str | None = None) -> tuple[bool, str]:
    """Make sure full MNIST is in `root`; returns (ok, what happened)."""
    folder = root / "MNIST"
    present = data._raw_files_present(folder)
    if not present:
        data._check_writable(folder)
    try:
        if not present:
            data._download_mnist(folder, [mirror] if mirror else None)
        train, test = data._read_mnist(root)
    except data.MNISTError as err:
        return False, str(err)
    except Exception as err:
        return False, f"could not download MNIST into {folder} ({config.short_error(err)})"
    size = sum(p.stat().st_size for p in (folder / "raw").iterdir()) / 1e6
    verb = "already present" if present else "downloaded"
    return True, f"{verb} and read back: {len(train):,} + {len(test):,} digits, {size:,.1f} MB"


def fetch_weights(name: str, mirror: str | None = None) -> tuple[bool, str]:
    """Make sure the pretrained weights of `name` are cached and intact."""
    weights = models.weights_for(name)
    path = models.weights_file(name)
    if path.is_file():
        if sha256_ok(path):
            return True, f"already present, checksum OK ({_mb(path)})"
        damaged = path.with_suffix(path.suffix + ".damaged")
        path.replace(damaged)
        print(f"  {path.name} failed its checksum; moved to {damaged.name}, downloading again")
    url = weights.url if mirror is None else mirror.rstrip("/") + "/" + path.name
    match = re.search(r"-([a-f0-9]+)\.", path.name)
    print(f"  {name}: downloading {weights.meta.get('_file_size', 0):,.1f} MB from {url}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with config.network_timeout(30):
            torch.hub.download_url_to_file(
                url, str(path), match.group(1) if match else None, progress=True
            )
    except Exception as err:
        return False, f"could not download {url} ({config.short_error(err)})"
    return True, f"downloaded, checksum OK ({_mb(path)})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.prefetch", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=list(models.PRETRAINED),
        help=f"pretrained weights to fetch (default: all of {list(models.PRETRAINED)})",
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
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in models.PRETRAINED]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(models.PRETRAINED)}")

    print(f"Weights cache: {config.torch_home() / 'hub' / 'checkpoints'}")
    results: list[tuple[str, bool, str]] = []
    if not args.no_mnist:
        root = args.data_dir or config.data_dir()
        print(f"MNIST: {root / 'MNIST'}")
        try:
            ok, what = fetch_mnist(root, args.mnist_mirror)
        except data.MNISTError as err:
            ok, what = False, str(err)
        results.append(("MNIST", ok, what))
    for name in args.models:
        ok, what = fetch_weights(name, args.weights_mirror)
        results.append((name, ok, what))

    width = max((len(n) for n, _, _ in results), default=5)
    print()
    for name, ok, what in results:
        print(f"{'ok  ' if ok else 'MISSING'} {name:<{width}}  {what}")
    missing = [name for name, ok, _ in results if not ok]
    if missing:
        print(
            f"\nCould not get: {', '.join(missing)}. Connect to the network and run this again; "
            "what is already here is kept."
        )
        return 1
    print("\nEverything the notebooks use is here; they will run offline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
